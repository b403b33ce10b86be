"""The environment's pages: Settings (install ID, license, activation, history) and Instances.

Every form works as a plain POST (303 and a flash on success, the page with the error inline
otherwise); with htmx the same routes answer the fragment that targets itself, and mutations add
``HX-Trigger: license-changed`` so the header badge and the banners refresh.
"""
from __future__ import annotations

import math

from flask import Blueprint, abort, flash, redirect, request, url_for

from .. import inputs, product_key
from ..i18n import gettext as _
from ..htmx import done, render, trigger, wants_fragment
from ..redeem_interface import RedeemError
from ..timefmt import for_people
from . import license_rules as sm
from . import activation, instances, license_record, online, wording
from .online import online_configured
from .refusal_limits import RefusalsLimited
from .plugin import operator_page

bp = Blueprint("environment", __name__)

LICENSE_EVENTS = ("license-changed", "activation-recorded")


HISTORY_SHOWN = 50


def _settings_context(**extra) -> dict:
    history = activation.history(HISTORY_SHOWN + 1)  # one more says whether there are more
    ctx = {
        "lic": license_record.current_license(),
        "history": history[:HISTORY_SHOWN],
        "history_more": len(history) > HISTORY_SHOWN,
        "online": online_configured(),
        "panel": None,
        "error": None,
        "message": None,
        "preview": None,
        "key_text": "",
        "code_error": None,
        "code_message": None,
        "focus_update": False,
    }
    ctx.update(extra)
    return ctx


def _license_card(status: int = 200, **extra):
    return render("license/environment/settings.html", "license/environment/_license_card.html", status, **_settings_context(**extra))


# --------------------------------------------------------------------------------------------
# Settings


@bp.get("/settings")
@operator_page
def settings():
    panel = "update" if request.args.get("panel") == "update" else None
    return render("license/environment/settings.html", "license/environment/settings.html", **_settings_context(panel=panel))


@bp.get("/settings/license")
@operator_page
def license_card():
    """The license card; ``?panel=update`` opens the "Update Product License" form in it, and
    ``?focus=update`` (Cancel) gives the focus back to the button that opened it."""
    panel = "update" if request.args.get("panel") == "update" else None
    return _license_card(panel=panel, focus_update=request.args.get("focus") == "update")


def _refused_key(exc: product_key.ProductKeyError | RefusalsLimited, text: str):
    """The form again, with what was pasted and the refusal inline (422; htmx swaps it). Too
    many refusals is a wait, with `Retry-After` (and nothing recorded)."""
    response = _license_card(_refusal_status(exc), panel="update", error=exc, key_text=text)
    if isinstance(exc, RefusalsLimited):
        return _retry_after(response, exc)
    return trigger(response, "activation-recorded")


def _refusal_status(exc: Exception, status: int = 422) -> int:
    """The status of a refusal's answer: too many refused keys is 429 to a plain form, and to
    htmx (which swaps no 429, by the base template's `responseHandling`) the card's `status`."""
    return 429 if isinstance(exc, RefusalsLimited) and not wants_fragment() else status


@bp.post("/settings/license/preview")
@operator_page
def preview():
    text = (request.form.get("product_key") or "").strip()
    try:
        result = activation.inspect_key(text)
    except (product_key.ProductKeyError, RefusalsLimited) as exc:
        return _refused_key(exc, text)
    return _license_card(panel="preview", preview=result, key_text=text)


@bp.post("/settings/license")
@operator_page
def apply():
    text = (request.form.get("product_key") or "").strip()
    try:
        applied = activation.apply_key(text)
    except (product_key.ProductKeyError, RefusalsLimited) as exc:
        return _refused_key(exc, text)
    message = _applied_message(applied)
    return done(message, url_for(".settings"), *LICENSE_EVENTS, fragment=_license_card(message=message))


def _applied_message(applied: activation.Applied) -> str:
    """What applying a key did: a first activation, a renewal, a specification change (or both),
    in the words of :func:`state.change_summary`; the same key again changes nothing."""
    t = applied.state.terms
    if applied.already_active:
        return _("This key (sequence %(seq)s) is already active: nothing changed.", seq=t.seq)
    return sm.change_summary(applied.before.terms, t)


def no_renewal_message(lic: sm.LicenseState) -> str:
    """Check for renewal found nothing newer: said so, with what runs and when it was checked,
    so that it never reads like an activation (nor like the previous check's answer)."""
    t = lic.terms
    return _("No renewal yet: key sequence %(seq)s (%(aku)s AKU until %(until)s) is the newest key the vendor has "
             "for authorization code %(code)s. Checked at %(when)s.", seq=t.seq, aku=t.aku,
             until=for_people(t.expires_at), code=lic.authorization_code, when=for_people(lic.now))


def _retry_after(response, exc):
    """The vendor's wait (a rate limit's `Retry-After`, in seconds) on the page's answer too."""
    wait = getattr(exc, "retry_after", None)
    if wait:
        response.headers["Retry-After"] = str(max(1, math.ceil(float(wait))))
    return response


@bp.post("/settings/renewal-check")
@operator_page
def renewal_check():
    try:
        applied = online.renewal_check()
    except (RedeemError, product_key.ProductKeyError, RefusalsLimited) as exc:
        # A status htmx swaps (the base template's responseHandling): a 429 answers 422, with
        # the vendor's Retry-After.
        status = exc.http_status if isinstance(exc, RedeemError) and exc.http_status in (409, 422) else 422
        if not wants_fragment():
            flash(exc.message, "warning" if wording.is_wait(exc) else "error")
            return redirect(url_for(".settings"), code=303)
        return _retry_after(trigger(_license_card(status, error=exc), "activation-recorded"), exc)
    if applied.already_active:
        message = no_renewal_message(applied.state)
        return done(message, url_for(".settings"), fragment=_license_card(message=message))
    message = _applied_message(applied)
    return done(message, url_for(".settings"), *LICENSE_EVENTS, fragment=_license_card(message=message))


@bp.post("/settings/redeem")
@operator_page
def redeem():
    code = request.form.get("authorization_code") or ""
    try:
        applied = online.redeem(code)
    except (RedeemError, product_key.ProductKeyError, RefusalsLimited) as exc:
        status = _refusal_status(exc, 409 if isinstance(exc, RedeemError) and exc.http_status == 409 else 422)
        response = render(
            "license/environment/settings.html",
            "license/environment/_redeem_card.html",
            status,
            **_settings_context(code_error=exc),
        )
        return _retry_after(trigger(response, "activation-recorded"), exc)
    message = _applied_message(applied)
    # The answer is said once, in the redeem card where the focus is; the license card comes
    # along out of band with the new terms.
    fragment = render(
        "license/environment/settings.html",
        "license/environment/_redeem_answer.html",
        **_settings_context(code_message=message),
    )
    return done(message, url_for(".settings"), *LICENSE_EVENTS, fragment=fragment)


@bp.get("/settings/history")
@operator_page
def history():
    return render("license/environment/settings.html", "license/environment/_history.html", **_settings_context())


# --------------------------------------------------------------------------------------------
# Instances


def _instances_context(**extra) -> dict:
    ctx = {
        "lic": license_record.current_license(),
        "instances": instances.instances(),
        "error": None,
        "error_for": None,
        "form": {"name": "", "aku": ""},
        "message": None,
    }
    ctx.update(extra)
    return ctx


def _instances(status: int = 200, **extra):
    return render("license/environment/instances.html", "license/environment/_instances.html", status, **_instances_context(**extra))


@bp.get("/instances", endpoint="instances")
@operator_page
def instances_page():
    return _instances()


@bp.post("/instances")
@operator_page
def create_instance():
    form = {"name": request.form.get("name", ""), "aku": request.form.get("aku", "")}
    try:
        inst = instances.create_instance(form["name"], form["aku"])
    except (instances.InstanceError, sm.CapacityError) as exc:
        return _instances(_status(exc), error=exc, error_for="create", form=form)
    message = _("Created %(name)s with %(aku)s AKU.", name=inst.name, aku=inst.aku)
    return done(message, url_for(".instances"), "license-changed", fragment=_instances(message=message))


def _instance_id(text: str) -> int:
    """The instance id in an address: a whole number (`inputs.record_id`), else 404."""
    ident = inputs.record_id(text)
    if ident is None:
        abort(404)
    return ident


@bp.post("/instances/<instance_id>/resize")
@operator_page
def resize_instance(instance_id: str):
    instance_id = _instance_id(instance_id)
    try:
        inst = instances.resize_instance(instance_id, request.form.get("aku", ""))
    except (instances.InstanceError, sm.CapacityError) as exc:
        return _instances(_status(exc), error=exc, error_for=instance_id)
    message = _("%(name)s now has %(aku)s AKU.", name=inst.name, aku=inst.aku)
    return done(message, url_for(".instances"), "license-changed", fragment=_instances(message=message))


@bp.post("/instances/<instance_id>/delete")
@operator_page
def delete_instance(instance_id: str):
    instance_id = _instance_id(instance_id)
    try:
        name = instances.get_instance(instance_id).name
        instances.delete_instance(instance_id)
    except instances.InstanceError as exc:
        return _instances(_status(exc), error=exc, error_for=instance_id)
    message = _("Deleted %(name)s.", name=name)
    return done(message, url_for(".instances"), "license-changed", fragment=_instances(message=message))


def _status(exc: Exception) -> int:
    status = getattr(exc, "http_status", 422)
    # htmx swaps 2xx, 409 and 422 answers: a vanished instance is shown like a conflict.
    return status if status in (409, 422) else 409


# --------------------------------------------------------------------------------------------
# Template helpers


@bp.context_processor  # the environment's pages only (its names claimed in environment.init_app)
def labels():
    return {
        "env_status_labels": sm.STATUS_LABELS,
        "env_channel_labels": sm.CHANNEL_LABELS,
        "env_type_labels": sm.TYPE_LABELS,
        "env_sources": wording.SOURCES,
        "env_refusal_reason": wording.refusal_reason,
        "env_wait_codes": wording.WAIT_CODES,
        "env_error_parts": wording.error_parts,
        "env_history_key": wording.history_key,
        "env_repeats": wording.repeats,
        "env_renewal_check_headline": wording.renewal_check_headline,
        "env_is_wait": wording.is_wait,
    }
