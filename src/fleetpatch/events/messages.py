"""What the team reads in Slack about an event: new critical findings in a pushed image, and
a finding in a digest that runs. Pure: actions in, the Slack app's `Reply` out (Block Kit
blocks and the fallback text), built with notify.blocks' escaping and limits."""

from __future__ import annotations

from fleetpatch.core.images import short_digest
from fleetpatch.events.decide import PostCriticals, PostFinding
from fleetpatch.notify.blocks import (
    SECTION_MAX,
    code,
    escape,
    fields,
    header,
    lines_within,
    section,
    within_limit,
)
from fleetpatch.slack.blocks import Reply


def criticals_message(action: PostCriticals) -> Reply:
    short = short_digest(action.digest)
    what = (
        ", ".join(action.vulnerabilities)
        if action.vulnerabilities
        else (f"{action.count} counted by the scan (details unreadable)")
    )
    envs = ", ".join(action.environments)
    title = f"{action.sidecar} {short}: new critical findings, not rolled out"
    blocks = [
        header(f":no_entry: {title}"),
        fields(
            [
                f"*Digest*\n{code(action.digest)}",
                f"*Not started in*\n{escape(envs)}",
            ]
        ),
        section(f"*Critical, not in what runs now*\n{escape(what)}"),
        section(
            "Nothing moved. Push a fixed image to the moving tag, or roll this one out by hand "
            "(`fleetpatch rollout --env ENV`) once its findings are accepted."
        ),
    ]
    text = f"{title}: {what}; not started in {envs}"
    return Reply(text, within_limit(blocks))


def finding_message(action: PostFinding) -> Reply:
    short = short_digest(action.digest)
    title = (
        f"{action.environment}: {action.vulnerability_id} ({action.severity.lower()}) in "
        f"{action.sidecar} {short}"
    )
    count = len(action.services)
    services = lines_within([f"• {code(s)}" for s in action.services], SECTION_MAX - 100)
    deadline = action.deadline or "no patch clock for it: no fixed image is known yet"
    blocks = [
        header(f":warning: {title}"),
        section(f"*{escape(action.title)}*"),
        section(f"*{count} service(s) run it*\n{services}"),
        section(f"*Deadline*\n{escape(deadline)}"),
    ]
    text = f"{title}: {count} service(s) run it; {deadline}"
    return Reply(text, within_limit(blocks))
