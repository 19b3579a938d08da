"""promote --from stg --to prod on the simulator: refused until stg proves the digest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.journal import EntryKind
from fleetpatch.rollout.plan import plan
from fleetpatch.rollout.promote import NotProven, check_prerequisites, promote
from fleetpatch.rollout.retag import tag_digest
from fleetpatch.rollout.runner import Runner
from fleetpatch.rollout.target import resolve_target
from fleetpatch.sim import Simulator
from tests.rollout.flows import digest_of, sidecar_digests, sim_config, sim_journal, sim_runner

IMAGES = [
    {"tags": ["1.0-aaaaaaa", "latest", "prod"], "pushed_at": "2026-11-01T00:00:00Z"},
    {"tags": ["1.1-bbbbbbb", "latest"], "pushed_at": "2026-11-25T00:00:00Z"},
]


def environment(name: str, account: str, tag: str) -> dict[str, Any]:
    return {
        "name": name,
        "account": account,
        "region": "eu-west-1",
        "repositories": [{"name": "fluent-bit", "images": IMAGES}],
        "clusters": [
            {
                "name": "main",
                "deployed_at": "2026-11-10T00:00:00Z",
                "containers": [
                    {"name": "app", "image": "{registry}/{service}:1"},
                    {"name": "log_router", "image": "{registry}/fluent-bit:" + tag},
                ],
                "services": ["api", "web"],
            }
        ],
    }


@pytest.fixture
def sim() -> Iterator[Simulator]:
    scenario = {
        "now": "2026-11-27T09:00:00Z",
        "time_scale": 0,
        "task_start_seconds": 30,
        # prod's task definitions reference the env-scoped tag `prod`, moved only by promote.
        "environments": [
            environment("stg", "222222222222", "latest"),
            environment("prod", "333333333333", "prod"),
        ],
    }
    with Simulator(scenario) as simulator:
        yield simulator


@pytest.fixture
def runner(sim: Simulator, tmp_path: Path) -> Iterator[Runner]:
    config = sim_config(
        sim,
        tmp_path,
        policy="soak_minutes = 60\nmax_parallel = 2",
        environments={"prod": {"requires": ["stg"]}},
    )
    with sim_journal(sim, tmp_path) as journal:
        yield sim_runner(sim, config, journal)


def roll_out(runner: Runner, environment: str) -> None:
    sidecar = runner.config.sidecar()
    snapshot = runner.snapshot(environment)
    target = resolve_target(snapshot.environments[0], sidecar)
    the_plan = plan(snapshot, environment, sidecar, target, runner.config.policy)
    with runner.locked(environment) as lock:
        assert runner.execute(the_plan, lock).ok


def test_refused_until_stg_runs_verifies_and_soaks(sim: Simulator, runner: Runner) -> None:
    new = digest_of(sim, "1.1-bbbbbbb")
    with pytest.raises(NotProven, match=r"stg: 2 of 2 service\(s\) don't run"):
        promote(runner, "stg", "prod", digest=new, move_tag="prod")

    roll_out(runner, "stg")
    with pytest.raises(NotProven, match="soak time is 60 min: promote after"):
        promote(runner, "stg", "prod", move_tag="prod")
    assert sim.calls["ecr:PutImage"] == 0  # nothing changed in prod

    sim.advance(61 * 60)
    result = promote(runner, "stg", "prod", move_tag="prod")
    assert result.digest == new
    assert result.rollout.ok
    assert result.retag is not None and result.retag.changed
    assert sidecar_digests(sim, runner, "prod") == {"main/api": {new}, "main/web": {new}}
    ecr = runner.sessions.get("prod").ecr()
    assert tag_digest(ecr, "fluent-bit", "prod") == new
    kinds = [e.kind for e in runner.journal.entries(environment="prod")]
    assert EntryKind.PROMOTE in kinds and EntryKind.RETAG in kinds
    retag_entry = next(e for e in runner.journal.entries() if e.kind is EntryKind.RETAG)
    assert retag_entry.digest_before == digest_of(sim, "1.0-aaaaaaa")
    assert retag_entry.digest_after == new
    assert runner.journal.verify().ok


def test_refused_when_stg_runs_it_but_fleetpatch_never_verified(
    sim: Simulator, runner: Runner
) -> None:
    # Someone deployed stg by hand: running it is not proof without verification.
    ecs = runner.sessions.get("stg").ecs()
    for service in ("api", "web"):
        ecs.update_service(cluster="main", service=service, forceNewDeployment=True)
    sim.advance(600)
    with pytest.raises(NotProven, match="fleetpatch never verified it there"):
        promote(runner, "stg", "prod", move_tag="prod")


def test_prerequisite_blocks_a_direct_rollout(sim: Simulator, runner: Runner) -> None:
    new = digest_of(sim, "1.1-bbbbbbb")
    sidecar = runner.config.sidecar()
    with pytest.raises(NotProven, match="not proven: stg"):
        check_prerequisites(runner, "prod", sidecar, new)
    check_prerequisites(runner, "stg", sidecar, new)  # stg requires nothing
    roll_out(runner, "stg")
    sim.advance(3600)
    check_prerequisites(runner, "prod", sidecar, new)


def test_without_move_tag_prod_tag_mode_is_refused(sim: Simulator, runner: Runner) -> None:
    roll_out(runner, "stg")
    sim.advance(3600)
    with pytest.raises(Exception, match="use --move-tag"):
        promote(runner, "stg", "prod")


def test_a_move_tag_the_services_dont_reference_says_what_they_do_reference(
    sim: Simulator, runner: Runner
) -> None:
    roll_out(runner, "stg")
    sim.advance(3600)
    # prod's services reference `prod`; the user names another tag.
    with pytest.raises(Exception) as refused:
        promote(runner, "stg", "prod", move_tag="stg")
    message = str(refused.value)
    assert "the services reference fluent-bit:prod, not :stg" in message
    assert "use --move-tag" not in message, "never the hint the user just followed"
    assert "promote with --pin" in message
