"""Languages: Simplified Chinese (`zh_Hans_CN`) and English (`en`), with Flask-Babel.

Which language a request is answered in: the visitor's choice (the header's switch, remembered in
the `license_locale` cookie), else `Accept-Language`, else `LICENSE_DEFAULT_LOCALE`. A host console
passes its own selector (`init_app(app, locale_selector=...)`); a host that has its own Flask-Babel
keeps it: the plugin adds its catalogue (`translations/`) to the host's directories and the host's
selector decides.

Python code marks strings with `gettext` / `lazy_gettext` from here: outside a request (the CLI,
start-up checks, workers) they answer English, so the CLI stays English.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Babel, LazyString, format_datetime as _format_datetime, format_decimal, get_locale
from flask_babel import get_translations as _babel_translations
from jinja2 import pass_eval_context
from markupsafe import Markup

log = logging.getLogger(__name__)

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
ENGLISH = "en"
CHINESE = "zh_Hans_CN"
LOCALES = (ENGLISH, CHINESE)
# What the switch shows: each language in its own words.
LOCALE_NAMES = {ENGLISH: "English", CHINESE: "中文"}
HTML_LANG = {ENGLISH: "en", CHINESE: "zh-Hans"}
COOKIE = "license_locale"
COOKIE_MAX_AGE = 365 * 24 * 3600


def _translating() -> bool:
    return has_request_context() and "babel" in current_app.extensions


def translations():
    """The request's catalogue: Flask-Babel's, kept on the request's Babel context for as long as
    its locale and domain stay the same objects (`refresh()` and `force_locale()` change them).
    Flask-Babel finds it anew on each call, which a page's sixty messages paid sixty times over
    (docs/performance.md)."""
    context = g.get("_flask_babel")
    if context is not None:
        cached = getattr(context, "license_translations", None)
        if (cached is not None and cached[0] is getattr(context, "babel_locale", None)
                and cached[1] is getattr(context, "babel_domain", None)):
            return cached[2]
    found = _babel_translations()
    context = g.get("_flask_babel")
    if context is not None:
        context.license_translations = (getattr(context, "babel_locale", None),
                                        getattr(context, "babel_domain", None), found)
    return found


def gettext(message: str, **variables) -> str:
    """`message` in the request's language (English outside a request), `%(name)s` filled in."""
    if _translating():
        message = translations().ugettext(message)
    return message % variables if variables else message


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    if _translating():
        return translations().ungettext(singular, plural, num) % variables
    return (singular if num == 1 else plural) % variables


def lazy_gettext(message: str, **variables) -> LazyString:
    """Translated when it is turned into text (module-level labels, nav items)."""
    return LazyString(gettext, message, **variables)


_ = gettext


def N_(message: str) -> str:
    """Marks words for the catalogue (pybabel extract); `gettext` translates them where they are shown."""
    return message


class Refusal(ValueError):
    """A refusal said in two languages: `str(exc)` is English (the CLI, the logs, what is
    recorded), `exc.text()` is in the page's language. `message` is marked with `N_`."""

    def __init__(self, message: str, **variables) -> None:
        super().__init__(message % variables if variables else message)
        self.message, self.variables = message, variables

    def text(self) -> str:
        return gettext(self.message, **self.variables)

# The product-key codec imports nothing of the app: its refusals' words come through here.
from . import product_key as _product_key  # noqa: E402

_product_key.set_translator(gettext)


def normalize(value: str | None) -> str | None:
    """One of LOCALES for a language tag (`zh`, `zh-CN`, `zh-Hans`, `zh_Hans_CN`, `en-US`), else None.
    Every Chinese tag reads Simplified Chinese: it is the only Chinese there is."""
    if not value:
        return None
    tag = value.strip().replace("_", "-").lower()
    if tag == "zh" or tag.startswith("zh-"):
        return CHINESE
    if tag == "en" or tag.startswith("en-"):
        return ENGLISH
    return None


def from_accept_language() -> str | None:
    for value, _quality in request.accept_languages:
        found = normalize(value)
        if found:
            return found
    return None


def select_locale() -> str:
    """The visitor's choice, else Accept-Language, else LICENSE_DEFAULT_LOCALE."""
    return (normalize(request.cookies.get(COOKIE)) or from_accept_language()
            or normalize(current_app.config.get("LICENSE_DEFAULT_LOCALE")) or ENGLISH)


def current_locale() -> str:
    """The request's locale as one of LOCALES (English outside a request)."""
    if not _translating():
        return ENGLISH
    return normalize(str(get_locale())) or ENGLISH


def html_lang() -> str:
    return HTML_LANG[current_locale()]


def format_when(moment) -> str:
    """A datetime for people in the request's language (`2026-12-01 02:43 UTC`; `2026年12月1日 02:43 UTC`)."""
    if current_locale() == CHINESE:
        return _format_datetime(moment, "y年M月d日 HH:mm 'UTC'", rebase=False)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def format_number(number) -> str:
    """A number for people in the request's language (`1,000,000`), through Babel."""
    if current_locale() == CHINESE:
        return format_decimal(number)
    return f"{number:,}"


def format_day(moment) -> str:
    if current_locale() == CHINESE:
        return _format_datetime(moment, "y年M月d日", rebase=False)
    return moment.strftime("%Y-%m-%d")


def compile_catalogues(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Compile each `.po` under `directory` whose `.mo` is missing or older (what
    scripts/compile-translations does; the app does it at start when it can write there)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        with mo.open("wb") as f:
            write_mo(f, catalog)
        written.append(mo)
    return written


def init_app(app: Flask, locale_selector: Callable[[], str | None] | None = None) -> None:
    try:
        compile_catalogues()
    except OSError as error:  # a read-only install: scripts/compile-translations ran at build
        log.warning("translations not compiled (%s)", error)
    babel = app.extensions.get("babel")
    if babel is not None:
        # The host's Flask-Babel: its selector, its Jinja gettext; the plugin's catalogue joins its own.
        if str(TRANSLATIONS_DIR) not in babel.translation_directories:
            babel.translation_directories.append(str(TRANSLATIONS_DIR))
    else:
        Babel(app, locale_selector=locale_selector or select_locale,
              default_locale=ENGLISH, default_translation_directories=str(TRANSLATIONS_DIR))
        babel = app.extensions["babel"]
        if str(TRANSLATIONS_DIR) not in babel.translation_directories:
            babel.translation_directories.append(str(TRANSLATIONS_DIR))
        # Flask-Babel's own callables for templates, with the catalogue found once per request.
        app.jinja_env.install_gettext_callables(
            gettext=lambda s: translations().ugettext(s),
            ngettext=lambda s, p, n: translations().ungettext(s, p, n),
            pgettext=lambda c, s: translations().upgettext(c, s),
            npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
            newstyle=True,
        )
        # `_()` and `gettext()` in templates: what Jinja's newstyle gettext does, in one call
        # instead of three (its `_` looks `gettext` up, which calls the callable above).
        app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext)


@pass_eval_context
def _template_gettext(eval_context, message: str, **variables) -> str:
    """Jinja's newstyle gettext: the translation, marked safe where the template escapes, and
    always a format string (`%%` for a percent sign) whose values are escaped."""
    text = translations().ugettext(message)
    if eval_context.autoescape:
        text = Markup(text)
    return text % variables
