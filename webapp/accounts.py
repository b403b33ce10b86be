"""The login page and logout: rate limited, audited, safe redirects."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from . import audit, inputs
from .auth import authenticate, end_sessions, normalize_email
from .database import db
from .extensions import limiter
from .i18n import gettext as _
from .forms import LoginForm
from .models.accounts import User

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths, so the login page cannot bounce people elsewhere, nor put a line
    break in the `Location` header (`inputs.same_site_path`)."""
    return inputs.same_site_path(target)


def _login_limit() -> str:
    return current_app.config["LICENSE_LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    form = LoginForm()
    next_url = _safe_next(request.args.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(next_url or url_for("core.index"))
    error = None
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            audit.record("login", actor=user.email, subject=f"user:{user.id}", commit=True)
            return redirect(next_url or url_for("core.index"), code=303)
        audit.record(
            "login_failed", actor=normalize_email(form.email.data)[:254] or "anonymous", commit=True
        )
        error = _("That e-mail and password do not match an active account.")
    status = 422 if request.method == "POST" else 200
    return render_template("license/accounts/login.html", form=form, error=error, next=next_url), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends the session on the server too: a copy of its cookie is refused from now on."""
    if current_user.is_authenticated:
        end_sessions(db.session.get(User, current_user.id))
        audit.record("logout", actor=current_user.email, subject=f"user:{current_user.id}")
        db.session.commit()
    logout_user()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("accounts.login"), code=303)


def init_app(app, state) -> None:
    state.register_blueprint(app, bp)
