"""Serving the simulator over real HTTP: in a background thread (tests, demos) or in the
foreground (the CLI).

A small HTTP/1.1 server on the standard library, because keep-alive matters here: the client's
connection reuse is part of what is tested, and both ``wsgiref`` and Werkzeug's development
server close the connection after every answer. Every request the client sends has a
Content-Length, so reading exactly that much keeps the connection in step for the next request.

The request log leaves out the query string (it holds authorization codes and signatures) and
masks the code in control paths (``/_control/codes/****7K3Q/renew``).
"""

from __future__ import annotations

import logging
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from ..errors import mask_code
from .faults import SimulatedDrop
from .wsgi import WSGIApp, call_app, make_environ

__all__ = ["SimulatorServer"]

log = logging.getLogger("marketplace_adapter.simulator")

_CONTROL_CODE = re.compile(r"^(/_control/codes/)([^/]+)")


class _WSGIHandler(BaseHTTPRequestHandler):
    """Runs each request through the server's WSGI app; keeps the connection open."""

    protocol_version = "HTTP/1.1"
    server_version = "MarketSimulator/1.0"
    timeout = 60  # seconds an idle kept-alive connection may stay open

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # peer's delayed ACK add some 40 ms to every answer on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        try:
            self._run_app()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a read timeout, typically): nothing left to answer.
            self.close_connection = True

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _run_app(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.send_error(411, "Send a Content-Length")
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "Bad Content-Length")
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        try:
            status, headers, data = call_app(self.server.app, self._environ(body))  # type: ignore[attr-defined]
        except SimulatedDrop:
            # A "drop" fault: close the connection without a word, as a failing load balancer does.
            log.info("%s %s dropped without an answer", self.command, self._path_for_log())
            self.close_connection = True
            return
        except Exception:  # noqa: BLE001 - a crashed app answers 500, as any WSGI server does
            log.exception("the simulator failed on %s %s", self.command, self._path_for_log())
            self.send_error(500, "Simulator error")
            return
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            # The client asked for it (Connection: close, or HTTP/1.0): say so, so that it does
            # not send its next request on a connection about to be closed.
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        return make_environ(
            method=self.command, path=path, query=query, headers=self.headers.items(), body=body,
            server_name=str(host), server_port=port, remote_addr=self.client_address[0],
            protocol=self.request_version,
        )

    def _path_for_log(self) -> str:
        """The path without the query (codes, signatures), codes in control paths masked."""
        path = self.path.split("?", 1)[0]
        return _CONTROL_CODE.sub(lambda m: m.group(1) + mask_code(unquote(m.group(2))), path)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        log.info("%s %s %s", self.command, self._path_for_log(), getattr(code, "value", code))

    def log_message(self, format: str, *args: Any) -> None:
        # Errors only (send_error); the request line is never logged: it holds the query.
        log.info("%s: %s", self.client_address[0], format % args if args else format)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: WSGIApp) -> None:
        super().__init__(address, _WSGIHandler)
        self.app = app
        self.connections_accepted = 0
        self._count_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client hung up; not worth a traceback
        super().handle_error(request, client_address)

    def get_request(self):  # type: ignore[override]
        connection = super().get_request()
        with self._count_lock:
            self.connections_accepted += 1
        return connection


class SimulatorServer:
    """A WSGI app (normally a Simulator) on ``host:port``; ``port=0`` picks a free port.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``connections_accepted``
    counts TCP connections, so tests can prove keep-alive.
    """

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), app)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connections_accepted(self) -> int:
        return self._server.connections_accepted

    def start(self) -> "SimulatorServer":
        # A short poll interval keeps stop() quick (it waits for the loop to notice).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="market-simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
