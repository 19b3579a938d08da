"""The notifier a run gets from `[notifications]` (config/notifications.py) and the environment.

    notifier = configured_notifier(config, RunContext(rollout_id, "prod", "alice"))  # or None
    checks += notification_checks(config, "prod")     # pre-flight: said before anything moves

The bot token comes from SLACK_BOT_TOKEN or the Secrets Manager secret FLEETPATCH_SLACK_SECRET
names (fleetpatch/secrets.py). A channel configured without a token is a pre-flight warning
(one line naming what is missing), never a refusal: a missing notification must not block an
urgent rollback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from fleetpatch.config import Config
from fleetpatch.errors import UserError
from fleetpatch.notify.notifier import Notifier
from fleetpatch.notify.run import RunContext
from fleetpatch.notify.slack import API_URL_VARIABLE, SlackPoster, slack_client
from fleetpatch.rollout.preflight import Check
from fleetpatch.secrets import slack_secrets


def _token(environ: Mapping[str, str]) -> tuple[str | None, str]:
    """(the bot token, or None and why not)."""
    try:
        secrets = slack_secrets(environ)
        secrets.require("bot_token")
    except UserError as exc:
        return None, str(exc)
    return secrets.bot_token, ""


def configured_notifier(
    config: Config, context: RunContext, environ: Mapping[str, str] | None = None
) -> Notifier | None:
    """A Slack notifier for the run's environment; None when none is configured, or when the
    token is missing (pre-flight said so)."""
    environ = os.environ if environ is None else environ
    channel = config.notifications.slack_channel(context.environment)
    if channel is None:
        return None
    token, _ = _token(environ)
    if token is None:
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
    token, why = _token(environ)
    if token is None:
        message = (
            f"notifications: [notifications.slack] posts {environment}'s runs to {channel}, but "
            f"this run posts nothing to Slack: {why}"
        )
        return [Check("notifications", "warn", message)]
    return [Check("notifications", "ok", f"notifications: Slack channel {channel}")]
