"""`fleetpatch slack serve`: run the Slack app (docs/slack.md).

The bot token and signing secret come from SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or from
the Secrets Manager secret FLEETPATCH_SLACK_SECRET names (fleetpatch/secrets.py; never from an
option: options show in `ps` and shell history); SLACK_API_URL overrides the Slack Web API
base URL (a proxy; a fake Slack in tests). A missing one is one line naming it, exit 2.
"""

from __future__ import annotations

import logging
import os

import typer

from fleetpatch.cli import context
from fleetpatch.cli.output import console
from fleetpatch.secrets import slack_secrets

slack_app = typer.Typer(help="Run the Slack app: /fleetpatch and approvals.", no_args_is_help=True)

API_URL = "SLACK_API_URL"


def register(app: typer.Typer) -> None:
    app.add_typer(slack_app, name="slack")


@slack_app.command("serve")
def serve_command(
    ctx: typer.Context,
    port: int = typer.Option(3000, "--port", "-p", min=0, max=65535, help="Port to listen on."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."
    ),
) -> None:
    """Serve the Slack app over HTTP at /slack/events (behind a TLS proxy)."""
    from fleetpatch.slack import build_app
    from fleetpatch.slack.serve import PATH, make_server

    secrets = slack_secrets()
    secrets.require("bot_token", "signing_secret")
    assert secrets.bot_token is not None and secrets.signing_secret is not None  # required
    config = context.load_from_context(ctx)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = build_app(
        config,
        bot_token=secrets.bot_token,
        signing_secret=secrets.signing_secret,
        api_url=os.environ.get(API_URL) or None,
        now=context.clock(ctx),
    )
    server = make_server(app, host, port)
    console.print(
        f"fleetpatch Slack app on http://{host}:{server.port}{PATH} (Ctrl-C stops it)",
        highlight=False,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
