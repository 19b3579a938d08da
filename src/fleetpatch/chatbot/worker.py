"""The rollout a Chatbot command started, run by the asynchronous invocation it handed off.

The same gate as every other entry point, checked again here rather than trusted from the
reply: the account, the lock, the plan for the digest the reply announced, `requires`, the
pre-flight checks and the approval policy (Runner.authorize), then the rollout itself: here,
or, when the stack names the rollout state machine, handed to it (workflow/handoff.py). Its
journal actor is the function's IAM identity, with a `note` saying it came via AWS Chatbot.

Lambda retries a failed asynchronous invocation: a run that raised is run again and, as any
rollout, converges from what ECS shows. A refusal (UserError) is an answer, not a failure:
it is logged as one line and returned, so Lambda does not retry it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fleetpatch.errors import EnvironmentFailure, UserError
from fleetpatch.journal import EntryKind, open_journal
from fleetpatch.rollout.runner import Runner

if TYPE_CHECKING:
    from fleetpatch.chatbot.commands import Chatbot

log = logging.getLogger(__name__)


def run_job(bot: Chatbot, job: Mapping[str, Any]) -> dict[str, Any]:
    if job.get("fleetpatch_job") != "rollout":
        return _refused(f"unknown job {job.get('fleetpatch_job')!r}")
    environment, digest = job.get("environment"), job.get("digest")
    rollout_id, sidecar = job.get("rollout_id"), job.get("sidecar")
    if not all(isinstance(v, str) and v for v in (environment, digest, rollout_id, sidecar)):
        return _refused("a rollout job names environment, sidecar, digest and rollout_id")
    assert isinstance(environment, str) and isinstance(digest, str)
    assert isinstance(rollout_id, str) and isinstance(sidecar, str)
    try:
        return _rollout(bot, environment, sidecar, digest, rollout_id)
    except (UserError, EnvironmentFailure) as exc:
        return _refused(str(exc), rollout_id)


def _rollout(
    bot: Chatbot, environment: str, sidecar: str, digest: str, rollout_id: str
) -> dict[str, Any]:
    from fleetpatch.chatbot.commands import VIA
    from fleetpatch.cli.rollout import build_plan
    from fleetpatch.rollout.promote import check_prerequisites

    config = bot.config
    with open_journal(config.journal, clock=bot.now) as journal:
        runner = Runner(
            config,
            journal,
            clock=bot.clock,
            now=bot.now,
            options=bot.options,
            handoff=bot.handoff,
        )
        runner.actor = bot.identity(environment, runner.sessions)
        if config.environment(environment).approvals.needed("rollout"):
            # The policy changed since the reply: Chatbot still can't approve.
            raise UserError(f"rollout of {environment} now needs approval: not started")
        runner.confirm_accounts([environment, *config.environment(environment).requires])
        with runner.locked(environment) as lock:
            the_plan = build_plan(config, environment, sidecar, digest, None, "tag", bot.now)
            if the_plan.target.tag is None and the_plan.waves:
                raise UserError(
                    f"{environment}: the moving tag no longer points to {digest}: not started"
                )
            check_prerequisites(runner, environment, config.sidecar(sidecar), digest)
            if the_plan.waves:
                runner.preflight(the_plan)
            runner.authorize("rollout", the_plan, rollout_id)
            runner.record(
                EntryKind.NOTE,
                environment,
                rollout_id=rollout_id,
                target_digest=digest,
                details={"via": VIA, "note": f"rollout started via {VIA}"},
            )
            result = runner.execute(the_plan, lock, rollout_id=rollout_id)
    if result.execution is not None:
        log.info("rollout %s of %s runs as %s", rollout_id, environment, result.execution)
        return {"rollout_id": rollout_id, "environment": environment, "execution": result.execution}
    verified = [item.key for item in result.with_status("verified")]
    failed = [item.key for item in result.with_status("failed")]
    log.info(
        "rollout %s of %s: %d verified, %d failed",
        rollout_id,
        environment,
        len(verified),
        len(failed),
    )
    return {
        "rollout_id": rollout_id,
        "environment": environment,
        "ok": result.ok,
        "verified": verified,
        "failed": failed,
        "halted": result.halt_reason if result.halted else None,
    }


def _refused(reason: str, rollout_id: str | None = None) -> dict[str, Any]:
    log.warning("not run: %s", reason)
    return {"rollout_id": rollout_id, "ok": False, "refused": reason}
