"""Accounts: passwords, API tokens, and the role checks for pages and for `/api/v1`.

Pages use Flask-Login sessions. `/api/v1` uses only `Authorization: Bearer <token>`
(never the session cookie), which is why the API needs no CSRF token.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import wraps

from urllib.parse import urlsplit

from flask import abort, current_app, g, make_response, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam, select
from werkzeug.security import check_password_hash, generate_password_hash

from . import access, clock
from .config import Role
from .database import db
from .extensions import login_manager
from .models.accounts import ROLES, AccountRole, ApiToken, User

TOKEN_PREFIX = "lic_"
MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    pass


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def create_user(email: str, password: str, role: str) -> User:
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if db.session.scalar(db.select(User).where(User.email == email)):
        raise AccountError(f"a user {email} already exists")
    user = User(email=email, password_hash=generate_password_hash(password), role=role)
    db.session.add(user)
    db.session.flush()
    return user


def find_user(email: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.email == normalize_email(email)))


# A hash to check against when the e-mail is unknown, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def authenticate(email: str, password: str) -> User | None:
    user = find_user(email)
    if user is None or not user.is_active:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    return user if check_password_hash(user.password_hash, password or "") else None


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User) -> str:
    """A new random token; only its SHA-256 is stored, so it is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_sha256=token_sha256(token), prefix=token[:12]))
    db.session.flush()
    return token


def revoke_tokens(user: User) -> int:
    now = clock.now()
    count = 0
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now
            count += 1
    return count


@dataclass(frozen=True)
class Account:
    """The account a request runs as (a session's `current_user`, a bearer token's caller), as
    the pages and `/api/v1` need it: who (for the audit and request logs) and which role. Read as
    plain columns in one statement, not as an ORM object: the look-up runs on every request, and
    the ORM's loading cost more than the query (docs/performance.md). Code that changes the
    account loads the `User` row (`db.session.get(User, account.id)`)."""

    id: int
    email: str
    role: str
    session_version: int
    is_active: bool = True
    is_authenticated = True
    is_anonymous = False

    def has_role(self, *roles: str) -> bool:
        """`admin` may do everything; other roles only what they name."""
        return self.role == AccountRole.ADMIN or self.role in roles

    def get_id(self) -> str:
        """As `User.get_id()`: the user and the session generation."""
        return f"{self.id}:{self.session_version}"


_ACCOUNT_COLUMNS = (User.id, User.email, User.role, User.session_version, User.is_active_account)
_TOKEN_ACCOUNT = (
    select(*_ACCOUNT_COLUMNS)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_sha256 == bindparam("sha"), ApiToken.revoked_at.is_(None),
           User.is_active_account.is_(True))
)
_SESSION_ACCOUNT = select(*_ACCOUNT_COLUMNS).where(User.id == bindparam("id"),
                                                   User.session_version == bindparam("generation"))


def _account(row) -> Account | None:
    return Account(row.id, row.email, row.role, row.session_version, bool(row.is_active_account)) \
        if row is not None else None


def user_for_token(token: str) -> Account | None:
    """The caller of a token that is neither revoked nor of a deactivated account; read from the
    database on every request, so a revoked token is refused by the next request on every worker."""
    return _account(db.read(_TOKEN_ACCOUNT, {"sha": token_sha256(token)}).first())


def change_password(user: User, password: str) -> None:
    """Set a new password; every session of the user ends (`end_sessions`)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = generate_password_hash(password)
    end_sessions(user)


def end_sessions(user: User) -> None:
    """Move the user's session generation on: every session made before is refused from the
    next request on, whichever browser holds it (`session_security`). The caller commits."""
    user.session_version = User.session_version + 1  # in SQL, so concurrent bumps both count
    db.session.flush()


@login_manager.user_loader
def _load_user(session_id: str) -> Account | None:
    """The account of a session made by `User.get_id()` ("id:generation"), if its generation is
    still the user's; a session of an older generation (ended) or without one is refused. Read
    on every request, so a logout or a password change ends the session on every worker."""
    user_id, _, generation = (session_id or "").partition(":")
    try:
        params = {"id": int(user_id), "generation": int(generation)}
    except ValueError:
        return None
    return _account(db.read(_SESSION_ACCOUNT, params).first())


def bearer_user() -> Account | None:
    """The API caller, from `Authorization: Bearer`, cached on `g` for the request."""
    if "api_user" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        g.api_user = user_for_token(token.strip()) if scheme.lower() == "bearer" and token else None
    return g.api_user


def login_redirect():
    """To the login page, and back here after. An htmx request (whose session ended) gets
    `HX-Redirect`, so the whole page goes to the login form instead of a fragment of it."""
    from .htmx import is_htmx

    if is_htmx():
        target = request.headers.get("HX-Current-URL") or request.full_path
        parts = urlsplit(target)
        back = parts.path + (f"?{parts.query}" if parts.query else "")
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url_for("accounts.login", next=back)
        return response
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def roles_required(*roles: str):
    """For pages: log in first (redirect), then hold one of `roles` (403). Admin holds all.
    Declares the view's access (`access.PAGE`), which tests/test_access.py holds it to."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_redirect()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return access.declare(wrapped, access.Access(access.PAGE, tuple(roles)))

    return decorator


def api_roles_required(*roles: str):
    """For `/api/v1`: a valid bearer token (401) of a user holding one of `roles` (403).
    Declares the view's access (`access.API`)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = bearer_user()
            if user is None:
                abort(401)
            if not user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return access.declare(wrapped, access.Access(access.API, tuple(roles)))

    return decorator


def actor_name() -> str:
    user = g.get("api_user") or (current_user if current_user.is_authenticated else None)
    return user.email if user is not None else "anonymous"


def uses_role(role: str) -> bool:
    """Whether this deployment runs the `vendor` or `environment` side."""
    return current_app.extensions["license_platform"].role in (role, Role.BOTH)
