"""A host console's own templates and Jinja names next to the plugin's.

Flask looks for a template in the app's own templates folder first, then in each blueprint's in
the order they were registered: a host's `templates/base.html` or `templates/errors/error.html`
would be found instead of the plugin's of the same name. The plugin's templates live under one
folder, `license/` (`templates/license/...`), so the host's names stay the host's; and the Jinja
filters and globals the plugin adds to the whole app never replace a host's of the same name.
"""
from __future__ import annotations

import pytest
from flask import Flask, render_template

from tests.environment.conftest import VENDOR_PUBLIC_KEYS
from webapp.config import TestConfig
from webapp.database import db
from webapp.license_platform import LicensePlatform

# Templates of a host console, named as the plugin's used to be (and as a host's often are).
HOST_TEMPLATES = {
    "base.html": "<p id=\"host-base\">the host's base.html</p>{% block content %}{% endblock %}",
    "errors/error.html": "<p id=\"host-error\">the host's error page</p>",
    "accounts/login.html": "<p id=\"host-login\">the host's login page</p>",
    "core/page.html": "<p id=\"host-page\">the host's page</p>",
    "environment/settings.html": "<p id=\"host-settings\">the host's settings</p>",
}


def host_app(tmp_path, templates=HOST_TEMPLATES, **config) -> Flask:
    """A host's Flask app whose own templates folder holds `templates`."""
    folder = tmp_path / "host"
    for name, text in templates.items():
        path = folder / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    app = Flask("host_console_app", root_path=str(folder))
    app.config.update(TestConfig().__dict__)
    app.config.update({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'host.db'}",
        "LICENSE_INSTANCE_PATH": str(tmp_path / "instance"),
        "LICENSE_ROLE": "environment",
        "LICENSE_PUBLIC_KEYS": VENDOR_PUBLIC_KEYS,
        "LICENSE_SKIP_SIGNING_KEY_CHECK": True,
        **config,
    })

    @app.get("/host-page")
    def host_page():
        return render_template("base.html")

    return app


@pytest.fixture
def mounted(tmp_path):
    app = host_app(tmp_path)
    LicensePlatform().init_app(app, url_prefix="/license", login_check=lambda: True,
                               current_actor=lambda: "alice@host.example")
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_hosts_base_html_does_not_shadow_the_plugins_layout(mounted):
    client = mounted.test_client()
    page = client.get("/license/settings")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'class="site-header"' in html and 'id="license-card"' in html  # the plugin's layout and page
    assert "host-base" not in html and "host-settings" not in html and "host-page" not in html
    # and the host's own pages still get the host's base.html
    assert 'id="host-base"' in client.get("/host-page").get_data(as_text=True)


def test_a_hosts_error_page_does_not_shadow_the_plugins(mounted):
    answer = mounted.test_client().get("/license/no-such-page")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 404
    assert "Page not found" in html and 'class="site-header"' in html
    assert "host-error" not in html and "host-base" not in html


def test_a_hosts_login_page_does_not_shadow_the_plugins(tmp_path):
    """Mounted without `login_check`, the plugin has its own login page."""
    app = host_app(tmp_path)
    LicensePlatform().init_app(app)
    html = app.test_client().get("/login").get_data(as_text=True)
    assert "Staff and environment operators log in" in html and 'class="site-header"' in html
    assert "host-login" not in html and "host-base" not in html


def test_the_plugins_templates_all_live_under_license():
    from webapp.license_platform import TEMPLATES_DIR

    outside = [p.relative_to(TEMPLATES_DIR).as_posix() for p in TEMPLATES_DIR.rglob("*")
               if p.is_file() and p.relative_to(TEMPLATES_DIR).parts[0] != "license"]
    assert outside == []


def test_a_host_template_in_the_plugins_folder_is_refused(tmp_path):
    app = host_app(tmp_path, {**HOST_TEMPLATES, "license/base.html": "the host's"})
    with pytest.raises(RuntimeError, match=r"'license/base\.html'.*under license/"):
        LicensePlatform().init_app(app, login_check=lambda: True)


def _host_filter(value):
    return "the host's"


@pytest.mark.parametrize("kind, name, role", [
    ("filter", "when", "environment"),
    ("filter", "day", "environment"),
    ("filter", "iso", "environment"),
    ("global", "license_command", "environment"),
    ("global", "vendor_mask_uid", "both"),
    ("global", "vendor_issued_change", "both"),
    ("global", "vendor_word", "both"),
    ("global", "vendor_actor", "both"),
    ("global", "csrf_token", "environment"),  # e.g. another CSRF library's: the forms' tokens would not pass
    ("global", "csrf_token", "both"),
    ("global", "license_state", "environment"),  # a name of the plugin's template context
    ("global", "license_product_name", "environment"),
    ("global", "env_status_labels", "environment"),  # the environment pages' context
])
def test_a_hosts_jinja_filter_or_global_is_never_replaced(tmp_path, kind, name, role):
    """Mounted in a host console (the environment side), or as the app's own pages (both sides)."""
    app = host_app(tmp_path, {}, LICENSE_ROLE=role)
    table = app.jinja_env.filters if kind == "filter" else app.jinja_env.globals
    table[name] = _host_filter
    mount = {"login_check": lambda: True} if role == "environment" else {}
    with pytest.raises(RuntimeError, match=rf"already has a {kind} named '{name}'|has a global named '{name}'") as refused:
        LicensePlatform().init_app(app, **mount)
    assert "_host_filter" in str(refused.value)  # says whose it is
    assert table[name] is _host_filter


def test_the_plugins_own_jinja_names_are_no_clash(tmp_path):
    """A host with Flask-WTF's CSRFProtect already has the plugin's `csrf_token`; one LicensePlatform
    on two apps; and the names the plugin's context holds are those it claims."""
    from flask_wtf.csrf import CSRFProtect

    from webapp.license_platform import CONTEXT_NAMES, _template_context

    platform = LicensePlatform()
    for n in (1, 2):
        app = host_app(tmp_path / str(n), {})
        CSRFProtect(app)
        state = platform.init_app(app, login_check=lambda: True)
        assert app.jinja_env.filters["when"].__module__ == "webapp.timefmt"
    with app.test_request_context("/settings"):
        assert tuple(_template_context(state)()) == CONTEXT_NAMES
