"""Hand an authorized run to the rollout state machine instead of running its waves here.

    runner.handoff = StateMachineHandoff(boto3.client("stepfunctions"), state_machine_arn)
    result = run_action(runner, "promote", "prod", "stg")   # returns once the execution started
    result.execution                                        # its ARN

The Slack app and the Chatbot handler run in Lambda, which stops an invocation after 15
minutes; a rollout of hundreds of services takes hours. So once the run has passed its gate
(plan, `requires`, pre-flight, the approval: as the person who asked, in the process that
knows them), its waves go to a Standard Step Functions execution (docs/workflow.md), in this
order, each step safe to repeat:

1. the plan is journaled whole (intent before effect), with the revisions a rollback
   redeploys: the execution's plan step finds it and runs exactly it, not a new plan;
2. the environment's lock passes to the execution's owner, `workflow <rollout id>`
   (journaled as a take-over), so no other run starts in between;
3. StartExecution, named by the rollout id: a second start of the same run is
   ExecutionAlreadyExists with the same input, i.e. already started.

A StartExecution that fails releases the execution's lock again and raises: the run's plan
stays journaled with nothing started, as a run refused at its start.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from fleetpatch.errors import UserError
from fleetpatch.journal import Lock
from fleetpatch.rollout.executor import Rollout
from fleetpatch.workflow.steps import WORKFLOW_LOCK_TTL, workflow_lock_owner

STATE_MACHINE_ENV_VAR = "FLEETPATCH_STATE_MACHINE_ARN"


class StateMachineHandoff:
    """`hand_off` starts the rollout state machine `state_machine_arn` for one run."""

    def __init__(self, client: Any, state_machine_arn: str, *, source: str = "") -> None:
        self._client = client
        self._arn = state_machine_arn
        self._source = source  # who hands off: "slack", "chatbot" (the execution's input)

    def hand_off(self, rollout: Rollout, lock: Lock) -> str:
        rollout_id = rollout.rollout_id
        plan = rollout.plan
        rollout.record.planned(rollout.options.task_definitions)
        journal = rollout.journal
        handed = journal.acquire_lock(
            plan.environment,
            workflow_lock_owner(rollout_id),
            WORKFLOW_LOCK_TTL,
            take_over=f"rollout {rollout_id} handed to Step Functions ({lock.owner})",
        )
        execution_input = {
            "rollout_id": rollout_id,
            "environment": plan.environment,
            "sidecar": plan.sidecar,
            "digest": plan.target.digest,
            "tag": plan.target.tag,
            "actor": rollout.record.actor,
            "source": self._source,
            "request_id": None,
        }
        try:
            started = self._client.start_execution(
                stateMachineArn=self._arn, name=rollout_id, input=json.dumps(execution_input)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return self._execution_arn(rollout_id)
            journal.release_lock(handed)
            raise
        return str(started["executionArn"])

    def _execution_arn(self, name: str) -> str:
        # arn:aws:states:REGION:ACCOUNT:stateMachine:NAME -> ...:execution:NAME:EXECUTION
        prefix, _, machine = self._arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"


def handoff_from_environment(environ: Mapping[str, str], source: str) -> StateMachineHandoff | None:
    """The hand-off the function's environment asks for: FLEETPATCH_STATE_MACHINE_ARN set
    (deploy/template.yaml sets it) = the rollout state machine, through the function's role;
    not set = None, the waves run in the process (a local `slack serve`)."""
    arn = environ.get(STATE_MACHINE_ENV_VAR, "").strip()
    if not arn:
        return None
    if not arn.startswith("arn:") or ":stateMachine:" not in arn:
        raise UserError(
            f"{STATE_MACHINE_ENV_VAR} is not a state machine ARN ({arn!r}): set it to the "
            "rollout state machine's ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)"
        )
    import boto3

    from fleetpatch.aws.session import client_config

    # The Region the ARN names; StartExecution with a name is idempotent, so retrying is safe.
    region = arn.split(":")[3]
    client = boto3.client("stepfunctions", region_name=region, config=client_config(3))
    return StateMachineHandoff(client, arn, source=source)
