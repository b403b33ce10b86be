"""What the webhook deliveries (`webhooks`) and the e-mails (`mail`) share: rows recorded once,
claimed by one runner at a time, retried on a schedule.

- `insert_once(model, values)`: INSERT ... ON CONFLICT (dedupe_key) DO NOTHING, on SQLite and
  PostgreSQL: two runners recording the same thing at once record it once, with no
  check-then-insert (`Event`, `MailMessage`).
- `claim(model, row, now, lease=...)`: a conditional UPDATE (pending, due, the attempt count read)
  that only one runner's matches; the claim holds for `lease`, so a runner that dies holding it
  leaves the row due again (`WebhookDelivery`, `MailMessage`: columns `id`, `state`, `attempts`,
  `next_attempt_at`, `claim_token`; state `pending` while it waits).
- `next_delay(schedule, n)`: the wait after the n-th failed attempt, or None: give up.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from ..database import db

PENDING = "pending"  # DeliveryState.PENDING and MailState.PENDING


def insert_once(model, values: dict) -> int | None:
    """Insert a row unless its `dedupe_key` was recorded before (in the caller's transaction):
    the new row's id, or None."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return db.session.execute(stmt.returning(model.id)).scalar()


def next_delay(schedule: tuple[int, ...], failed_attempts: int) -> int | None:
    """Seconds to wait after `failed_attempts` failures (`schedule[n - 1]`); None: give up."""
    if failed_attempts < 1 or failed_attempts > len(schedule):
        return None
    return schedule[failed_attempts - 1]


def claim(model, row, now: datetime, *, lease: timedelta, force: bool = False) -> str | None:
    """Take one attempt of `row` (committed): its claim token, or None when another runner's
    claim matched first. `force` (Redeliver, Send again): whatever its state, unless another
    runner holds a live claim."""
    token = str(uuid.uuid4())
    conditions = [model.id == row.id, model.attempts == row.attempts]
    if force:
        conditions.append((model.state != PENDING) | (model.claim_token.is_(None)) | (model.next_attempt_at <= now))
    else:
        conditions += [model.state == PENDING, model.next_attempt_at <= now]
    result = db.session.execute(
        update(model).where(*conditions)
        .values(claim_token=token, next_attempt_at=now + lease, state=PENDING)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return token if result.rowcount == 1 else None
