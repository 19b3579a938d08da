"""The Slack app's Block Kit messages. Pure: plans, requests, decisions, refusals, status.

Every builder returns a `Reply`: the blocks and the fallback text Slack shows in notifications
and to screen readers. Slack has no table block, so the plan is a monospaced code block of
short columns (wave, service, digest now), which stays readable on a phone; everything that
comes from outside (service names, user names, reasons) is escaped (notify/blocks.py keeps
each text within Slack's limits).

The Approve / Reject buttons carry the request id as their value; once decided they are
replaced (`decided`) by a line saying who decided and when, keeping the rest of the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleetpatch.approvals import ChangeRequest
from fleetpatch.compliance.clock import OpenDeadline, format_deadline
from fleetpatch.core.images import short_digest
from fleetpatch.notify.blocks import (
    SECTION_MAX,
    Block,
    code,
    context,
    escape,
    fields,
    header,
    lines_within,
    section,
    within_limit,
)
from fleetpatch.rollout.plan import Plan

APPROVE = "fleetpatch_approve"
REJECT = "fleetpatch_reject"
ACTIONS_BLOCK = "fleetpatch_decision"
DECISION_BLOCK = "fleetpatch_decided"
# A service name this long is cut in the plan's table (the full name is in the journal).
SERVICE_WIDTH = 28
FIXES_SHOWN = 8


@dataclass(frozen=True)
class Reply:
    text: str
    blocks: tuple[Block, ...]

    def arguments(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": list(self.blocks)}


def minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def mention(user_id: str) -> str:
    """A Slack user as Slack shows them (`<@U…>` renders as @name for everyone); anyone else
    (an IAM identity: the events handler asks for approvals as its role) as plain text."""
    if re.fullmatch(r"[UW][A-Z0-9]+", user_id) is None:
        return escape(user_id)
    return f"<@{escape(user_id)}>"


# --- plans and requests ---------------------------------------------------------------------


def plan_table(the_plan: Plan, limit: int = SECTION_MAX - 100) -> str:
    """The waves as a monospaced table: `wave  service  running now`."""
    rows = [("wave", "service", "running now")]
    for wave in the_plan.waves:
        label = f"{wave.index}{'c' if wave.canary else ''}"
        for step in wave.services:
            name = step.key.rpartition("/")[2]
            if len(name) > SERVICE_WIDTH:
                name = name[: SERVICE_WIDTH - 1] + "…"
            rows.append((label, name, short_digest(step.digest_before, prefix=False)))
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    body = lines_within(lines, limit - 8, "… and {n} more service(s)")
    return "```\n" + escape(body).replace("```", "'''") + "\n```"


def fixes_text(fixes: Sequence[OpenDeadline]) -> str:
    """The findings the plan's services run now and the target fixes, nearest deadline first."""
    if not fixes:
        return "*Fixes*\nno open finding with a deadline on these services"
    lines = [f"• {escape(format_deadline(d).partition(': ')[2])}" for d in fixes[:FIXES_SHOWN]]
    if len(fixes) > FIXES_SHOWN:
        lines.append(f"and {len(fixes) - FIXES_SHOWN} more")
    return "*Fixes*\n" + lines_within(lines, SECTION_MAX - 20)


def plan_message(
    action: str,
    the_plan: Plan,
    *,
    requested_by: str,
    fixes: Sequence[OpenDeadline] = (),
    source: str | None = None,
    request: ChangeRequest | None = None,
    status: str | None = None,
) -> Reply:
    """The plan of `action` (rollout, promote, rollback); with Approve / Reject buttons when
    `request` waits for approval; `status` (what happens next) in place of the buttons."""
    target = the_plan.target
    env = the_plan.environment
    what = f"{action.capitalize()} {env}"
    if source:
        what = f"Promote {source} → {env}"
    title = f"{what}: {the_plan.sidecar} → {target.label}"
    moved = len(the_plan.services)
    blocks: list[Block] = [
        header(title),
        fields(
            [
                f"*Environment*\n{escape(env)}",
                f"*Requested by*\n{mention(requested_by)}",
                f"*Target version*\n{escape(target.label)}",
                f"*Target digest*\n{code(target.digest)}",
                f"*Chosen by*\n{escape(target.chosen_by)} (mode {escape(the_plan.mode)})",
                f"*Approvals*\n{_approvals(request)}",
            ]
        ),
        section(
            f"*{moved} service(s) in {len(the_plan.waves)} wave(s)* · "
            f"{len(the_plan.done)} already on the target · {len(the_plan.skipped)} skipped · "
            f"halts when a wave has more than {the_plan.failure_budget} failure(s)"
        ),
    ]
    if the_plan.waves:
        blocks.append(section(plan_table(the_plan)))
    blocks.append(section(fixes_text(fixes)))
    notes = [f"skipped {s.key}: {s.reason}" for s in the_plan.skipped] + list(the_plan.notes)
    if notes:
        blocks.append(section(lines_within([f"• {escape(n)}" for n in notes], SECTION_MAX)))
    if request is not None:
        blocks.append(
            context([f"request {code(request.id)} · expires {minute(request.expires_at)}"])
        )
    if request is not None and request.is_open and status is None:
        blocks.append(decision_buttons(request))
    elif status is not None:
        blocks.append(decision_line(status))
    text = (
        f"{title} ({target.digest}): {moved} service(s) in {len(the_plan.waves)} wave(s), "
        f"requested by {requested_by}"
    )
    if request is not None:
        text += f"; request {request.id}, {_approvals(request)}"
    return Reply(text, within_limit(blocks))


def _approvals(request: ChangeRequest | None) -> str:
    if request is None:
        return "none needed"
    return f"{len(request.approvals)} of {request.required}"


def decision_buttons(request: ChangeRequest) -> Block:
    """Approve / Reject, each behind a confirm dialog that says what it decides."""
    what = f"{request.action} of {request.environment} to {request.target_label}"
    digest = short_digest(request.target_digest)
    return {
        "type": "actions",
        "block_id": ACTIONS_BLOCK,
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": request.id,
                "confirm": _confirm(
                    "Approve?",
                    f"Approve the {what} ({digest})? It starts once approved.",
                    "Approve",
                ),
            },
            {
                "type": "button",
                "action_id": REJECT,
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": request.id,
                "confirm": _confirm("Reject?", f"Reject the {what} ({digest})?", "Reject"),
            },
        ],
    }


def _confirm(title: str, text: str, yes: str) -> dict[str, Any]:
    # Slack's confirmation dialog object: title 100, text 300, buttons 30 characters at most.
    return {
        "title": {"type": "plain_text", "text": title[:100]},
        "text": {"type": "plain_text", "text": text[:300]},
        "confirm": {"type": "plain_text", "text": yes[:30]},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def decision_line(text: str) -> Block:
    return {
        "type": "section",
        "block_id": DECISION_BLOCK,
        "text": {"type": "mrkdwn", "text": text[:SECTION_MAX]},
    }


def approved_line(request: ChangeRequest) -> str:
    """`:white_check_mark: Approved by @bob at 2026-12-02 09:10 UTC (1 of 1)`, every approver."""
    people = ", ".join(f"{mention(_user(d.actor))} at {minute(d.at)}" for d in request.approvals)
    count = f"{len(request.approvals)} of {request.required}"
    if request.is_open and len(request.approvals) < request.required:
        return f":hourglass_flowing_sand: Approved by {people} ({count}): waiting for more"
    return f":white_check_mark: Approved by {people} ({count})"


def rejected_line(request: ChangeRequest) -> str:
    closed = request.closed_by
    who = mention(_user(closed.actor)) if closed else "someone"
    when = f" at {minute(closed.at)}" if closed else ""
    reason = f": {escape(request.reason)}" if request.reason else ""
    return f":no_entry: Rejected by {who}{when}{reason}. Nothing was changed."


def decided(blocks: Iterable[Block], line: str, *, keep_buttons: bool = False) -> tuple[Block, ...]:
    """The request message with its buttons (and any earlier decision line) replaced by
    `line`; the buttons stay after it while more approvals are needed."""
    kept = [b for b in blocks if b.get("block_id") not in (ACTIONS_BLOCK, DECISION_BLOCK)]
    buttons = [b for b in blocks if b.get("block_id") == ACTIONS_BLOCK]
    result = [*kept, decision_line(line)]
    if keep_buttons:
        result.extend(buttons)
    return within_limit(result)


def _user(actor: str) -> str:
    return actor.removeprefix("slack:")


# --- short answers --------------------------------------------------------------------------


def refusal(message: str) -> Reply:
    """An ephemeral no, saying why and what to do."""
    return Reply(message, (section(f":no_entry_sign: {escape(message)}"),))


def notice(message: str) -> Reply:
    return Reply(message, (section(escape(message)),))


def usage(problem: str, help_text: str) -> Reply:
    lead = f":grey_question: {escape(problem)}\n" if problem else ""
    return Reply(
        (problem + "\n" if problem else "") + help_text,
        (section(f"{lead}*Commands*\n{help_text}"),),
    )


def status_message(lines: Sequence[str], deadlines: Sequence[str], taken_at: str) -> Reply:
    """`/fleetpatch status`: one line per environment x sidecar, the deadlines first."""
    blocks: list[Block] = [header(f"Status at {taken_at}")]
    if deadlines:
        shown = [f"• {escape(d)}" for d in deadlines]
        blocks.append(section("*Patch deadlines*\n" + lines_within(shown, SECTION_MAX - 30)))
    blocks.append(section(lines_within([escape(line) for line in lines], SECTION_MAX)))
    return Reply("\n".join([*deadlines, *lines]), within_limit(blocks))
