"""Rollback targets that can really run (issue 8 item 7): pre-flight refuses an archived
image and a tag the repository won't let move, in one line with the fix; nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.rollout.preflight import tag_is_immutable
from fleetpatch.rollout.retag import tag_digest
from fleetpatch.rollout.rollback import rollback
from fleetpatch.rollout.runner import PreflightRefused, Runner
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.rollout.flows import digest_of, sidecar_digests, sim_config, sim_journal, sim_runner
from tests.rollout.helpers import run_rollout

SERVICES = ("main/api", "main/web", "main/worker")


@pytest.fixture
def archived_sim() -> Iterator[Simulator]:
    scenario = small_scenario()
    # fluent-bit 1.0, what the fleet ran before, has since moved to the archive storage class.
    scenario["environments"][0]["repositories"][0]["images"][0]["archived"] = True
    with Simulator(scenario) as simulator:
        yield simulator


@pytest.fixture
def archived_runner(archived_sim: Simulator, tmp_path: Path) -> Iterator[Runner]:
    config = sim_config(archived_sim, tmp_path)
    with sim_journal(archived_sim, tmp_path) as journal:
        yield sim_runner(archived_sim, config, journal)


@pytest.fixture
def runner(sim: Simulator, tmp_path: Path) -> Iterator[Runner]:
    config = sim_config(sim, tmp_path)
    with sim_journal(sim, tmp_path) as journal:
        yield sim_runner(sim, config, journal)


def test_rollback_to_an_archived_image_is_refused_with_how_to_restore_it(
    archived_sim: Simulator, archived_runner: Runner
) -> None:
    runner = archived_runner
    old, new = digest_of(archived_sim, "1.0-aaaaaaa"), digest_of(archived_sim, "1.1-bbbbbbb")
    result, _ = run_rollout(archived_sim, runner.config, runner.journal)
    assert result.ok

    with pytest.raises(PreflightRefused) as refused:
        rollback(runner, "dev")
    message = str(refused.value)
    assert "is archived in ECR repository dev/fluent-bit (imageStatus ARCHIVED" in message
    assert (
        f"aws ecr update-image-storage-class --repository-name fluent-bit --image-id "
        f"imageDigest={old} --target-storage-class STANDARD" in message
    )
    # Nothing changed: the tag still names the new digest, every task runs it.
    ecr = runner.sessions.get("dev").ecr()
    assert tag_digest(ecr, "fluent-bit", "latest") == new
    assert sidecar_digests(archived_sim, runner, "dev") == {k: {new} for k in SERVICES}


def test_a_tag_the_repository_keeps_immutable_is_not_moved(sim: Simulator, runner: Runner) -> None:
    new = digest_of(sim, "1.1-bbbbbbb")
    result, _ = run_rollout(sim, runner.config, runner.journal)
    assert result.ok
    ecr = runner.sessions.get("dev").ecr()
    # Version tags immutable, only env tags (dev-*) may move: `latest` may not.
    ecr.put_image_tag_mutability(
        repositoryName="fluent-bit",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filter": "dev-*", "filterType": "WILDCARD"}],
    )

    with pytest.raises(PreflightRefused) as refused:
        rollback(runner, "dev")
    assert "tag latest can't be moved: the repository's tags are IMMUTABLE_WITH_EXCLUSION" in str(
        refused.value
    )
    assert "use --pin" in str(refused.value)
    assert tag_digest(ecr, "fluent-bit", "latest") == new


@given(
    tag=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,10}", fullmatch=True),
    exclusions=st.lists(st.sampled_from(["dev-*", "latest", "*-rc", "3.*"]), max_size=3),
)
def test_the_mutability_rule(tag: str, exclusions: list[str]) -> None:
    matched = any(
        (e.endswith("*") and tag.startswith(e[:-1]))
        or (e.startswith("*") and tag.endswith(e[1:]))
        or e == tag
        for e in exclusions
    )
    assert tag_is_immutable(tag, "IMMUTABLE", exclusions)
    assert not tag_is_immutable(tag, "MUTABLE", exclusions)
    assert tag_is_immutable(tag, "IMMUTABLE_WITH_EXCLUSION", exclusions) is not matched
    assert tag_is_immutable(tag, "MUTABLE_WITH_EXCLUSION", exclusions) is matched
