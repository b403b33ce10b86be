"""Issue 14 on PostgreSQL: the e-mails of several `license notify` runners at the same moment are
written once (INSERT ... ON CONFLICT DO NOTHING) and handed to the SMTP server once (the
conditional UPDATE that claims each), the day's digest too.

Runs when TEST_POSTGRES_URL is set (`eval "$(scripts/start-postgres)"`), as tests/test_postgres.py.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from webapp.database import db
from tests import databases

from .test_mail import Smtp
from .test_webhooks_postgres import _together

databases.skip_module_without_server()


@pytest.fixture
def smtp():
    server = Smtp().start()
    yield server
    server.stop()


@pytest.fixture
def pg_app(tmp_path, smtp):
    with databases.throwaway_database() as url, \
            databases.migrated_app(url, tmp_path, LICENSE_ROLE="both", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port,
                                   MAIL_DEFAULT_SENDER="licenses@seller.example", LICENSE_MAIL_TIMEOUT=5.0,
                                   LICENSE_NOTIFY_EMAIL="team@seller.example", LICENSE_DIGEST_HOUR=0) as app:
        yield app


def test_runners_at_once_write_and_send_each_email_once(pg_app, smtp):
    from webapp.vendor_side import events, mail
    from webapp.vendor_side.ledger import issue_key
    from webapp.vendor_side.models import MailMessage, MailState

    with pg_app.app_context():
        soon = datetime.now(timezone.utc) + timedelta(days=3)
        for n in range(5):
            install = f"{n:032x}"
            issue_key(install_id=install, aku=5, type="subscription", channel="offline-contract",
                      reference="C", product="P", issued_by="t", expires_at=soon)
            mail.set_contact(install, f"buyer{n}@buyer.example", "en", actor="t")
        db.session.commit()

    def scan():
        events.scan_expiry()
        db.session.commit()
        mail.enqueue_digest(datetime.now(timezone.utc))

    assert _together(pg_app, scan) == []
    assert _together(pg_app, lambda: mail.deliver_due()) == []
    with pg_app.app_context():
        states = db.session.scalars(db.select(MailMessage.state)).all()
        assert len(states) == 11 and set(states) == {MailState.SENT}  # 5 team, 5 buyers, 1 digest
    ids = [m["message"]["Message-ID"] for m in smtp.messages]
    assert len(ids) == 11 and len(set(ids)) == 11
    assert sorted(to for m in smtp.messages for to in m["to"] if to.startswith("buyer")) == [
        f"buyer{n}@buyer.example" for n in range(5)]
