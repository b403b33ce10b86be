"""`flask license ...` and `flask users ...` (run as `.venv/bin/flask --app wsgi ...`, see README.md).

Machine output (keys, JSON, tokens) goes to stdout; everything for people to stderr, so
scripts can capture one without the other. A command of the other side exits 2.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from datetime import datetime, timedelta, timezone

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo

from . import audit, product_key
from .database import db

license_cli = AppGroup("license", help="Product keys, signing keys and this environment's license.")
users_cli = AppGroup("users", help="Accounts and API tokens.")
license_db_cli = AppGroup("db", help="The plugin's tables, in a host console's database too.")
license_cli.add_command(license_db_cli)


@license_db_cli.command("upgrade")
@click.argument("revision", default="head")
def license_db_upgrade(revision: str) -> None:
    """Create or migrate the plugin's tables in the app's database (in a host's, with a version
    table of their own, license_alembic_version; standalone the same as `db upgrade`)."""
    from .license_platform import upgrade_schema

    upgrade_schema(revision)


# How README.md runs a command: the venv's flask (`make run` and `make venv` make .venv), from
# the clone, naming the app. Works on a fresh machine with no venv active.
FLASK = ".venv/bin/flask --app wsgi"


def command_line(args: str) -> str:
    """`flask ARGS` written so that it can be pasted as is: the way this process was started
    when it is the flask command (`.venv/bin/flask --app wsgi ...` from `make run`, `flask ...`
    in a shell with the venv active or FLASK_APP set), and otherwise (gunicorn, a web page,
    the tests) the way README.md writes it."""
    return f"{_this_flask() or FLASK} {args}"


def _this_flask() -> str | None:
    ctx = click.get_current_context(silent=True)
    info = ctx.find_object(ScriptInfo) if ctx is not None else None
    program = sys.argv[0] if sys.argv else ""
    if info is None or os.path.basename(program) != "flask":
        return None
    if os.path.isabs(program):
        on_path = shutil.which("flask")
        if on_path and os.path.realpath(on_path) == os.path.realpath(program):
            program = "flask"
        elif not (relative := os.path.relpath(program)).startswith(".."):
            program = relative if "/" in relative else "./" + relative
    words = [program]
    if info.app_import_path and os.environ.get("FLASK_APP") != info.app_import_path:
        words += ["--app", info.app_import_path]
    return " ".join(shlex.quote(word) for word in words)


def running_a_command() -> bool:
    """Whether the `flask` command line is making this app to run one of its commands
    (`db upgrade`, `license keygen`, `users token`, `--help`), not to serve.

    The flask command makes the app inside click's context, which carries its `ScriptInfo`:
    while it looks up the command to run, or, for `flask run`, from within the `run` command
    itself (the only one that serves). gunicorn, a WSGI server importing `wsgi:app`, a host
    console's factory and the tests make it outside any such context: they serve.
    """
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.find_object(ScriptInfo) is None:
        return False
    return ctx.command.name != "run"


def say(message: str) -> None:
    """For people: stderr."""
    click.echo(message, err=True)


def require_side(side: str) -> None:
    state = current_app.extensions["license_platform"]
    if state.role not in (side, "both"):
        say(f"error: this command belongs to the {side} side; this deployment runs LICENSE_ROLE={state.role}")
        sys.exit(2)


def need_signing_key() -> None:
    """Before a command signs: what the vendor side checks when it starts serving, which the
    command line leaves to the commands that sign (so that `license keygen` on a fresh database
    makes the production key, and no `dev-` one first). With no active key, a `dev-` key is
    made with a warning, or with `LICENSE_REQUIRE_SIGNING_KEY=1` the command stops (exit 1)."""
    from .vendor_side.signing_keys import SigningKeyMissing, ensure_active_key

    try:
        ensure_active_key(current_app._get_current_object())
    except SigningKeyMissing as exc:
        say(f"error: {exc}")
        sys.exit(1)


def warn_if_untrusting() -> None:
    """The start-up warning of an environment that trusts no vendor key, for the commands it
    concerns (`license status`, `license verify`)."""
    from .trust import untrusting_warning

    warning = untrusting_warning(current_app)
    if warning:
        say(warning)


@license_cli.command("keygen")
@click.option("--kid", help="Key id to use (default: YYYY-MM-xxxx). 'dev-' ids are for development.")
def keygen(kid: str | None) -> None:
    """Make a new signing key the active one; print its kid."""
    require_side("vendor")
    from .vendor_side import signing_keys
    from .vendor_side.models import SigningKey

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
    require_side("vendor")
    from .vendor_side.signing_keys import public_keys as all_public_keys

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
@click.option("--aku", required=True, type=click.IntRange(min=1), help="Capacity granted, in AKU.")
@click.option("--days", required=True, type=click.IntRange(min=1, max=3660), help="Valid for this many days from now.")
@click.option("--contract", required=True, help="The contract number (the key's reference).")
@click.option("--type", "key_type", type=click.Choice(["subscription", "trial-extension"]), default="subscription", show_default=True)
@click.option("--reason", help="Why, for the audit log.")
def issue(install_id: str, aku: int, days: int, contract: str, key_type: str, reason: str | None) -> None:
    """Sign an offline-contract key; print it."""
    require_side("vendor")
    from .vendor_side.ledger import issue_key

    install_id = install_id.strip().lower()
    if not product_key.is_install_id(install_id):
        say("error: --install-id must be 32 hex digits, as shown on the environment's Settings page")
        sys.exit(2)
    contract = contract.strip()
    if not contract or len(contract) > 128:
        say("error: --contract must be 1 to 128 characters")
        sys.exit(2)
    need_signing_key()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    record = issue_key(
        install_id=install_id,
        aku=aku,
        expires_at=now + timedelta(days=days),
        type=key_type,
        channel="offline-contract",
        reference=contract,
        product=current_app.config["LICENSE_PRODUCT_NAME"],
        issued_by="cli",
        reason=reason,
        now=now,
    )
    audit.record(
        "key_issued",
        actor="cli",
        subject=f"key:{record.id}",
        install_id=install_id,
        after={"seq": record.seq, "aku": aku, "expiresAt": product_key.format_time(record.expires_at),
               "channel": "offline-contract", "reference": contract, "type": key_type},
        detail=reason,
    )
    db.session.commit()
    say(f"Issued key seq {record.seq} for {install_id}: {aku} AKU until {product_key.format_time(record.expires_at)}.")
    click.echo(record.product_key)


@license_cli.command("verify")
@click.argument("key", required=False)
def verify(key: str | None) -> None:
    """Decode and verify a product key (argument, or stdin with '-'); print its terms as JSON."""
    from . import trust

    if key is None or key == "-":
        key = sys.stdin.read()
    vendor = current_app.extensions["license_platform"].vendor
    if not vendor:
        warn_if_untrusting()
    try:
        if vendor:
            from .vendor_side import signing_keys

            verified = signing_keys.verify(key)
        else:
            verified = trust.verify(key)
    except product_key.ProductKeyError as exc:
        say(f"invalid ({exc.code}): {exc.message}")
        if exc.details.get("reason"):  # the precise reason, for support
            say(f"reason: {exc.details['reason']}")
        sys.exit(1)
    click.echo(json.dumps({"installId": verified.install_id, "kid": verified.kid,
                           "license": verified.license.to_json()}, indent=2, ensure_ascii=False))
    say("valid: the signature holds under kid " + verified.kid)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["operator", "issuer", "admin"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of a prompt.")
def users_create(email: str, role: str, password_stdin: bool) -> None:
    """Create an account."""
    from .auth import AccountError, create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    try:
        user = create_user(email, password, role)
    except AccountError as exc:
        say(f"error: {exc}")
        sys.exit(2)
    audit.record("user_created", actor="cli", subject=f"user:{user.id}", after={"email": user.email, "role": role})
    db.session.commit()
    say(f"Created {user.email} with role {role}.")


@users_cli.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin instead of a prompt.")
def users_password(email: str, password_stdin: bool) -> None:
    """Set a new password; every session of the account ends (its API tokens stay)."""
    from .auth import AccountError, change_password, find_user

    user = find_user(email)
    if user is None:
        say(f"error: no user {email}")
        sys.exit(2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)
    try:
        change_password(user, password)
    except AccountError as exc:
        say(f"error: {exc}")
        sys.exit(2)
    audit.record("password_changed", actor="cli", subject=f"user:{user.id}")
    db.session.commit()
    say(f"New password set for {user.email}; its sessions have ended (API tokens are kept).")


@users_cli.command("token")
@click.argument("email")
@click.option("--revoke", is_flag=True, help="Revoke every token of this user instead.")
def users_token(email: str, revoke: bool) -> None:
    """Print a new API token (shown once), or revoke the user's tokens."""
    from .auth import create_token, find_user, revoke_tokens

    user = find_user(email)
    if user is None:
        say(f"error: no user {email}")
        sys.exit(2)
    if revoke:
        count = revoke_tokens(user)
        audit.record("tokens_revoked", actor="cli", subject=f"user:{user.id}", after={"count": count})
        db.session.commit()
        say(f"Revoked {count} token(s) of {user.email}.")
        return
    token = create_token(user)
    audit.record("token_created", actor="cli", subject=f"user:{user.id}", after={"prefix": token[:12]})
    db.session.commit()
    say(f"New API token for {user.email} ({user.role}); it is shown only this once:")
    click.echo(token)


def init_app(app) -> None:
    import importlib

    # Each side adds its commands to these groups; both are loaded in every role so that a
    # command of the other side answers "belongs to the other side" (exit 2), not "no such command".
    for name in ("webapp.environment.cli", "webapp.vendor_side.cli"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    app.cli.add_command(license_cli)
    app.cli.add_command(users_cli)
    # Pages that tell people to run a command write it the same way (the login page).
    app.jinja_env.globals["license_command"] = command_line
