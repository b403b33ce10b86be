"""What a production run needs beside the pages (issue 10): request ids and request lines
(`request_log`), Prometheus metrics (`metrics`, with `LICENSE_METRICS`), secure session cookies,
HSTS and sessions that end server-side (`session_security`).

`LicensePlatform.init_app` calls `init_app` once every blueprint of the plugin is registered.
Standalone, the hooks apply to the whole app; mounted in a host console (`state.hosted`), to the
plugin's own blueprints only, like its other handlers and headers (`_hook_own_blueprints`).
"""
from __future__ import annotations

from typing import Callable

from flask import Flask

from . import request_log, session_security


def _scopes(state) -> list[str | None]:
    """Where the hooks go: the app (None) standalone, each of the plugin's blueprints hosted."""
    return list(state.blueprints) if state.hosted else [None]


def before_request(app: Flask, state, hook: Callable, *, first: bool = False) -> None:
    for scope in _scopes(state):
        hooks = app.before_request_funcs.setdefault(scope, [])
        hooks.insert(0, hook) if first else hooks.append(hook)


def after_request(app: Flask, state, hook: Callable, *, last: bool = False) -> None:
    """`last`: after every other hook of its scope (Flask runs them in reverse order)."""
    for scope in _scopes(state):
        hooks = app.after_request_funcs.setdefault(scope, [])
        hooks.insert(0, hook) if last else hooks.append(hook)


def teardown_request(app: Flask, state, hook: Callable) -> None:
    for scope in _scopes(state):
        app.teardown_request_funcs.setdefault(scope, []).append(hook)


def init_app(app: Flask, state) -> None:
    request_log.log_format(app)  # a wrong LICENSE_LOG_FORMAT stops the start, naming it
    if app.config["LICENSE_METRICS"]:
        from . import metrics

        metrics.init_app(app, state)  # its blueprint first, so that the hooks below cover it
    before_request(app, state, request_log.start_request, first=True)
    after_request(app, state, request_log.finish_request, last=True)
    session_security.init_app(app, state)
