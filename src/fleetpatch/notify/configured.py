"""The notifier a run gets from `[notifications]` (config/notifications.py) and the environment.

    notifier = configured_notifier(config, RunContext(rollout_id, "prod", "alice"))  # or None
    checks += notification_checks(config, "prod")     # pre-flight: said before anything moves

A channel configured without SLACK_BOT_TOKEN is a pre-flight warning (one line naming the
variable), never a refusal: a missing notification must not block an urgent rollback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from fleetpatch.config import Config
from fleetpatch.notify.notifier import Notifier
from fleetpatch.notify.run import RunContext
from fleetpatch.notify.slack import API_URL_VARIABLE, TOKEN_VARIABLE, SlackPoster, slack_client
from fleetpatch.rollout.preflight import Check


def _token(environ: Mapping[str, str]) -> str | None:
    return environ.get(TOKEN_VARIABLE, "").strip() or None


def configured_notifier(
    config: Config, context: RunContext, environ: Mapping[str, str] | None = None
) -> Notifier | None:
    """A Slack notifier for the run's environment; None when none is configured, or when the
    token is missing (pre-flight said so)."""
    environ = os.environ if environ is None else environ
    channel = config.notifications.slack_channel(context.environment)
    token = _token(environ)
    if channel is None or token is None:
        return None
    client = slack_client(token, environ.get(API_URL_VARIABLE))
    return Notifier(context, SlackPoster(client, channel))


def notification_checks(
    config: Config, environment: str, environ: Mapping[str, str] | None = None
) -> list[Check]:
    environ = os.environ if environ is None else environ
    channel = config.notifications.slack_channel(environment)
    if channel is None:
        return []
    if _token(environ) is None:
        message = (
            f"notifications: [notifications.slack] posts {environment}'s runs to {channel}, but "
            f"{TOKEN_VARIABLE} is not set: this run posts nothing to Slack (export the app's "
            "bot token, xoxb-...)"
        )
        return [Check("notifications", "warn", message)]
    return [Check("notifications", "ok", f"notifications: Slack channel {channel}")]
