"""In-process transport: a ``requests`` adapter that hands requests to a WSGI app, no socket.

Mounted on a ``requests.Session``, it lets the real :class:`~marketplace_adapter.MarketplaceClient`
run unchanged (signing, retries, parsing) against the simulator inside the same process, which is
how the demo app works without marketplace credentials.
"""

from __future__ import annotations

import io
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPResponse
from urllib3.exceptions import ProtocolError

from .faults import READ_TIMEOUT_ENVIRON_KEY, SimulatedDrop, SimulatedReadTimeout
from .wsgi import WSGIApp, call_app, make_environ

__all__ = ["WSGIAdapter", "inprocess_session", "INPROCESS_ENDPOINT"]

INPROCESS_ENDPOINT = "http://market.simulator"


def _read_timeout(timeout: Any) -> float | None:
    """The read part of whatever ``requests`` passes as timeout (a number, a tuple, or None)."""
    if isinstance(timeout, tuple):
        return timeout[1] if len(timeout) > 1 else timeout[0]
    if hasattr(timeout, "read_timeout"):  # urllib3.Timeout
        return timeout.read_timeout
    return timeout


class WSGIAdapter(BaseAdapter):
    """Sends each request to ``app`` as a WSGI call and returns its answer as a ``Response``.

    The simulator's transport faults come out as ``requests`` raises them over a socket: a
    ``slow`` answer past the read timeout as ``ReadTimeout``, a ``drop`` as ``ConnectionError``
    wrapping urllib3's ``ProtocolError('Connection aborted.', RemoteDisconnected(...))``.
    """

    def __init__(self, app: WSGIApp) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        environ = self._environ(request, _read_timeout(timeout))
        try:
            status, headers, body = call_app(self.app, environ)
        except SimulatedReadTimeout as exc:
            raise requests.exceptions.ReadTimeout(str(exc), request=request) from None
        except SimulatedDrop:
            aborted = ProtocolError("Connection aborted.", RemoteDisconnected(
                "Remote end closed connection without response"))
            raise requests.exceptions.ConnectionError(aborted, request=request) from None
        return self._response(request, status, headers, body)

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
        environ = make_environ(
            method=request.method or "GET", path=url.path or "/", query=url.query,
            headers=request.headers.items(), body=body,
            server_name=url.hostname or "localhost",
            server_port=url.port or (443 if url.scheme == "https" else 80),
            scheme=url.scheme or "http",
        )
        environ[READ_TIMEOUT_ENVIRON_KEY] = read_timeout
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
