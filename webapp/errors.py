"""Errors answered as people and programs want them.

Under `/api/v1` every answer is the JSON error document of interfaces.md, the framework's
own errors (404, 405, 413, 429, CSRF) included. Elsewhere people get an HTML page that says
what happened and what to do; an htmx request whose CSRF token went stale is told to
refresh the page (`HX-Refresh`), which fetches a fresh token.
"""
from __future__ import annotations

import logging
import time

from flask import Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .i18n import N_, gettext as _
from .cli import users_command_line
from .htmx import is_htmx

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}

MESSAGES = {  # in the asked language where they are used (Accept-Language)
    400: N_("The request could not be understood."),
    401: N_("Authentication is required: send 'Authorization: Bearer <token>' "
            "(create one with `{token_command}`)."),  # the command as this app names it
    403: N_("Your account's role does not allow this."),
    404: N_("There is nothing at this address."),
    405: N_("This address does not accept that method."),
    413: N_("The request body is too large."),
    429: N_("Too many requests: wait a moment and try again."),
    500: N_("Something went wrong on our side; it has been logged."),
}


# The error page's heading for the statuses that have no words of their own on it.
TITLES = {
    400: N_("Bad request"),
    405: N_("Method not allowed"),
    409: N_("Conflict"),
    413: N_("Request too large"),
    415: N_("Unsupported media type"),
    422: N_("Unprocessable request"),
}


def is_api_request() -> bool:
    """Whether the request is for the plugin's `/api/v1` (under its `url_prefix`)."""
    state = current_app.extensions.get("license_platform")
    prefix = state.api_prefix if state is not None else API_PREFIX
    return request.path == prefix or request.path.startswith(prefix + "/")


def api_error(code: str, message: str, status: int, **extra) -> Response:
    body = {"error": {"code": code, "message": message, **extra}}
    response = jsonify(body)
    response.status_code = status
    return response


def _retry_after() -> str:
    """Seconds until the breached limit resets."""
    from .extensions import limiter

    if limiter not in current_app.extensions.get("limiter", ()):  # a host's Limiter answered
        return "60"
    limit = limiter.current_limit
    if limit is not None and limit.reset_at:
        return str(max(1, int(limit.reset_at - time.time())))
    return "60"


def handle_http_error(error: HTTPException):
    status = error.code or 500
    if isinstance(error, CSRFError):
        if is_api_request():
            return api_error("csrf_failed", _("The CSRF token is missing or invalid."), 400)
        if is_htmx():
            response = Response(status=204)
            response.headers["HX-Refresh"] = "true"
            return response
    own_code = getattr(error, "api_code", None)  # webapp.inputs.InputRefused: its code and words
    if is_api_request():
        known = MESSAGES.get(status)
        message = (error.description if own_code else (_(known) if known else None)) or error.description \
            or _("Request failed.")
        if status == 401:
            message = message.replace("{token_command}", users_command_line("token EMAIL"))
        response = api_error(own_code or CODES.get(status, f"http_{status}"), message, status)
    else:
        response = Response(
            render_template("license/errors/error.html", status=status, error=error, csrf=isinstance(error, CSRFError),
                            title=_(TITLES[status]) if status in TITLES else error.name,
                            description=error.description if own_code or status not in MESSAGES
                            else _(MESSAGES[status])),
            status=status,
        )
    framework_headers = error.get_response().headers
    for name in ("Allow", "Retry-After"):
        if name in framework_headers:
            response.headers[name] = framework_headers[name]
    if status == 429 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = _retry_after()
    return response


def handle_unexpected(error: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    # A failed statement leaves the session's transaction aborted: the error page (its header
    # reads the license) would fail again on it and answer nothing at all.
    from .database import db

    db.session.rollback()
    return handle_http_error(InternalServerError())


def handlers(app) -> list[tuple[type[Exception], object]]:
    """The plugin's error handlers: app-wide in the standalone app, on the plugin's own
    blueprints in a host console (`extension._hook_own_blueprints`). A database that cannot be
    reached answers 503 (`db_unavailable`), in tests too."""
    from sqlalchemy.exc import DBAPIError

    from .db_unavailable import handle_database_error

    found = [(HTTPException, handle_http_error), (DBAPIError, handle_database_error)]
    if not app.config.get("PROPAGATE_EXCEPTIONS") and not app.testing:
        found.append((Exception, handle_unexpected))
    return found


def init_app(app) -> None:
    from . import db_unavailable

    for exception, handler in handlers(app):
        app.register_error_handler(exception, handler)
    db_unavailable.init_app(app)
