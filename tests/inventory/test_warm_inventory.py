"""A warm inventory (issue 9 item 5): answers AWS never changes (task definition revisions,
settled service revisions) are kept beside the journal, so reading an unchanged fleet again
costs only what can change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.aws.session import AwsSessions
from fleetpatch.cli.app import run
from fleetpatch.config import load_config
from fleetpatch.sim import Simulator
from tests.inventory.helpers import render_config


def inventory(path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    sim.reset_calls()
    assert run(["--config", str(path), "inventory", "--all", "--json"], now=sim.clock.now) == 0
    return dict(json.loads(capsys.readouterr().out))


def configured(sim: Simulator, tmp_path: Path) -> Path:
    path = render_config(sim, tmp_path / "fleetpatch.toml")
    path.write_text(f'journal = "{tmp_path / "journal.sqlite"}"\n\n' + path.read_text())
    return path


def services(answer: dict[str, Any]) -> list[Any]:
    return [env["services"] for env in answer["environments"]]


def test_an_unchanged_fleet_read_again_asks_only_what_can_change(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = configured(sim, tmp_path)
    cold = inventory(path, sim, capsys)
    cold_calls = sim.calls
    assert cold_calls["ecs:DescribeTaskDefinition"] == 3
    assert cold_calls["ecs:DescribeServiceRevisions"] >= 1
    assert (tmp_path / "cache.sqlite").exists()  # beside the journal

    warm = inventory(path, sim, capsys)
    warm_calls = sim.calls
    assert warm_calls["ecs:DescribeTaskDefinition"] == 0
    assert warm_calls["ecs:DescribeServiceRevisions"] == 0
    assert warm["api_calls"] < cold["api_calls"]
    # The same fleet, read with fewer calls.
    assert services(warm) == services(cold)


def test_a_new_revision_is_read_once_the_rest_comes_from_the_cache(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = configured(sim, tmp_path)
    inventory(path, sim, capsys)
    # The team behind api registers a revision and deploys it.
    ecs = AwsSessions(load_config(path)).get("dev").ecs()
    service = ecs.describe_services(cluster="main", services=["api"])["services"][0]
    described = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    definition = described["taskDefinition"]
    registered = ecs.register_task_definition(
        family=definition["family"],
        containerDefinitions=definition["containerDefinitions"],
        requiresCompatibilities=definition.get("requiresCompatibilities", []),
        networkMode=definition.get("networkMode", "awsvpc"),
        cpu=definition.get("cpu", "256"),
        memory=definition.get("memory", "512"),
    )
    new_arn = registered["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="main", service="api", taskDefinition=new_arn)
    sim.advance(600)

    warm = inventory(path, sim, capsys)
    assert sim.calls["ecs:DescribeTaskDefinition"] == 1
    (dev,) = warm["environments"]
    api = next(s for s in dev["services"] if s["service"] == "api")
    assert api["task_definition"].endswith(":" + new_arn.rsplit(":", 1)[-1])


def test_a_cache_file_that_is_not_a_cache_is_one_line(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = configured(sim, tmp_path)
    (tmp_path / "cache.sqlite").write_bytes(b"not a database, something else entirely" * 40)
    capsys.readouterr()
    assert run(["--config", str(path), "inventory"], now=sim.clock.now) == 2
    err = capsys.readouterr().err
    assert "cache.sqlite can't be used" in err and "delete it" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
