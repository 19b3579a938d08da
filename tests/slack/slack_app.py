"""Test helpers: the Slack app served on localhost, and requests signed as Slack signs them.

    with running_app(config, slack, sim) as app:
        app.command("U0ALICE", "rollout prod")               # a signed slash command
        app.click(message, "U0BOB", APPROVE)                  # a signed block_actions payload

Slack signs `v0:{timestamp}:{body}` with the app's signing secret (HMAC-SHA256) and sends
X-Slack-Signature `v0=<hex>` and X-Slack-Request-Timestamp (docs.slack.dev, "Verifying
requests from Slack").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fleetpatch.config import Config
from fleetpatch.sim import Simulator
from fleetpatch.slack import ThreadLauncher, build_app
from fleetpatch.slack.serve import PATH, SlackServer, make_server
from tests.slack.fake_api import TEAM_ID, FakeSlackApi

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # a test secret, Slack's documented example
BOT_TOKEN = "xoxb-test-token"
CHANNEL = "C0PAYMENTS"
NAMES = {"U0ALICE": "alice", "U0BOB": "bob", "U0DAN": "dan", "U0MALLORY": "mallory"}


def sign(body: str, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Answer:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RunningApp:
    server: SlackServer
    slack: FakeSlackApi
    launcher: ThreadLauncher

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}{PATH}"

    def send(
        self,
        body: str,
        *,
        timestamp: str | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        timestamp = timestamp or str(int(time.time()))
        sent = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature if signature is not None else sign(body, timestamp),
            **(headers or {}),
        }
        sent = {k: v for k, v in sent.items() if v != ""}
        request = urllib.request.Request(self.url, data=body.encode(), headers=sent, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Answer(response.status, response.read().decode())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.read().decode())

    def command(self, user: str, text: str, **kwargs: Any) -> Answer:
        return self.send(command_body(self.slack, user, text), **kwargs)

    def click(self, message: dict[str, Any], user: str, action_id: str, **kwargs: Any) -> Answer:
        return self.send(click_body(self.slack, message, user, action_id), **kwargs)


def command_body(slack: FakeSlackApi, user: str, text: str) -> str:
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fleet",
            "channel_id": CHANNEL,
            "channel_name": "payments-ops",
            "user_id": user,
            "user_name": NAMES.get(user, user.lower()),
            "command": "/fleetpatch",
            "text": text,
            "api_app_id": "A0FLEET",
            "response_url": slack.response_url(f"{NAMES.get(user, user)}-command"),
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    )


def click_body(slack: FakeSlackApi, message: dict[str, Any], user: str, action_id: str) -> str:
    """A block_actions payload for a button of `message` (as chat.postMessage answered it)."""
    button = next(
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": NAMES.get(user, user), "team_id": TEAM_ID},
        "api_app_id": "A0FLEET",
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": CHANNEL,
            "is_ephemeral": False,
        },
        "trigger_id": "12466734323.1395872398",
        "team": {"id": TEAM_ID, "domain": "fleet"},
        "channel": {"id": CHANNEL, "name": "payments-ops"},
        "message": message,
        "response_url": slack.response_url(NAMES.get(user, user)),
        "actions": [
            {
                "action_id": action_id,
                "block_id": "fleetpatch_decision",
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": "1700000001.000000",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


@contextmanager
def running_app(config: Config, slack: FakeSlackApi, sim: Simulator) -> Iterator[RunningApp]:
    launcher = ThreadLauncher()
    app = build_app(
        config,
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        api_url=slack.base_url,
        launcher=launcher,
        now=sim.clock.now,
        poll_interval=0.05,
    )
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningApp(server, slack, launcher)
    finally:
        launcher.join(60)
        server.shutdown()
        server.server_close()


def posted(call: Any) -> dict[str, Any]:
    """A chat.postMessage call as the message Slack would show (ts from the answer)."""
    return {
        "type": "message",
        "ts": call.answer["ts"],
        "text": call.params.get("text", ""),
        "blocks": call.params["blocks"],
    }


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every text of the blocks, for asserting on what people read."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(blocks)
    return "\n".join(found)
