"""Keeping secrets out of log lines: authorization codes, product keys, tokens, passwords.

`redact(text, known=...)` is pure: it masks what can be recognised by its shape or its place,

- product keys (base64 of a JSON object, `eyJ...`), PEM private keys and any other run of
  base64 of 80 characters or more (a key's tail, a signature, a password hash), whole;
- `Authorization: Bearer ...` values and the plugin's API tokens (`lic_...`);
- URL query parameters that carry a code or a search (`code`, `authorizationCode`,
  `LicenseCode`, `q`): masked as the project shows codes, `****` + last 4; parameters that carry
  a secret (`password`, `token`, `Signature`, `SecurityToken`, ...): `[redacted]`;
- the same names as JSON or Python dict members (`"authorizationCode": "..."`,
  `'password': '...'`) and as `name=value` pairs;
- the password of a database URL (`postgresql://user:[redacted]@host/db`);

and, by value, the secrets it is given: the configured ones (`SECRET_KEY`, `LICENSE_DATA_KEY`,
...) and, during a request, what that request carries in its secret fields (an authorization
code has no fixed shape: the code typed into a form is recognised because the form carried it).

`RedactingFilter` applies it to every record that passes a handler: message, exception text and
stack. The standalone app installs it on its log handler (`request_log.configure_logging`); a
host console installs it on its own handlers (docs/configuration.md, "Logs").
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

REDACTED = "[redacted]"
# Shorter values are not replaced by value: "abc" would mask every "abc" of a line, and a
# whole authorization code, product key, token or password is longer than this.
MIN_KNOWN_CHARS = 6

# Names whose values are shown as codes are (`****` + last 4) and those that are hidden whole.
CODE_NAMES = ("authorizationCode", "authorization_code", "LicenseCode", "license_code", "code", "q")
SECRET_NAMES = ("password", "passwd", "new_password", "passphrase", "secret", "token", "access_token",
                "api_key", "productKey", "product_key", "Signature", "SecurityToken",
                "AccessKeySecret", "access_key_secret", "csrf_token")

_QUERY_PARAM = re.compile(
    r"(?P<lead>[?&;](?P<name>" + "|".join(map(re.escape, CODE_NAMES + SECRET_NAMES)) + r")=)"
    r"(?P<value>[^&;#\s\"'<>]*)",
)
# `password=...` in free text (a form body, a DSN's options, a message), outside URLs too; not
# `code=` (an error code is not a secret), which only counts in a query string (above).
_PAIR = re.compile(
    r"(?P<lead>(?<![\w.-])(?P<name>" + "|".join(map(re.escape, SECRET_NAMES)) + r")=)"
    r"(?P<value>[^&;,\s\"'<>]+)",
    re.IGNORECASE,
)
# JSON (`"productKey": "..."`) and Python reprs (`'password': '...'`). The JSON error
# document's `"code"` is an error code, so the code members are named in full here.
_MEMBER_NAMES = ("authorizationCode", "authorization_code", "LicenseCode", "license_code") + SECRET_NAMES
_MEMBER = re.compile(
    r"(?P<lead>(?P<quote>[\"'])(?P<name>" + "|".join(map(re.escape, _MEMBER_NAMES)) + r")(?P=quote)\s*:\s*"
    r"(?P<vquote>[\"']))(?P<value>(?:\\.|(?!(?P=vquote)).)*)",
)
_BEARER = re.compile(r"(?P<lead>\b[Bb]earer\s+)(?P<value>[A-Za-z0-9._~+/=-]{6,})")
_API_TOKEN = re.compile(r"\blic_[A-Za-z0-9_-]{16,}")
# A product key: the standard base64 of `{"installId":...` (product_key.KEY_PREFIX), and any
# other long base64 JSON object (a key pasted with its line breaks removed, a JWT).
_BASE64_JSON = re.compile(r"eyJ[A-Za-z0-9+/_-]{24,}={0,2}")
# Any other long run of base64 (a product key's tail, as SQLAlchemy's echo shows long values
# cut in the middle, a signature, a password hash): no log line needs one whole.
_LONG_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{80,}={0,2}")
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL)
_URL_PASSWORD = re.compile(r"(?P<lead>\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<value>[^@/\s]+)(?P<at>@)")


def mask_code(value: str) -> str:
    """`****` + the last 4 characters, as codes are shown everywhere (`datakey.mask`); a value
    masked already stays as it is (a record may pass two filters)."""
    value = value or ""
    if value.startswith("****"):
        return value
    return "****" + value[-4:] if len(value) > 8 else "****"


def _masked(name: str, value: str) -> str:
    if not value:
        return value
    if name.lower() in {n.lower() for n in CODE_NAMES}:
        return mask_code(value)
    return REDACTED


def _replace_value(match: re.Match) -> str:
    return match.group("lead") + _masked(match.group("name"), match.group("value"))


def _by_value(text: str, values: Iterable[str], replacement: Callable[[str], str]) -> str:
    for value in sorted({v for v in values if v and len(v) >= MIN_KNOWN_CHARS}, key=len, reverse=True):
        if value in text:
            text = text.replace(value, replacement(value))
    return text


def redact(text: str, secrets: Iterable[str] = (), codes: Iterable[str] = ()) -> str:
    """`text` with every secret it holds masked (see the module's docstring): `secrets` by
    value, hidden whole; `codes` (authorization codes, searches) by value, as `****` + last 4."""
    if not text:
        return text
    text = _by_value(text, secrets, lambda value: REDACTED)
    text = _by_value(text, codes, mask_code)
    text = _PRIVATE_KEY.sub("[private key]", text)
    text = _BASE64_JSON.sub("[product key]", text)
    text = _LONG_BASE64.sub(REDACTED, text)
    text = _API_TOKEN.sub("lic_" + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group("lead") + REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group("lead") + REDACTED + m.group("at"), text)
    text = _QUERY_PARAM.sub(_replace_value, text)
    text = _MEMBER.sub(_replace_value, text)
    text = _PAIR.sub(_replace_value, text)
    return text


# A record whose `extra` sets this is made only of values that cannot hold a secret (the request
# line: the method, the route's rule, the status, the time): the redaction passes it by, which
# saved a tenth of a millisecond on every request (docs/performance.md).
CLEAN = "license_redaction_free"


class RedactingFilter(logging.Filter):
    """Masks secrets in every record it sees (it never drops one).

    `secrets`: values to hide wherever they appear (the configured secrets). `known`: a callable
    returning `(secrets, codes)` for the record at hand (the current request's secret fields,
    `request_log.request_secrets`). Install it on a handler, so that it sees the records of
    every logger that reaches that handler; a filter on a logger sees only that logger's own.
    """

    def __init__(self, secrets: Iterable[str] = (),
                 known: Callable[[], tuple[Iterable[str], Iterable[str]]] | None = None) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)
        self.known = known

    def _values(self) -> tuple[list[str], list[str]]:
        secrets, codes = list(self.secrets), []
        if self.known is not None:
            try:
                more_secrets, more_codes = self.known()
                secrets.extend(more_secrets)
                codes.extend(more_codes)
            except Exception:  # noqa: BLE001 - a log line is never lost to the redaction
                pass
        return secrets, codes

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, CLEAN, False) and not record.exc_info and not record.stack_info:
            return True  # made only of words that hold no secret (the request line)
        secrets, codes = self._values()
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's business, not ours
            return True
        record.msg, record.args = redact(message, secrets, codes), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets, codes)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets, codes)
        return True
