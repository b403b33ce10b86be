"""A throwaway PostgreSQL database for a test, on the server `TEST_POSTGRES_URL` names
(`eval "$(scripts/start-postgres)"`; `.ci/run` starts one).

Without the variable a test that needs the server skips, except under CI=true, where a missing
server is a failure. `throwaway_database()` makes a database of its own and drops it afterwards;
`migrated_app(url, folder, ...)` is an app on it with the schema migrated (`flask db upgrade`).
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from webapp import create_app
from webapp.config import TestConfig
from webapp.database import db

SERVER_URL = os.environ.get("TEST_POSTGRES_URL")
_MISSING = "TEST_POSTGRES_URL is not set: .ci/run starts PostgreSQL for these tests"
_HOW = "TEST_POSTGRES_URL not set (eval \"$(scripts/start-postgres)\")"


def skip_module_without_server() -> None:
    """At a module's top: the whole module needs the server."""
    if not SERVER_URL:
        if os.environ.get("CI") == "true":
            raise RuntimeError(_MISSING)
        pytest.skip(_HOW, allow_module_level=True)


def require_server() -> str:
    """In a fixture or test: the server's URL, or skip (fail under CI)."""
    if not SERVER_URL:
        if os.environ.get("CI") == "true":
            pytest.fail(_MISSING)
        pytest.skip(_HOW)
    return SERVER_URL


@contextmanager
def throwaway_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped (connections and all) afterwards."""
    server = require_server()
    name = "license_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_app(url: str, folder, *, signing_key: bool = True, **config):
    """An app (the test suite's configuration, then `config`) on `url`, its schema migrated and,
    where it runs the vendor side and `signing_key`, a development signing key made."""
    from flask_migrate import upgrade

    settings = TestConfig().__dict__.copy()
    settings.update(SQLALCHEMY_DATABASE_URI=url, LICENSE_INSTANCE_PATH=str(folder),
                    LICENSE_SKIP_SIGNING_KEY_CHECK=True, **config)
    app = create_app(settings)
    with app.app_context():
        upgrade()
        if signing_key and app.extensions["license_platform"].vendor:
            from webapp.vendor_side import signing_keys

            signing_keys.generate(dev=True)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
