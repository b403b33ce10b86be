"""The vendor JSON API (`/api/v1`): product keys for staff tools, redemption for buyers.

Thin: the rules live in `issuing`, `redeem` and `search`.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..i18n import gettext as _
from .. import inputs
from ..auth import api_roles_required, bearer_user
from ..errors import api_error
from ..htmx import no_store
from ..extensions import csrf
from ..models.accounts import AccountRole
from . import search
from .issuing import issue_from_code
from .bindings import mask_uid
from .redeem import license_json, redeem_with_status
from .rules import IssueError, iso

bp = Blueprint("vendor_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

# An authorization code and an install ID: a few hundred bytes; nothing bigger is a request.
MAX_BODY = 8 * 1024


def _error(exc: IssueError):
    response = api_error(exc.code, exc.message, exc.http_status)
    if exc.retry_after:
        response.headers["Retry-After"] = str(int(exc.retry_after))
    return response


def _body() -> dict | None:
    """The JSON object sent (None for anything else); 400 for a body that is not JSON, nests
    too deep or holds control characters (`inputs.json_object`), before any rate limit or
    marketplace call."""
    return inputs.json_object(MAX_BODY)


def _bad_body():
    return api_error(
        "bad_request",
        _('Send a JSON object %(example)s with Content-Type: application/json.',
          example='{"authorizationCode": "...", "installId": "..."}'),
        400,
    )


def _text(body: dict, name: str) -> str:
    value = body.get(name)
    return value if isinstance(value, str) else ""


@bp.post("/product-keys")
@api_roles_required(AccountRole.ISSUER)
def create_product_key():
    body = _body()
    if body is None:
        return _bad_body()
    try:
        issued = issue_from_code(_text(body, "authorizationCode"), _text(body, "installId"),
                                 actor=bearer_user().email)
    except IssueError as exc:
        return _error(exc)
    answer = {"productKey": issued.key.product_key, "license": license_json(issued.key),
              "installId": issued.key.install_id, "change": issued.change}
    return no_store(jsonify(answer)), 201 if issued.created else 200


@bp.get("/product-keys")
@api_roles_required(AccountRole.ISSUER)
def list_product_keys():
    args = request.args
    try:
        query = search.KeyQuery.from_api(args)
        page = search.search_keys(query, cursor=args.get("cursor"), limit=search.page_size(args.get("limit")))
    except search.SearchError as exc:
        return api_error(exc.code, exc.message, 422)
    return no_store(jsonify({"items": [item_json(row) for row in page.rows], "next": page.next_cursor}))


def item_json(row: search.KeyRow) -> dict:
    key, binding = row.key, row.binding
    return {
        "id": key.id,
        "installId": key.install_id,
        "seq": key.seq,
        "status": row.status,
        "type": key.type,
        "channel": key.channel,
        "reference": key.reference,
        "code": binding.masked_code if binding is not None else None,
        "aliUid": mask_uid(binding.ali_uid) if binding is not None and binding.ali_uid else None,
        "product": key.product,
        "aku": key.aku,
        "kid": key.kid,
        "issuedAt": iso(key.issued_at),
        "notBefore": iso(key.not_before),
        "expiresAt": iso(key.expires_at),
        "issuedBy": key.issued_by,
        "supersededBy": key.superseded_by,
        "reason": key.reason,
        "productKey": key.product_key,
    }



@bp.post("/redeem")
def redeem_code():
    body = _body()
    if body is None:
        return _bad_body()
    try:
        answer, created = redeem_with_status(_text(body, "authorizationCode"), _text(body, "installId"))
    except IssueError as exc:
        return _error(exc)
    return no_store(jsonify(answer)), 201 if created else 200
