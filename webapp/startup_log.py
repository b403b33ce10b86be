"""Notes and warnings for whoever starts the app, through `logging`: the logger `webapp.startup`.

They say what to fix before anyone reads a page (role `both` is for development, an environment
trusts no vendor key, a development signing key was made), so they are written to the process's
standard error as plain lines whatever logging the host configured: its own handler, which
does not pass them on to the root logger's. A deployment silences or reroutes them like any
logger (`logging.getLogger("webapp.startup").setLevel(logging.ERROR)`, or `propagate = True`
and its own handlers instead of this one's).
"""
from __future__ import annotations

import logging
import sys

log = logging.getLogger("webapp.startup")


class _CurrentStderr(logging.StreamHandler):
    """stderr as it is when a record is written (a test's or a command runner's capture too)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler sets it; the current stderr always wins
        pass


if not any(isinstance(h, _CurrentStderr) for h in log.handlers):
    _handler = _CurrentStderr()
    _handler.setFormatter(logging.Formatter("%(levelname_lower)s: %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False


class _LowerLevel(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.levelname_lower = "note" if record.levelno < logging.WARNING else record.levelname.lower()
        return True


log.addFilter(_LowerLevel())


def note(message: str) -> None:
    log.info(message)


def warning(message: str) -> None:
    log.warning(message)
