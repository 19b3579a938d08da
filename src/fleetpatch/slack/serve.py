"""`fleetpatch slack serve`: the Slack app over HTTP, requests at Bolt's path /slack/events.

A stdlib threading HTTP server (no new dependency; Bolt's own development server handles one
request at a time and logs every request line). Slack requires HTTPS request URLs, so a TLS
terminating proxy (a load balancer, an ingress) stands in front; the server listens on
loopback unless told otherwise.

    server = make_server(app, "127.0.0.1", 3000)    # port 0: any free one (tests)
    server.serve_forever()
"""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

PATH = "/slack/events"
# Slack's payloads are a few kB; a body larger than this is not Slack's.
MAX_BODY = 1024 * 1024

log = logging.getLogger("fleetpatch.slack")


class SlackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: SlackServer

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        if path != PATH:
            self._send(BoltResponse(status=404, body="not found"))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._send(BoltResponse(status=413, body="payload too large"))
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        request = BoltRequest(body=body, query=query, headers=dict(self.headers.items()))
        self._send(self.server.app.dispatch(request))

    def do_GET(self) -> None:
        self._send(BoltResponse(status=404, body="not found"))

    def _send(self, response: BoltResponse) -> None:
        payload = response.body.encode("utf-8")
        self.send_response(response.status)
        for name, values in response.headers.items():
            if name.lower() == "content-length":
                continue
            for value in values:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry no secret, but a request log is the proxy's job: debug only.
        log.debug("slack: http %s", format % args)


def make_server(app: App, host: str, port: int) -> SlackServer:
    return SlackServer((host, port), app)
