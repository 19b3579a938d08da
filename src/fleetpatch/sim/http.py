"""A small threaded WSGI server that keeps HTTP/1.1 connections open.

werkzeug's development server closes the connection after every request, so each boto3 call
paid for a new TCP connection and a new server thread; at fleet scale that cost more than
answering the call. This server keeps the connection (and its thread) for the next request.
It serves one WSGI app on 127.0.0.1 and nothing else: no TLS, no chunked request bodies
(botocore sends Content-Length), no streaming responses.
"""

from __future__ import annotations

import io
import socket
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote_to_bytes

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Headers this server writes itself.
_OWN_HEADERS = {"content-length", "connection", "transfer-encoding", "date", "server"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An idle kept-alive connection is dropped after this many seconds; clients reconnect.
    timeout = 60
    server: KeepAliveServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and
        # the client's delayed ACK hold the second one back ~40 ms on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_request(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self._call_app(body)
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in _OWN_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # AWS's Date header tells AWS's clock: here, the simulated world's.
        return format_datetime(self.server.clock().astimezone(UTC), usegmt=True)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_request

    def _call_app(self, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        answer: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            answer["status"], answer["headers"] = status, headers
            return lambda data: None  # the legacy write() callable; no app here uses it

        result = self.server.app(self._environ(body), start_response)
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return answer["status"], answer["headers"], payload

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            # WSGI wants the path percent-decoded, as latin-1 text (PEP 3333).
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        content_type = self.headers.get("Content-Type")
        if content_type:
            environ["CONTENT_TYPE"] = content_type
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        # Thousands of requests a run: no request log.
        return None


class KeepAliveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, host: str, port: int, app: WsgiApp, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.app = app
        # The clock the Date header tells (the simulator's world); real time by default.
        self.clock = clock or (lambda: datetime.now(UTC))
        super().__init__((host, port), _Handler)
