"""rollback on the simulator: the previous *digest* comes back on every task.

Also the trap it avoids: redeploying the older task definition re-resolves `latest`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetpatch.journal import EntryKind
from fleetpatch.rollout.retag import tag_digest
from fleetpatch.rollout.rollback import rollback
from fleetpatch.rollout.runner import Runner
from fleetpatch.sim import Simulator
from tests.rollout.flows import digest_of, sidecar_digests, sim_config, sim_journal, sim_runner
from tests.rollout.helpers import run_rollout

SERVICES = ("main/api", "main/web", "main/worker")


@pytest.fixture
def runner(sim: Simulator, tmp_path: Path) -> Iterator[Runner]:
    config = sim_config(sim, tmp_path)
    with sim_journal(sim, tmp_path) as journal:
        yield sim_runner(sim, config, journal)


def everywhere(digest: str) -> dict[str, set[str]]:
    return {key: {digest} for key in SERVICES}


def test_the_trap_then_rollback_by_retag(sim: Simulator, runner: Runner) -> None:
    old, new = digest_of(sim, "1.0-aaaaaaa"), digest_of(sim, "1.1-bbbbbbb")
    result, _ = run_rollout(sim, runner.config, runner.journal)
    assert result.ok and sidecar_digests(sim, runner, "dev") == everywhere(new)

    # The trap: redeploy the task definition that ran the old digest. It says `:latest`,
    # ECS resolves the tag again, and the new digest comes right back.
    ecs = runner.sessions.get("dev").ecs()
    older = result.plan.services[0].task_definition
    ecs.update_service(cluster="main", service="api", taskDefinition=older, forceNewDeployment=True)
    sim.advance(300)
    assert sidecar_digests(sim, runner, "dev")["main/api"] == {new}

    undone = rollback(runner, "dev")
    assert undone.found_in == "journal"
    assert (undone.digest, undone.digest_before) == (old, new)
    assert undone.rollout.ok, undone.rollout.services
    assert sidecar_digests(sim, runner, "dev") == everywhere(old)
    ecr = runner.sessions.get("dev").ecr()
    assert tag_digest(ecr, "fluent-bit", "latest") == old
    assert undone.retag is not None and undone.retag.digest_before == new
    kinds = [e.kind for e in runner.journal.entries(environment="dev")]
    assert kinds.count(EntryKind.ROLLBACK_STARTED) == kinds.count(EntryKind.ROLLBACK_COMPLETED) == 1
    assert EntryKind.RETAG in kinds
    assert runner.journal.verify().ok


def test_previous_from_service_revisions_without_journal(
    sim: Simulator, runner: Runner, tmp_path: Path
) -> None:
    old = digest_of(sim, "1.0-aaaaaaa")
    # A rollout someone else did (no journal): every service force-redeployed onto 1.1.
    ecs = runner.sessions.get("dev").ecs()
    for name in ("api", "web", "worker"):
        ecs.update_service(cluster="main", service=name, forceNewDeployment=True)
    sim.advance(300)
    undone = rollback(runner, "dev")
    assert undone.found_in == "service revisions"
    assert undone.digest == old
    assert sidecar_digests(sim, runner, "dev") == everywhere(old)


def test_pin_mode_returns_to_the_revision_it_ran_before(sim: Simulator, runner: Runner) -> None:
    v11 = digest_of(sim, "1.1-bbbbbbb")
    first, _ = run_rollout(sim, runner.config, runner.journal, mode="pin", version="1.1")
    assert first.ok
    ecs = runner.sessions.get("dev").ecs()
    pinned_11 = ecs.describe_services(cluster="main", services=["api"])["services"][0][
        "taskDefinition"
    ]
    sim.push_image("dev", "fluent-bit", {"tags": ["1.2-ccccccc", "latest"]})
    second, _ = run_rollout(sim, runner.config, runner.journal, mode="pin", version="1.2")
    assert second.ok

    undone = rollback(runner, "dev", mode="pin")
    assert undone.digest == v11
    assert undone.rollout.ok, undone.rollout.services
    assert sidecar_digests(sim, runner, "dev") == everywhere(v11)
    # The revision pinned to 1.1 itself, not a new one.
    assert undone.revisions and undone.revisions["main/api"].endswith(pinned_11.split("/")[-1])
    now = ecs.describe_services(cluster="main", services=["api"])["services"][0]
    assert now["taskDefinition"] == pinned_11


def test_pin_mode_never_returns_to_a_revision_that_says_latest(
    sim: Simulator, runner: Runner
) -> None:
    old = digest_of(sim, "1.0-aaaaaaa")
    first, _ = run_rollout(sim, runner.config, runner.journal, mode="pin", version="1.1")
    assert first.ok
    undone = rollback(runner, "dev", mode="pin")
    # The revision before says `:latest` (now 1.1): a new revision pinned to 1.0 instead.
    assert undone.revisions == {}
    assert undone.rollout.ok, undone.rollout.services
    assert sidecar_digests(sim, runner, "dev") == everywhere(old)
