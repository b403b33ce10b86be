"""The environment's JSON API (``/api/v1``, bearer tokens of role ``operator``; admin passes).

    GET    /environment                 the install ID and the license
    POST   /environment/license         {"productKey"}: apply a key
    POST   /environment/redeem          {"authorizationCode"}: get a key online and apply it
    POST   /environment/renewal-check   re-redeem the remembered authorization code
    GET    /environment/activations     the activation history, in words
    GET    /instances, POST /instances  {"name", "aku"}
    PATCH  /instances/<id> {"aku"}, DELETE /instances/<id>
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from .. import inputs, product_key
from ..auth import api_roles_required
from ..errors import api_error
from ..extensions import csrf
from ..models.accounts import AccountRole
from ..redeem_interface import RedeemError
from . import license_rules as sm
from . import activation, instances, license_record, online, wording
from .refusal_limits import RefusalsLimited

bp = Blueprint("environment_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

# A product key is at most 16 KiB; a body much larger than that is not a key.
MAX_LICENSE_BODY = 64 * 1024

operator = api_roles_required(AccountRole.OPERATOR)

HISTORY_SHOWN = 50  # as on the Settings page


def _body(limit: int = MAX_LICENSE_BODY) -> dict | None:
    """The JSON object sent (None for anything else); 413 over `limit`, 400 for a body that is
    not JSON, nests too deep or holds control characters (`inputs.json_object`)."""
    return inputs.json_object(limit)


def _key_error(exc: product_key.ProductKeyError):
    """422 with the codec's plain message, the member at fault (``field``) and, for a key that
    cannot be read or trusted, the precise technical ``reason`` (for scripts and support)."""
    extra = {"field": exc.field} if exc.field else {}
    if exc.details.get("reason"):
        extra["reason"] = exc.details["reason"]
    return api_error(exc.code, exc.message, 422, **extra)


def _redeem_error(exc: RedeemError | RefusalsLimited):
    """The vendor's refusal with its status, or too many refusals here (429): with `Retry-After`."""
    response = api_error(exc.code, exc.message, exc.http_status)
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _applied(applied: activation.Applied, **extra):
    doc = applied.state.to_json()
    doc["alreadyActive"] = applied.already_active
    doc.update(extra)
    return jsonify(doc)


@bp.get("/environment")
@operator
def environment():
    return jsonify(license_record.current_license().to_json())


@bp.post("/environment/license")
@operator
def apply_license():
    body = _body()
    text = body.get("productKey") if body else None
    if not isinstance(text, str):
        return api_error(
            "malformed_key",
            'Send a JSON object with the product key as text: {"productKey": "eyJpbnN0YWxsSWQiOi..."}.',
            422,
            field="productKey",
        )
    try:
        applied = activation.apply_key(text)
    except product_key.ProductKeyError as exc:
        return _key_error(exc)
    except RefusalsLimited as exc:
        return _redeem_error(exc)
    return _applied(applied)


def _online(activate, *, renewal: bool = False):
    """Answer an online activation: the document, the vendor's refusal, or the key's refusal."""
    try:
        applied = activate()
    except (RedeemError, RefusalsLimited) as exc:
        return _redeem_error(exc)
    except product_key.ProductKeyError as exc:
        return _key_error(exc)
    return _applied(applied, **({"renewed": not applied.already_active} if renewal else {}))


@bp.post("/environment/redeem")
@operator
def redeem():
    code = (_body(8 * 1024) or {}).get("authorizationCode")
    return _online(lambda: online.redeem(code))


@bp.post("/environment/renewal-check")
@operator
def renewal_check():
    return _online(online.renewal_check, renewal=True)


@bp.get("/environment/activations")
@operator
def activations():
    """The activation history, newest first, as the Settings page shows it: the latest
    `HISTORY_SHOWN`, and whether there are more (the audit log keeps every one)."""
    rows = activation.history(HISTORY_SHOWN + 1)
    return jsonify({"items": [wording.history_json(row) for row in rows[:HISTORY_SHOWN]],
                    "more": len(rows) > HISTORY_SHOWN})


def _instance_error(exc: instances.InstanceError | sm.CapacityError):
    extra = {"field": exc.field} if getattr(exc, "field", None) else {}
    return api_error(exc.code, exc.message, exc.http_status, **extra)


@bp.get("/instances")
@operator
def list_instances():
    return jsonify({"items": [instances.instance_json(i) for i in instances.instances()]})


@bp.post("/instances")
@operator
def create_instance():
    body = _body(8 * 1024)
    if body is None:
        return api_error("invalid_input", 'Send a JSON object: {"name": "kafka-1", "aku": 4}.', 422)
    try:
        inst = instances.create_instance(body.get("name"), body.get("aku"))
    except (instances.InstanceError, sm.CapacityError) as exc:
        return _instance_error(exc)
    return jsonify(instances.instance_json(inst)), 201


@bp.patch("/instances/<instance_id>")
@operator
def resize_instance(instance_id: str):
    body = _body(8 * 1024)
    if body is None:
        return api_error("invalid_input", 'Send a JSON object: {"aku": 8}.', 422)
    try:
        inst = instances.resize_instance(instance_id, body.get("aku"))
    except (instances.InstanceError, sm.CapacityError) as exc:
        return _instance_error(exc)
    return jsonify(instances.instance_json(inst))


@bp.delete("/instances/<instance_id>")
@operator
def delete_instance(instance_id: str):
    try:
        instances.delete_instance(instance_id)
    except instances.InstanceError as exc:
        return _instance_error(exc)
    return "", 204
