"""The append-only audit log."""
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from webapp import audit
from webapp.database import db
from webapp.models.audit import AuditEvent, AuditLogIsAppendOnly


def test_record_writes_who_what_before_after(app):
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        audit.record("key_issued", actor="staff@example.com", subject="key:1", install_id="a" * 32,
                     before={"aku": 10}, after={"aku": 20}, detail="renewal", commit=True)
        event = db.session.scalar(db.select(AuditEvent))
        assert (event.actor, event.action, event.subject, event.install_id) == (
            "staff@example.com", "key_issued", "key:1", "a" * 32)
        assert event.before == {"aku": 10} and event.after == {"aku": 20}
        assert event.ip == "10.1.2.3" and event.at.tzinfo is not None


def test_actor_defaults_to_the_logged_in_user(app, client, auth):
    auth.login("issuer")
    with app.app_context():
        event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "login"))
        assert event.actor == "issuer@example.com"


def test_orm_refuses_update_and_delete(app):
    with app.app_context():
        event = audit.record("x", actor="a", commit=True)
        event.detail = "rewritten"
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.get(AuditEvent, event.id))
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.commit()


def test_database_refuses_update_and_delete(app):
    with app.app_context():
        audit.record("x", actor="a", commit=True)
        for statement in ("UPDATE license_audit_events SET actor = 'b'", "DELETE FROM license_audit_events"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.scalar(db.select(AuditEvent)).actor == "a"
