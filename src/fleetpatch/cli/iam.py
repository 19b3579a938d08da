"""`fleetpatch iam-policy`: the least-privilege IAM policy this config needs (docs/iam.md)."""

from __future__ import annotations

import os
import re

import typer

from fleetpatch.cli.context import load_from_context
from fleetpatch.cli.output import print_json, print_note
from fleetpatch.errors import UserError
from fleetpatch.iam.policy import ROLES, Hub, policy_document

ROLE_HELP = (
    "hub: where fleetpatch runs (assumes the target roles; journal table, anchor bucket, "
    "state machine, snapshot bucket, Slack secret). target: the role it assumes in each "
    "environment's account."
)
_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


def register(app: typer.Typer) -> None:
    app.command("iam-policy")(iam_policy_command)


def iam_policy_command(
    ctx: typer.Context,
    env: str | None = typer.Option(
        None, "--env", "-e", help="Only this environment (default: all)."
    ),
    role: str = typer.Option("target", "--role", "-r", help=ROLE_HELP, show_default=True),
    hub_account: str | None = typer.Option(
        None, "--hub-account", metavar="ID", help="The hub's account (default: ${AWS::AccountId})."
    ),
    hub_region: str | None = typer.Option(
        None, "--hub-region", metavar="REGION", help="The hub's Region (default: ${AWS::Region})."
    ),
    as_json: bool = typer.Option(False, "--json", help="Only the policy document."),
) -> None:
    """Print the least-privilege IAM policy the config needs: exact actions, resources scoped
    to the configured accounts, clusters, services and repositories."""
    if role not in ROLES:
        raise UserError(f"--role must be one of {', '.join(ROLES)}, not '{role}'")
    if hub_account is not None and not _ACCOUNT_RE.match(hub_account):
        raise UserError(f"--hub-account must be a 12-digit account id, not '{hub_account}'")
    if hub_region is not None and not _REGION_RE.match(hub_region):
        raise UserError(f"--hub-region must be an AWS Region like 'eu-west-1', not '{hub_region}'")
    config = load_from_context(ctx)
    if env is not None:
        config.environment(env)  # one line naming the configured environments
    # The hub's resources as the Lambda functions see them: the same environment variables.
    hub = Hub.from_config(config, os.environ, account_id=hub_account, region=hub_region)
    document = policy_document(config, role, env, hub=hub)
    if not as_json:
        scope = f"environment {env}" if env else "every environment"
        placeholders = (
            "; ${AWS::...} are CloudFormation pseudo parameters (Fn::Sub), or give --hub-account "
            "and --hub-region"
            if role == "hub" and (hub_account is None or hub_region is None)
            else ""
        )
        print_note(f"# IAM policy for the {role} role, {scope} (docs/iam.md){placeholders}")
    print_json(document)
