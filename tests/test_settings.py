"""The one table of settings (`webapp.settings`): documented, complete, and what the app runs with."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from webapp import settings
from webapp.config import Config, TestConfig
from webapp.license_platform import LicensePlatform

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "configuration.md"

# A setting's name, quoted whole, in the plugin's code (config["X"], .get("X"), setdefault("X")...),
# and `config.X` in its templates.
QUOTED_KEY = re.compile(r"""["']((?:LICENSE|MARKETPLACE|VENDOR)_[A-Z0-9_]+)["']""")
TEMPLATE_KEY = re.compile(r"\bconfig\.([A-Z][A-Z0-9_]+)")


def test_the_docs_hold_the_table_generated_from_the_code():
    text = DOCS.read_text(encoding="utf-8")
    assert settings.markdown() in text, (
        "docs/configuration.md differs from webapp/settings.py: run "
        "`.venv/bin/python -m webapp.settings --write docs/configuration.md`"
    )
    for row in settings.SETTINGS:
        assert f"| `{row.name}` |" in text


def test_the_security_docs_hold_the_limits_generated_from_the_code():
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert settings.limits_markdown() in text, (
        "docs/security.md's limits differ from webapp/settings.py: run "
        "`.venv/bin/python -m webapp.settings --write docs/security.md`"
    )
    assert all(name in settings.BY_NAME for name in settings.LIMITS)


def test_every_setting_the_plugin_reads_has_a_row():
    found: dict[str, str] = {}
    for path in sorted((ROOT / "webapp").rglob("*.py")):
        for name in QUOTED_KEY.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, str(path.relative_to(ROOT)))
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for name in TEMPLATE_KEY.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, str(path.relative_to(ROOT)))
    assert "LICENSE_ROLE" in found  # the scan sees the code
    missing = {name: where for name, where in found.items() if name not in settings.BY_NAME}
    assert not missing, f"settings without a row in webapp/settings.py: {missing}"


def test_rows_are_well_formed():
    assert len(settings.BY_NAME) == len(settings.SETTINGS), "a name is in the table twice"
    for row in settings.SETTINGS:
        assert row.side in settings.SIDES, row.name
        assert row.doc.strip(), row.name
        assert row.parse is None or row.parse in settings.PARSE_LABELS, row.name


def test_config_reads_the_rows_from_the_environment(monkeypatch):
    for row in settings.SETTINGS:
        if row.variable:
            monkeypatch.delenv(row.variable, raising=False)
    monkeypatch.setenv("LICENSE_TRIAL_DAYS", "30")
    monkeypatch.setenv("LICENSE_ALLOW_DEV_KEYS", "Yes")
    monkeypatch.setenv("DATABASE_URL", "postgres://db/lic")
    monkeypatch.setenv("LICENSE_VENDOR_URL", "")  # empty: unset
    monkeypatch.setenv("MARKETPLACE_TIMEOUT", "99")  # app config only: not read
    given = Config().as_dict()
    assert given == {"LICENSE_TRIAL_DAYS": 30, "LICENSE_ALLOW_DEV_KEYS": True,
                     "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db/lic"}


@pytest.mark.parametrize("name", ["TRUSTED_PROXIES", "LICENSE_EXPIRING_DAYS"])
def test_a_bad_integer_stops_with_a_message_naming_the_variable(monkeypatch, name):
    monkeypatch.setenv(name, "seven")
    with pytest.raises(SystemExit) as stop:
        Config()
    assert str(stop.value) == f"{name} must be an integer, got 'seven'"


def test_test_config_is_overrides_only():
    overrides = TestConfig().__dict__
    assert overrides["LICENSE_LOGIN_RATE_LIMIT"] == "1000 per minute"
    assert "LICENSE_TRIAL_DAYS" not in overrides  # the table's default applies


def test_a_host_that_configures_nothing_gets_every_default_and_keeps_its_own(tmp_path):
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):  # the host's own
        pass

    host = Flask("host", instance_path=str(tmp_path / "instance"))
    host.config.update(SECRET_KEY="host-secret", LICENSE_DATA_KEY="host-data-key", LICENSE_TRIAL_DAYS=3,
                       SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.db'}", MAX_CONTENT_LENGTH=None)
    db = SQLAlchemy(model_class=Base)
    db.init_app(host)
    LicensePlatform().init_app(host, db=db, login_check=lambda: True)
    c = host.config
    assert c["LICENSE_TRIAL_DAYS"] == 3 and c["SECRET_KEY"] == "host-secret"
    assert c["LICENSE_ROLE"] == "environment" and c["LICENSE_EXPIRING_DAYS"] == 7
    assert c["LICENSE_INSTANCE_PATH"] == str(tmp_path / "instance")
    assert c["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'host.db'}"
    assert c["MAX_CONTENT_LENGTH"] is None  # the host's app-wide settings stay the host's
    assert "SESSION_COOKIE_SAMESITE" not in c or c["SESSION_COOKIE_SAMESITE"] is None
    for row in settings.SETTINGS:
        if not row.app_wide:
            assert row.name in c, row.name


def test_the_standalone_app_fills_flasks_unset_keys(app):
    assert app.config["MAX_CONTENT_LENGTH"] == settings.BODY_LIMIT
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    for row in settings.SETTINGS:
        assert row.name in app.config, row.name
