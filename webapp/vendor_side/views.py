"""Staff pages (roles `issuer` and `admin`): issue, keys, decoder, audit log, needs attention,
offline keys, demo codes. Thin: every rule lives in `issuing`, `search`, `explain`, `reconcile`.

Every form works as a plain POST; htmx swaps the fragment that the full page includes.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from flask import Blueprint, Response, abort, current_app, flash, redirect, request, stream_with_context, url_for
from flask_login import current_user

from .. import audit, clock, inputs
from ..auth import roles_required
from ..authorization_code import mask
from ..database import db
from ..htmx import no_store, render, trigger, wants_fragment
from ..i18n import ENGLISH, current_locale, gettext as _, lazy_gettext, ngettext
from ..models.accounts import AccountRole
from ..models.audit import AuditEvent
from ..product_key import KeyType
from .models import IssuedKey
from . import explain, mail, offline as offline_keys, reconcile as reconciling, search
from .issuing import issue_from_code
from .verification import verify_code
from .marketplace import market
from .words import word
from .rules import CHANGE_LABELS, Change, IssueError, _join, code_fields, field_errors, iso

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


def _actor() -> str:
    return current_app.extensions["license_platform"].actor_name()


def _panel(status: int = 200, **context):
    context.setdefault("values", {"code": "", "install_id": request.args.get("install_id", "")})
    context["values"] = {**context["values"], **_contact_values()}
    context.setdefault("field_errors", {})
    context.setdefault("change_labels", CHANGE_LABELS)
    return render("license/vendor_side/issue.html", "license/vendor_side/_issue_panel.html", status, **context)


# ------------------------------------------------------------------ issue


@bp.get("/issue")
@roles_required(AccountRole.ISSUER)
def issue_page():
    return _panel()


@bp.post("/issue/verify")
@roles_required(AccountRole.ISSUER)
def verify():
    values = code_fields(request.form)
    errors = field_errors(values)
    if errors:
        return _panel(422, values=values, field_errors=errors)
    verification = verify_code(values["code"], values["install_id"])
    return _panel(values=values, verification=verification)


@bp.post("/issue")
@roles_required(AccountRole.ISSUER)
def issue():
    values = code_fields(request.form)
    errors = field_errors(values)
    if errors:
        return _panel(422, values=values, field_errors=errors)
    transfer = request.form.get("transfer") == "1"
    replace = request.form.get("replace") == "1"
    if (transfer or replace) and not current_user.has_role(AccountRole.ADMIN):
        abort(403)
    reason = (request.form.get("reason") or "").strip() or None
    form = request.form
    try:  # the buyer's e-mail is checked before anything is issued
        contact = mail.read_contact(form.get("buyer_email"), form.get("buyer_language"), form.get("buyer_consent") == "1")
    except mail.ContactRefused as exc:
        return _panel(422, values=values, field_errors={"buyer_email": exc.text()},
                      verification=verify_code(values["code"], values["install_id"]))
    try:
        issued = issue_from_code(values["code"], values["install_id"], actor=_actor(),
                                 transfer=transfer, replace=replace, reason=reason)
    except IssueError as exc:
        verification = None
        if exc.code in ("code_bound_elsewhere", "install_has_license", "reason_required"):
            verification = verify_code(values["code"], values["install_id"])
        return _panel(422, values=values, error=exc, verification=verification)
    if contact is not None:
        mail.set_contact(issued.key.install_id, *contact, actor=_actor())
        db.session.commit()
    if not wants_fragment():
        flash(_("Product key issued.") if issued.created else _("Nothing changed: this is the stored key."), "success")
        return redirect(url_for("vendor.key_detail", key_id=issued.key.id), code=303)
    response = _panel(values=values, issued=issued)
    return trigger(response, "key-issued") if issued.created else response


def _contact_values() -> dict:
    """The buyer's e-mail fields of the issuing form, as typed (kept across its steps)."""
    form = request.form
    return {"buyer_email": (form.get("buyer_email") or "").strip()[:254],
            "buyer_language": form.get("buyer_language") or current_locale(),
            "buyer_consent": form.get("buyer_consent") == "1"}


# ------------------------------------------------------------------ keys


@bp.get("/keys")
@roles_required(AccountRole.ISSUER)
def keys():
    query = search.KeyQuery.from_page(request.args)
    try:
        results = search.search_keys(query, cursor=request.args.get("cursor"))
    except search.SearchError as exc:
        flash(exc.message, "error")
        results = search.search_keys(query)
    response = render("license/vendor_side/keys.html", "license/vendor_side/_key_results.html", results=results, query=query,
                      statuses=search.STATUS_LABELS, q=request.args.get("q", ""), status_filter=query.status or "")
    if wants_fragment() and query.text and search.is_known_code(query.text):
        # A whole authorization code typed in the search box does not go into the browser's history.
        response.headers["HX-Push-Url"] = url_for("vendor.keys", q=mask(query.text), status=query.status or None)
    return response


@bp.get("/keys/<key_id>")
@roles_required(AccountRole.ISSUER)
def key_detail(key_id: str):
    key = db.session.get(IssuedKey, key_id) or abort(404)
    tl = explain.timeline(key)
    binding = tl.binding
    state = search.row_status(key, binding, clock.now())
    return render("license/vendor_side/key.html", "license/vendor_side/_timeline.html", key=key, timeline=tl, binding=binding,
                  key_state=state, status_label=search.STATUS_LABELS[state], contact=mail.contact_for(key.install_id))


@bp.post("/keys/<key_id>/buyer-contact/remove")
@roles_required(AccountRole.ISSUER)
def buyer_contact_remove(key_id: str):
    """Forget the buyer's e-mail of the key's environment: no more reminders to them."""
    key = db.session.get(IssuedKey, key_id) or abort(404)
    removed = mail.remove_contact(key.install_id, actor=_actor())
    message = (_("Removed the buyer's e-mail: they get no more reminders.") if removed
               else _("No buyer e-mail was recorded."))
    if not wants_fragment():
        flash(message, "success")
        return redirect(url_for("vendor.key_detail", key_id=key.id), code=303)
    return render("license/vendor_side/key.html", "license/vendor_side/_buyer_contact.html", key=key, contact=None,
                  contact_message=message)


# ------------------------------------------------------------------ decoder


@bp.route("/decode", methods=["GET", "POST"])
@roles_required(AccountRole.ISSUER)
def decode():
    decoded = None
    if request.method == "POST":
        decoded = explain.decode_key(request.form.get("product_key", ""))
    return render("license/vendor_side/decode.html", "license/vendor_side/_decoded.html", decoded=decoded)


# ------------------------------------------------------------------ audit log


def _audit_query():
    args = request.args
    stmt = db.select(AuditEvent)
    filters = {}
    for name, column in (("action", AuditEvent.action), ("actor", AuditEvent.actor),
                         ("install_id", AuditEvent.install_id), ("subject", AuditEvent.subject)):
        value = (args.get(name) or "").strip()
        if value:
            filters[name] = value
            stmt = stmt.where(column == (value.lower() if name == "install_id" else value))
    for name, op in (("since", "ge"), ("until", "lt")):
        value = (args.get(name) or "").strip()
        if not value:
            continue
        try:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        filters[name] = value
        stmt = stmt.where(AuditEvent.at >= day if op == "ge" else AuditEvent.at < day + timedelta(days=1))
    return stmt, filters


@bp.get("/audit")
@roles_required(AccountRole.ISSUER)
def audit_log():
    """A page of events (`audit.PAGE_SIZE`), newest first; `before=`/`after=` page by event id."""
    stmt, filters = _audit_query()
    # An event id; anything else (text, other digits, past 64 bits) falls back to the newest page.
    before = inputs.record_id(request.args.get("before"))
    after = inputs.record_id(request.args.get("after"))
    page = audit.page_of_events(stmt, before=before, after=after)
    recorded = db.session.scalars(db.select(AuditEvent.action).distinct()).all()
    actions = sorted(((audit.action_label(a), a) for a in recorded), key=lambda pair: pair[0].lower())
    return render("license/vendor_side/audit.html", "license/vendor_side/_audit_results.html", log=page, filters=filters, actions=actions,
                  paged=before is not None or after is not None, changes=_audit_changes,
                  action_label=audit.action_label, show_value=audit.show_value)


# What a key changed (`key_issued`'s `change`), in the issuing pages' words.
AUDIT_WORDS = {"change": {**CHANGE_LABELS, Change.OFFLINE: lazy_gettext("Offline key")}}


def _audit_changes(event: AuditEvent) -> audit.Changes:
    return audit.changes(event.before, event.after, event.action, words=AUDIT_WORDS)


def _csv_cell(value) -> str:
    import json

    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text  # no formulas when opened in a spreadsheet
    return text


@bp.get("/audit.csv")
@roles_required(AccountRole.ISSUER)
def audit_csv():
    stmt, _ = _audit_query()
    stmt = stmt.order_by(AuditEvent.id.desc()).limit(100_000)

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["id", "at", "actor", "action", "subject", "install_id", "before", "after", "detail", "ip"])
        for event in db.session.scalars(stmt).yield_per(500):
            writer.writerow([event.id, iso(event.at), _csv_cell(event.actor),
                             _csv_cell(event.action), _csv_cell(event.subject), _csv_cell(event.install_id),
                             _csv_cell(event.before), _csv_cell(event.after), _csv_cell(event.detail),
                             _csv_cell(event.ip)])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if buffer.getvalue():
            yield buffer.getvalue()

    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return no_store(Response(stream_with_context(rows()), mimetype="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'}))


# ------------------------------------------------------------------ needs attention


def _attention(status: int = 200, **context):
    findings = reconciling.attention()
    last_run = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "reconcile_run")
                                 .order_by(AuditEvent.id.desc()))
    return render("license/vendor_side/attention.html", "license/vendor_side/_attention.html", status,
                  needs=[f for f in findings if f.needs_key],
                  lost=[f for f in findings if f.kind in reconciling.LOST],
                  other=[f for f in findings if not f.needs_key and f.kind not in reconciling.LOST],
                  last_run=last_run, reminders=_reminders(), **context)


def _reminders():
    """The latest expiry reminders and expiries `license notify` recorded (issue 14), each with
    what became of its webhooks and e-mails: `(event, delivered, total, mailed, mail_total)`."""
    from .events import LICENSE_EXPIRED, LICENSE_EXPIRING, recent
    from .models import DeliveryState, WebhookDelivery

    found = recent((LICENSE_EXPIRING, LICENSE_EXPIRED), limit=20)
    states: dict[int, list[str]] = {}
    if found:
        for event_id, state in db.session.execute(
                db.select(WebhookDelivery.event_id, WebhookDelivery.state)
                .where(WebhookDelivery.event_id.in_([e.id for e in found]))):
            states.setdefault(event_id, []).append(state)
    mailed = mail.states_of_events([e.id for e in found])
    return [(e, sum(1 for s in states.get(e.id, []) if s == DeliveryState.SUCCEEDED), len(states.get(e.id, [])),
             sum(1 for s in mailed.get(e.id, []) if s == "sent"), len(mailed.get(e.id, [])))
            for e in found]


@bp.get("/attention")
@roles_required(AccountRole.ISSUER)
def attention():
    return _attention()


@bp.post("/attention/check")
@roles_required(AccountRole.ISSUER)
def attention_check():
    report = reconciling.reconcile(actor=_actor())
    counts = report.counts()
    checked = counts["checked"]
    if counts["unreadable"]:
        message = ngettext("Read %(num)s code from the marketplace; %(unreadable)s could not be read.",
                           "Read %(num)s codes from the marketplace; %(unreadable)s could not be read.",
                           checked, unreadable=counts["unreadable"])
    else:
        message = ngettext("Read %(num)s code from the marketplace.", "Read %(num)s codes from the marketplace.", checked)
    if not wants_fragment():
        flash(message, "success")
        return redirect(url_for("vendor.attention"), code=303)
    return _attention(message=message)


@bp.post("/attention/reminders")
@roles_required(AccountRole.ISSUER)
def attention_reminders():
    """Record the events that are due now (what `license notify` records first); the webhooks
    themselves are delivered by `license notify`, never by a page."""
    from . import events

    now = clock.now_seconds()
    try:
        days = events.remind_days()
    except events.RemindDaysError as exc:
        error_text = _("LICENSE_REMIND_DAYS: %(value)s is not a number of days (1 to 3650)", value=repr(exc.part))
        if not wants_fragment():
            flash(error_text, "error")
            return redirect(url_for("vendor.attention"), code=303)
        return _attention(422, error_text=error_text)
    counts = events.record_findings(reconciling.attention(now), now)
    counts.update(events.scan_expiry(now, days))
    db.session.commit()
    made = sum(counts.values())
    if made:
        message = ngettext("Recorded %(num)s event due now (see Reminders sent); `license notify` delivers its "
                           "webhooks.",
                           "Recorded %(num)s events due now (see Reminders sent); `license notify` delivers their "
                           "webhooks.", made)
    else:
        message = _("Recorded 0 events due now.")
    if not wants_fragment():
        flash(message, "success")
        return redirect(url_for("vendor.attention"), code=303)
    return _attention(message=message)


@bp.post("/attention/<binding_id>/issue")
@roles_required(AccountRole.ISSUER)
def attention_issue(binding_id: str):
    """One click: the new key, shown in place with its delivery (htmx), or on its page."""
    binding_id = inputs.record_id(binding_id) or abort(404)
    try:
        issued = reconciling.issue_for_binding(binding_id, actor=_actor())
    except IssueError as exc:
        install_id = reconciling.install_id_of(binding_id)
        if not wants_fragment():
            headline = (_("No new key was issued for %(install_id)s.", install_id=install_id) if install_id
                        else _("No new key was issued."))
            flash(_join(headline, exc.message), "error")
            return redirect(url_for("vendor.attention"), code=303)
        return _attention(422, error=exc, failed_install_id=install_id)
    if not wants_fragment():
        summary = explain.issued_change(issued).summary
        if summary:
            flash(_("Issued key seq %(seq)s for %(install_id)s: %(summary)s.", seq=issued.key.seq,
                    install_id=issued.key.install_id, summary=summary), "success")
        else:
            flash(_("Issued key seq %(seq)s for %(install_id)s.", seq=issued.key.seq,
                    install_id=issued.key.install_id), "success")
        return redirect(url_for("vendor.key_detail", key_id=issued.key.id), code=303)
    response = _attention(issued=issued)
    return trigger(response, "key-issued") if issued.created else response


# ------------------------------------------------------------------ offline keys (admin)


@bp.route("/offline", methods=["GET", "POST"])
@roles_required(AccountRole.ADMIN)
def offline():
    if request.method == "GET":
        values = {name: "" for name in offline_keys.FIELDS}
        values.update(install_id=request.args.get("install_id", ""), type=request.args.get("type", KeyType.SUBSCRIPTION))
        return render("license/vendor_side/offline.html", "license/vendor_side/_offline_panel.html", values=values, field_errors={})
    values = {name: (request.form.get(name) or "").strip() for name in offline_keys.FIELDS}
    try:
        issued = offline_keys.issue_offline(offline_keys.read_order(values), actor=_actor())
    except offline_keys.OrderInvalid as exc:
        return render("license/vendor_side/offline.html", "license/vendor_side/_offline_panel.html", 422, values=values,
                      field_errors=exc.errors)
    except IssueError as exc:
        return render("license/vendor_side/offline.html", "license/vendor_side/_offline_panel.html", 422, values=values, field_errors={},
                      error=exc)
    if not wants_fragment():
        flash(_("Product key issued."), "success")
        return redirect(url_for("vendor.key_detail", key_id=issued.key.id), code=303)
    return trigger(render("license/vendor_side/offline.html", "license/vendor_side/_offline_panel.html", values=values, field_errors={},
                          issued=issued), "key-issued")


# ------------------------------------------------------------------ demo codes


def _simulator():
    sim = market().simulator
    if sim is None:
        abort(404)
    return sim


def _demo_codes(status: int = 200, **context):
    from . import demo_market  # the demo's only: a vendor with marketplace credentials never loads the simulator

    codes = demo_market.listing(_simulator())
    if current_locale() != ENGLISH:
        # The stored notes are English: in another language each code says what it shows now.
        now = clock.now()
        for code in codes:
            code["note"] = demo_market.describe(code, specs=market().specs, product_code=market().product_code, now=now)
    return render("license/vendor_side/demo_codes.html", "license/vendor_side/_demo_codes.html", status,
                  codes=codes, specs=market().specs, **context)


@bp.get("/demo-codes")
@roles_required(AccountRole.ISSUER)
def demo_codes():
    return _demo_codes()


@bp.post("/demo-codes/action")
@roles_required(AccountRole.ISSUER)
def demo_code_action():
    """The simulator's control interface, for demonstrating renewals: staff play the marketplace."""
    from . import demo_market

    sim = _simulator()
    code = request.form.get("code", "")
    action = request.form.get("action", "")
    try:
        message = demo_market.play(sim, code, action, specs=market().specs, product_code=market().product_code)
    except demo_market.UnknownAction:
        abort(400)
    except KeyError:
        played = demo_market.Played(code, _("The simulator has no code %(code)s.", code=mask(code)), ok=False)
    except ValueError as exc:
        played = demo_market.Played(code, _("The simulator refused: %(reason)s.", reason=exc), ok=False)
    else:
        played = demo_market.Played(code, message)
        audit.record("demo_marketplace_changed", actor=_actor(), after={"action": action, "code": mask(code)},
                     commit=True)
    if not wants_fragment():
        flash(played.message, "success" if played.ok else "error")
        return redirect(url_for("vendor.demo_codes"), code=303)
    return _demo_codes(200 if played.ok else 422, played=played)


# ------------------------------------------------------------------ webhooks (admin; issue 14)


def _webhooks(status: int = 200, **context):
    from . import webhooks as hooks
    from .events import EVENT_TYPES

    context.setdefault("values", {"url": "", "events": []})
    response = render("license/vendor_side/webhooks.html", "license/vendor_side/_webhooks.html", status,
                      endpoints=hooks.active_endpoints(), event_types=EVENT_TYPES, **context)
    return no_store(response)  # it may carry a new endpoint's secret


@bp.get("/webhooks")
@roles_required(AccountRole.ADMIN)
def webhooks():
    return _webhooks()


@bp.post("/webhooks")
@roles_required(AccountRole.ADMIN)
def webhook_add():
    """Add an endpoint; the answer shows its secret once (never a redirect, which would lose it)."""
    from . import webhooks as hooks

    url = (request.form.get("url") or "").strip()
    chosen = request.form.getlist("events")
    values = {"url": url, "events": chosen}
    try:
        endpoint, secret = hooks.add_endpoint(url, chosen, actor=_actor())
    except hooks.EndpointRefused as exc:
        return _webhooks(422, values=values, error=exc.text())
    return _webhooks(added=endpoint, secret=secret)


@bp.post("/webhooks/<endpoint_id>/remove")
@roles_required(AccountRole.ADMIN)
def webhook_remove(endpoint_id: str):
    from . import webhooks as hooks

    endpoint_id = inputs.record_id(endpoint_id) or abort(404)
    removed = hooks.remove_endpoint(endpoint_id, actor=_actor()) or abort(404)
    message = _("Removed the webhook endpoint %(url)s.", url=removed.url)
    if not wants_fragment():
        flash(message, "success")
        return redirect(url_for("vendor.webhooks"), code=303)
    return _webhooks(message=message)


def _deliveries(status: int = 200, **context):
    from . import webhooks as hooks
    from .models import DeliveryState

    state = request.values.get("state") or None
    if state not in tuple(DeliveryState):
        state = None
    rows = hooks.deliveries(limit=100, state=state)
    attempts = hooks.attempts_of([row[0].id for row in rows])
    return render("license/vendor_side/webhook_deliveries.html", "license/vendor_side/_webhook_deliveries.html",
                  status, rows=rows, attempts=attempts, state=state, states=tuple(DeliveryState), **context)


@bp.get("/webhooks/deliveries")
@roles_required(AccountRole.ADMIN)
def webhook_deliveries():
    return _deliveries()


@bp.post("/webhooks/deliveries/<delivery_id>/redeliver")
@roles_required(AccountRole.ADMIN)
def webhook_redeliver(delivery_id: str):
    """One attempt now, whatever the delivery's state; its answer is listed with the others."""
    from . import webhooks as hooks
    from .models import WebhookDelivery

    delivery_id = inputs.record_id(delivery_id) or abort(404)
    if db.session.get(WebhookDelivery, delivery_id) is None:
        abort(404)
    made = hooks.redeliver(delivery_id, actor=_actor())
    if made is None:
        message, ok = _("Another runner is delivering this message right now; try again in a minute."), False
    elif made.ok:
        message, ok = _("Redelivered: the receiver answered %(status)s.", status=made.status_code), True
    else:
        message, ok = _("Redelivery failed: %(error)s.", error=made.error), False
    if not wants_fragment():
        flash(message, "success" if ok else "error")
        return redirect(url_for("vendor.webhook_deliveries"), code=303)
    return _deliveries(message=message, message_ok=ok)


# ------------------------------------------------------------------ e-mail (admin; issue 14)


def _mail_page(status: int = 200, **context):
    from .models import MailState

    state = request.values.get("state") or None
    if state not in tuple(MailState):
        state = None
    config = current_app.config
    return render("license/vendor_side/mail.html", "license/vendor_side/_mail.html", status,
                  messages=mail.latest(limit=100, state=state), state=state, states=tuple(MailState),
                  enabled=mail.enabled(), team=mail.team_addresses(), server=config["MAIL_SERVER"],
                  digest_hour=config["LICENSE_DIGEST_HOUR"], **context)


@bp.get("/mail")
@roles_required(AccountRole.ADMIN)
def mail_outbox():
    return _mail_page()


@bp.post("/mail/<message_id>/send")
@roles_required(AccountRole.ADMIN)
def mail_send_again(message_id: str):
    """One attempt now, whatever the message's state; what the SMTP server said is listed."""
    from .models import MailMessage, MailState

    message_id = inputs.record_id(message_id) or abort(404)
    if db.session.get(MailMessage, message_id) is None:
        abort(404)
    if not mail.enabled():
        message, ok = _("E-mail is off: MAIL_SERVER and MAIL_DEFAULT_SENDER are not both set."), False
    else:
        sent = mail.send_again(message_id, actor=_actor())
        if sent is None:
            message, ok = _("Another runner is sending this message right now; try again in a minute."), False
        elif sent.state == MailState.SENT:
            message, ok = _("Sent: the SMTP server accepted it."), True
        else:
            message, ok = _("Not sent: %(error)s.", error=sent.last_error or word(sent.state)), False
    if not wants_fragment():
        flash(message, "success" if ok else "error")
        return redirect(url_for("vendor.mail_outbox"), code=303)
    return _mail_page(message=message, message_ok=ok)
