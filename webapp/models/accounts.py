"""Staff and operator accounts, and their API tokens."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import db
from .. import clock
from .types import UTCDateTime



class AccountRole(StrEnum):
    """An account's role: `operator` (the environment side), `issuer` and `admin` (the vendor
    side; `admin` may do everything)."""

    OPERATOR = "operator"
    ISSUER = "issuer"
    ADMIN = "admin"


ROLES = tuple(AccountRole)


class User(UserMixin, db.Model):
    __tablename__ = "license_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active_account: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # The session generation: sessions made before it moved on (logout, password change) are
    # refused (`webapp.session_security`).
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_active_account

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the user and the session generation."""
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: str) -> bool:
        """`admin` may do everything; other roles only what they name."""
        return self.role == AccountRole.ADMIN or self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class ApiToken(db.Model):
    """A bearer token for `/api/v1`: random, stored only as its SHA-256, revocable."""

    __tablename__ = "license_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("license_users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="tokens")
