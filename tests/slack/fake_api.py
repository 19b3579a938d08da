"""A local stand-in for the Slack Web API, for tests: records every call, answers like Slack.

    with FakeSlackApi() as slack:                       # serves http://127.0.0.1:PORT/api/
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        ...
        slack.calls("chat.postMessage")                 # [Call(method, token, params), ...]

Slack's Web API takes form-encoded or JSON bodies on POST https://slack.com/api/<method>
with `Authorization: Bearer <token>` and always answers HTTP 200 with `{"ok": true|false}`,
except rate limiting: HTTP 429 with a `Retry-After` header (docs.slack.dev, "Rate limits").
`fail(method, error)` makes the next calls of a method answer `{"ok": false, "error": ...}`;
`rate_limit(method, seconds)` makes the next one a 429. Interactive `response_url`s point at
`response_url(name)`; what is posted there is recorded as method `response_url:<name>`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER_ID = "UFLEETBOT"
TEAM_ID = "T0FLEET"


@dataclass(frozen=True)
class Call:
    method: str
    token: str | None
    params: dict[str, Any]
    # What the fake answered (the JSON body), e.g. a posted message's "ts".
    answer: Any = None


@dataclass
class _Failure:
    error: str | None = None  # {"ok": false, "error": error}
    retry_after: int | None = None  # HTTP 429


@dataclass
class FakeSlackApi:
    # Members of each user group, for usergroups.users.list.
    user_groups: dict[str, list[str]] = field(default_factory=dict)
    _calls: list[Call] = field(default_factory=list)
    _failures: dict[str, deque[_Failure]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: int = 0
    _server: ThreadingHTTPServer | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeSlackApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                status, headers, answer = api._handle(self.path, self.headers, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "use FakeSlackApi as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """What slack_sdk's WebClient(base_url=...) and SLACK_API_URL take (trailing slash)."""
        return f"{self.url}/api/"

    def response_url(self, name: str = "default") -> str:
        return f"{self.url}/response/{name}"

    # --- what tests read and arrange ----------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        """The calls of `method` once there are at least `count` (work runs in threads)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.calls(method)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = sorted({c.method for c in self.calls()})
                raise AssertionError(f"{count} x {method} not called within {timeout}s: {seen}")
            time.sleep(0.02)

    def fail(self, method: str, error: str, times: int = 1) -> None:
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            queue.extend(_Failure(error=error) for _ in range(times))

    def rate_limit(self, method: str, retry_after: int = 1) -> None:
        with self._lock:
            self._failures.setdefault(method, deque()).append(_Failure(retry_after=retry_after))

    # --- the API ------------------------------------------------------------------------------

    def _handle(self, path: str, headers: Any, body: str) -> tuple[int, dict[str, str], Any]:
        params = _parse(headers.get("Content-Type", ""), body)
        auth = headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        token = token or params.get("token")
        if path.startswith("/response/"):
            method = "response_url:" + path.removeprefix("/response/")
            self._record(Call(method, token, params))
            return 200, {}, "ok"
        method = path.removeprefix("/api/").split("?")[0]
        status, headers, answer = self._respond(method, token, params)
        self._record(Call(method, token, params, answer))
        return status, headers, answer

    def _respond(
        self, method: str, token: str | None, params: dict[str, Any]
    ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            queue = self._failures.get(method)
            failure = queue.popleft() if queue else None
        if failure is not None and failure.retry_after is not None:
            answer = {"ok": False, "error": "ratelimited"}
            return 429, {"Retry-After": str(failure.retry_after)}, answer
        if failure is not None:
            return 200, {}, {"ok": False, "error": failure.error}
        if token is None:
            return 200, {}, {"ok": False, "error": "not_authed"}
        return 200, {}, self._answer(method, params)

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"1700000000.{self._ts:06d}"

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fleet.slack.com/",
                "team": "fleet",
                "user": "fleetpatch",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": "BFLEETBOT",
            }
        if method in ("chat.postMessage", "chat.update"):
            ts = params.get("ts") or self._next_ts()
            message = {"type": "message", "text": params.get("text", ""), "ts": ts}
            if "blocks" in params:
                message["blocks"] = params["blocks"]
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": message}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "usergroups.users.list":
            group = str(params.get("usergroup"))
            if group not in self.user_groups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self.user_groups[group]}
        if method == "files.getUploadURLExternal":
            file_id = f"F{self._next_ts().replace('.', '')}"
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = params.get("files") or "[]"
            listed = json.loads(files) if isinstance(files, str) else files
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in listed]}
        return {"ok": True}


def _parse(content_type: str, body: str) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        parsed: dict[str, Any] = json.loads(body)
        return parsed
    params: dict[str, Any] = dict(parse_qsl(body, keep_blank_values=True))
    # slack_sdk sends blocks/attachments form-encoded as JSON strings.
    for key in ("blocks", "attachments"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params
