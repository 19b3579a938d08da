"""A run started from chat on Lambda hands its waves to the rollout state machine
(workflow/handoff.py): the Chatbot worker plans and authorizes it, journals the plan, passes
the lock to the execution and starts it (Step Functions in the simulator, moto's); the
execution, run state by state, deploys exactly that plan, each service once."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.aws.session import SIM_ACCESS_KEY
from fleetpatch.chatbot.handler import make_handler as chatbot_handler
from fleetpatch.config import load_config
from fleetpatch.journal import EntryKind, LockHeld, SqliteJournal
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.rollout.rollback import rollback
from fleetpatch.rollout.runner import Runner
from fleetpatch.sim import Simulator
from fleetpatch.slack.actions import rollout_environment
from fleetpatch.workflow.handoff import STATE_MACHINE_ENV_VAR, StateMachineHandoff
from tests.chatbot.fake_lambda import FakeLambda, LambdaContext
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config
from tests.rollout.helpers import FAST_POLL, SimClock
from tests.workflow.asl import Interpreter
from tests.workflow.test_rollout_workflow import interpreter

REGION = "eu-west-1"
TTL = timedelta(minutes=1)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(small_scenario()) as simulator:
        yield simulator


@pytest.fixture
def states(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Step Functions as the function reaches it: its own credentials and Region, the
    endpoint botocore's AWS_ENDPOINT_URL_SFN points at; the rollout state machine created."""
    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL_SFN": sim.endpoint_url,
        "AWS_ACCESS_KEY_ID": SIM_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SIM_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("stepfunctions", region_name=REGION, endpoint_url=sim.endpoint_url)
    definition = json.dumps(Interpreter(lambda p: None, lambda s: None).definition("rollout"))
    created = client.create_state_machine(
        name="fleetpatch-rollout",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/fleetpatch-states",
        type="STANDARD",
    )
    monkeypatch.setenv(STATE_MACHINE_ENV_VAR, created["stateMachineArn"])
    return client


@pytest.fixture
def config_path(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = render_config(sim, tmp_path / "fleetpatch.toml")
    journal = tmp_path / "journal.sqlite"
    path.write_text(f'journal = "{journal}"\n' + path.read_text())
    monkeypatch.setenv("FLEETPATCH_CONFIG", str(path))
    return journal


def _chat(sim: Simulator, lambda_client: FakeLambda) -> Any:
    return chatbot_handler(
        lambda_client=lambda_client,
        clock=lambda: SimClock(sim),
        now=sim.clock.now,
        options=lambda: RolloutOptions(poll=FAST_POLL),
    )


def test_a_chat_rollout_runs_its_plan_in_one_execution(
    sim: Simulator, states: Any, config_path: Path, tmp_path: Path
) -> None:
    lambda_client = FakeLambda()
    handler = _chat(sim, lambda_client)
    reply = handler({"command": "rollout dev"}, LambdaContext())
    assert "started: rollout r-" in reply, reply

    [handed] = lambda_client.replay(handler)

    # The worker's invocation deployed nothing: it started one execution named by the rollout.
    rollout_id = handed["rollout_id"]
    execution = states.describe_execution(executionArn=handed["execution"])
    assert execution["name"] == rollout_id
    request = json.loads(execution["input"])
    assert (request["rollout_id"], request["environment"], request["source"]) == (
        rollout_id,
        "dev",
        "chatbot",
    )
    with SqliteJournal(config_path, clock=sim.clock.now) as journal:
        mine = [e for e in journal.entries(environment="dev") if e.rollout_id == rollout_id]
        assert [e.kind for e in mine].count(EntryKind.DEPLOYMENT_STARTED) == 0
        assert [e.kind for e in mine].count(EntryKind.PLAN) == 1
        # The lock went with it: nobody else starts a run of dev meanwhile.
        with pytest.raises(LockHeld) as held:
            journal.acquire_lock("dev", "someone else", TTL)
        assert held.value.holder == f"workflow {rollout_id}"
        assert request["digest"] == mine[0].target_digest

    # The execution, state by state: the journaled plan, deployed once, by the same actor.
    machines = interpreter(sim, load_config(tmp_path / "fleetpatch.toml"))
    result = machines.start("rollout", rollout_id, request)

    assert result.status == "SUCCEEDED", result.error
    assert result.output["verified"] == ["main/api", "main/web", "main/worker"]
    with SqliteJournal(config_path, clock=sim.clock.now) as journal:
        mine = [e for e in journal.entries(environment="dev") if e.rollout_id == rollout_id]
        started = Counter(e.service for e in mine if e.kind == EntryKind.DEPLOYMENT_STARTED)
        plans = [e for e in mine if e.kind == EntryKind.PLAN]
        journal.release_lock(journal.acquire_lock("dev", "next run", TTL))
    assert started == Counter({"main/api": 1, "main/web": 1, "main/worker": 1})
    assert len(plans) == 1  # the plan step ran the handed plan, it did not plan again
    assert {e.actor for e in mine} == {plans[0].actor}


def test_a_redelivered_job_starts_no_second_execution(
    sim: Simulator, states: Any, config_path: Path
) -> None:
    lambda_client = FakeLambda()
    handler = _chat(sim, lambda_client)
    handler({"command": "rollout dev"}, LambdaContext())
    invocation = lambda_client.pending[0]
    [handed] = lambda_client.replay(handler)

    # Lambda delivers the asynchronous event again while the execution runs.
    lambda_client.pending.append(invocation)
    [again] = lambda_client.replay(handler)

    assert "refused" in again and f"workflow {handed['rollout_id']}" in again["refused"]
    listed = states.list_executions(stateMachineArn=_machine(states))["executions"]
    assert [e["name"] for e in listed] == [handed["rollout_id"]]


def test_a_state_machine_arn_that_is_not_one_is_the_reply(
    sim: Simulator, states: Any, config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_MACHINE_ENV_VAR, "fleetpatch-rollout")
    reply = _chat(sim, FakeLambda())({"command": "status"}, LambdaContext())
    assert reply.startswith(f"error: {STATE_MACHINE_ENV_VAR} is not a state machine ARN")


def _machine(states: Any) -> str:
    [machine] = states.list_state_machines()["stateMachines"]
    return str(machine["stateMachineArn"])


def test_a_handed_off_rollback_completes_in_its_execution(
    sim: Simulator, states: Any, config_path: Path, tmp_path: Path
) -> None:
    config = load_config(tmp_path / "fleetpatch.toml")
    with SqliteJournal(config_path, clock=sim.clock.now) as journal:
        runner = Runner(
            config,
            journal,
            clock=SimClock(sim),
            now=sim.clock.now,
            options=RolloutOptions(poll=FAST_POLL),
        )
        assert rollout_environment(runner, "dev").ok
        runner.handoff = StateMachineHandoff(states, _machine(states), source="cli")
        handed = rollback(runner, "dev")
        rollout_id = handed.rollout.rollout_id
        assert handed.rollout.execution is not None
        kinds = [e.kind for e in journal.entries(environment="dev") if e.rollout_id == rollout_id]
    # Started, re-tagged, handed off; not completed: its waves have not run yet.
    assert EntryKind.ROLLBACK_STARTED in kinds and EntryKind.ROLLBACK_COMPLETED not in kinds
    execution = states.describe_execution(executionArn=handed.rollout.execution)

    result = interpreter(sim, config).start("rollout", rollout_id, json.loads(execution["input"]))

    assert result.status == "SUCCEEDED", result.error
    with SqliteJournal(config_path, clock=sim.clock.now) as journal:
        mine = [e for e in journal.entries(environment="dev") if e.rollout_id == rollout_id]
    [completed] = [e for e in mine if e.kind == EntryKind.ROLLBACK_COMPLETED]
    assert completed.details["ok"] is True and completed.details["verified"] == 3
    assert completed.digest_after == handed.digest != handed.digest_before
    assert Counter(e.service for e in mine if e.kind == EntryKind.DEPLOYMENT_STARTED) == Counter(
        {"main/api": 1, "main/web": 1, "main/worker": 1}
    )
