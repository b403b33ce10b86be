"""The vendor side's commands: `flask license keygen`, `public-keys`, `issue`, `reconcile`, `notify`
and `webhooks add|list|remove`.

Machine output on stdout (a kid, a JSON document, a key; one JSON object per line, or one
document with `--json`); the progress bar, the summaries and errors on stderr.
"""
from __future__ import annotations

import json
import re
import sys

import click
from flask import current_app

from .. import audit, product_key
from ..product_key import KeyType
from ..cli import command_line, license_cli, require_side, say
from ..config import Role
from ..database import db
from . import offline
from .reconcile import LOST
from .rules import IssueError

# `flask license issue` without --reason: the audit row says where the key came from.
NO_REASON = "Issued from the command line; no reason was given."
OPTION_OF_FIELD = {"install_id": "install-id", "type": "type"}


def need_signing_key() -> None:
    """Before a command signs: what the vendor side checks when it starts serving, which the
    command line leaves to the commands that sign (so that `license keygen` on a fresh database
    makes the production key, and no `dev-` one first). With no active key, a `dev-` key is
    made with a warning, or with `LICENSE_REQUIRE_SIGNING_KEY=1` the command stops (exit 1)."""
    from .signing_keys import SigningKeyMissing, ensure_active_key

    try:
        ensure_active_key(current_app._get_current_object())
    except SigningKeyMissing as exc:
        say(f"error: {exc}")
        sys.exit(1)



@license_cli.command("keygen")
@click.option("--kid", help="Key id to use (default: YYYY-MM-xxxx). 'dev-' ids are for development.")
def keygen(kid: str | None) -> None:
    """Make a new signing key the active one; print its kid."""
    require_side(Role.VENDOR)
    from . import signing_keys
    from .models import SigningKey

    if kid is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", kid):
        say("error: --kid may hold letters, digits, '.', '_' and '-' (at most 64)")
        sys.exit(2)
    if kid and db.session.scalar(db.select(SigningKey).where(SigningKey.kid == kid)):
        say(f"error: a signing key {kid!r} already exists")
        sys.exit(2)
    key = signing_keys.generate(kid)
    audit.record("signing_key_generated", actor="cli", subject=f"kid:{key.kid}", commit=True)
    say(f"New active signing key {key.kid}. Ship what `{command_line('license public-keys')}` prints "
        "with environment builds.")
    click.echo(key.kid)


@license_cli.command("public-keys")
@click.option("--include-dev", is_flag=True,
              help="Include development keys (kid dev-...) too; the demo always does.")
def public_keys(include_dev: bool) -> None:
    """Print {kid: PEM} of every signing key (what environments put in LICENSE_PUBLIC_KEYS).

    Outside the demo, development keys are left out unless --include-dev: environments refuse
    keys they signed, and a file made for shipping holds only the production keys.
    """
    require_side(Role.VENDOR)
    from .signing_keys import public_keys as all_public_keys

    keys = all_public_keys()
    if not include_dev and not current_app.extensions["license_platform"].demo:
        left_out = sorted(kid for kid in keys if product_key.is_dev_kid(kid))
        keys = {kid: pem for kid, pem in keys.items() if not product_key.is_dev_kid(kid)}
        if left_out:
            say(f"Left out development key(s) {', '.join(left_out)}: environments refuse keys they "
                "signed (--include-dev lists them too).")
    if not keys:
        say(f"error: there is no signing key to print: run `{command_line('license keygen')}` first")
        sys.exit(1)
    click.echo(json.dumps(keys, indent=2, sort_keys=True))


@license_cli.command("issue")
@click.option("--install-id", required=True, help="The environment's install ID (32 lowercase hex).")
@click.option("--aku", required=True, help=f"Capacity granted, in AKU (1 to {offline.MAX_AKU}).")
@click.option("--days", required=True, help=f"Valid for this many days from now (1 to {offline.MAX_DAYS}).")
@click.option("--contract", required=True, help="The contract number (the key's reference).")
@click.option("--type", "key_type", type=click.Choice([t.value for t in offline.KEY_TYPES]), default=KeyType.SUBSCRIPTION.value, show_default=True)
@click.option("--reason", default=NO_REASON, help="Why, for the audit log.")
@click.option("--buyer-email", default=None,
              help="The buyer's e-mail for expiry reminders (only with --buyer-consented).")
@click.option("--buyer-consented", is_flag=True, help="The buyer agreed to receive expiry reminders by e-mail.")
@click.option("--buyer-language", type=click.Choice(["en", "zh_Hans_CN"]), default=None,
              help="The language of the buyer's reminders (default LICENSE_DEFAULT_LOCALE).")
def issue(install_id: str, aku: str, days: str, contract: str, key_type: str, reason: str, buyer_email: str | None,
          buyer_consented: bool, buyer_language: str | None) -> None:
    """Sign an offline-contract key; print it. The rules are the Offline keys page's (`offline`)."""
    require_side(Role.VENDOR)
    from . import mail

    try:
        order = offline.read_order({"install_id": install_id, "aku": aku, "days": days, "contract": contract,
                                    "type": key_type, "reason": reason})
    except offline.OrderInvalid as exc:
        for name, message in exc.errors.items():
            say(f"error: --{OPTION_OF_FIELD.get(name, name)}: {message}")
        sys.exit(2)
    if buyer_email and not buyer_consented:
        say("error: --buyer-email: pass --buyer-consented too, once the buyer agreed to receive reminders")
        sys.exit(2)
    try:
        contact = mail.read_contact(buyer_email, buyer_language, buyer_consented)
    except mail.ContactRefused as exc:
        say(f"error: --buyer-email: {exc}")
        sys.exit(2)
    need_signing_key()
    try:
        record = offline.issue_offline(order, actor="cli").key
    except IssueError as exc:
        say(f"error: {exc.message}")
        sys.exit(1)
    if contact is not None:
        mail.set_contact(record.install_id, *contact, actor="cli")
        db.session.commit()
        say(f"Recorded the buyer's e-mail for expiry reminders ({contact[1]}).")
    say(f"Issued key seq {record.seq} for {record.install_id}: {record.aku} AKU until "
        f"{product_key.format_time(record.expires_at)}.")
    click.echo(record.product_key)


@license_cli.command("reconcile")
@click.option("--issue", "issue_keys", is_flag=True, help="Issue the missing keys (renewals, specification changes).")
@click.option("--concurrency", type=click.IntRange(min=1, max=32), default=None,
              help="Codes read at the same time (default MARKETPLACE_RECONCILE_CONCURRENCY, 4).")
@click.option("--all", "show_all", is_flag=True, help="List every bound code, the up-to-date ones too.")
@click.option("--json", "as_document", is_flag=True, help="One JSON document instead of JSON lines.")
def reconcile_command(issue_keys: bool, concurrency: int | None, show_all: bool, as_document: bool) -> None:
    """Re-read every bound marketplace code; list what needs a new key (and issue it with --issue).

    Exit status: 0, or 1 when some codes could not be read or some keys could not be issued.
    """
    require_side(Role.VENDOR)
    from .reconcile import _live_pairs, attention, reconcile

    if issue_keys:
        need_signing_key()

    total = len(_live_pairs())
    with click.progressbar(length=total, label=f"Reading {total} code(s) from the marketplace",
                           file=sys.stderr, show_pos=True) as bar:
        report = reconcile(issue=issue_keys, concurrency=concurrency, progress=bar.update, actor="cli reconcile")
    findings = attention(include_ok=True) if show_all else report.findings
    if show_all and issue_keys:  # keep what --issue did on the listed rows
        done = {f.binding.id: f for f in report.findings}
        findings = [done.get(f.binding.id, f) for f in findings]
    items = [finding.to_json() for finding in findings]
    if as_document:
        click.echo(json.dumps({"summary": report.counts(), "items": items}, indent=2))
    else:
        for item in items:
            click.echo(json.dumps(item, separators=(",", ":")))
    counts = report.counts()
    needs = sum(1 for f in report.findings if f.needs_key and f.issued is None)
    lost = sum(1 for f in report.findings if f.kind in LOST)
    say(f"Checked {counts['checked']} code(s): {needs} need a new key, {lost} expired or discarded, "
        f"{counts['unreadable']} could not be read" + (f", {counts['issued']} key(s) issued." if issue_keys else "."))
    if needs and not issue_keys:
        say(f"Run `{command_line('license reconcile --issue')}` (or use the Needs attention page) to issue them.")
    failed = any(f.issue_error is not None for f in report.findings)
    if counts["unreadable"] or failed:
        sys.exit(1)


# ------------------------------------------------------------------ events and webhooks (issue 14)


@license_cli.command("notify")
def notify_command() -> None:
    """Record the events that are due and deliver the pending webhooks; print a JSON summary.

    Safe to run every minute, from several servers at once: each reminder is recorded once and
    each delivery attempt is claimed by one runner. Exit status 0 (failed deliveries are retried
    by later runs and listed on the Webhook deliveries page).
    """
    require_side(Role.VENDOR)
    from . import events, webhooks

    try:
        events.remind_days()
        _check_mail_settings()
    except ValueError as exc:
        say(f"error: {exc}")
        sys.exit(2)
    summary = webhooks.run()
    click.echo(json.dumps(summary, sort_keys=True))
    recorded = sum(summary["events"].values())
    d = summary["deliveries"]
    say(f"Recorded {recorded} event(s); deliveries: {d['succeeded']} succeeded, {d['retrying']} to retry, "
        f"{d['failed']} failed.")
    m = summary["mail"]
    if m.get("enabled"):
        say(f"E-mail: {m['sent']} sent, {m['retrying']} to retry, {m['failed']} failed, {m['dropped']} dropped"
            + (", the day's digest written." if m["digest"] else "."))
    else:
        say("E-mail: off (MAIL_SERVER is not set).")


def _check_mail_settings() -> None:
    """With MAIL_SERVER set, the rest must be usable too (ValueError, in English, says what is not)."""
    from .. import mailer

    config = current_app.config
    if not config["MAIL_SERVER"]:
        return
    try:
        mailer.SmtpSettings.from_config(config)
    except mailer.MailNotConfigured as exc:
        raise ValueError(str(exc)) from None
    if config["LICENSE_NOTIFY_EMAIL"] and not mailer.parse_addresses(config["LICENSE_NOTIFY_EMAIL"]):
        raise ValueError(f"LICENSE_NOTIFY_EMAIL holds no e-mail address: {config['LICENSE_NOTIFY_EMAIL']!r}")


@license_cli.command("mail-test")
@click.argument("address")
def mail_test(address: str) -> None:
    """Send one test message to ADDRESS now, with the MAIL_* settings; exit 1 if it fails."""
    require_side(Role.VENDOR)
    from .. import mailer
    from . import mail

    if not mailer.valid_address(address):
        say(f"error: {address!r} is not an e-mail address")
        sys.exit(2)
    try:
        _check_mail_settings()
        if not current_app.config["MAIL_SERVER"]:
            raise ValueError("MAIL_SERVER is not set: no e-mail is sent")
        message = mail.send_test(address)
    except ValueError as exc:
        say(f"error: {exc}")
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - the SMTP server's refusal, said plainly
        _retry, why = mailer.classify(exc)
        server = f"{current_app.config['MAIL_SERVER']}:{current_app.config['MAIL_PORT']}"
        say(f"error: the test message to {address} was not sent ({server}): {why}")
        sys.exit(1)
    say(f"Sent a test message to {address} ({message['Message-ID']}).")


@license_cli.group("webhooks")
def webhooks_cli() -> None:
    """Webhook endpoints: add, list, remove."""


@webhooks_cli.command("add")
@click.argument("url")
@click.option("--event", "event_names", multiple=True,
              help="An event the endpoint receives (repeat for more; default: all): key.issued, code.renewed, "
                   "code.discarded, license.expiring, license.expired.")
def webhooks_add(url: str, event_names: tuple[str, ...]) -> None:
    """Add an endpoint; print its signing secret (whsec_...) on stdout, once: it is not shown again."""
    require_side(Role.VENDOR)
    from .webhooks import EndpointRefused, add_endpoint

    try:
        endpoint, secret = add_endpoint(url, event_names, actor="cli")
    except EndpointRefused as exc:
        say(f"error: {exc}")
        sys.exit(2)
    say(f"Added webhook endpoint {endpoint.id} for {endpoint.url} "
        f"({', '.join(endpoint.events) if endpoint.events else 'all events'}). Its signing secret follows; "
        "it is not shown again.")
    click.echo(secret)


@webhooks_cli.command("list")
def webhooks_list() -> None:
    """One JSON object per endpoint: id, url, events, created (never the secret)."""
    require_side(Role.VENDOR)
    from .webhooks import active_endpoints

    for endpoint in active_endpoints():
        click.echo(json.dumps({"id": endpoint.id, "url": endpoint.url, "events": endpoint.events or "all",
                               "createdAt": product_key.format_time(endpoint.created_at),
                               "createdBy": endpoint.created_by}, separators=(",", ":")))


@webhooks_cli.command("remove")
@click.argument("endpoint_id", type=int)
def webhooks_remove(endpoint_id: int) -> None:
    """Remove an endpoint: it receives nothing more (what it had not received is not sent)."""
    require_side(Role.VENDOR)
    from .webhooks import remove_endpoint

    if remove_endpoint(endpoint_id, actor="cli") is None:
        say(f"error: there is no webhook endpoint {endpoint_id}")
        sys.exit(1)
    say(f"Removed webhook endpoint {endpoint_id}.")
