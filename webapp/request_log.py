"""Request ids and log lines: who asked what, how it ended, and how long it took.

- Every request of the plugin gets a request id: the `X-Request-ID` header when it is sane (1 to
  128 letters, digits and `-_.:=+/@`), else a new one. It is answered in `X-Request-ID` and is on
  every log line written while the request runs (`RequestContextFilter`).
- At the end of each request one line on the `webapp.requests` logger says the method, the
  route (the URL rule, never the URL with its query string), the status and the time taken.
- `LICENSE_LOG_FORMAT=json` writes one JSON object a line (`JsonFormatter`): `time`, `level`,
  `logger`, `message`, and where known `request_id`, `user`, `method`, `route`, `endpoint`,
  `status`, `duration_ms`, `market_request_id` (the marketplace's RequestId of the last Market
  API call made for this request), `exception`. `text` (the default) writes
  `time LEVEL logger [request id] message`.

The standalone app (`create_app`) installs one handler on the root logger with these filters
(`configure_logging`), and the redaction of `webapp.redaction`. Mounted in a host console the
plugin leaves the host's logging alone: its request ids and request lines cover its own
blueprints only, and the host installs `RequestContextFilter`, `redacting_filter(app)` and
`JsonFormatter` on its own handlers if it wants them (docs/configuration.md, "Logs").
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone

from flask import Flask, current_app, g, has_request_context, request
from flask.logging import default_handler

from . import redaction
from .redaction import RedactingFilter

REQUEST_ID_HEADER = "X-Request-ID"
LOG_FORMATS = ("text", "json")
HANDLER_NAME = "license_platform"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
FIELDS = ("request_id", "user", "method", "route", "endpoint", "status", "duration_ms", "market_request_id")

access_log = logging.getLogger("webapp.requests")

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+/@-]{1,128}")
# The marketplace's request id of the last Market API call made in this thread (set by the
# vendor side's client observer, `note_market_request_id`); cleared when a request starts.
_market_request_id: ContextVar[str | None] = ContextVar("license_market_request_id", default=None)

# Request fields whose values are secrets (hidden whole) or codes (`****` + last 4) in log lines.
SECRET_FIELDS = ("password", "new_password", "product_key", "productKey", "token")
CODE_FIELDS = ("code", "authorization_code", "authorizationCode", "q")
# The configuration values that are secrets, hidden wherever they would appear.
SECRET_SETTINGS = ("SECRET_KEY", "LICENSE_DATA_KEY", "LICENSE_SIGNING_KEY_PASSPHRASE",
                   "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
                   "LICENSE_METRICS_TOKEN", "MAIL_PASSWORD")


def request_id_from(header: str | None) -> str:
    """The caller's request id when it is sane (no spaces, quotes or control characters that
    could forge a log line, at most 128 characters), else a new one."""
    header = (header or "").strip()
    if _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The plugin's request id of the current request (None outside one, or on a host's page)."""
    return g.get("license_request_id") if has_request_context() else None


def note_market_request_id(request_id: str | None) -> None:
    """Remember the marketplace's RequestId of the call just made, for the log lines after it."""
    if request_id:
        _market_request_id.set(request_id)


def _user() -> str | None:
    """Who the request runs as, if the request already knows (never loads a user to log it)."""
    user = g.get("api_user") or g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "email", None) or str(user.get_id())


def request_fields() -> dict:
    """The current request's fields for a log line (empty outside a request)."""
    if not has_request_context():
        return {}
    rule = request.url_rule
    return {
        "request_id": g.get("license_request_id"),
        "user": _user(),
        "method": request.method,
        "route": rule.rule if rule is not None else None,
        "endpoint": request.endpoint,
    }


class RequestContextFilter(logging.Filter):
    """Adds the request's fields (`FIELDS`) to every record written during a request; values a
    record already has (its `extra`) win. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            fields = request_fields()
        except Exception:  # noqa: BLE001 - a log line is never lost to its decoration
            fields = {}
        market_id = _market_request_id.get()
        if market_id:
            fields["market_request_id"] = market_id
        for name, value in fields.items():
            if value is not None and getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


def request_secrets() -> tuple[list[str], list[str]]:
    """`(secrets, codes)` the current request carries: its secret fields in the query string,
    in a form or JSON body the view has read, its bearer token and session cookies. Never reads
    a body the view did not read."""
    if not has_request_context():
        return [], []
    sources: list = [request.args]
    form = request.__dict__.get("form")  # a cached_property: present once the view read it
    if form is not None:
        sources.append(form)
    for cached in getattr(request, "_cached_json", ()):  # werkzeug's cache of get_json()
        if isinstance(cached, dict):
            sources.append(cached)
    secrets: list[str] = []
    codes: list[str] = []
    for source in sources:
        for names, found in ((SECRET_FIELDS, secrets), (CODE_FIELDS, codes)):
            for name in names:
                value = source.get(name)
                if isinstance(value, str) and value.strip():
                    found.append(value.strip())
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if token.strip():
        secrets.append(token.strip())
    config = current_app.config
    for cookie in (config.get("SESSION_COOKIE_NAME") or "session", config.get("REMEMBER_COOKIE_NAME") or "remember_token"):
        if request.cookies.get(cookie):
            secrets.append(request.cookies[cookie])
    return secrets, codes


def redacting_filter(app: Flask) -> RedactingFilter:
    """The redaction for `app`'s log lines: its configured secrets, and the current request's."""
    secrets = [str(app.config[name]) for name in SECRET_SETTINGS if app.config.get(name)]
    return RedactingFilter(secrets=secrets, known=request_secrets)


def _iso(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object a line (`LICENSE_LOG_FORMAT=json`); see the module's docstring."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": _iso(record.created), "level": record.levelname, "logger": record.name,
               "message": record.getMessage()}
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message` (`-` outside a request)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT, defaults={"request_id": "-"})


def log_format(app: Flask) -> str:
    value = (app.config.get("LICENSE_LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise RuntimeError(f"LICENSE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return value


def make_handler(app: Flask, stream=None) -> logging.Handler:
    """A handler writing `app`'s log format to `stream` (stderr), with the request fields and
    the redaction: what the standalone app installs, and what a host may install."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log_format(app) == "json" else TextFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(redacting_filter(app))
    return handler


def configure_logging(app: Flask, stream=None) -> logging.Handler:
    """The standalone app's logging: one handler on the root logger (replacing the one an
    earlier app of this process installed), at `LICENSE_LOG_LEVEL`; Flask's default handler off
    (the root's writes its lines); the redaction also on the loggers of gunicorn and werkzeug,
    whose access lines carry URLs with their query strings."""
    handler = make_handler(app, stream)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    level = str(app.config.get("LICENSE_LOG_LEVEL") or "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise RuntimeError(f"LICENSE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    root.setLevel(level)
    app.logger.removeHandler(default_handler)
    for name in ("gunicorn.access", "gunicorn.error", "werkzeug"):
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(old)
        logger.addFilter(redacting_filter(app))
    return handler


# --------------------------------------------------------------------------------------------
# The request hooks (`init_app`)


def start_request() -> None:
    g.license_request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    g.license_request_started = time.perf_counter()
    _market_request_id.set(None)


def finish_request(response):
    """Answer the request id and write the request's line (the plugin's static files and
    `/metrics` at DEBUG, the rest at INFO)."""
    if "license_request_id" not in g:  # a hook before ours answered first
        start_request()
    response.headers[REQUEST_ID_HEADER] = g.license_request_id
    duration_ms = round((time.perf_counter() - g.license_request_started) * 1000, 1)
    g.license_request_duration = duration_ms / 1000
    fields = request_fields()
    endpoint = request.endpoint or ""
    quiet = endpoint.endswith(".static") or endpoint == "license_metrics.metrics"
    access_log.log(
        logging.DEBUG if quiet else logging.INFO,
        "%s %s -> %s in %s ms", request.method, fields["route"] or "(no route)", response.status_code,
        duration_ms, extra={"status": response.status_code, "duration_ms": duration_ms,
                            # the route's rule, never the path: nothing the redaction could find
                            redaction.CLEAN: True},
    )
    return response
