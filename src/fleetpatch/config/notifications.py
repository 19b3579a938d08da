"""`[notifications]`: where each rollout, promote and rollback is announced (fleetpatch.notify).

    [notifications.slack]
    channel = "C0123ABCD"                  # every environment
    channels = { prod = "C0PRODOPS" }      # per environment, instead of `channel`

The bot token is never in the file: it comes from the environment (SLACK_BOT_TOKEN), like
every other secret fleetpatch uses.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

from fleetpatch.config.values import Expect, Name, StrictModel

# Slack's conversation ids: C (public), G (private, older workspaces), D (direct message),
# then upper-case letters and digits. Ids, not names: a renamed channel keeps its id, and
# replies in a thread are addressed by id.
_CHANNEL_RE = r"^[CGD][A-Z0-9]{6,}$"
CHANNEL_EXPECT = (
    "a Slack channel ID like 'C0123ABCD' (in Slack: the channel's details, at the bottom)"
)

SlackChannel = Annotated[str, Strict(), Field(pattern=_CHANNEL_RE), Expect(CHANNEL_EXPECT)]


class SlackNotifications(StrictModel):
    """`[notifications.slack]`: the channel a run's start is posted to; the rest follows in
    that message's thread."""

    channel: SlackChannel | None = None
    channels: Annotated[
        dict[Name, SlackChannel],
        Expect('a table of environment = channel ID, e.g. { prod = "C0PRODOPS" }'),
    ] = Field(default_factory=dict)

    def channel_for(self, environment: str) -> str | None:
        """The environment's own channel, else `channel`; None: this environment is quiet."""
        return self.channels.get(environment, self.channel)


class Notifications(StrictModel):
    """`[notifications]`: nothing is posted anywhere unless a table here says where."""

    slack: SlackNotifications | None = None

    def slack_channel(self, environment: str) -> str | None:
        return self.slack.channel_for(environment) if self.slack is not None else None
