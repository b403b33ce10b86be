"""The same schema and the same guarantees on PostgreSQL, the production database.

Runs when TEST_POSTGRES_URL points at a server where it may create databases
(`eval "$(scripts/start-postgres)"`; `.ci/run` does it). Skips otherwise, except under
CI=true, where a missing server is a failure.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from webapp.database import db
from tests import databases

databases.skip_module_without_server()


@pytest.fixture
def pg_url():
    with databases.throwaway_database() as url:
        yield url


@pytest.fixture
def pg_app(pg_url, tmp_path):
    with databases.migrated_app(pg_url, tmp_path, LICENSE_ROLE="both") as app:
        yield app


def test_migrations_match_the_models_and_go_down_to_empty(pg_app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from flask_migrate import downgrade

    with pg_app.app_context():
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert diff == [], f"models and migrations differ on PostgreSQL: {diff}"
        db.session.remove()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}


def test_audit_log_is_append_only_in_the_database(pg_app):
    from webapp import audit

    with pg_app.app_context():
        audit.record("x", actor="a", commit=True)
        for statement in ("UPDATE license_audit_events SET actor = 'b'", "DELETE FROM license_audit_events",
                          "TRUNCATE license_audit_events"):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()


def test_concurrent_issuers_never_share_a_seq(pg_app):
    from webapp.vendor_side.ledger import issue_key
    from webapp.vendor_side.models import IssuedKey

    install_id = "0123456789abcdef0123456789abcdef"
    errors: list[BaseException] = []

    def work():
        try:
            with pg_app.app_context():
                for _ in range(5):
                    issue_key(install_id=install_id, aku=5, type="subscription", channel="offline-contract",
                              expires_at=datetime.now(timezone.utc) + timedelta(days=3),
                              reference="C", product="P", issued_by="t")
                    db.session.commit()
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with pg_app.app_context():
        rows = db.session.scalars(db.select(IssuedKey)).all()
        assert sorted(r.seq for r in rows) == list(range(1, 21))
        assert [r.seq for r in rows if r.status == "active"] == [20]


def test_concurrent_instance_creates_never_exceed_the_licensed_aku(pg_app):
    from webapp.environment import instances, license_record
    from webapp.environment.license_rules import CapacityError

    created, refused = [], []

    def work(i):
        with pg_app.test_request_context("/"):
            try:
                instances.create_instance(f"inst-{i}", 4, actor="t")
                created.append(i)
            except CapacityError:
                refused.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    trial_aku = pg_app.config["LICENSE_TRIAL_AKU"]
    assert len(created) == trial_aku // 4 and len(refused) == 8 - trial_aku // 4
    with pg_app.test_request_context("/"):
        assert license_record.current_license(fresh=True).aku_in_use == 4 * len(created) <= trial_aku


def test_crafted_input_answers_4xx_on_postgresql_too(pg_app):
    """Issue 11 where SQLite is lenient: PostgreSQL refuses NUL in text and integers past its
    column's range; each such request is refused before it reaches the database."""
    from webapp.auth import create_token, create_user

    with pg_app.app_context():
        for role in ("operator", "issuer", "admin"):
            create_user(f"{role}@example.com", "correct horse battery", role)
        db.session.commit()
        from webapp.auth import find_user

        operator = {"Authorization": "Bearer " + create_token(find_user("operator@example.com"))}
        issuer = {"Authorization": "Bearer " + create_token(find_user("issuer@example.com"))}
        db.session.commit()
    client = pg_app.test_client()
    assert client.post("/login", data={"email": "a\x00@example.com", "password": "x"}).status_code == 400
    assert client.delete(f"/api/v1/instances/{2**63}", headers=operator).status_code == 404
    assert client.delete("/api/v1/instances/99999999999", headers=operator).status_code == 404  # past INTEGER
    assert client.get("/api/v1/product-keys", query_string={"aliUid": str(2**63)}, headers=issuer).status_code == 422
    assert client.get("/api/v1/product-keys", query_string={"last4": "ab\x00c"}, headers=issuer).status_code == 400
    client.post("/login", data={"email": "admin@example.com", "password": "correct horse battery"})
    for path in ("/vendor/keys?q=%00", "/vendor/keys/%00", "/vendor/audit?actor=%00", f"/vendor/audit?before={2**63}",
                 "/vendor/keys?q=99999999999999999999"):
        assert client.get(path).status_code in (200, 400), path
    assert client.post(f"/vendor/attention/{2**63}/issue").status_code == 404
    assert client.post("/vendor/attention/99999999999/issue").status_code == 404  # past INTEGER


def test_install_id_is_made_once_under_a_race(pg_app):
    from webapp.environment import instances, license_record

    seen: list[str] = []

    def work():
        with pg_app.test_request_context("/"):
            seen.append(license_record.install_id())

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and len(seen[0]) == 32


def test_the_host_consoles_database_holds_the_plugins_tables_beside_its_own(pg_url, tmp_path):
    """The example host console on PostgreSQL: the plugin's migrations in the host's database
    with their own version table, matching the plugin's models, out of the host's autogenerate,
    the append-only audit log included."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from examples.host_console import create_app as create_console
    from examples.host_console.models import db as console_db
    from webapp import audit
    from webapp.license_platform import upgrade_schema

    app = create_console({"TESTING": True, "SECRET_KEY": "s", "LICENSE_DATA_KEY": "d" * 32,
                          "SQLALCHEMY_DATABASE_URI": pg_url}, instance_path=str(tmp_path))
    with app.app_context():
        console_db.create_all()
        upgrade_schema()
        tables = set(inspect(console_db.engine).get_table_names())
        assert {"console_users", "kafka_clusters", "license_environment_state", "license_alembic_version"} <= tables
        assert "alembic_version" not in tables
        with console_db.engine.connect() as connection:
            host_view = MigrationContext.configure(
                connection, opts={"include_name": app.extensions["migrate"].configure_args["include_name"]})
            assert compare_metadata(host_view, console_db.metadata) == []
            plugin_view = MigrationContext.configure(connection, opts={
                "include_name": lambda name, type_, parents: type_ != "table" or name in db.metadata.tables})
            assert compare_metadata(plugin_view, db.metadata) == []
        audit.record("x", actor="a", commit=True)
        with pytest.raises(DBAPIError, match="append-only"):
            console_db.session.execute(text("DELETE FROM license_audit_events"))
        console_db.session.rollback()
        console_db.session.remove()
        console_db.engine.dispose()


def test_one_key_applied_by_many_at_once_is_applied_once_on_postgresql(pg_app):
    """tests/environment/test_concurrent_activation.py on PostgreSQL: N parallel applications of
    one key give 1 applied and N-1 "already active", no refusal."""
    from tests.environment.conftest import Clock, Keys
    from tests.environment.test_concurrent_activation import apply_at_once, assert_applied_once

    clock = Clock()
    pg_app.config["LICENSE_CLOCK"] = clock
    key = Keys(pg_app, clock).make(seq=1)
    assert_applied_once(pg_app, apply_at_once(pg_app, key))


def test_a_burst_of_refusals_at_once_is_one_row_on_postgresql(pg_app):
    """Refusals at the same moment by one actor serialize on the state row: one history row with
    their count and one audit event, whatever the interleaving."""
    from tests.environment.conftest import Clock
    from tests.environment.test_concurrent_activation import assert_folded, refuse_at_once

    pg_app.config["LICENSE_CLOCK"] = Clock()
    assert_folded(pg_app, refuse_at_once(pg_app))
