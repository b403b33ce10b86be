"""The plugin's names never clash with a host's: its tables are all named `license_*` (a host
has its own `users`, `audit_events`, `api_tokens`...), on SQLite and on PostgreSQL
(TEST_POSTGRES_URL, as tests/test_postgres.py), and its account commands are `flask license
users ...` (a host has its own `flask users`).

- A fresh database gets the prefixed tables from the migrations directly, matching the models.
- A host database with tables of its own under the plugin's former names: `flask license db
  upgrade` makes the plugin's beside them and leaves the host's alone.
- A database migrated before the prefix (the migrations 0001-0003 as they were, frozen in
  tests/migrations_before_license_prefix/) is renamed by 0004 to the very same schema as a fresh
  one (tables, columns, indexes, constraints, sequences, triggers), its rows kept and the audit
  log still append-only in the database.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import click
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from flask import Flask
from flask.cli import AppGroup
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, MetaData, String, Table, create_engine, inspect, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from webapp import LicensePlatform
from webapp.database import Base
from webapp.license_platform import HOST_VERSION_TABLE, MIGRATIONS_DIR, upgrade_schema
from webapp.models import register_all

OLD_VERSIONS = Path(__file__).resolve().parent / "migrations_before_license_prefix" / "versions"
# The plugin's tables under their former names, and their names now.
RENAMED = {
    "users": "license_users",
    "api_tokens": "license_api_tokens",
    "audit_events": "license_audit_events",
    "signing_keys": "license_signing_keys",
    "install_sequences": "license_install_sequences",
    "issued_keys": "license_issued_keys",
    "code_bindings": "license_code_bindings",
    "environment_state": "license_environment_state",
    "environment_activations": "license_environment_activations",
    "environment_instances": "license_environment_instances",
}
PG_SERVER_URL = os.environ.get("TEST_POSTGRES_URL")
register_all()  # every table of the plugin in Base.metadata
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


# --- a host with tables of its own under the names the plugin used to take -------------------

class HostBase(DeclarativeBase):
    pass


host_db = SQLAlchemy(model_class=HostBase)


class HostUser(host_db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)


class HostApiToken(host_db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    secret: Mapped[str] = mapped_column(String(64))


class HostAuditEvent(host_db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(200))


# ... and a `flask users` command group of its own.
host_users_cli = AppGroup("users", help="The host's own users.")


@host_users_cli.command("list")
def host_users_list() -> None:
    for user in host_db.session.scalars(host_db.select(HostUser).order_by(HostUser.id)):
        click.echo(user.username)


def host_app(url: str, tmp_path, *, hosted: bool = True) -> Flask:
    """A host with its own tables and `flask users`, the plugin in its database (mounted with
    `login_check`, or `hosted=False`: the plugin's own login, the host's database)."""
    app = Flask("a_host")
    app.config.update(TESTING=True, SECRET_KEY="host", LICENSE_DATA_KEY="d" * 32, SQLALCHEMY_DATABASE_URI=url,
                      LICENSE_ROLE="environment", LICENSE_INSTANCE_PATH=str(tmp_path / "host-instance"))
    host_db.init_app(app)
    app.cli.add_command(host_users_cli)  # the host's own first, as README says
    LicensePlatform().init_app(app, db=host_db, url_prefix="/license",
                               login_check=(lambda: True) if hosted else None,
                               current_actor=(lambda: "host-admin") if hosted else None)
    return app


def host_tables(inspector) -> str:
    """The host's own tables as reflected (their columns, indexes and constraints), as a text."""
    return repr({name: (inspector.get_columns(name), inspector.get_pk_constraint(name), inspector.get_indexes(name),
                        inspector.get_unique_constraints(name), inspector.get_foreign_keys(name))
                 for name in ("users", "api_tokens", "audit_events")})


# --- databases -------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request, tmp_path):
    """`new_database()` -> the URL of a new, empty database of the parametrized kind."""
    made: list[str] = []
    admin = None
    if request.param == "postgresql":
        if not PG_SERVER_URL:
            if os.environ.get("CI") == "true":
                raise RuntimeError("TEST_POSTGRES_URL is not set: .ci/run starts PostgreSQL for these tests")
            pytest.skip("TEST_POSTGRES_URL not set (eval \"$(scripts/start-postgres)\")")
        admin = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")

    def make() -> str:
        name = "license_names_" + uuid.uuid4().hex[:12]
        if admin is None:
            return f"sqlite:///{tmp_path / name}.db"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(PG_SERVER_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    if admin is not None:
        with admin.connect() as connection:
            for name in made:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(engine, revision: str = "head", *, version_table: str = "alembic_version", old: bool = False) -> None:
    """The plugin's migrations on `engine` (what `upgrade_schema` runs); `old`: those of before
    the prefix, up to their last revision, 0003."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if old:
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(OLD_VERSIONS))
    config.attributes["license_platform"] = {"engine": engine, "version_table": version_table}
    command.upgrade(config, revision)


def plugin_objects(engine) -> dict:
    """Everything the database holds of the plugin's tables (the version tables left out): on
    SQLite the stored DDL of each table, index and trigger; on PostgreSQL the columns with their
    defaults, the constraints, indexes, sequences (and what owns them), triggers and functions."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(text(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name LIKE 'license\\_%' ESCAPE '\\' "
                "AND tbl_name != :version ORDER BY type, name"), {"version": HOST_VERSION_TABLE}).all()
            return {"objects": [tuple(r) for r in rows]}
        queries = {
            "columns": "SELECT table_name, column_name, ordinal_position, data_type, character_maximum_length, "
                       "is_nullable, column_default FROM information_schema.columns WHERE table_schema = 'public'",
            "constraints": "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
                           "FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
            "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
            "sequences": "SELECT s.relname, t.relname, a.attname FROM pg_class s "
                         "JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
                         "JOIN pg_class t ON t.oid = d.refobjid "
                         "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
                         "WHERE s.relkind = 'S' AND s.relnamespace = 'public'::regnamespace",
            "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                        "WHERE NOT tgisinternal",
            "functions": "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
        }
        found = {}
        for kind, query in queries.items():
            rows = connection.execute(text(query)).all()
            if kind == "functions":
                found[kind] = sorted(tuple(r) for r in rows)
            else:
                found[kind] = sorted(tuple(r) for r in rows
                                     if r[0].startswith("license_") and r[0] != HOST_VERSION_TABLE)
        return found


def matches_the_models(engine) -> list:
    """What Alembic's autogenerate finds between the plugin's tables and its models."""
    register_all()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_name": lambda name, type_, parents: type_ != "table" or name in Base.metadata.tables})
        return compare_metadata(context, Base.metadata)


def test_every_table_of_the_plugin_is_named_license_something():
    register_all()
    assert set(RENAMED.values()) <= set(Base.metadata.tables)
    assert [name for name in Base.metadata.tables if not name.startswith("license_")] == []
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            assert index.name.startswith(("ix_license_", "uq_license_")), index.name
        for constraint in table.constraints:
            assert f"_{table.name}" in constraint.name, constraint.name


def test_a_fresh_database_gets_the_prefixed_tables_matching_the_models(new_database):
    engine = create_engine(new_database())
    try:
        migrate(engine)
        tables = set(inspect(engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
        assert matches_the_models(engine) == []
    finally:
        engine.dispose()


# --- a host's own tables under the plugin's former names --------------------------------------

def test_a_host_with_its_own_users_table_gets_the_plugins_beside_it(new_database, tmp_path):
    url = new_database()
    app = host_app(url, tmp_path)
    with app.app_context():
        host_db.create_all()
        host_db.session.add(HostUser(id=7, username="alice"))
        host_db.session.flush()
        host_db.session.add(HostApiToken(user_id=7, secret="host-secret"))
        host_db.session.add(HostAuditEvent(message="host event"))
        host_db.session.commit()
        engine = host_db.engine
        inspector = inspect(engine)
        host_before = host_tables(inspector)

        upgrade_schema()
        upgrade_schema()  # again: nothing to do

        inspector = inspect(engine)
        tables = set(inspector.get_table_names())
        assert tables == {"users", "api_tokens", "audit_events", HOST_VERSION_TABLE, *Base.metadata.tables}
        assert host_tables(inspector) == host_before
        with engine.connect() as connection:
            assert connection.execute(text("SELECT id, username FROM users")).all() == [(7, "alice")]
            assert connection.execute(text("SELECT user_id, secret FROM api_tokens")).all() == [(7, "host-secret")]
            assert connection.execute(text("SELECT message FROM audit_events")).all() == [("host event",)]
        assert matches_the_models(engine) == []

        # The plugin writes to its own tables, never the host's.
        from webapp import audit
        from webapp.auth import create_token, create_user

        token = create_token(create_user("ops@example.com", "a long password", "operator"))
        audit.record("x", actor="host-admin", commit=True)
        assert token
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM users")).scalar() == 1
            assert connection.execute(text("SELECT count(*) FROM license_users")).scalar() == 1
            assert connection.execute(text("SELECT count(*) FROM license_api_tokens")).scalar() == 1
            assert connection.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
            assert connection.execute(text("SELECT count(*) FROM license_audit_events")).scalar() == 1
        # The host's audit table takes updates; the plugin's refuses them.
        host_db.session.execute(text("UPDATE audit_events SET message = 'edited'"))
        host_db.session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            host_db.session.execute(text("UPDATE license_audit_events SET actor = 'b'"))
        host_db.session.rollback()
        host_db.session.remove()
        engine.dispose()


# --- a database made before the prefix --------------------------------------------------------

def old_rows() -> dict[str, list[dict]]:
    """A row or two in each of the plugin's tables, under their old names."""
    return {
        "users": [dict(id=1, email="ops@example.com", password_hash="h1", role="operator", is_active_account=True,
                       created_at=T0),
                  dict(id=2, email="staff@example.com", password_hash="h2", role="issuer", is_active_account=False,
                       created_at=T0)],
        "api_tokens": [dict(id=1, user_id=2, token_sha256="a" * 64, prefix="lic_abcdefgh", created_at=T0,
                            revoked_at=None)],
        "audit_events": [dict(id=1, at=T0, actor="cli", action="user_created", subject="user:1", install_id=None,
                              before=None, after={"role": "operator"}, detail=None, ip=None),
                         dict(id=2, at=T0, actor="ops@example.com", action="login", subject=None,
                              install_id="b" * 32, before={"x": 1}, after=None, detail="d", ip="10.0.0.1")],
        "signing_keys": [dict(id=1, kid="2026-01-abcd", private_key_encrypted="enc", public_key_pem="pem",
                              active=True, created_at=T0, retired_at=None),
                         dict(id=2, kid="dev-old", private_key_encrypted="enc2", public_key_pem="pem2",
                              active=False, created_at=T0, retired_at=T0)],
        "install_sequences": [dict(install_id="c" * 32, last_seq=3)],
        "issued_keys": [dict(id="00000000-0000-0000-0000-000000000001", install_id="c" * 32, seq=3,
                             kid="2026-01-abcd", type="subscription", channel="offline-contract", reference="C-1",
                             product="P", aku=10, issued_at=T0, not_before=T0, expires_at=T0, product_key="KEY",
                             status="active", superseded_by=None, issued_by="cli", reason=None, binding_id=1)],
        "code_bindings": [dict(id=1, code_hash="d" * 64, code_encrypted="enc", code_last4="1234",
                               install_id="c" * 32, state="bound", claim_token=None, claimed_at=None,
                               ali_uid=1234567890123, product_code="cmjj0001", instance_id="i-1",
                               specification="basic", order_ids=["o-1", "o-2"], market_status="NORMAL",
                               market_expires_at=T0, market_aku=10, checked_at=T0, check_error=None,
                               activated_at=T0, created_at=T0, bound_at=T0, replaced_at=None)],
        "environment_state": [dict(id=1, install_id="e" * 32, first_started_at=T0, high_water_at=T0, revision=4,
                                   product_key="KEY", license_id="00000000-0000-0000-0000-000000000001",
                                   license_seq=3, license_type="subscription", license_channel="offline-contract",
                                   license_reference="C-1", license_product="P", license_aku=10,
                                   license_issued_at=T0, license_not_before=T0, license_expires_at=T0,
                                   license_kid="2026-01-abcd", activated_at=T0, activated_by="ops@example.com",
                                   authorization_code_encrypted=None, authorization_code_masked=None)],
        "environment_activations": [dict(id=1, at=T0, actor="ops@example.com", source="product_key",
                                         result="applied", error_code=None, error_message=None,
                                         key_id="00000000-0000-0000-0000-000000000001", key_seq=3, key_aku=10,
                                         key_expires_at=T0, key_reference="C-1", previous_seq=None,
                                         previous_aku=None, previous_expires_at=None)],
        "environment_instances": [dict(id=1, name="orders", aku=4, created_at=T0, updated_at=T0, created_by="ops"),
                                  dict(id=2, name="payments", aku=6, created_at=T0, updated_at=T0, created_by=None)],
    }


def fill_old_tables(engine) -> None:
    old = MetaData()
    with engine.begin() as connection:
        for name, rows in old_rows().items():
            table = Table(name, old, autoload_with=connection)
            connection.execute(insert(table), rows)
        if engine.dialect.name == "postgresql":  # the ids above were given: the sequences follow, as after inserts
            for name in ("users", "api_tokens", "audit_events", "signing_keys", "code_bindings",
                         "environment_activations", "environment_instances"):
                connection.execute(text(f"SELECT setval('{name}_id_seq', (SELECT max(id) FROM {name}))"))


def rows_of(engine, table_name: str) -> list[dict]:
    table = Table(table_name, MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(*table.primary_key.columns)).mappings().all()
    return [{key: _comparable(value) for key, value in row.items()} for row in rows]


def _comparable(value):
    if isinstance(value, datetime):  # SQLite gives naive UTC, PostgreSQL aware
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)
    if isinstance(value, str) and value[:4].isdigit() and value[4:5] == "-" and len(value) >= 19:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    return value


# Columns that migrations after 0004 added to the renamed tables, and what old rows hold in them.
ADDED_LATER = {"session_version": 0, "count": 1, "last_seen_at": None, "key_fingerprint": None}


@pytest.mark.parametrize("version_table", ["alembic_version", HOST_VERSION_TABLE])
def test_a_database_made_before_the_prefix_is_renamed_to_the_same_schema(new_database, version_table):
    """`flask db upgrade` (the standalone app's alembic_version) and `flask license db upgrade`
    (a host's license_alembic_version) of a database the migrations of before the prefix made:
    the same schema as a fresh database's, every row kept, the audit log still append-only."""
    fresh = create_engine(new_database())
    before = create_engine(new_database())
    try:
        migrate(fresh, version_table=version_table)
        migrate(before, "0003", version_table=version_table, old=True)
        assert set(inspect(before).get_table_names()) == set(RENAMED) | {version_table}
        fill_old_tables(before)
        expected = {name: rows_of(before, name) for name in RENAMED}

        migrate(before, version_table=version_table)

        assert set(inspect(before).get_table_names()) == set(inspect(fresh).get_table_names())
        assert plugin_objects(before) == plugin_objects(fresh)
        assert all(plugin_objects(before).values())  # nothing left out by mistake
        assert matches_the_models(before) == []
        for old, new in RENAMED.items():
            after = rows_of(before, new)
            # Columns later migrations added (0005: the session generation; 0006: the activation
            # history's folded refusals) hold their defaults.
            added = {key for row in after for key in row} - {key for row in expected[old] for key in row}
            assert [{k: v for k, v in row.items() if k not in added} for row in after] == expected[old], new
            assert added <= set(ADDED_LATER)
            assert all(row[key] == ADDED_LATER[key] for row in after for key in added), new
        with fresh.connect() as a, before.connect() as b:
            query = text(f"SELECT version_num FROM {version_table}")
            assert a.execute(query).scalar() == b.execute(query).scalar()
        # The append-only triggers came along; new rows take the next ids; the foreign key holds.
        with before.begin() as connection:
            connection.execute(text("INSERT INTO license_audit_events (at, actor, action) VALUES (:at, 'a', 'x')"),
                               {"at": T0})
            connection.execute(text("INSERT INTO license_users (email, password_hash, role, is_active_account, "
                                    "created_at) VALUES ('new@example.com', 'h', 'admin', true, :at)"), {"at": T0})
            assert connection.execute(text("SELECT max(id) FROM license_audit_events")).scalar() == 3
            assert connection.execute(text("SELECT id FROM license_users WHERE email = 'new@example.com'")).scalar() == 3
        statements = ["UPDATE license_audit_events SET actor = 'b'", "DELETE FROM license_audit_events"]
        if before.dialect.name == "postgresql":
            statements.append("TRUNCATE license_audit_events")
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"):
                with before.begin() as connection:
                    connection.execute(text(statement))
        if before.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="foreign key"):
                with before.begin() as connection:
                    connection.execute(text("INSERT INTO license_api_tokens (user_id, token_sha256, prefix, created_at) "
                                            "VALUES (99, 'f', 'p', now())"))
        assert len(rows_of(before, "license_audit_events")) == 3

        migrate(before, version_table=version_table)  # again: nothing to do
        assert plugin_objects(before) == plugin_objects(fresh)
    finally:
        fresh.dispose()
        before.dispose()


def test_a_standalone_app_on_a_database_made_before_the_prefix_runs_on_after_flask_db_upgrade(tmp_path):
    """The app itself over a renamed database: it finds its accounts, issues, records, and the
    vendor's signing key, under the new names (SQLite, `flask db upgrade` as the app runs it)."""
    from flask_migrate import upgrade

    from webapp import audit, create_app
    from webapp.auth import authenticate, create_token, find_user
    from webapp.config import TestConfig
    from webapp.database import db
    from webapp.models.audit import AuditEvent

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    migrate(engine, "0003", old=True)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (email, password_hash, role, is_active_account, created_at) "
                                "VALUES ('ops@example.com', :h, 'operator', 1, :at)"),
                           {"h": __import__("werkzeug.security").security.generate_password_hash("a long password"),
                            "at": T0})
        connection.execute(text("INSERT INTO audit_events (at, actor, action) VALUES (:at, 'cli', 'user_created')"),
                           {"at": T0})
    engine.dispose()
    config = TestConfig().__dict__.copy()
    config.update(SQLALCHEMY_DATABASE_URI=url, LICENSE_ROLE="both", LICENSE_INSTANCE_PATH=str(tmp_path / "instance"),
                  LICENSE_SKIP_SIGNING_KEY_CHECK=True)
    app = create_app(config)
    with app.app_context():
        upgrade()
        assert authenticate("ops@example.com", "a long password").id == 1
        assert create_token(find_user("ops@example.com"))
        audit.record("token_created", actor="cli", commit=True)
        assert [e.action for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))] == \
               ["user_created", "token_created"]
        db.session.remove()
        db.engine.dispose()


# --- the command line ---------------------------------------------------------------------------

@pytest.mark.parametrize("hosted", [True, False])
def test_a_hosts_own_users_command_group_stays_the_hosts(tmp_path, hosted):
    """`flask users` is the host's; the plugin's accounts are `flask license users ...`, and its
    API's 401 names that command."""
    app = host_app(f"sqlite:///{tmp_path / 'host.db'}", tmp_path, hosted=hosted)
    with app.app_context():
        host_db.create_all()
        host_db.session.add(HostUser(username="alice"))
        host_db.session.commit()
        upgrade_schema()
    cli = app.test_cli_runner()
    assert app.cli.commands["users"] is host_users_cli
    listed = cli.invoke(args=["users", "list"])
    assert listed.exit_code == 0 and listed.stdout == "alice\n"
    made = cli.invoke(args=["license", "users", "create", "ops@example.com", "--role", "operator",
                            "--password-stdin"], input="a long password\n")
    assert made.exit_code == 0, made.output
    token = cli.invoke(args=["license", "users", "token", "ops@example.com"])
    assert token.exit_code == 0 and token.stdout.startswith("lic_")
    with app.app_context():
        with host_db.engine.connect() as connection:
            assert connection.execute(text("SELECT email FROM license_users")).scalars().all() == ["ops@example.com"]
            assert connection.execute(text("SELECT username FROM users")).scalars().all() == ["alice"]
    answer = app.test_client().get("/license/api/v1/environment")
    assert answer.status_code == 401
    assert "`.venv/bin/flask --app wsgi license users token EMAIL`" in answer.get_json()["error"]["message"]
    with app.app_context():
        host_db.session.remove()
        host_db.engine.dispose()


def test_a_host_console_without_a_users_group_gets_none_from_the_plugin(tmp_path):
    """Mounted with `login_check` the accounts are the host's: no top-level `flask users`."""
    app = Flask("another_host")
    app.config.update(TESTING=True, SECRET_KEY="host", LICENSE_DATA_KEY="d" * 32,
                      SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'h.db'}", LICENSE_ROLE="environment",
                      LICENSE_INSTANCE_PATH=str(tmp_path / "instance"))
    host_db.init_app(app)
    LicensePlatform().init_app(app, db=host_db, login_check=lambda: True, current_actor=lambda: "a")
    assert "users" not in app.cli.commands
    assert set(app.cli.commands["license"].commands["users"].commands) == {"create", "token", "password"}
    assert "users" in app.test_cli_runner().invoke(args=["license", "--help"]).stdout
