"""The catalogue is complete (issue 13): every message that `pybabel extract` finds in webapp/ and
templates/ has a Chinese translation with the same placeholders; and the language each request is
answered in (the header's switch, Accept-Language, LICENSE_DEFAULT_LOCALE)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from webapp import i18n

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w*)\}")


def placeholders(text: str) -> list[str]:
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg", "-k", "lazy_gettext",
                    "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        return [m for m in read_po(f) if m.id]


@pytest.fixture(scope="module")
def catalogue():
    with PO.open("rb") as f:
        return read_po(f, locale="zh_Hans_CN")


def test_extraction_finds_the_pages_messages(extracted):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in extracted}
    assert "Log out" in ids and "Update Product License" in ids


def test_every_message_has_a_chinese_translation_with_its_placeholders(extracted, catalogue):
    problems = []
    for message in extracted:
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        found = catalogue.get(message.id)
        if found is None or not found.string or "fuzzy" in found.flags:
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        strings = [found.string] if isinstance(found.string, str) else list(found.string)
        if not all(strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        for string in strings:
            if placeholders(string) != placeholders(ids[-1]):
                problems.append(f"placeholders differ: {ids[0]!r} -> {string!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("english, chinese", [
    ("Name: %(name)s", "名称：%(name)s"), ("{count} keys", "{count} 个密钥")])
def test_the_placeholder_check_catches_a_dropped_one(english, chinese):
    assert placeholders(english) == placeholders(chinese)
    assert placeholders(english) != placeholders(chinese.replace("%(name)s", "").replace("{count}", "{n}"))


@pytest.mark.parametrize("tag, locale", [
    ("zh-CN", "zh_Hans_CN"), ("zh", "zh_Hans_CN"), ("zh-Hans", "zh_Hans_CN"), ("zh_Hans_CN", "zh_Hans_CN"),
    ("en-US", "en"), ("en", "en"), ("fr", None), ("", None), (None, None)])
def test_normalize(tag, locale):
    assert i18n.normalize(tag) == locale


def test_accept_language_chooses_and_html_lang_follows(client):
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-Hans">' in page.text
    assert "退出登录" not in page.text  # not signed in
    page = client.get("/login", headers={"Accept-Language": "fr, en;q=0.5"})
    assert '<html lang="en">' in page.text


@pytest.mark.parametrize("app_config", [{"LICENSE_DEFAULT_LOCALE": "zh_Hans_CN"}])
def test_default_locale_when_the_browser_asks_for_neither(client):
    assert '<html lang="zh-Hans">' in client.get("/login", headers={"Accept-Language": "fr"}).text
    assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "en"}).text


def test_the_switch_remembers_the_choice_over_accept_language(client, auth):
    auth.login("operator")
    page = client.get("/settings", headers={"Accept-Language": "en"})
    assert 'name="locale" value="zh_Hans_CN"' in page.text and "Log out" in page.text
    answer = client.post("/_license/locale", data={"locale": "zh_Hans_CN", "next": "/settings"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/settings")
    page = client.get("/settings", headers={"Accept-Language": "en"})
    assert '<html lang="zh-Hans">' in page.text and "退出登录" in page.text
    assert 'name="locale" value="en"' in page.text
    # Elsewhere than a same-site path it goes home; an unknown language changes nothing.
    answer = client.post("/_license/locale", data={"locale": "xx", "next": "https://evil.example/"})
    assert answer.status_code == 303 and "evil" not in answer.headers["Location"]
    assert '<html lang="zh-Hans">' in client.get("/settings").text


def test_outside_a_request_english(app):
    with app.app_context():
        assert i18n.gettext("Log out") == "Log out"
        assert i18n.gettext("Role: %(role)s", role="admin") == "Role: admin"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert i18n.gettext("Log out") == "退出登录"
        assert i18n.gettext("Role: %(role)s", role="admin") == "角色：admin"


def test_a_host_consoles_own_selector():
    from flask import Flask

    app = Flask("console")
    i18n.init_app(app, locale_selector=lambda: "zh_Hans_CN")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert i18n.gettext("Log out") == "退出登录" and i18n.html_lang() == "zh-Hans"


def test_a_host_consoles_own_babel_is_used():
    from flask import Flask
    from flask_babel import Babel

    app = Flask("console")
    Babel(app, locale_selector=lambda: "zh_Hans_CN")
    host_babel = app.extensions["babel"]
    i18n.init_app(app)
    assert app.extensions["babel"] is host_babel
    assert str(i18n.TRANSLATIONS_DIR) in host_babel.translation_directories
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert i18n.gettext("Log out") == "退出登录"


def test_wtforms_messages_reach_the_login_page_in_the_asked_language(client):
    """Issue 13: the login form's own refusals (WTForms' messages, Flask-WTF's translations) in Chinese."""
    page = client.post("/login", data={"email": "", "password": ""}, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 422
    assert "邮箱：该字段是必填字段。" in page.text, page.text
    page = client.post("/login", data={"email": "", "password": ""}, headers={"Accept-Language": "en"})
    assert "This field is required." in page.text


def test_the_error_pages_words_in_chinese(client):
    page = client.post("/login?x=%01", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 400 and "请求有误" in page.text and "控制字符（U+0001）" in page.text, page.text
