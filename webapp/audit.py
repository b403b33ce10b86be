"""`record()`: the one function every state change calls to write the audit log."""
from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from .extensions import db
from .models.audit import AuditEvent


def current_actor_name() -> str:
    """Who is acting: the logged-in user, the API token's user, or the host's actor."""
    from flask import current_app

    state = current_app.extensions.get("license_platform")
    if state is not None and has_request_context():
        return state.actor_name()
    return "system"


def record(
    action: str,
    *,
    actor: str | None = None,
    subject: str | None = None,
    install_id: str | None = None,
    before: Any = None,
    after: Any = None,
    detail: str | None = None,
    commit: bool = False,
) -> AuditEvent:
    """Add an audit event to the current transaction (committed with the change it records).

    `commit=True` is for events that stand alone (a failed login, a refused activation),
    where there is no other change to commit with.
    """
    event = AuditEvent(
        actor=actor or current_actor_name(),
        action=action,
        subject=subject,
        install_id=install_id,
        before=before,
        after=after,
        detail=detail,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event
