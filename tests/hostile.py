"""Hostile input, shared by the property tests (tests/test_hostile_input.py) and the live fuzz run
(tests/fuzz_live.py): the values, what the app reads (its routes and field names, from its own
URL map and source), and the check that no markup sent became an element of a page.
"""
from __future__ import annotations

import random
import re
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("anonymous", "operator", "issuer", "admin")
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")

# Markup that htmx would turn into requests, or that would break out of an attribute; each piece
# carries the attribute `data-hostile`, which nothing of the app's own ever does.
MARKUP = [
    '</textarea><p data-hostile hx-post="/vendor/attention/check" hx-trigger="load">x</p><textarea>',
    '"><img data-hostile src=x>',
    "' data-hostile='1",
    '" data-hostile="1',
    "<script data-hostile>alert(1)</script>",
    '<div data-hostile hx-get="/healthz" hx-trigger="load"></div>',
]
# Digits of other scripts: "²" passes str.isdigit() and fails int(); int() reads "１" as 1.
OTHER_DIGITS = ["²", "１", "٣", "߀", "𝟙", "Ⅻ", "½", "१२३", "１２３４"]
# Past 32 bits (PostgreSQL's INTEGER), 64 bits, and Python's 4,300-digit limit for int().
HUGE = ["1" * 5000, "9" * 20, str(2**31), str(2**63), str(2**64), "-1", "0", "1e309", "NaN"]
# JSON nested deeper than Python's parser recurses.
NESTED = ["[" * 8000, '{"a":' * 1500, "[" * 4000 + "]" * 4000]
CONTROL = ["\x00", "a\x00b", "\x1b[31m", "\x7f", "\x85", "x\x08", "\u2028", "\ufeff", "\r\nSet-Cookie: a=b"]
KINDS = {"markup": MARKUP, "other digits": OTHER_DIGITS, "huge": HUGE, "nested": NESTED, "control": CONTROL}
ALL = MARKUP + OTHER_DIGITS + HUGE + NESTED + CONTROL

# Fields whose value decides whether a request does anything; the rest are free text.
GATES = {"install_id", "installId", "code", "authorizationCode", "authorization_code", "aku", "days", "type",
         "product_key", "productKey", "action", "email", "password", "status", "panel", "before", "after", "since",
         "until", "next", "limit", "cursor", "aliUid", "last4"}


def field_names() -> list[str]:
    """Every name the app reads from a form, a query or a JSON body, from its own source."""
    names: set[str] = set()
    python = "\n".join(p.read_text() for p in (ROOT / "webapp").rglob("*.py") if "migrations" not in p.parts)
    names |= set(re.findall(r"(?:form|args|body|values)\.get\(\s*[\"']([A-Za-z_]\w*)[\"']", python))
    names |= set(re.findall(r"_text\(body,\s*\"(\w+)\"\)", python))
    names |= set(re.findall(r"request\.form\[\"(\w+)\"\]", python))
    templates = "\n".join(p.read_text() for p in (ROOT / "templates").rglob("*") if p.is_file())
    names |= set(re.findall(r'name="([A-Za-z_]\w*)"', templates))
    names |= set(re.findall(r'field\(\s*"(\w+)"', templates))
    from webapp.forms import LoginForm
    from webapp.vendor_side.offline import FIELDS

    names |= set(FIELDS) | {name for name in dir(LoginForm) if not name.startswith("_")
                            and hasattr(getattr(LoginForm, name), "field_class")}
    # Names of other libraries' arguments (Alembic's `args.get`), the page's own markup, and the
    # vendor's answer that the environment reads (`body.get("error")`).
    return sorted(names - {"include_name", "process_revision_directives", "on_version_apply", "viewport", "error"})


def routes(app) -> list[tuple[str, str, tuple[str, ...]]]:
    """(rule, method, path arguments) of every route of `app` but static files."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static"):
            continue
        for method in sorted((rule.methods or set()) & set(METHODS)):
            found.append((rule.rule, method, tuple(sorted(rule.arguments))))
    return sorted(found)


def fill_path(rule: str, values: dict[str, str]) -> str:
    """The rule's address with each argument replaced by its value, percent-encoded."""
    from urllib.parse import quote

    path = rule
    for name, value in values.items():
        path = re.sub(r"<(?:[^:<>]+:)?" + name + r">", quote(value, safe=""), path)
    return path


def random_text(rng: random.Random, size: int = 12) -> str:
    """Any characters: controls, other scripts' digits, symbols, spaces, surrogate-free."""
    def one() -> str:
        code = rng.choice((rng.randrange(0, 0x80), rng.randrange(0x80, 0x3000), rng.randrange(0xE000, 0x110000)))
        return chr(code)

    return "".join(one() for _ in range(rng.randrange(0, size + 1)))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hostile: list[str] = []

    def handle_starttag(self, tag, attrs):
        if any(name == "data-hostile" for name, _ in attrs):
            self.hostile.append(tag)


def hostile_elements(body: str) -> list[str]:
    """The elements of an HTML page that carry `data-hostile`: markup sent that became markup."""
    if "data-hostile" not in body:
        return []
    parser = _Tags()
    parser.feed(body)
    return parser.hostile
