"""`flask license ...` and `flask license users ...`, which the standalone app also names
`flask users ...` (run as `.venv/bin/flask --app wsgi ...`, see README.md).

Machine output (keys, JSON, tokens) goes to stdout; everything for people to stderr, so
scripts can capture one without the other. A command of the other side exits 2.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import sys

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo, with_appcontext

from . import audit, product_key, template_names
from .database import db
from .models.accounts import AccountRole

license_cli = AppGroup("license", help="Product keys, signing keys and this environment's license.")
# The plugin's accounts: `flask license users ...` in every app; the standalone app also names
# the group `flask users ...` (interfaces.md), which a host console keeps for its own (`init_app`).
users_cli = AppGroup("users", help="The plugin's accounts and API tokens.")
license_db_cli = AppGroup("db", help="The plugin's tables, in a host console's database too.")
license_cli.add_command(license_db_cli)
license_cli.add_command(users_cli)


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


def users_command_line(args: str) -> str:
    """`command_line` of an account command: `users ARGS` where the app names the plugin's group
    so (the standalone app), `license users ARGS` elsewhere (a host console)."""
    group = "users" if current_app.cli.commands.get("users") is users_cli else "license users"
    return command_line(f"{group} {args}")


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


def warn_if_untrusting() -> None:
    """The start-up warning of an environment that trusts no vendor key, for the commands it
    concerns (`license status`, `license verify`)."""
    from .trust import untrusting_warning

    warning = untrusting_warning(current_app)
    if warning:
        say(f"warning: {warning}")


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


def _read_password(from_stdin: bool, prompt: str) -> str:
    """A password from stdin's first line (scripts), or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True)


def _user_or_exit(user, email: str):
    if user is None:
        say(f"error: no user {email}")
        sys.exit(2)
    return user


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([role.value for role in AccountRole]))
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of a prompt.")
def users_create(email: str, role: str, password_stdin: bool) -> None:
    """Create an account."""
    from .auth import AccountError, create_user

    password = _read_password(password_stdin, "Password")
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

    user = _user_or_exit(find_user(email), email)
    password = _read_password(password_stdin, "New password")
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

    user = _user_or_exit(find_user(email), email)
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


# The commands of each side, loaded only where that side runs (an environment carries none of
# the vendor's code); elsewhere a command of the other side answers "belongs to the vendor side"
# (exit 2), not "no such command".
SIDE_COMMANDS = {
    "environment": ("webapp.environment.cli", ("status",)),
    "vendor": ("webapp.vendor_side.cli", ("keygen", "public-keys", "issue", "reconcile")),
}


def _other_side(name: str, side: str) -> click.Command:
    @with_appcontext
    def belongs_elsewhere() -> None:
        require_side(side)

    return click.Command(name, callback=belongs_elsewhere, add_help_option=False, hidden=True,
                         help=f"A command of the {side} side.",
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


def init_app(app) -> None:
    import importlib

    role = app.config["LICENSE_ROLE"]
    for side, (module, names) in SIDE_COMMANDS.items():
        if role in (side, "both"):
            importlib.import_module(module)  # its decorators replace any stand-in
        else:
            for name in names:
                if name not in license_cli.commands:  # the real command, once loaded, checks the side itself
                    license_cli.add_command(_other_side(name, side))
    app.cli.add_command(license_cli)
    # `flask users ...` too, but not in a host console (`login_check`: the accounts are the host's,
    # and so is a `users` command group), nor over a `users` command the app already has.
    if not app.extensions["license_platform"].hosted and "users" not in app.cli.commands:
        app.cli.add_command(users_cli)
    # Pages that tell people to run a command write it the same way (the login page).
    template_names.add_global(app, "license_command", command_line)
