"""Saying things in Slack: messages, updates, ephemeral answers, files; and who a user is.

Every call comes after the decision it reports is in the journal, so a Slack error loses a
message, never a decision: it is one line in the log (logger `fleetpatch.slack`) naming
Slack's error, and the caller goes on. Rate limits are retried after Slack's Retry-After by
the client (notify/slack.py `slack_client`: RateLimitErrorRetryHandler). The bot token is
only in the client's Authorization header, never in a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from fleetpatch.approvals import Principal, slack_principal
from fleetpatch.slack.blocks import Reply

log = logging.getLogger("fleetpatch.slack")

Respond = Callable[..., Any]


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
    return f"{type(exc).__name__}: {exc}"


class Replies:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(self, channel: str, reply: Reply, thread_ts: str | None = None) -> str | None:
        """A message in `channel` (a reply in `thread_ts`); its ts, None if Slack refused."""
        arguments: dict[str, Any] = {"channel": channel, **reply.arguments()}
        if thread_ts is not None:
            arguments["thread_ts"] = thread_ts
        try:
            answer = self.client.chat_postMessage(**arguments, unfurl_links=False)
        except Exception as exc:
            log.warning("slack: chat.postMessage to %s failed (%s)", channel, _error(exc))
            return None
        return str(answer.get("ts") or "") or None

    def update(self, channel: str, ts: str, reply: Reply) -> bool:
        try:
            self.client.chat_update(channel=channel, ts=ts, **reply.arguments())
        except Exception as exc:
            log.warning("slack: chat.update of %s in %s failed (%s)", ts, channel, _error(exc))
            return False
        return True

    def ephemeral(
        self, respond: Respond | None, channel: str | None, user: str, reply: Reply
    ) -> None:
        """Only `user` sees it: through the interaction's response_url when there is one,
        else chat.postEphemeral."""
        if respond is not None:
            try:
                respond(**reply.arguments(), response_type="ephemeral", replace_original=False)
                return
            except Exception as exc:
                log.warning("slack: the response_url answer failed (%s)", _error(exc))
        if channel is None:
            return
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, **reply.arguments())
        except Exception as exc:
            log.warning("slack: chat.postEphemeral to %s failed (%s)", channel, _error(exc))

    def upload(
        self,
        channel: str,
        filename: str,
        content: str,
        *,
        title: str,
        comment: str,
        thread_ts: str | None = None,
    ) -> bool:
        """A file in the channel (or thread): files.getUploadURLExternal, the upload, then
        files.completeUploadExternal (slack_sdk's files_upload_v2)."""
        try:
            self.client.files_upload_v2(
                channel=channel,
                filename=filename,
                content=content,
                title=title,
                initial_comment=comment,
                thread_ts=thread_ts,
            )
        except Exception as exc:
            log.warning("slack: uploading %s to %s failed (%s)", filename, channel, _error(exc))
            return False
        return True

    def principal(self, user_id: str, name: str, groups: Iterable[str]) -> Principal:
        """The Slack user, with those of `groups` (user group ids S…, as a policy names them)
        they are a member of now (usergroups.users.list, scope usergroups:read). A group
        that can't be read counts as not theirs: the refusal then names the policy."""
        member_of = []
        for group in dict.fromkeys(groups):
            try:
                answer = self.client.usergroups_users_list(usergroup=group)
            except Exception as exc:
                log.warning(
                    "slack: could not read the members of user group %s (%s): it grants nothing "
                    "until it can (scope usergroups:read)",
                    group,
                    _error(exc),
                )
                continue
            if user_id in (answer.get("users") or ()):
                member_of.append(group)
        return slack_principal(user_id, name, member_of)
