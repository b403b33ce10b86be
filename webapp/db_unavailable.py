"""The database gone (stopped, restarting, unreachable): 503 with a clear message, never a 500.

Pages answer "The license database cannot be reached; try again in a minute." (a page of its
own, which asks the database nothing), `/api/v1` answers
`{"error": {"code": "database_unavailable", ...}}`, both with `Retry-After`. Nothing is kept of
the failed request: its session is rolled back and its dead connection dropped, and the pool
checks each connection before handing it out (`pool_pre_ping`), so the app serves again on its
own once the database is back, without a restart.

A connection the server ends after the answer was made (`pg_ctl stop -m fast` between the view
and the end of the request) fails the session's closing rollback: `init_app` closes the session
first and lets that pass, so the answer made stands.
"""
from __future__ import annotations

import logging
import sqlite3

from flask import Response, current_app, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from .i18n import N_, gettext, html_lang

log = logging.getLogger(__name__)

CODE = "database_unavailable"
MESSAGE = N_("The license database cannot be reached; try again in a minute.")
RETRY_AFTER = "30"

# SQLite says OperationalError for a missing table too: only these mean "not reachable now".
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error")


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached (as opposed to a bug in a query).

    A connection SQLAlchemy found dead (`connection_invalidated`), and the driver's
    `OperationalError` (refused, reset, the server shutting down or starting up) or
    `InterfaceError` (a closed connection); on SQLite only a lock or an unreadable file.
    """
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    if isinstance(error.orig, sqlite3.Error):
        text = str(error.orig).lower()
        return any(phrase in text for phrase in _SQLITE_UNAVAILABLE)
    return True


def _forget_the_failed_session() -> None:
    from .database import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone; the session is removed at teardown anyway
        log.debug("rollback after a lost database connection failed", exc_info=True)


def _page() -> str:
    """The page, rendered without the context processors: Flask-Login's loads the signed-in user
    from the database."""
    return current_app.jinja_env.get_template("license/errors/unavailable.html").render(
        message=gettext(MESSAGE), html_lang=html_lang())


def handle_database_error(error: DBAPIError):
    """The plugin's handler of `DBAPIError` (`errors.handlers`): 503 when the database cannot be
    reached; any other database error goes on as before (a 500, logged)."""
    if not is_unavailable(error):
        if current_app.config.get("PROPAGATE_EXCEPTIONS") or current_app.testing:
            raise error
        from .errors import handle_unexpected

        return handle_unexpected(error)  # logged, the session rolled back, the 500 page
    from .errors import api_error, is_api_request

    reason = (str(getattr(error, "orig", None) or error).strip().splitlines() or ["?"])[0]
    log.warning("database unavailable on %s %s: %s", request.method, request.path, reason)
    _forget_the_failed_session()
    if is_api_request():
        response = api_error(CODE, gettext(MESSAGE), 503)
    else:
        response = Response(_page(), status=503, mimetype="text/html")
    response.headers["Retry-After"] = RETRY_AFTER
    response.headers["Cache-Control"] = "no-store"
    return response


def _close_session(exc: BaseException | None = None) -> None:
    """`teardown_appcontext`, before Flask-SQLAlchemy's: close the session, and when its closing
    rollback finds the database gone, drop it and log instead of failing a finished request."""
    from .database import database

    session = database().session
    try:
        session.remove()
    except DBAPIError as error:
        if not is_unavailable(error):
            raise
        session.registry.clear()
        log.warning("database connection lost at the end of a request: %s",
                    (str(getattr(error, "orig", None) or error).strip().splitlines() or ["?"])[0])


def init_app(app) -> None:
    """The standalone app: the session closed safely at each request's end. Flask runs teardown
    functions last registered first, so this runs before Flask-SQLAlchemy's."""
    app.teardown_appcontext(_close_session)
