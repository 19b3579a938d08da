"""`fleetpatch slack socket`: the Slack app over Socket Mode (docs/slack.md).

No public URL: the app opens a WebSocket to Slack (apps.connections.open with an app-level
token, `xapp-...`, scope connections:write) and receives commands and button clicks on it.
The same Bolt app as `fleetpatch slack serve` (build_app), run by Bolt's built-in Socket Mode
adapter (slack_sdk's own WebSocket client: no extra dependency). Secrets from
fleetpatch.secrets: SLACK_BOT_TOKEN and SLACK_APP_TOKEN (or the Secrets Manager secret named
by FLEETPATCH_SLACK_SECRET); no signing secret is needed, Slack authenticates the socket.
"""

from __future__ import annotations

import logging
import os

import typer

from fleetpatch.cli import context
from fleetpatch.cli.output import console
from fleetpatch.secrets import slack_secrets

API_URL = "SLACK_API_URL"


def register() -> None:
    from fleetpatch.cli.slack import slack_app

    slack_app.command("socket")(socket_command)


def socket_command(ctx: typer.Context) -> None:
    """Run the Slack app over Socket Mode (no public URL; needs SLACK_APP_TOKEN)."""
    # Secrets before the config: a missing token is the one line, whatever else is wrong.
    secrets = slack_secrets()
    secrets.require("bot_token", "app_token")
    assert secrets.bot_token is not None and secrets.app_token is not None
    config = context.load_from_context(ctx)

    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from fleetpatch.slack import build_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = build_app(
        config,
        bot_token=secrets.bot_token,
        # Socket Mode requests are not signed (Bolt skips the check for them).
        signing_secret=secrets.signing_secret or "",
        api_url=os.environ.get(API_URL) or None,
        now=context.clock(ctx),
    )
    handler = SocketModeHandler(app, app_token=secrets.app_token, web_client=app.client)
    console.print("fleetpatch Slack app in Socket Mode (Ctrl-C stops it)", highlight=False)
    handler.start()  # type: ignore[no-untyped-call]  # Bolt leaves start() untyped
