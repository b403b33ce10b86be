"""The console's own pages: login, clusters (creating one is gated by the license), errors."""
from __future__ import annotations

from urllib.parse import urlsplit

import click
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.cli import AppGroup
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.environment import CapacityError, check_capacity, current_license
from webapp.environment import instances as license_instances
from webapp.environment.instances import MAX_INSTANCE_AKU, InstanceError
from webapp.inputs import whole_number

from .models import ConsoleUser, KafkaCluster, db

bp = Blueprint("console", __name__)

# The console's own headers: the plugin's pages carry the plugin's (set first, on its blueprints).
CONSOLE_CSP = "default-src 'self'; frame-ancestors 'self'"


def console_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("X-Console", "kafka-console")
    return response


def not_found(error):
    return render_template("console/not_found.html"), 404


@bp.get("/")
def home():
    return redirect(url_for("console.clusters"))


@bp.get("/healthz")
def healthz():
    return {"console": "ok"}


@bp.get("/readyz")
def readyz():
    """The console's readiness, the license plugin's checks in it (the plugin adds no route here)."""
    from webapp.health import readiness

    plugin = readiness()
    body = {"status": "ready" if plugin.ready else "not ready", "license": plugin.to_json()["checks"]}
    return body, plugin.status_code


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        user = db.session.scalar(db.select(ConsoleUser).where(ConsoleUser.email == request.form.get("email", "").strip().lower()))
        if user is not None and check_password_hash(user.password_hash, request.form.get("password", "")):
            login_user(user)
            target = request.args.get("next", "")
            parts = urlsplit(target)
            safe = target.startswith("/") and not target.startswith("//") and not parts.netloc
            return redirect(target if safe else url_for("console.clusters"), code=303)
        error = "Wrong e-mail or password."
    return render_template("console/login.html", error=error), 422 if error else 200


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("console.login"), code=303)


@bp.get("/clusters")
@login_required
def clusters():
    return _clusters_page()


@bp.post("/clusters")
@login_required
def create_cluster():
    """A new Kafka cluster, within the license: `check_capacity` refuses at once what the
    license does not allow; the plugin then records its AKU as one of the environment's
    instances (a locked check, so concurrent creations never overshoot), in the same
    transaction as the console's own row (one database, one session)."""
    name = request.form.get("name", "").strip()
    aku = whole_number(request.form.get("aku", ""), 1, MAX_INSTANCE_AKU)  # ASCII digits, in range
    if aku is None:
        return _clusters_page(error=f"AKU must be a whole number from 1 to {MAX_INSTANCE_AKU:,}."), 422
    try:
        check_capacity(aku)  # a quick refusal, before anything is written
        cluster = KafkaCluster(name=name, aku=aku)
        db.session.add(cluster)
        instance = license_instances.create_instance(name, aku, actor=current_user.email)  # commits both
    except (CapacityError, InstanceError) as exc:
        db.session.rollback()
        return _clusters_page(error=exc.message), 409 if isinstance(exc, CapacityError) else 422
    cluster.license_instance_id = instance.id
    db.session.commit()
    flash(f"Cluster {name} created with {aku} AKU.")
    return redirect(url_for("console.clusters"), code=303)


def _clusters_page(error: str | None = None):
    rows = db.session.scalars(db.select(KafkaCluster).order_by(KafkaCluster.id)).all()
    return render_template("console/clusters.html", clusters=rows, license=current_license(), error=error)


console_cli = AppGroup("console", help="The example console's own tables and users.")


@console_cli.command("init")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def init_command(email: str, password_stdin: bool) -> None:
    """Create the console's own tables and a user (the plugin's: `license db upgrade`)."""
    password = click.get_text_stream("stdin").readline().rstrip("\n") if password_stdin else \
        click.prompt("Password", hide_input=True, confirmation_prompt=True)
    db.create_all()  # the console's metadata only: the plugin's tables are the plugin's
    db.session.add(ConsoleUser(email=email.strip().lower(), password_hash=generate_password_hash(password)))
    db.session.commit()
    click.echo(f"created {email}", err=True)
