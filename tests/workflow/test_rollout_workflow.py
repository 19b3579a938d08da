"""The rollout as Step Functions runs it (issue 11 item 2): the state machines' definitions
(src/fleetpatch/workflow/*.asl.json) run state by state by tests/workflow/asl.py, each Task
calling the steps' Lambda handler in-process against the simulator with the input its state
passes. A whole rollout, a halt, and a resume (redrive) after a failed step."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.config import Config, load_config
from fleetpatch.journal import EntryKind, SqliteJournal
from fleetpatch.sim import Simulator
from fleetpatch.workflow.aws_lambda import make_handler
from tests.conftest import small_scenario
from tests.rollout.helpers import config_for
from tests.workflow.asl import MAX_HISTORY, MAX_PAYLOAD, Interpreter, StatesError

ROLLOUT_ID = "r-0123456789ab"


def request(**fields: Any) -> dict[str, Any]:
    """The execution's input, as the event handlers and the CLI start it."""
    data: dict[str, Any] = {
        "rollout_id": ROLLOUT_ID,
        "environment": "dev",
        "sidecar": None,
        "digest": None,
        "tag": "latest",
        "actor": "eventbridge:ecr-push",
        "source": "ecr-push",
        "request_id": None,
    }
    data.update(fields)
    return data


def workflow_config(sim: Simulator, tmp_path: Path, policy: str = "") -> Config:
    config_for(sim, tmp_path)
    path = tmp_path / "fleetpatch.toml"
    journal = tmp_path / "journal.sqlite"
    path.write_text(f'journal = "{journal}"\n' + path.read_text() + policy)
    return load_config(path)


def interpreter(sim: Simulator, config: Config, **kwargs: Any) -> Interpreter:
    handler = make_handler(now=sim.clock.now, notifier=lambda c, r: None, config=lambda: config)
    return Interpreter(lambda payload: handler(payload, None), sim.advance, **kwargs)


def journal_of(config: Config) -> SqliteJournal:
    assert config.journal is not None
    return SqliteJournal(config.journal)


def deployments(config: Config) -> Counter[str]:
    with journal_of(config) as journal:
        return Counter(
            e.service or ""
            for e in journal.entries(kind=EntryKind.DEPLOYMENT_STARTED.value)
            if e.rollout_id == ROLLOUT_ID
        )


def test_a_whole_rollout_runs_the_steps_the_definition_names_in_order(tmp_path: Path) -> None:
    with Simulator(small_scenario()) as sim:
        config = workflow_config(sim, tmp_path)
        machines = interpreter(sim, config)

        execution = machines.start("rollout", ROLLOUT_ID, request())

        assert execution.status == "SUCCEEDED", execution.error
        assert execution.output["ok"] is True
        assert execution.output["verified"] == ["main/api", "main/web", "main/worker"]
        # Plan in the parent, then each wave in a child execution of its own: start, judge,
        # (wait, poll, judge)..., then the parent's finish.
        names = [(c.machine, c.state) for c in machines.calls]
        assert names[0] == ("rollout", "Plan") and names[-1] == ("rollout", "Finish")
        waves = [n for n in machines.executions if n != ROLLOUT_ID]
        assert waves == [f"{ROLLOUT_ID}-wave-1-0", f"{ROLLOUT_ID}-wave-2-0"]
        wave_states = [s for m, s in names if m == "wave"]
        assert wave_states[:2] == ["StartWave", "Judge"]
        assert set(wave_states) == {"StartWave", "Judge", "Poll"}
        # Each step got what its state passes: the journaled plan's rollout id and the lock.
        poll = next(c for c in machines.calls if c.state == "Poll")
        assert poll.payload["step"] == "poll_wave" and poll.payload["rollout_id"] == ROLLOUT_ID
        assert set(poll.payload["progress"]) >= {"started_at", "deadlines", "interval"}
        assert deployments(config) == Counter({"main/api": 1, "main/web": 1, "main/worker": 1})
        with journal_of(config) as journal:
            # The lock is released at the end: the next run can take it.
            journal.release_lock(journal.acquire_lock("dev", "next run", _ttl()))
            plans = [e for e in journal.entries(kind="plan") if e.rollout_id == ROLLOUT_ID]
            assert len(plans) == 1 and plans[0].actor == "eventbridge:ecr-push"
        assert all(e.history_events < MAX_HISTORY for e in machines.executions.values())
        assert machines.largest_payload < MAX_PAYLOAD


def test_a_failed_canary_halts_the_execution_in_ecs_own_words(tmp_path: Path) -> None:
    with Simulator(small_scenario()) as sim:
        config = workflow_config(sim, tmp_path)
        sim.fail_service("dev", "main", "api", "CannotPullContainerError: pull access denied")
        machines = interpreter(sim, config)

        execution = machines.start("rollout", ROLLOUT_ID, request())

        assert execution.status == "FAILED"
        assert execution.error is not None and execution.error.error == "fleetpatch.Halted"
        assert "wave 1" in execution.error.cause
        states = [c.state for c in machines.calls]
        assert "Halt" in states and states[-1] == "Finish"
        assert f"{ROLLOUT_ID}-wave-2-0" not in machines.executions  # no later wave started
        with journal_of(config) as journal:
            mine = [e for e in journal.entries() if e.rollout_id == ROLLOUT_ID]
        failed = [e for e in mine if e.kind is EntryKind.FAILED]
        assert [e.service for e in failed] == ["main/api"]
        assert "CannotPullContainerError: pull access denied" in json.dumps(failed[0].details)
        skipped = {e.service for e in mine if e.kind is EntryKind.SKIPPED}
        assert skipped == {"main/web", "main/worker"}
        assert deployments(config) == Counter({"main/api": 1})


def test_a_step_that_fails_is_resumed_by_redrive_and_deploys_nothing_twice(
    tmp_path: Path,
) -> None:
    with Simulator(small_scenario()) as sim:
        config = workflow_config(sim, tmp_path)
        crashes = {"Poll": 1}

        def crash_once(state: str, payload: dict[str, Any]) -> None:
            if crashes.get(state):
                crashes[state] -= 1
                raise RuntimeError("Runtime exited with error: signal: killed")

        machines = interpreter(sim, config, fault=crash_once)
        execution = machines.start("rollout", ROLLOUT_ID, request())
        # Not retried (a crash is not transient): the execution fails at that step.
        assert execution.status == "FAILED" and execution.failed_state == "RunWave"
        assert execution.error is not None and "signal: killed" in execution.error.cause

        resumed = machines.redrive(ROLLOUT_ID)

        assert resumed.status == "SUCCEEDED", resumed.error
        assert resumed.output["verified"] == ["main/api", "main/web", "main/worker"]
        # The redriven wave is a new child execution that follows the deployment the
        # failed one started, instead of starting another.
        assert f"{ROLLOUT_ID}-wave-1-1" in machines.executions
        assert deployments(config) == Counter({"main/api": 1, "main/web": 1, "main/worker": 1})


def test_a_step_whose_answer_is_lost_is_retried_and_changes_nothing_twice(
    tmp_path: Path,
) -> None:
    """The StartWave step starts the canary's deployment, then times out before Step
    Functions hears of it: the retry, with the same input, finds it journaled and waits."""
    with Simulator(small_scenario()) as sim:
        config = workflow_config(sim, tmp_path)
        handler = make_handler(now=sim.clock.now, notifier=lambda c, r: None, config=lambda: config)
        lost = {"start_wave": 2}

        def lose_answers(payload: dict[str, Any]) -> Any:
            answer = handler(payload, None)
            if lost.get(payload["step"]):
                lost[payload["step"]] -= 1
                raise StatesError("States.Timeout", "Task timed out after 300.00 seconds")
            return answer

        machines = Interpreter(lose_answers, sim.advance)
        execution = machines.start("rollout", ROLLOUT_ID, request())

        assert execution.status == "SUCCEEDED", execution.error
        starts = [c for c in machines.calls if c.state == "StartWave"]
        assert len(starts) == 4  # wave 1 three times (two lost answers), wave 2 once
        assert deployments(config) == Counter({"main/api": 1, "main/web": 1, "main/worker": 1})


def test_a_plan_step_run_again_returns_the_journaled_plan(tmp_path: Path) -> None:
    with Simulator(small_scenario()) as sim:
        config = workflow_config(sim, tmp_path)
        handler = make_handler(now=sim.clock.now, notifier=lambda c, r: None, config=lambda: config)
        first = handler({"step": "plan", "request": request()}, None)
        again = handler({"step": "plan", "request": request()}, None)

        assert first["status"] == again["status"] == "planned"
        assert (first["wave"], first["last_wave"]) == (again["wave"], again["last_wave"]) == (1, 2)
        with journal_of(config) as journal:
            plans = [e for e in journal.entries(kind="plan") if e.rollout_id == ROLLOUT_ID]
        assert len(plans) == 1


def test_a_refused_plan_fails_the_execution_saying_why_and_frees_the_lock(
    tmp_path: Path,
) -> None:
    with Simulator(small_scenario()) as sim:
        config = workflow_config(sim, tmp_path)
        machines = interpreter(sim, config)

        execution = machines.start("rollout", ROLLOUT_ID, request(digest="sha256:" + "9" * 64))

        assert execution.status == "FAILED"
        assert execution.error is not None and execution.error.error == "fleetpatch.Refused"
        assert "sha256:9999" in execution.error.cause
        assert [c.state for c in machines.calls] == ["Plan"]
        with journal_of(config) as journal:
            journal.release_lock(journal.acquire_lock("dev", "next run", _ttl()))


@pytest.mark.parametrize("payload", [{}, {"step": "deploy_everything"}, {"step": "poll_wave"}])
def test_a_step_input_that_is_not_one_fails_the_step_saying_so(
    tmp_path: Path, payload: dict[str, Any]
) -> None:
    with Simulator(small_scenario()) as sim:
        config = workflow_config(sim, tmp_path)
        handler = make_handler(now=sim.clock.now, notifier=lambda c, r: None, config=lambda: config)
        from fleetpatch.errors import UserError

        with pytest.raises(UserError, match="step"):
            handler(payload, None)


def _ttl() -> Any:
    from datetime import timedelta

    return timedelta(minutes=1)
