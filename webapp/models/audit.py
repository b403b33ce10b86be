"""The append-only audit log.

Rows are only ever inserted (`webapp.audit.record`). The ORM refuses updates and deletes,
and the migration adds database triggers that refuse them too, so no code path can rewrite
history.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from ..database import db
from .. import clock
from .types import UTCDateTime


class AuditLogIsAppendOnly(RuntimeError):
    pass


class AuditEvent(db.Model):
    __tablename__ = "license_audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)
    actor: Mapped[str] = mapped_column(String(254), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(128), index=True)
    install_id: Mapped[str | None] = mapped_column(String(32), index=True)
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(mapper, connection, target):
    raise AuditLogIsAppendOnly("the audit log is append-only: events cannot be changed")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(mapper, connection, target):
    raise AuditLogIsAppendOnly("the audit log is append-only: events cannot be deleted")
