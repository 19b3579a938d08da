"""Rollout, promote and rollback as the Slack app runs them: the same core functions as the
CLI (rollout/promote.py, rollout/rollback.py, and `rollout_environment` here, the CLI's
`rollout` sequence), through a `Runner` whose principal is the Slack user.

    the_plan = plan_of(runner, "rollout", "prod")        # pre-flight included, changes nothing
    result = run_action(runner, "rollout", "prod")       # the gate (runner.authorize) included
    digest = current_target(runner, request)             # what the request's target is now

`plan_of` runs the action up to the runner's confirmation and stops there (the CLI prompts at
that point): the plan people approve is built by exactly the code that later runs it.
"""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.approvals import ChangeRequest
from fleetpatch.compliance.clock import OpenDeadline
from fleetpatch.config import Action
from fleetpatch.errors import EnvironmentFailure, UserError
from fleetpatch.rollout.executor import RolloutResult, new_rollout_id
from fleetpatch.rollout.others import plan_only_sidecar
from fleetpatch.rollout.plan import Mode, Plan
from fleetpatch.rollout.promote import check_prerequisites, promote, running_digest
from fleetpatch.rollout.rollback import current_digest, find_previous, rollback
from fleetpatch.rollout.runner import Runner
from fleetpatch.rollout.target import resolve_target

log = logging.getLogger("fleetpatch.slack")


class _Planned(Exception):
    """Raised at the runner's confirmation: the plan is known, nothing has changed."""

    def __init__(self, the_plan: Plan) -> None:
        super().__init__("planned")
        self.plan = the_plan


def _stop(the_plan: Plan) -> None:
    raise _Planned(the_plan)


def plan_of(runner: Runner, action: Action, environment: str, source: str | None = None) -> Plan:
    """The plan `action` would carry out now, pre-flight passed; nothing is changed (the
    environment's lock is taken and released, as the CLI's prompt holds it)."""
    confirm = runner.confirm
    runner.confirm = _stop
    try:
        run_action(runner, action, environment, source)
    except _Planned as planned:
        return planned.plan
    finally:
        runner.confirm = confirm
    raise AssertionError(f"{action} of {environment} ran past its confirmation")


def run_action(
    runner: Runner, action: Action, environment: str, source: str | None = None
) -> RolloutResult:
    if action == "rollout":
        return rollout_environment(runner, environment)
    if action == "promote":
        if source is None:
            raise UserError("promote needs the environment to promote from")
        return promote(runner, source, environment).rollout
    return rollback(runner, environment).rollout


def plan_rollout(
    runner: Runner, environment: str, *, sidecar_name: str | None = None, mode: Mode = "tag"
) -> Plan:
    """What `fleetpatch plan --env ENV` shows: read the environment, plan; no lock, no
    pre-flight."""
    config = runner.config
    sidecar = config.sidecar(sidecar_name)
    snapshot = runner.snapshot(environment)
    target = resolve_target(snapshot.environments[0], sidecar)
    return plan_only_sidecar(
        runner.registries(environment), snapshot, environment, sidecar, target, config.policy, mode
    )


def rollout_environment(
    runner: Runner, environment: str, *, sidecar_name: str | None = None, mode: Mode = "tag"
) -> RolloutResult:
    """`fleetpatch rollout --env ENV --yes` in the CLI's order: accounts, lock, plan, the
    prerequisites' proof, pre-flight, confirmation, the approval gate, the run."""
    config = runner.config
    sidecar = config.sidecar(sidecar_name)
    requires = config.environment(environment).requires
    runner.confirm_accounts([environment, *requires])
    with runner.locked(environment) as lock:
        the_plan = plan_rollout(runner, environment, sidecar_name=sidecar_name, mode=mode)
        if mode == "tag" and the_plan.target.tag is None and the_plan.waves:
            raise UserError(
                f"moving-tag mode deploys what the tag points to, and it doesn't point to "
                f"{the_plan.target.label}: use the CLI's --pin, or move the tag first"
            )
        check_prerequisites(runner, environment, sidecar, the_plan.target.digest)
        if the_plan.waves:
            runner.preflight(the_plan)
        runner.confirm(the_plan)
        rollout_id = new_rollout_id()
        runner.authorize("rollout", the_plan, rollout_id)
        return runner.execute(the_plan, lock, rollout_id=rollout_id)


def current_target(runner: Runner, request: ChangeRequest) -> str:
    """The digest the request's action would move to if planned now: an approval is refused
    when it is no longer the one requested (a tag moved, a newer digest got proven)."""
    sidecar = runner.config.sidecar(str(request.summary.get("sidecar") or "") or None)
    environment = request.environment
    if request.action == "promote":
        source = str(request.summary.get("source") or "")
        return running_digest(runner.environment(source), sidecar)
    env = runner.environment(environment)
    if request.action == "rollback":
        entries = runner.journal.entries(environment=environment)
        ecs = runner.sessions.get(environment).ecs()
        digest, _ = find_previous(entries, env, sidecar, current_digest(env, sidecar), ecs)
        return digest
    return resolve_target(env, sidecar).digest


def plan_fixes(runner: Runner, the_plan: Plan) -> list[OpenDeadline]:
    """The open deadlines the plan's services have now (the target fixes them), for the plan's
    message; none (and one log line) when the patch clock can't be read."""
    from fleetpatch.compliance.status import status_deadlines

    env = the_plan.environment
    try:
        snapshot = runner.snapshot(env)
        deadlines = status_deadlines(runner.config, snapshot, runner.sessions).deadlines
    except (UserError, EnvironmentFailure, ClientError, BotoCoreError) as exc:
        log.warning("slack: no patch clock for %s's plan (%s)", env, exc)
        return []
    keys = {s.key for s in the_plan.services}
    return [d for d in deadlines if d.environment == env and keys & set(d.services)]
