"""`fleetpatch inventory / status / trace` against the simulator over real HTTP.

Covers issue 3 items 4 (the JSON contract), 5 (call economy) and 6 (awkward fleets).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.cli.app import run
from fleetpatch.core.snapshot import Snapshot
from fleetpatch.core.summary import summarize
from fleetpatch.core.trace import trace
from fleetpatch.inventory.collect import collect
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario
from tests.inventory.helpers import FLUENT_BIT, make_config, render_config

XRAY = {"name": "xray", "repository": "aws-xray-daemon", "container": "xray*"}


def cli(config: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def service(snapshot: Snapshot, name: str, env: str = "dev") -> Any:
    for environment in snapshot.environments:
        for svc in environment.services:
            if environment.name == env and svc.service == name:
                return svc
    raise AssertionError(f"no service {name} in {env}")


def force_new_deployment(sim: Simulator, services: list[str], env: str = "dev") -> None:
    ecs = client(sim, "ecs", env)
    for name in services:
        ecs.update_service(cluster="main", service=name, forceNewDeployment=True)


# --- the ordinary fleet and the JSON contract -----------------------------------------------------


def test_json_contract(sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = render_config(sim, tmp_path / "fleetpatch.toml")
    code, out, err = cli(config, "inventory", "--json", capsys=capsys)
    assert code == 0, err
    data = json.loads(out)
    assert {"environments", "api_calls"} <= set(data)
    assert isinstance(data["api_calls"], int) and data["api_calls"] > 0
    (env,) = data["environments"]
    assert {"name", "account", "region", "services"} <= set(env)
    assert (env["name"], env["account"], env["region"]) == ("dev", "111111111111", "eu-west-1")
    assert [s["service"] for s in env["services"]] == ["api", "worker", "web"]
    api = env["services"][0]
    assert {"cluster", "service", "task_definition", "sidecars"} <= set(api)
    assert (api["cluster"], api["task_definition"]) == ("main", "api:1")
    (run_,) = api["sidecars"]
    contract = {"name", "container", "image", "reference", "running", "tag_digest", "drift"}
    assert contract | {"tags", "pushed_at"} <= set(run_)
    assert run_["name"] == "fluent-bit" and run_["container"] == "log_router"
    assert run_["image"] == "111111111111.dkr.ecr.eu-west-1.amazonaws.com/fluent-bit:latest"
    assert run_["reference"] == "tag"
    (running,) = run_["running"]
    assert set(running) >= {"digest", "tasks"} and running["tasks"] == 2
    assert running["digest"].startswith("sha256:") and len(running["digest"]) == 71
    # fluent-bit 1.0 runs, latest has moved to 1.1 since the deployment: drift.
    assert run_["tag_digest"] != running["digest"] and run_["drift"] is True
    assert run_["tags"] == ["1.0-aaaaaaa"]
    assert run_["pushed_at"] == "2026-11-01T00:00:00Z"
    assert api["deployment"] == "COMPLETED"


def test_call_economy(tmp_path: Path) -> None:
    """25 services of 2 tasks: ListServices 1 page, DescribeServices in tens, one
    DescribeTaskDefinition per revision, one ListTasks page and one DescribeTasks for all."""
    scenario = small_scenario()
    scenario["environments"][0]["clusters"][0]["services"] = [f"svc-{i:02}" for i in range(25)]
    with Simulator(scenario) as sim:
        config = make_config(sim, tmp_path)
        sim.reset_calls()
        snapshot = collect(config)
        calls = dict(sim.calls)
    assert calls == {
        "ecs:ListClusters": 1,
        "ecs:ListServices": 1,
        "ecs:DescribeServices": 3,
        "ecs:DescribeTaskDefinition": 25,
        "ecs:ListTasks": 1,
        "ecs:DescribeTasks": 1,
        "ecs:DescribeServiceRevisions": 2,
        "ecr:DescribeImages": 1,
        "ecr:GetLifecyclePolicy": 1,
    }
    # api_calls counts the ECS and ECR calls the run made (not STS AssumeRole).
    assert snapshot.api_calls == sum(calls.values())


def test_service_globs_list_tasks_per_service(tmp_path: Path) -> None:
    with Simulator(small_scenario()) as sim:
        config = make_config(sim, tmp_path, environments={"dev": {"services": ["api", "web"]}})
        sim.reset_calls()
        snapshot = collect(config)
        calls = dict(sim.calls)
    assert [s.service for s in snapshot.environments[0].services] == ["api", "web"]
    assert calls["ecs:ListTasks"] == 2  # one per selected service, not the whole cluster


def test_status_trace_and_csv(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = render_config(sim, tmp_path / "fleetpatch.toml")
    code, out, _ = cli(config, "status", "--json", capsys=capsys)
    assert code == 0
    (row,) = json.loads(out)["status"]
    assert (row["environment"], row["sidecar"], row["services"], row["drifting"]) == (
        "dev",
        "fluent-bit",
        3,
        3,
    )
    assert row["oldest"]["label"] == "1.0-aaaaaaa" and row["tag_now"] == "1.1-bbbbbbb"
    assert [(v["label"], v["services"], v["tasks"]) for v in row["versions"]] == [
        ("1.0-aaaaaaa", 3, 6)
    ]

    code, out, _ = cli(config, "status", capsys=capsys)
    assert code == 0 and "1.0-aaaaaaa" in out

    for query in ("1.0", "1.0-aaaaaaa"):
        code, out, _ = cli(config, "trace", query, "--json", capsys=capsys)
        hits = json.loads(out)["hits"]
        assert sorted(h["service"] for h in hits) == ["api", "web", "worker"]
        assert all(len(h["task_ids"]) == 2 for h in hits)
    digest = hits[0]["digest"]
    code, out, _ = cli(config, "trace", digest[:15], "--json", capsys=capsys)
    assert len(json.loads(out)["hits"]) == 3
    code, out, err = cli(config, "trace", "1.1", capsys=capsys)
    assert code == 0 and "no running task runs 1.1" in err

    code, out, _ = cli(config, "inventory", "--csv", capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["service"] for r in rows] == ["api", "worker", "web"]
    assert rows[0]["digest"] == digest and rows[0]["tasks"] == "2" and rows[0]["drift"] == "true"

    code, out, _ = cli(config, "inventory", capsys=capsys)
    assert code == 0 and "1.0-aaaaaaa" in out and "log_router" in out


# --- awkward fleets (issue 3 item 6) ---------------------------------------------------------


@pytest.fixture
def awkward(tmp_path: Path) -> Iterator[tuple[Simulator, Path]]:
    """A fleet with every awkward case at once."""
    log_router = {"name": "log_router", "image": "{registry}/fluent-bit:latest"}
    app = {"name": "app", "image": "{registry}/{service}:1"}
    scenario = small_scenario()
    env = scenario["environments"][0]
    env["repositories"].append(
        {
            "name": "aws-xray-daemon",
            "images": [{"tags": ["3.3.0", "latest"], "pushed_at": "2026-10-01T00:00:00Z"}],
        }
    )
    env["clusters"][0]["services"] = [
        "api",
        {"name": "idle", "desired_count": 0},
        {
            "name": "cross-account",
            "containers": [
                app,
                {
                    "name": "log_router",
                    "image": "222222222222.dkr.ecr.eu-west-1.amazonaws.com/fluent-bit:latest",
                },
            ],
        },
        {
            "name": "public",
            "containers": [
                app,
                {
                    "name": "log_router",
                    "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                },
            ],
        },
        {
            "name": "multi",
            "containers": [
                app,
                log_router,
                {"name": "log_router_audit", "image": "{registry}/fluent-bit:1.0-aaaaaaa"},
                {"name": "xray-daemon", "image": "{registry}/aws-xray-daemon:latest"},
            ],
        },
        {"name": "plain", "containers": [app]},
    ]
    with Simulator(scenario) as sim:
        config = render_config(
            sim,
            tmp_path / "fleetpatch.toml",
            sidecars=[FLUENT_BIT, XRAY],
            registries=["public.ecr.aws"],
        )
        yield sim, config


def test_awkward_fleet(awkward: tuple[Simulator, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _sim, config = awkward
    code, out, err = cli(config, "inventory", "--json", "--all", capsys=capsys)
    assert code == 0, err
    services = {s["service"]: s for s in json.loads(out)["environments"][0]["services"]}

    # A service with no tasks: reported, no running digests, no drift.
    idle = services["idle"]
    (run_,) = idle["sidecars"]
    assert run_["running"] == [] and run_["drift"] is False
    assert idle["notes"] == ["desired count 0: no tasks run"]

    # Another account's ECR and public ECR, neither holding the repository (see
    # test_registries.py for ones that do): running digests, not resolvable, and why.
    cross = services["cross-account"]["sidecars"][0]
    assert cross["resolvable"] is False and "account 222222222222" in cross["reason"]
    assert cross["running"][0]["tasks"] == 2 and cross["tag_digest"] is None
    public = services["public"]["sidecars"][0]
    assert public["resolvable"] is False and "public.ecr.aws" in public["reason"]
    assert public["running"][0]["in_registry"] is None

    # Several sidecars in one task, and a second sidecar kind.
    multi = {(r["name"], r["container"]): r for r in services["multi"]["sidecars"]}
    assert set(multi) == {
        ("fluent-bit", "log_router"),
        ("fluent-bit", "log_router_audit"),
        ("xray", "xray-daemon"),
    }
    assert multi[("xray", "xray-daemon")]["tags"] == ["3.3.0", "latest"]
    assert multi[("xray", "xray-daemon")]["drift"] is False
    # log_router_audit pins the version tag: it runs what its tag says, no drift.
    assert multi[("fluent-bit", "log_router_audit")]["drift"] is False

    # --all lists services without a sidecar; without it they are left out.
    assert services["plain"]["sidecars"] == []
    code, out, _ = cli(config, "inventory", "--json", capsys=capsys)
    assert "plain" not in {s["service"] for s in json.loads(out)["environments"][0]["services"]}
    code, out, _ = cli(config, "inventory", "--json", "--sidecar", "xray", capsys=capsys)
    assert [s["service"] for s in json.loads(out)["environments"][0]["services"]] == ["multi"]

    # The human table says it all without crashing.
    code, out, err = cli(config, "inventory", "--all", capsys=capsys)
    assert code == 0 and "public.ecr.aws" in err and "multi" in out

    snapshot = collect(load(config))
    rows = {row.sidecar: row for row in summarize(snapshot)}
    assert rows["xray"].services == 1 and rows["fluent-bit"].unresolvable == 2
    assert rows["fluent-bit"].not_running == 1


def load(path: Path) -> Any:
    from fleetpatch.config import load_config

    return load_config(path)


def test_sidecar_by_digest(sim: Simulator, tmp_path: Path) -> None:
    ecs = client(sim, "ecs", "dev")
    config = make_config(sim, tmp_path)
    pinned = service(collect(config), "api").sidecars[0].running[0].digest
    definition = ecs.describe_task_definition(taskDefinition="api:1")["taskDefinition"]
    containers = definition["containerDefinitions"]
    for container in containers:
        if container["name"] == "log_router":
            container["image"] = f"{sim.environment('dev').registry}/fluent-bit@{pinned}"
    keys = ("family", "requiresCompatibilities", "networkMode", "cpu", "memory")
    registered = ecs.register_task_definition(
        containerDefinitions=containers, **{k: definition[k] for k in keys}
    )["taskDefinition"]
    ecs.update_service(
        cluster="main", service="api", taskDefinition=registered["taskDefinitionArn"]
    )
    sim.advance(600)

    api = service(collect(config), "api")
    (run_,) = api.sidecars
    assert run_.reference == "digest" and run_.image.endswith(pinned)
    assert [(c.digest, c.tasks) for c in run_.running] == [(pinned, 2)]
    assert api.task_definition == "api:2" and api.deployment == "COMPLETED"
    # Pinned behind the moving tag: tag_digest is where `latest` points now.
    assert run_.tag_digest != pinned and run_.drift is True
    assert trace(collect(config), pinned[7:20])[0].service in {"api", "web", "worker"}


def test_mid_deployment_two_digests(sim: Simulator, tmp_path: Path) -> None:
    config = make_config(sim, tmp_path)
    old = service(collect(config), "api").sidecars[0].running[0].digest
    new = sim.push_image("dev", "fluent-bit", {"tags": ["1.2-ccccccc", "latest"]})
    force_new_deployment(sim, ["api"])
    sim.advance(10)  # new tasks are starting (task_start_seconds = 30), old ones still run

    api = service(collect(config), "api")
    (run_,) = api.sidecars
    assert {c.digest: c.tasks for c in run_.running} == {old: 2, new: 2}
    assert run_.drift is True and run_.tag_digest == new
    assert api.deployment == "IN_PROGRESS" and api.deployments == 2
    assert run_.revision_digest == new and run_.digest == new
    assert run_.tags == ("1.2-ccccccc", "latest")

    sim.advance(600)
    api = service(collect(config), "api")
    (run_,) = api.sidecars
    assert [(c.digest, c.tasks) for c in run_.running] == [(new, 2)]
    assert run_.drift is False and api.deployment == "COMPLETED"


def test_failing_environment_others_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    scenario = small_scenario()
    second = json.loads(json.dumps(scenario["environments"][0]))
    second.update(name="prod", account="333333333333")
    scenario["environments"].append(second)
    with Simulator(scenario) as sim:
        config = render_config(sim, tmp_path / "fleetpatch.toml")
        text = config.read_text().replace(
            'credentials = { role_arn = "arn:aws:iam::333333333333:role/fleetpatch" }',
            'credentials = { profile = "fleetpatch-missing" }',
        )
        config.write_text(text)
        code, out, err = cli(config, "inventory", "--json", capsys=capsys)
    assert code == 1
    dev, prod = json.loads(out)["environments"]
    assert dev["error"] is None and len(dev["services"]) == 3
    assert prod["services"] == [] and "fleetpatch-missing" in prod["error"]
    (line,) = err.strip().splitlines()
    assert line.startswith("error: prod: AWS profile 'fleetpatch-missing' not found")
