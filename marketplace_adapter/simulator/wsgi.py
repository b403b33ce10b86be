"""The WSGI plumbing that the HTTP server and the in-process transport share: building a
PEP 3333 environ from a request's parts, and running an app to one complete answer; and, for the
app, reading a request's body back."""

from __future__ import annotations

import io
import sys
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import unquote_to_bytes

__all__ = ["WSGIApp", "make_environ", "call_app", "read_body"]

WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]


def make_environ(
    *,
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    server_name: str,
    server_port: int | str,
    scheme: str = "http",
    remote_addr: str = "127.0.0.1",
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """The environ of one request; ``path`` is as sent (percent-encoded), ``query`` without ``?``."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        # PEP 3333: PATH_INFO is the decoded path, bytes carried as latin-1.
        "PATH_INFO": unquote_to_bytes(path or "/").decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": protocol,
        "REMOTE_ADDR": remote_addr,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH":
            environ[f"HTTP_{key}"] = value
    return environ


def call_app(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """``(status line, headers, body)`` of ``app``'s answer; whatever the app raises propagates."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], captured["headers"], body


def read_body(environ: Mapping[str, Any]) -> bytes:
    """The request body an app was given: ``CONTENT_LENGTH`` bytes of ``wsgi.input`` (none when
    the length is missing or not a number)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    return stream.read(length) if stream is not None and length > 0 else b""
