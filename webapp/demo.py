"""The demo: one command, no configuration.

On start the schema is migrated, a development signing key made when it starts serving (by
the vendor side's start-up check; a command of the flask command line that signs makes it
then), and on the very first start an admin and an operator account are created with random
passwords that are printed once to stderr.
"""
from __future__ import annotations

import fcntl
import os
import secrets
import sys

from flask import Flask
from flask_migrate import upgrade

from . import audit
from .cli import command_line
from .database import db
from .models.accounts import AccountRole, User

DEMO_ACCOUNTS = (("admin@example.com", AccountRole.ADMIN), ("operator@example.com", AccountRole.OPERATOR))


def prepare_demo(app: Flask) -> None:
    """Serialized with a file lock, so several workers starting at once (gunicorn -w 4)
    migrate and create the demo accounts exactly once."""
    lock_path = os.path.join(app.config["LICENSE_INSTANCE_PATH"], "demo.lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            _prepare(app)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _prepare(app: Flask) -> None:
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
    state = app.extensions["license_platform"]
    if state.vendor and not state.for_command:  # a command that signs makes its own (cli.need_signing_key)
        from .vendor_side.signing_keys import ensure_active_key

        ensure_active_key(app)
    with app.app_context():
        if db.session.scalar(db.select(db.func.count()).select_from(User)):
            return
        from .auth import create_user

        lines = []
        for email, role in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(12)
            create_user(email, password, role)
            audit.record("user_created", actor="demo", subject=email, after={"role": role})
            lines.append(f"  {role:<9} {email:<24} {password}")
        db.session.commit()
        print(
            "\nDemo accounts (passwords shown once; "
            f"`{command_line('users create EMAIL --role ROLE')}` makes more):\n"
            + "\n".join(lines)
            + "\n",
            file=sys.stderr,
        )
        for hook in state.services.get("demo_hooks", []):
            hook()
