"""The same key applied by many requests at the same moment: one applies it, every other one is
told "already active", and none is a refusal (issue 11: of thirty parallel applications of one
key, three were refused as `older_key`, "a newer key was applied at the same moment"). And the
same refusal sent by many at once is one history row that counts them.

Real threads against the app's file-backed SQLite database; tests/test_postgres.py runs the same
on PostgreSQL.
"""
from __future__ import annotations

import threading
from collections import Counter

from webapp import product_key
from webapp.database import db
from webapp.environment import activation, license_record, refusal_limits
from webapp.environment.models import Activation
from webapp.models.audit import AuditEvent

PARALLEL = 16


def apply_at_once(app, key: str, n: int = PARALLEL, *, actor: str | None = None) -> Counter:
    """`n` threads apply `key` together (each its own request and database session); the
    outcomes counted: "applied", "already active", or the refusal's error code. Each thread is
    an actor of its own unless `actor` names one for all."""
    start = threading.Barrier(n)
    outcomes: Counter = Counter()
    lock = threading.Lock()
    crashes: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with app.test_request_context("/"):
                start.wait()
                try:
                    applied = activation.apply_key(key, actor=actor or f"worker-{i}@example.com")
                    outcome = "already active" if applied.already_active else "applied"
                except product_key.ProductKeyError as exc:
                    outcome = exc.code
                with lock:
                    outcomes[outcome] += 1
        except BaseException as exc:  # reported below, not swallowed
            crashes.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not crashes, crashes
    return outcomes


def assert_applied_once(app, outcomes: Counter, n: int = PARALLEL) -> None:
    assert outcomes == Counter({"applied": 1, "already active": n - 1}), outcomes
    with app.app_context():
        history = db.session.scalars(db.select(Activation)).all()
        assert [(row.result, row.key_seq) for row in history] == [("applied", 1)]
        actions = Counter(db.session.scalars(db.select(AuditEvent.action)).all())
        assert actions["license_activated"] == 1 and actions["license_activation_refused"] == 0


def test_one_key_applied_by_many_at_once_is_applied_once_and_already_active_for_the_rest(app, keys):
    key = keys.make(seq=1)
    assert_applied_once(app, apply_at_once(app, key))


def refuse_at_once(app, n: int = PARALLEL) -> Counter:
    """One actor sends the same text that is no key from `n` threads together, with the refusal
    limits off (so that every one is refused, none held back)."""
    app.config.update(LICENSE_REFUSAL_ACTOR_LIMITS="", LICENSE_REFUSAL_ENVIRONMENT_LIMITS="")
    refusal_limits.init_app(app)
    with app.app_context():
        license_record.state_row()  # the environment has started (its install ID made) before the burst
    return apply_at_once(app, "not a key at all", n, actor="fuzz@example.com")


def assert_folded(app, outcomes: Counter, n: int = PARALLEL) -> None:
    assert outcomes == Counter({"malformed_key": n}), outcomes
    with app.app_context():
        rows = db.session.scalars(db.select(Activation)).all()
        assert [(r.error_code, r.count) for r in rows] == [("malformed_key", n)]
        refused = db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.action == "license_activation_refused")).all()
        assert len(refused) == 1


def test_the_same_refusal_from_many_at_once_is_one_row_that_counts_them(app, clock):
    assert_folded(app, refuse_at_once(app))
