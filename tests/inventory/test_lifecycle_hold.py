"""The lifecycle-policy trap (issue 3 item 7): warn, hold, release; and the pure evaluator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.cli.app import run
from fleetpatch.core.images import ImageInfo
from fleetpatch.core.lifecycle import would_expire
from fleetpatch.inventory.collect import collect
from fleetpatch.inventory.hold import hold_tag, is_hold_tag
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario
from tests.inventory.helpers import make_config, render_config

EXPIRE_UNTAGGED = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "expire untagged images after 7 days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 7,
            },
            "action": {"type": "expire"},
        }
    ]
}


def trap_scenario() -> dict[str, Any]:
    """Services run an image whose only tag was `latest`; `latest` has moved since, so the
    running digest is untagged and older than the policy's 7 days."""
    scenario = small_scenario()
    scenario["environments"][0]["repositories"] = [
        {
            "name": "fluent-bit",
            "lifecycle_policy": EXPIRE_UNTAGGED,
            "images": [
                {"tags": ["latest"], "pushed_at": "2026-11-01T00:00:00Z", "seed": "a"},
                {"tags": ["1.1-bbbbbbb", "latest"], "pushed_at": "2026-11-25T00:00:00Z"},
            ],
        }
    ]
    return scenario


@pytest.fixture
def trap(tmp_path: Path) -> Iterator[tuple[Simulator, Path]]:
    with Simulator(trap_scenario()) as sim:
        yield sim, render_config(sim, tmp_path / "fleetpatch.toml")


def cli(config: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def tags_of(sim: Simulator, digest: str) -> list[str] | None:
    ecr = client(sim, "ecr", "dev")
    for image in ecr.describe_images(repositoryName="fluent-bit")["imageDetails"]:
        if image["imageDigest"] == digest:
            return sorted(image.get("imageTags", []))
    return None


def redeploy_all(sim: Simulator) -> None:
    ecs = client(sim, "ecs", "dev")
    for name in ("api", "worker", "web"):
        ecs.update_service(cluster="main", service=name, forceNewDeployment=True)
    sim.advance(600)


def test_status_warns_hold_protects_and_release_keeps_only_tag(
    trap: tuple[Simulator, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, config = trap
    code, out, err = cli(config, "status", capsys=capsys)
    assert code == 0
    (warning,) = [line for line in err.splitlines() if line.startswith("warning:")]
    assert "lifecycle rule 1 (expire untagged images after 7 days)" in warning
    assert "fleetpatch hold --env dev" in warning and "main/api" in warning

    code, out, _ = cli(config, "status", "--json", capsys=capsys)
    (risk,) = json.loads(out)["lifecycle_risks"]
    old = risk["digest"]
    assert risk["services"] == ["main/api", "main/web", "main/worker"]
    assert tags_of(sim, old) == []

    code, out, _ = cli(config, "hold", "--dry-run", "--json", capsys=capsys)
    (planned,) = json.loads(out)["actions"]
    assert planned["action"] == "hold" and tags_of(sim, old) == []

    code, out, err = cli(config, "hold", "--json", capsys=capsys)
    assert code == 0, err
    data = json.loads(out)
    (held,) = data["actions"]
    assert (held["action"], held["tag"]) == ("held", hold_tag("dev", old))
    assert data["still_at_risk"] == [] and data["api_calls"] > 0
    assert tags_of(sim, old) == [hold_tag("dev", old)]

    # Held: the warning is gone and ECR's own lifecycle run keeps the digest.
    code, out, _ = cli(config, "status", "--json", capsys=capsys)
    assert json.loads(out)["lifecycle_risks"] == []
    assert all(expired[3] != old for expired in sim.run_lifecycle_policies())
    assert tags_of(sim, old) == [hold_tag("dev", old)]

    sim.reset_calls()
    code, out, _ = cli(config, "hold", "--json", capsys=capsys)
    assert [a["action"] for a in json.loads(out)["actions"]] == ["already held"]
    assert "ecr:PutImage" not in sim.calls

    # Nothing runs the old digest any more: its hold tag is its only tag, so releasing it
    # would delete the image. It is kept, and hold says why.
    redeploy_all(sim)
    code, out, _ = cli(config, "hold", "--json", capsys=capsys)
    actions = {a["digest"]: a for a in json.loads(out)["actions"]}
    assert actions[old]["action"] == "kept" and "only tag" in actions[old]["detail"]
    assert tags_of(sim, old) == [hold_tag("dev", old)]
    (new,) = set(actions) - {old}
    assert actions[new]["action"] == "held"


def test_release_removes_only_the_hold_tag(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = render_config(sim, tmp_path / "fleetpatch.toml")
    code, out, _ = cli(config, "hold", "--json", capsys=capsys)
    (held,) = json.loads(out)["actions"]
    old = held["digest"]
    assert tags_of(sim, old) == sorted(["1.0-aaaaaaa", hold_tag("dev", old)])

    redeploy_all(sim)
    code, out, err = cli(config, "hold", capsys=capsys)
    assert code == 0
    assert "released" in err and "held" in err
    # The tag went, the image and its version tag stayed.
    assert tags_of(sim, old) == ["1.0-aaaaaaa"]


def test_digest_deleted_by_lifecycle_policy(
    trap: tuple[Simulator, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, config = trap
    expired = sim.run_lifecycle_policies()
    assert len(expired) == 1
    old = expired[0][3]

    snapshot = collect(make_config(sim, tmp_path))
    for svc in snapshot.environments[0].services:
        (run_,) = svc.sidecars
        (count,) = run_.running
        assert count.digest == old and count.in_registry is False and count.tags == ()
        assert any("CannotPullContainerError" in note for note in run_.notes)

    code, out, err = cli(config, "inventory", capsys=capsys)
    assert code == 0 and "no longer in ECR" in err

    code, out, _ = cli(config, "hold", "--json", capsys=capsys)
    (missing,) = json.loads(out)["actions"]
    assert missing["action"] == "missing" and "too late" in missing["detail"]


# --- the pure evaluator ---------------------------------------------------------------

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def image(name: str, *tags: str, days_ago: int) -> ImageInfo:
    return ImageInfo(f"sha256:{name}", tuple(tags), NOW - timedelta(days=days_ago))


def rule(priority: int, count_type: str, number: int, **selection: Any) -> dict[str, Any]:
    return {
        "rulePriority": priority,
        "selection": {"countType": count_type, "countNumber": number, **selection},
        "action": {"type": "expire"},
    }


def expired(policy: dict[str, Any], images: list[ImageInfo]) -> list[str]:
    return [e.digest.removeprefix("sha256:") for e in would_expire(policy, images, NOW)]


def test_untagged_by_age() -> None:
    images = [image("old", days_ago=30), image("new", days_ago=1), image("tag", "v1", days_ago=30)]
    policy = {"rules": [rule(1, "sinceImagePushed", 14, tagStatus="untagged", countUnit="days")]}
    assert expired(policy, images) == ["old"]


def test_count_keeps_newest_and_first_rule_decides() -> None:
    images = [
        image("a", "release-1", days_ago=3),
        image("b", "release-2", days_ago=2),
        image("c", "release-3", days_ago=1),
        image("d", "dev-1", days_ago=5),
    ]
    policy = {
        "rules": [
            rule(1, "imageCountMoreThan", 2, tagStatus="tagged", tagPrefixList=["release"]),
            rule(2, "imageCountMoreThan", 10, tagStatus="any"),
        ]
    }
    assert expired(policy, images) == ["a"]
    # Kept by rule 1, so rule 2 (any, keep 0) cannot expire b or c; it expires d only.
    policy["rules"][1] = rule(2, "imageCountMoreThan", 0, tagStatus="any")
    assert expired(policy, images) == ["a", "d"]


def test_tag_lists_need_every_entry_matched() -> None:
    images = [image("both", "prod", "v1", days_ago=9), image("one", "prod", days_ago=9)]
    prefixes = {
        "rules": [rule(1, "sinceImagePushed", 1, tagStatus="tagged", tagPrefixList=["prod", "v"])]
    }
    assert expired(prefixes, images) == ["both"]
    patterns = {
        "rules": [rule(1, "sinceImagePushed", 1, tagStatus="tagged", tagPatternList=["p*d", "v*"])]
    }
    assert expired(patterns, images) == ["both"]


def test_hold_tag_shape() -> None:
    digest = "sha256:" + "ab" * 32
    assert hold_tag("dev", digest) == "inuse-dev-abababababab"
    assert is_hold_tag("dev", "inuse-dev-abababababab")
    assert not is_hold_tag("dev", "inuse-dev-2-abababababab")
    assert not is_hold_tag("dev-2", "inuse-dev-abababababab")
