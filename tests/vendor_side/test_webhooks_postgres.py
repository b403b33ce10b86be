"""Issue 14 on PostgreSQL: a reminder recorded once and each attempt claimed by one runner when
several run at the same moment (INSERT ... ON CONFLICT DO NOTHING, the conditional UPDATE).

Runs when TEST_POSTGRES_URL is set (`eval "$(scripts/start-postgres)"`), as tests/test_postgres.py.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from webapp.database import db
from tests import databases

from .test_webhooks import Receiver

databases.skip_module_without_server()


@pytest.fixture
def pg_app(tmp_path):
    with databases.throwaway_database() as url, \
            databases.migrated_app(url, tmp_path, LICENSE_ROLE="both", LICENSE_WEBHOOK_ALLOW_PRIVATE=True) as app:
        yield app


def _together(app, work, count: int = 4) -> list[BaseException]:
    errors: list[BaseException] = []
    gate = threading.Barrier(count)

    def run():
        try:
            with app.app_context():
                gate.wait()
                work()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_runners_at_once_on_postgresql_record_and_send_everything_once(pg_app):
    from webapp.vendor_side import events, webhooks
    from webapp.vendor_side.ledger import issue_key
    from webapp.vendor_side.models import Event, WebhookAttempt

    receiver = Receiver().start()
    try:
        with pg_app.app_context():
            webhooks.add_endpoint(receiver.url, None, actor="t")
            soon = datetime.now(timezone.utc) + timedelta(days=3)
            for n in range(5):
                issue_key(install_id=f"{n:032x}", aku=5, type="subscription", channel="offline-contract",
                          reference="C", product="P", issued_by="t", expires_at=soon)
            db.session.commit()
        def scan():
            events.scan_expiry()
            db.session.commit()

        assert _together(pg_app, scan) == []
        assert _together(pg_app, lambda: webhooks.deliver_due()) == []
        with pg_app.app_context():
            kinds = db.session.scalars(db.select(Event.type)).all()
            assert sorted(kinds) == ["key.issued"] * 5 + ["license.expiring"] * 5
            assert db.session.scalar(db.select(db.func.count()).select_from(WebhookAttempt)) == 10
        ids = [r["headers"]["webhook-id"] for r in receiver.requests]
        assert len(ids) == 10 and len(set(ids)) == 10
    finally:
        receiver.stop()
