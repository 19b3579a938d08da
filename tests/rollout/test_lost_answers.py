"""Lost answers (issue 9 item 3): ECS applies a change and the answer never arrives. fleetpatch
never retries UpdateService or RegisterTaskDefinition blindly: it re-reads, finds the
deployment its journaled intent produced, and goes on - no service gets two deployments for
one target."""

from __future__ import annotations

from pathlib import Path

from fleetpatch.journal import EntryKind, SqliteJournal
from fleetpatch.sim import Simulator
from tests.rollout.helpers import config_for, run_rollout
from tests.rollout.test_engine_sim import deployments_per_service


def test_answers_lost_after_the_change_never_make_a_second_deployment(
    talk_sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(talk_sim, tmp_path)
    lost = 0
    # 36 services in three environments; stg in pin mode (RegisterTaskDefinition too).
    for environment, mode in (("dev", "tag"), ("stg", "pin"), ("prod", "tag")):
        before = deployments_per_service(config, environment)
        talk_sim.set_faults(lost_answer_rate=0.05, seed=3)
        result, sink = run_rollout(talk_sim, config, journal, environment, mode)
        talk_sim.set_faults()

        assert result.ok, {k: r.reason for k, r in result.services.items()}
        assert len(result.with_status("verified")) == 12
        after = deployments_per_service(config, environment)
        assert {k: after[k] - before[k] for k in after} == dict.fromkeys(after, 1)
        started = [
            e.service
            for e in journal.entries(environment=environment)
            if e.kind is EntryKind.DEPLOYMENT_STARTED
        ]
        assert sorted(started) == sorted(after), "journaled as started once per service"
        # An UpdateService whose answer was lost had been applied: that deployment is found
        # and followed (adopted), not started again.
        lost_updates = {
            e.data["service"]
            for e in sink.of("start_unconfirmed")
            if e.data["reason"].startswith("UpdateService: ServerException")
        }
        adopted = {e.data["service"] for e in sink.of("deployment_started") if e.data["adopted"]}
        assert lost_updates <= adopted
        lost += len(lost_updates)
    assert lost >= 1, "the fault fired: some UpdateService answers were lost"
    assert journal.verify().ok
