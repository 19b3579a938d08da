"""`fleetpatch requests | approve | reject | cancel`: change requests for teams without Slack.

The CLI user is the IAM identity the request's environment's credentials reach
(sts:GetCallerIdentity), as the journal and the report name them. Four eyes: the requester's
identity can't approve their own request, so each person needs credentials that name them
(an IAM Identity Center session, an IAM user), not a shared role session.
"""

from __future__ import annotations

import typer

from fleetpatch.approvals import ApprovalDesk, ChangeRequest, Principal, iam_principal
from fleetpatch.approvals.requests import RequestState
from fleetpatch.aws.session import AwsSessions
from fleetpatch.cli import context
from fleetpatch.cli.output import console, print_json
from fleetpatch.cli.tables import Column, FitTable
from fleetpatch.config import Config
from fleetpatch.core.images import short_digest
from fleetpatch.journal import open_journal


def register(app: typer.Typer) -> None:
    app.command("requests")(requests_command)
    app.command("approve")(approve_command)
    app.command("reject")(reject_command)
    app.command("cancel")(cancel_command)


REQUEST_COLUMNS = (
    Column("request", name=True),
    Column("environment"),
    Column("action"),
    Column("state"),
    Column("target"),
    Column("approvals"),
    Column("requested by", drop=2),
    Column("expires", drop=1),
)


def requests_command(
    ctx: typer.Context,
    env: str | None = typer.Option(None, "--env", "-e", help="Only this environment."),
    show_all: bool = typer.Option(False, "--all", help="Closed requests too."),
    as_json: bool = typer.Option(False, "--json", help="Every field, as JSON."),
) -> None:
    """Change requests: open ones (pending, approved) unless --all."""
    config = context.load_from_context(ctx)
    if env is not None:
        config.environment(env)  # a typo is an error, not an empty list
    with open_journal(config.journal, clock=context.clock(ctx)) as journal:
        found = ApprovalDesk(journal, config, now=context.clock(ctx)).requests(env)
    shown = [r for r in found if show_all or r.is_open]
    if as_json:
        print_json([r.to_json() for r in shown])
        return
    if not shown:
        console.print("no open requests" if not show_all else "no requests", highlight=False)
        return
    table = FitTable("requests", REQUEST_COLUMNS)
    for r in shown:
        table.add_row(
            r.id,
            r.environment,
            r.action,
            r.state.value,
            f"{r.target_label} {short_digest(r.target_digest)}",
            f"{len(r.approvals)}/{r.required}",
            r.requester,
            r.expires_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table.render(console))


def approve_command(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request, as `fleetpatch requests` lists it."),
    as_json: bool = typer.Option(False, "--json", help="The request afterwards, as JSON."),
) -> None:
    """Approve a change request (not your own): bound to its target digest and plan."""
    config = context.load_from_context(ctx)
    with open_journal(config.journal, clock=context.clock(ctx)) as journal:
        desk = ApprovalDesk(journal, config, now=context.clock(ctx))
        request = desk.get(request_id)
        who = _identity(config, request.environment)
        after = desk.approve(request_id, who)
    _say(after, as_json, f"approved by {who.display}")


def reject_command(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request, as `fleetpatch requests` lists it."),
    reason: str = typer.Option("", "--reason", help="Why, for the journal."),
    as_json: bool = typer.Option(False, "--json", help="The request afterwards, as JSON."),
) -> None:
    """Reject a change request: it is closed; a new request is needed."""
    _close(ctx, request_id, reason, as_json, "rejected")


def cancel_command(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request, as `fleetpatch requests` lists it."),
    reason: str = typer.Option("", "--reason", help="Why, for the journal."),
    as_json: bool = typer.Option(False, "--json", help="The request afterwards, as JSON."),
) -> None:
    """Withdraw a change request (its requester or an approver)."""
    _close(ctx, request_id, reason, as_json, "cancelled")


def _close(ctx: typer.Context, request_id: str, reason: str, as_json: bool, how: str) -> None:
    config = context.load_from_context(ctx)
    with open_journal(config.journal, clock=context.clock(ctx)) as journal:
        desk = ApprovalDesk(journal, config, now=context.clock(ctx))
        who = _identity(config, desk.get(request_id).environment)
        close = desk.reject if how == "rejected" else desk.cancel
        after = close(request_id, who, reason)
    _say(after, as_json, how)


def _identity(config: Config, environment: str) -> Principal:
    """Who runs this command: the IAM identity of the environment's credentials."""
    with context.aws_errors(environment):
        return iam_principal(AwsSessions(config).get(environment).caller_arn())


def _say(request: ChangeRequest, as_json: bool, what: str) -> None:
    if as_json:
        print_json(request.to_json())
        return
    progress = f"{len(request.approvals)} of {request.required} approval(s)"
    line = f"{request.id} ({request.action} of {request.environment}): {what}; {progress}"
    if request.state is RequestState.APPROVED:
        line += f"; run `fleetpatch {request.action}` for {request.environment} to start it"
    console.print(line, highlight=False, soft_wrap=True)
