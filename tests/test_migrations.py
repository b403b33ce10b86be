"""Migrations from an empty database give exactly the models' schema."""
import logging
import os
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from webapp import create_app
from webapp.config import TestConfig
from webapp.database import db


def _app(tmp_path):
    config = TestConfig().__dict__.copy()
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.db'}", LICENSE_ROLE="both",
                  LICENSE_INSTANCE_PATH=str(tmp_path / "instance"))
    return create_app(config)


def test_upgrade_from_empty_matches_the_models(tmp_path):
    app = _app(tmp_path)
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"license_users", "license_api_tokens", "license_audit_events", "license_signing_keys", "license_issued_keys"} <= tables
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection, opts={"render_as_batch": True}), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_to_empty_and_back(tmp_path):
    app = _app(tmp_path)
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert "license_users" in inspect(db.engine).get_table_names()


def test_flask_db_upgrade_command(tmp_path):
    env = dict(os.environ, LICENSE_INSTANCE_PATH=str(tmp_path), SECRET_KEY="s", LICENSE_DATA_KEY="d",
               LICENSE_SIGNING_KEY_PASSPHRASE="p", LICENSE_ROLE="both",
               DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    assert "license_audit_events" in inspect(engine).get_table_names()
    # One line says what it did, instead of Alembic's INFO lines.
    assert "INFO" not in result.stderr and "Database upgraded from empty to " in result.stderr


def test_a_migration_the_app_runs_says_nothing_and_leaves_logging_alone(tmp_path, caplog):
    """As the demo migrates at start: no Alembic INFO, the app's loggers enabled, the root
    logger's handlers (here pytest's) untouched, Alembic's level as it was."""
    app_logger = logging.getLogger("webapp.some_module")
    root = logging.getLogger()
    caplog.set_level(logging.INFO)
    handlers, alembic_level = list(root.handlers), logging.getLogger("alembic").level
    app = _app(tmp_path)
    with app.app_context():
        upgrade()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []
    assert not app_logger.disabled and app_logger.isEnabledFor(logging.WARNING)
    assert root.handlers == handlers and logging.getLogger("alembic").level == alembic_level
    app_logger.warning("still heard")
    assert "still heard" in caplog.text


def test_flask_license_db_upgrade_is_flask_db_upgrade_for_the_standalone_app(tmp_path):
    app = _app(tmp_path)
    result = app.test_cli_runner().invoke(args=["license", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert {"alembic_version", "license_users", "license_audit_events"} <= tables and "license_alembic_version" not in tables
        upgrade()  # `flask db upgrade` finds the same head: nothing to do
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection, opts={"render_as_batch": True}), db.metadata)
        assert diff == []
