"""Fixtures for the production concerns: logs, metrics, sessions.

`log_capture(app)`: the standalone app's log handler (`request_log.make_handler`: its format,
the request fields, the redaction) on the root logger at DEBUG, writing into a buffer;
`.lines()` are the lines written, `.json()` the JSON lines parsed.
"""
from __future__ import annotations

import io
import json
import logging

import pytest

from webapp import request_log


class LogCapture:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line]

    def json(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]

    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def log_capture():
    """`log_capture(app)` installs the app's handler on the root logger until the test ends."""
    root = logging.getLogger()
    installed: list[logging.Handler] = []
    level = root.level

    def install(app, level_name: str = "DEBUG") -> LogCapture:
        stream = io.StringIO()
        handler = request_log.make_handler(app, stream)
        handler.setLevel(level_name)
        root.addHandler(handler)
        root.setLevel(level_name)
        installed.append(handler)
        return LogCapture(stream)

    yield install
    for handler in installed:
        root.removeHandler(handler)
    root.setLevel(level)
