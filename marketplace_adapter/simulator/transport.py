"""In-process transport: a ``requests`` adapter that hands requests to a WSGI app, no socket.

Mounted on a ``requests.Session``, it lets the real :class:`~marketplace_adapter.MarketplaceClient`
run unchanged (signing, retries, parsing) against the simulator inside the same process, which is
how the demo app works without marketplace credentials.
"""

from __future__ import annotations

import io
import sys
from typing import Any, Callable, Iterable
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPResponse

from .app import READ_TIMEOUT_ENVIRON_KEY, SimulatedReadTimeout

__all__ = ["WSGIAdapter", "inprocess_session", "INPROCESS_ENDPOINT"]

INPROCESS_ENDPOINT = "http://market.simulator"

WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]


def _read_timeout(timeout: Any) -> float | None:
    """The read part of whatever ``requests`` passes as timeout (a number, a tuple, or None)."""
    if isinstance(timeout, tuple):
        return timeout[1] if len(timeout) > 1 else timeout[0]
    if hasattr(timeout, "read_timeout"):  # urllib3.Timeout
        return timeout.read_timeout
    return timeout


class WSGIAdapter(BaseAdapter):
    """Sends each request to ``app`` as a WSGI call and returns its answer as a ``Response``."""

    def __init__(self, app: WSGIApp) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        environ = self._environ(request, _read_timeout(timeout))
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        try:
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except SimulatedReadTimeout as exc:
            raise requests.exceptions.ReadTimeout(str(exc), request=request) from None
        return self._response(request, captured["status"], captured["headers"], body)

    def close(self) -> None:
        pass

    @staticmethod
    def _environ(request: requests.PreparedRequest, read_timeout: float | None) -> dict[str, Any]:
        url = urlsplit(request.url or "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):
            body = b"".join(part if isinstance(part, bytes) else part.encode("utf-8")
                            for part in body)
        port = url.port or (443 if url.scheme == "https" else 80)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": (request.method or "GET").upper(),
            "SCRIPT_NAME": "",
            # PEP 3333: PATH_INFO is the decoded path, bytes carried as latin-1.
            "PATH_INFO": unquote_to_bytes(url.path or "/").decode("latin-1"),
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "localhost",
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme or "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            READ_TIMEOUT_ENVIRON_KEY: read_timeout,
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                environ[f"HTTP_{key}"] = value
        environ.setdefault("HTTP_HOST", url.netloc)
        return environ

    def _response(self, request: requests.PreparedRequest, status: str,
                  headers: list[tuple[str, str]], body: bytes) -> requests.Response:
        code = int(status.split(" ", 1)[0])
        response = requests.Response()
        response.status_code = code
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(headers)
        response.raw = HTTPResponse(body=io.BytesIO(body), headers=headers, status=code,
                                    preload_content=False, decode_content=False)
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = request.url or ""
        response.request = request
        response.connection = self
        return response


def inprocess_session(app: WSGIApp, endpoint: str = INPROCESS_ENDPOINT) -> requests.Session:
    """A session whose requests to ``endpoint`` go to ``app`` (e.g. a Simulator) in-process.

    Give it to ``MarketplaceClient(..., endpoint=endpoint, session=session)``.
    """
    session = requests.Session()
    session.mount(endpoint.rstrip("/") + "/", WSGIAdapter(app))
    return session
