"""Posting a run's messages to Slack with slack_sdk's WebClient (chat.postMessage).

    client = slack_client(os.environ["SLACK_BOT_TOKEN"], os.environ.get("SLACK_API_URL"))
    poster = SlackPoster(client, "C0123ABCD")                     # a new thread per run
    poster = SlackPoster(client, "C0123ABCD", thread_ts="1700000000.000100")  # under a message

The start is a message in the channel (or a reply in the given thread); everything after it is
a reply in its thread; the end (and a run that stopped before its end) is also sent to the
channel (`reply_broadcast`), so the channel shows each run's start and outcome and the thread
holds the detail (docs/slack.md, "Notifications").

Slack's errors never reach the rollout: a rate limit is retried after its Retry-After
(RateLimitErrorRetryHandler), and any other error is one line in the log naming the error and
the fix. An error that the next message would meet again (a wrong channel, a revoked token) is
said once, and the rest of the run posts nothing. The token is only ever in the client's
Authorization header: it is in no message, log line or exception text of ours.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from fleetpatch.notify.messages import Message

log = logging.getLogger("fleetpatch.notify")

TOKEN_VARIABLE = "SLACK_BOT_TOKEN"
API_URL_VARIABLE = "SLACK_API_URL"
DEFAULT_API_URL = "https://slack.com/api/"
# Seconds per Web API call; the rollout never waits for it (notifier.py posts in the background).
TIMEOUT_SECONDS = 10
RATE_LIMIT_RETRIES = 2
BROADCAST = ("end", "stopped")

# Errors every later call would meet too: said once, then the run posts nothing more.
_AUTH = (
    "Slack refused the bot token in SLACK_BOT_TOKEN ({error}): reinstall the app to the "
    "workspace and export its Bot User OAuth Token (xoxb-...)"
)
_FIXES = {
    "channel_not_found": (
        "Slack has no channel {channel} the app can see (channel_not_found): set "
        "[notifications.slack] channel to the channel's ID; for a private channel, invite the "
        "app first"
    ),
    "not_in_channel": (
        "the Slack app is not in channel {channel} (not_in_channel): invite it "
        "(/invite @app-name in the channel), or give it the chat:write.public scope"
    ),
    "is_archived": (
        "Slack channel {channel} is archived (is_archived): unarchive it or configure another "
        "channel in [notifications.slack]"
    ),
    "missing_scope": (
        "the Slack bot token lacks the chat:write scope (missing_scope): add it under OAuth & "
        "Permissions and reinstall the app"
    ),
    "token_revoked": _AUTH,
    "token_expired": _AUTH,
    "invalid_auth": _AUTH,
    "not_authed": _AUTH,
    "account_inactive": _AUTH,
}


def slack_client(token: str, base_url: str | None = None) -> WebClient:
    """A WebClient that retries rate limits after Slack's Retry-After and a dropped connection
    once. `base_url`: SLACK_API_URL (a proxy, or a fake Slack in tests), Slack's own if None."""
    url = (base_url or "").strip() or DEFAULT_API_URL
    return WebClient(
        token=token,
        base_url=url if url.endswith("/") else url + "/",
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


class SlackPoster:
    """Posts a run's messages as one thread in `channel`; under `thread_ts` if given (the
    Slack app posts a run's progress under the request it came from)."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str | None = None) -> None:
        self._client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self._silenced = False

    def post(self, message: Message) -> None:
        if self._silenced:
            return
        arguments: dict[str, Any] = {
            "channel": self.channel,
            "text": message.text,
            "blocks": list(message.blocks),
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if self.thread_ts is not None:
            arguments["thread_ts"] = self.thread_ts
            arguments["reply_broadcast"] = message.kind in BROADCAST
        answer = self._call(message, arguments)
        if answer is not None and self.thread_ts is None:
            # The run's thread hangs off its first message; replies address the channel by
            # the ID Slack answers with.
            self.thread_ts = str(answer["ts"])
            self.channel = str(answer.get("channel") or self.channel)

    def _call(self, message: Message, arguments: dict[str, Any]) -> dict[str, Any] | None:
        try:
            response = self._client.chat_postMessage(**arguments)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            return self._refused(message, arguments, error)
        except Exception as exc:  # the network: refused, reset, timed out, a bad SLACK_API_URL
            log.warning(
                "notifications: could not reach Slack for the %s message (%s: %s): check the "
                "network, or %s if set",
                message.kind,
                type(exc).__name__,
                exc,
                API_URL_VARIABLE,
            )
            return None
        return dict(response.data) if isinstance(response.data, dict) else None

    def _refused(
        self, message: Message, arguments: dict[str, Any], error: str
    ) -> dict[str, Any] | None:
        fix = _FIXES.get(error)
        if fix is not None:
            self._silenced = True
            log.warning("notifications: " + fix.format(error=error, channel=self.channel))
            return None
        if error in ("invalid_blocks", "invalid_blocks_format") and "blocks" in arguments:
            # Ours to fix, not the team's to miss: the same message as plain text.
            log.warning("notifications: Slack refused the %s message's blocks", message.kind)
            plain = {k: v for k, v in arguments.items() if k != "blocks"}
            return self._call(message, plain)
        if error == "ratelimited":
            log.warning(
                "notifications: Slack still rate limits chat.postMessage after %d retries: the "
                "%s message is dropped, the next ones are tried",
                RATE_LIMIT_RETRIES,
                message.kind,
            )
            return None
        log.warning("notifications: Slack refused the %s message (%s)", message.kind, error)
        return None
