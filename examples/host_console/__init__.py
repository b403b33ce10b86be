"""An example host console that mounts the license plugin (README.md, "Embedding in a host console").

A small BYOC console of the kind the seed describes: its own users and login, its own layout
and error pages, its own models (Kafka clusters sized in AKU) on its own Flask-SQLAlchemy.
It mounts the plugin's environment side at `/license`, in its database and its layout, and
gates "Create cluster" by the license:

    .venv/bin/flask --app examples.host_console console init ops@example.com   # asks a password
    .venv/bin/flask --app examples.host_console license db upgrade
    .venv/bin/flask --app examples.host_console run

`CONSOLE_SECRET_KEY`, `CONSOLE_DATABASE_URL` and `LICENSE_DATA_KEY` configure it
(unset: generated into the instance folder, SQLite there); `LICENSE_PUBLIC_KEYS` names the
vendor's public keys (`flask --app wsgi license public-keys`).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, current_app, redirect, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from webapp import LicensePlatform

from .models import ConsoleUser, KafkaCluster, db  # noqa: F401

login_manager = LoginManager()
csrf = CSRFProtect()
# The console's rate limits, which the plugin's routes get too (the plugin adds no Limiter of its own).
limiter = Limiter(key_func=get_remote_address, default_limits=[lambda: current_app.config["CONSOLE_RATE_LIMIT"]])
migrate = Migrate()  # the console's own Alembic history (`flask db init` starts it), which leaves the plugin's tables out


def operator_signed_in():
    """The plugin's `login_check`: the console's signed-in users operate the license; anyone
    else goes to the console's login page first."""
    if current_user.is_authenticated:
        return True
    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))


def create_app(test_config: dict | None = None, *, instance_path: str | None = None) -> Flask:
    app = Flask(__name__, instance_path=instance_path or os.environ.get("CONSOLE_INSTANCE_PATH") or None)
    config = dict(test_config or {})
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ.get("CONSOLE_DATABASE_URL")
        or "sqlite:///" + os.path.join(app.instance_path, "console.db"),
        # The plugin: the environment side, in the console's layout.
        LICENSE_ROLE="environment",
        LICENSE_BASE_TEMPLATE="console/layout.html",
        LICENSE_PUBLIC_KEYS=os.environ.get("LICENSE_PUBLIC_KEYS"),
        LICENSE_INSTANCE_PATH=app.instance_path,
        CONSOLE_RATE_LIMIT="600 per minute",
        RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
    )
    app.config.update(config)
    for key, variable in (("SECRET_KEY", "CONSOLE_SECRET_KEY"), ("LICENSE_DATA_KEY", "LICENSE_DATA_KEY")):
        if not app.config.get(key):
            app.config[key] = os.environ.get(variable) or _instance_secret(app, key.lower())

    # The console's own extensions first, then the plugin, which uses them.
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    csrf.init_app(app)
    limiter.init_app(app)
    LicensePlatform().init_app(
        app,
        db=db,
        url_prefix="/license",
        login_check=operator_signed_in,
        current_actor=lambda: current_user.email,
    )

    from . import views

    app.register_blueprint(views.bp)
    app.register_error_handler(404, views.not_found)
    app.after_request(views.console_headers)
    app.cli.add_command(views.console_cli)
    app.context_processor(lambda: {"console_name": "Kafka Console"})
    return app


@login_manager.user_loader
def _load_user(user_id: str):
    return db.session.get(ConsoleUser, int(user_id))


def _instance_secret(app: Flask, name: str) -> str:
    """A secret generated once into the instance folder (mode 0600), for running the example."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    path = Path(app.instance_path) / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()
