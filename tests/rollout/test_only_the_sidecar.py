"""Only the sidecar changes (issue 8 item 3): an app container on a moving tag that moved since
its tasks started is not redeployed under a sidecar patch in moving-tag mode; pin mode pins it
to what it runs; --allow-other-changes ships it knowingly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import load_config
from fleetpatch.journal import SqliteJournal
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config
from tests.rollout.helpers import FAST_POLL, config_for, make_plan, run_rollout


def app_on_latest_scenario() -> dict[str, Any]:
    scenario = small_scenario()
    env = scenario["environments"][0]
    env["repositories"].append(
        {
            "name": "shop",
            "images": [
                {"tags": ["v1", "latest"], "pushed_at": "2026-11-01T00:00:00Z"},
                # Pushed after the services were deployed: unreviewed app code on `latest`.
                {"tags": ["v2", "latest"], "pushed_at": "2026-11-20T00:00:00Z"},
            ],
        }
    )
    cluster = env["clusters"][0]
    cluster["containers"][0]["image"] = "{registry}/shop:latest"
    return scenario


@pytest.fixture
def app_sim() -> Iterator[Simulator]:
    with Simulator(app_on_latest_scenario()) as simulator:
        yield simulator


def app_digests(config: Any) -> dict[str, set[str]]:
    ecs = AwsSessions(config).get("dev").ecs()
    found = {}
    for name in ("api", "web", "worker"):
        arns = ecs.list_tasks(cluster="main", serviceName=name, desiredStatus="RUNNING")
        tasks = ecs.describe_tasks(cluster="main", tasks=arns["taskArns"])["tasks"]
        found[name] = {
            c["imageDigest"] for t in tasks for c in t["containers"] if c["name"] == "app"
        }
    return found


def image_digest(config: Any, tag: str) -> str:
    ecr = AwsSessions(config).get("dev").ecr()
    answer = ecr.describe_images(repositoryName="shop", imageIds=[{"imageTag": tag}])
    return str(answer["imageDetails"][0]["imageDigest"])


def test_tag_mode_refuses_a_service_whose_app_tag_moved(app_sim: Simulator, tmp_path: Path) -> None:
    config = config_for(app_sim, tmp_path)
    v1, v2 = image_digest(config, "v1"), image_digest(config, "v2")
    the_plan = make_plan(config)

    assert the_plan.waves == ()
    assert {s.key for s in the_plan.skipped} == {"main/api", "main/web", "main/worker"}
    skipped = the_plan.skipped[0]
    assert skipped.reason.startswith("a new deployment would also change app (")
    assert skipped.reason.endswith(
        "use --pin to change only the sidecar, or --allow-other-changes to ship them too"
    )
    (change,) = skipped.to_json()["other_changes"]
    assert (change["container"], change["digest_before"], change["digest_after"]) == (
        "app",
        v1,
        v2,
    )
    assert any("--pin changes only the sidecar" in note for note in the_plan.notes)


def test_pin_mode_pins_the_app_to_what_it_runs(
    app_sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(app_sim, tmp_path)
    v1 = image_digest(config, "v1")
    result, _ = run_rollout(app_sim, config, journal, mode="pin", version="1.1")

    assert result.ok, result.services
    assert app_digests(config) == {"api": {v1}, "web": {v1}, "worker": {v1}}


def test_allow_other_changes_ships_them_and_verification_names_them(
    app_sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(app_sim, tmp_path)
    v2 = image_digest(config, "v2")
    assert make_plan(config).skipped  # refused unless allowed
    result, _ = run_rollout(
        app_sim,
        config,
        journal,
        options=RolloutOptions(poll=FAST_POLL),
        allow_other_changes=True,
    )
    # The services deploy with the app's new code, as the user allowed; the plan journaled it.
    assert result.ok, result.services
    assert app_digests(config) == {"api": {v2}, "web": {v2}, "worker": {v2}}
    (entry,) = [e for e in journal.entries() if e.kind.value == "plan"]
    assert any(
        "main/api ships other changes too (allowed): app" in n for n in entry.details["notes"]
    )


def app_on_docker_hub_scenario() -> dict[str, Any]:
    """api's app is Docker Hub's `shop:latest`, which moved since api was deployed; web's app
    is `acme/web:stable`, which did not."""
    scenario = small_scenario()
    pushed = [
        {"tags": ["v1", "latest"], "pushed_at": "2026-11-01T00:00:00Z"},
        {"tags": ["v2", "latest"], "pushed_at": "2026-11-20T00:00:00Z"},
    ]
    scenario["registries"] = [
        {
            "host": "docker.io",
            "repositories": [
                {"name": "library/shop", "images": pushed},
                {
                    "name": "acme/web",
                    "images": [{"tags": ["1", "stable"], "pushed_at": "2026-11-01T00:00:00Z"}],
                },
            ],
        }
    ]
    cluster = scenario["environments"][0]["clusters"][0]
    sidecar = cluster["containers"][1]
    cluster["services"] = [
        {"name": "api", "containers": [{"name": "app", "image": "shop:latest"}, sidecar]},
        {"name": "web", "containers": [{"name": "app", "image": "acme/web:stable"}, sidecar]},
    ]
    return scenario


def test_an_app_on_docker_hub_whose_tag_moved_is_refused_in_tag_mode(tmp_path: Path) -> None:
    with Simulator(app_on_docker_hub_scenario()) as sim:
        config = config_for(sim, tmp_path)
        v1 = sim.registry.oci.digest_for("docker.io", "library/shop", "v1", None)
        v2 = sim.registry.oci.digest_for("docker.io", "library/shop", "v2", None)
        the_plan = make_plan(config)

    # web's app tag did not move: it is deployed; api's did: refused, with both digests.
    assert [s.key for s in the_plan.services] == ["main/web"]
    (skipped,) = the_plan.skipped
    assert skipped.key == "main/api"
    (change,) = skipped.to_json()["other_changes"]
    assert (change["container"], change["image"]) == ("app", "shop:latest")
    assert (change["digest_before"], change["digest_after"]) == (v1, v2)
    assert "use --pin to change only the sidecar" in skipped.reason


def test_an_unreadable_registry_counts_as_a_change_it_cannot_rule_out(tmp_path: Path) -> None:
    with Simulator(app_on_docker_hub_scenario()) as sim:
        # docker.io reached at a port nothing listens on: an unreachable registry.
        path = render_config(sim, tmp_path / "fleetpatch.toml", registries=[])
        text = '[[registries]]\nhost = "docker.io"\nendpoint_url = "http://127.0.0.1:9"\n\n'
        path.write_text(text + path.read_text(encoding="utf-8"), encoding="utf-8")
        config = load_config(path)
        the_plan = make_plan(config)
    assert the_plan.waves == ()
    reasons = {s.key: s.to_json()["other_changes"][0] for s in the_plan.skipped}
    assert set(reasons) == {"main/api", "main/web"}
    assert reasons["main/web"]["digest_after"] is None
    assert "fleetpatch can't tell where its tag points now" in reasons["main/web"]["why"]
    assert "registry docker.io is unreachable" in reasons["main/web"]["why"]
