"""A halt rolls back what is still deploying (issue 8 item 2): a wave halts as soon as its
failures exceed the budget, and the wave's deployments still in flight are stopped with
StopServiceDeployment (ROLLBACK), so ECS returns them to their previous revision. And a PAUSE
hook awaiting action is shown with how to continue; continued, the rollout goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import Config, load_config
from fleetpatch.journal import EntryKind, SqliteJournal
from fleetpatch.rollout.events import Event, ListSink
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.rollout.waits import PollPolicy
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.rollout.helpers import config_for, make_plan, run_rollout
from tests.rollout.test_engine_sim import deployments_per_service, running_digests


def scenario(worker: dict[str, Any]) -> dict[str, Any]:
    data = small_scenario()
    cluster = data["environments"][0]["clusters"][0]
    cluster["services"] = ["api", worker, "web"]
    return data


def canary_of_two(sim: Simulator, tmp_path: Path) -> Config:
    """api and worker deploy together in the canary wave; the budget there is 0."""
    config_for(sim, tmp_path)  # writes tmp_path/fleetpatch.toml
    path = tmp_path / "fleetpatch.toml"
    path.write_text(path.read_text() + '\n[policy]\ncanary = ["api", "worker"]\n')
    return load_config(path)


def service_deployment(config: Config, service: str, deployment_arn: str) -> dict[str, Any]:
    ecs = AwsSessions(config).get("dev").ecs()
    answer = ecs.describe_service_deployments(serviceDeploymentArns=[deployment_arn])
    return dict(answer["serviceDeployments"][0])


def test_a_halt_rolls_back_the_waves_deployments_still_in_flight(
    tmp_path: Path, journal: SqliteJournal
) -> None:
    # worker bakes an hour: it is still deploying when api's circuit breaker trips.
    worker = {"name": "worker", "strategy": "BLUE_GREEN", "bake_time_in_minutes": 60}
    with Simulator(scenario(worker)) as sim:
        config = canary_of_two(sim, tmp_path)
        before = running_digests(config)
        sim.fail_service("dev", "main", "api", "CannotStartContainerError: bad config")
        result, sink = run_rollout(sim, config, journal)

        assert result.halted and "1 service(s) failed" in result.halt_reason
        assert "circuit breaker" in result.services["main/api"].reason
        # The next wave never started: every service of the plan is accounted for.
        web = result.services["main/web"]
        assert (web.status, web.reason) == ("skipped", "not deployed: the rollout halted in wave 1")
        halted_worker = result.services["main/worker"]
        assert halted_worker.status == "failed"
        assert halted_worker.reason.startswith("the rollout halted in wave 1 while deployment ")
        assert halted_worker.reason.endswith("ECS rolls it back to the previous revision")
        # The intent is journaled before the stop: the halt names what it rolls back.
        entries = journal.entries(environment="dev")
        halted = next(e for e in entries if e.kind is EntryKind.HALTED)
        assert list(halted.details["rolling_back"]) == ["main/worker"]
        worker_failed = next(
            e for e in entries if e.kind is EntryKind.FAILED and e.service == "main/worker"
        )
        assert worker_failed.seq > halted.seq
        # ECS rolls the blue/green deployment back; web never started.
        ecs = AwsSessions(config).get("dev").ecs()
        arn = ecs.describe_services(cluster="main", services=["worker"])["services"][0][
            "currentServiceDeployment"
        ]
        for _ in range(200):
            if service_deployment(config, "worker", arn)["status"] == "ROLLBACK_SUCCESSFUL":
                break
            sim.advance(15)
        assert service_deployment(config, "worker", arn)["status"] == "ROLLBACK_SUCCESSFUL"
        sim.advance(600)
        assert running_digests(config) == before
        assert deployments_per_service(config)["main/web"] == 1
        assert sink.kinds().count("wave_started") == 1


def test_a_deployment_fleetpatch_stopped_waiting_for_is_rolled_back_when_the_wave_halts(
    tmp_path: Path, journal: SqliteJournal
) -> None:
    # worker's new tasks never start and it has no circuit breaker: ECS would keep trying.
    # fleetpatch stops waiting after its timeout, which fails the canary wave; the halt then
    # stops the deployment still in flight instead of leaving it to retry for ever.
    worker = {"name": "worker", "circuit_breaker": False}
    with Simulator(scenario(worker)) as sim:
        config = canary_of_two(sim, tmp_path)
        before = running_digests(config)
        sim.fail_service("dev", "main", "worker", "CannotStartContainerError: bad config")
        options = RolloutOptions(poll=PollPolicy(interval=30, max_interval=60, timeout=600))
        result, sink = run_rollout(sim, config, journal, options=options)

        assert result.halted
        assert result.services["main/api"].status == "verified"
        worker_result = result.services["main/worker"]
        assert "did not finish within 10 minutes" in worker_result.reason
        assert worker_result.reason.endswith("ECS rolls it back to the previous revision")
        notes = [e for e in journal.entries(environment="dev") if e.kind is EntryKind.NOTE]
        assert [n.service for n in notes] == ["main/worker"] and notes[0].details["stopped"]
        assert [e.data["service"] for e in sink.of("rolled_back")] == ["main/worker"]
        sim.advance(900)
        assert running_digests(config)["main/worker"] == before["main/worker"]


class ContinuesPausedHooks(ListSink):
    """An operator who answers a paused hook the way the live view says to."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.ecs = AwsSessions(config).get("dev").ecs()
        self.answered: list[str] = []

    def emit(self, event: Event) -> None:
        super().emit(event)
        hook = event.data.get("awaiting_hook")
        if event.kind != "deployment_progress" or not hook:
            return
        command = hook["continue"].split()
        arn = command[command.index("--service-deployment-arn") + 1]
        self.ecs.continue_service_deployment(
            serviceDeploymentArn=arn, hookId=hook["hook_id"], action="CONTINUE"
        )
        self.answered.append(hook["hook_id"])


def test_a_paused_hook_is_shown_with_how_to_continue_and_continuing_it_completes(
    tmp_path: Path, journal: SqliteJournal
) -> None:
    worker = {
        "name": "worker",
        "strategy": "BLUE_GREEN",
        "bake_time_in_minutes": 5,
        "lifecycle_hooks": [
            {"target_type": "PAUSE", "lifecycle_stages": ["POST_SCALE_UP"]},
        ],
    }
    with Simulator(scenario(worker)) as sim:
        config = config_for(sim, tmp_path)
        sink = ContinuesPausedHooks(config)
        result, _ = run_rollout(sim, config, journal, sink=sink)

        assert result.ok, result.services
        assert len(sink.answered) == 1
        paused = [e.data for e in sink.of("deployment_progress") if e.data.get("awaiting_hook")]
        assert paused[0]["stage"] == "POST_SCALE_UP"
        assert paused[0]["awaiting_hook"]["continue"].startswith(
            "aws ecs continue-service-deployment --service-deployment-arn arn:aws:ecs:"
        )
        target = result.plan.target.digest
        assert running_digests(config)["main/worker"] == {target}


class AnswersLostUntilUnconfirmed(ListSink):
    """The simulator loses every state-changing answer until fleetpatch reports a start it
    could not confirm; from then on it answers again (the halt's stop is answered)."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__()
        self.sim = sim

    def emit(self, event: Event) -> None:
        super().emit(event)
        if event.kind == "start_unconfirmed":
            self.sim.set_faults()


def test_a_halt_rolls_back_a_start_whose_answer_was_lost(
    tmp_path: Path, journal: SqliteJournal
) -> None:
    """worker's UpdateService is applied but its answer lost, and in the same pass api's start
    is refused (its service was deleted): the wave halts before a pass could adopt worker's
    deployment. The halt finds it (created after the journaled intent) and stops it."""
    with Simulator(scenario({"name": "worker"})) as sim:
        config = canary_of_two(sim, tmp_path)
        before = running_digests(config)
        ecs = AwsSessions(config).get("dev").ecs()
        plan = make_plan(config)
        ecs.delete_service(cluster="main", service="api", force=True)
        sim.set_faults(lost_answer_rate=1.0)
        result, sink = run_rollout(
            sim, config, journal, the_plan=plan, sink=AnswersLostUntilUnconfirmed(sim)
        )

        assert [e.data["service"] for e in sink.of("start_unconfirmed")] == ["main/worker"]
        assert result.halted
        assert "could not start the deployment" in result.services["main/api"].reason
        halted_worker = result.services["main/worker"]
        assert halted_worker.status == "failed"
        assert halted_worker.reason.endswith("ECS rolls it back to the previous revision")
        entries = journal.entries(environment="dev")
        halted = next(e for e in entries if e.kind is EntryKind.HALTED)
        started = [e for e in entries if e.kind is EntryKind.DEPLOYMENT_STARTED]
        assert [(e.service, e.details["adopted"]) for e in started] == [("main/worker", True)]
        assert halted.details["rolling_back"] == {"main/worker": started[0].deployment_id}
        arn = started[0].details["service_deployment_arn"]
        for _ in range(200):
            if service_deployment(config, "worker", arn)["status"] == "ROLLBACK_SUCCESSFUL":
                break
            sim.advance(15)
        assert service_deployment(config, "worker", arn)["status"] == "ROLLBACK_SUCCESSFUL"
        sim.advance(600)
        assert running_digests(config)["main/worker"] == before["main/worker"]
