"""Rollback for sidecars from any registry (issue 8 items 3 and 5), on the simulator over HTTP.

Re-tag where fleetpatch may write (a shared registry account whose repository policy lets
this account PutImage), pin where it may not (ECR Public; the same shared ECR without that
policy, where ECR answers AccessDeniedException), and in moving-tag mode pin exactly the
services whose app tag moved since the forward rollout. Every case ends with the previous
digest on every task, and the user is told which path and why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.aws.session import AwsSessions
from fleetpatch.cli.app import run
from fleetpatch.config import Config, load_config
from fleetpatch.journal import EntryKind
from fleetpatch.rollout.retag import tag_digest
from fleetpatch.rollout.rollback import rollback
from fleetpatch.rollout.runner import Runner
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config
from tests.rollout.flows import digest_of, sim_config, sim_journal, sim_runner
from tests.rollout.helpers import run_rollout

DEV, SHARED = "111111111111", "222222222222"
SHARED_HOST = f"{SHARED}.dkr.ecr.us-east-1.amazonaws.com"
PUBLIC = "public.ecr.aws"
PUBLIC_REPO = "aws-observability/aws-for-fluent-bit"
SHARED_SIDECAR = {
    "name": "fluent-bit",
    "image": f"{SHARED_HOST}/platform/fluent-bit",
    "tag": "stable",
    "container": "log_router*",
}
PUBLIC_SIDECAR = {**SHARED_SIDECAR, "image": f"{PUBLIC}/{PUBLIC_REPO}"}
# The ECR user guide's "Allow another account" statement, for a re-tag: read and PutImage.
GRANT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowRetagFromDev",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{DEV}:root"},
            "Action": ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"],
        }
    ],
}


def images(old: str, new: str) -> list[dict[str, Any]]:
    """`old` ran when the services were deployed; `new` took `stable` since."""
    return [
        {"tags": [old, "stable"], "pushed_at": "2026-11-01T00:00:00Z"},
        {"tags": [new, "stable"], "pushed_at": "2026-11-20T00:00:00Z"},
    ]


def scenario(policy: dict[str, Any] | None) -> dict[str, Any]:
    def service(name: str, sidecar: str) -> dict[str, Any]:
        containers = [
            {"name": "app", "image": "{registry}/{service}:1"},
            {"name": "log_router", "image": sidecar, "firelens": "fluentbit"},
        ]
        return {"name": name, "containers": containers}

    repository: dict[str, Any] = {"name": "platform/fluent-bit", "images": images("1.0", "1.1")}
    if policy is not None:
        repository["policy"] = policy
    return {
        "now": "2026-11-27T09:00:00Z",
        "time_scale": 0,
        "task_start_seconds": 30,
        "environments": [
            {
                "name": "dev",
                "account": DEV,
                "region": "eu-west-1",
                "clusters": [
                    {
                        "name": "main",
                        "deployed_at": "2026-11-10T00:00:00Z",
                        "services": [
                            service("shared", f"{SHARED_HOST}/platform/fluent-bit:stable"),
                            service("public", f"{PUBLIC}/{PUBLIC_REPO}:stable"),
                        ],
                    }
                ],
            },
            {
                "name": "registry",
                "account": SHARED,
                "region": "us-east-1",
                "repositories": [repository],
            },
        ],
        "registries": [
            {
                "host": PUBLIC,
                "repositories": [{"name": PUBLIC_REPO, "images": images("2.32.0", "2.32.1")}],
            }
        ],
    }


OWN_SIDECAR = {"name": "fluent-bit", "repository": "fluent-bit", "container": "log_router*"}


@contextmanager
def runner_for(sim: Simulator, tmp_path: Path, sidecar: dict[str, str]) -> Iterator[Runner]:
    config = sim_config(sim, tmp_path, sidecars=[sidecar])
    with sim_journal(sim, tmp_path) as journal:
        yield sim_runner(sim, config, journal)


def roll_forward(sim: Simulator, runner: Runner) -> None:
    """The forward rollout the rollback undoes: moving-tag mode onto what `stable` names."""
    result, _ = run_rollout(sim, runner.config, runner.journal)
    assert result.ok, result.services


def running(config: Config, service: str, container: str = "log_router") -> set[str]:
    """The digests the service's running tasks run in `container`."""
    ecs = AwsSessions(config).get("dev").ecs()
    arns = ecs.list_tasks(cluster="main", serviceName=service, desiredStatus="RUNNING")
    tasks = ecs.describe_tasks(cluster="main", tasks=arns["taskArns"])["tasks"]
    return {c["imageDigest"] for t in tasks for c in t["containers"] if c["name"] == container}


def sidecar_image(config: Config, service: str) -> str:
    ecs = AwsSessions(config).get("dev").ecs()
    arn = ecs.describe_services(cluster="main", services=[service])["services"][0]["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return next(
        str(c["image"]) for c in definition["containerDefinitions"] if c["name"] == "log_router"
    )


def shared_digest(sim: Simulator, tag: str) -> str:
    return next(
        d for d, (env, _, first) in sim.images.items() if env == "registry" and first == tag
    )


def public_digest(sim: Simulator, tag: str) -> str:
    digest = sim.registry.oci.digest_for(PUBLIC, PUBLIC_REPO, tag, None)
    assert digest is not None
    return digest


def test_a_shared_account_sidecar_is_rolled_back_by_retag_there(tmp_path: Path) -> None:
    with Simulator(scenario(GRANT)) as sim, runner_for(sim, tmp_path, SHARED_SIDECAR) as runner:
        old, new = shared_digest(sim, "1.0"), shared_digest(sim, "1.1")
        roll_forward(sim, runner)
        assert running(runner.config, "shared") == {new}

        undone = rollback(runner, "dev")

        assert undone.path is not None and undone.path.kind == "retag"
        assert "of account 222222222222 (us-east-1)" in undone.path.why
        assert undone.rollout.ok, undone.rollout.services
        assert running(runner.config, "shared") == {old}
        # The tag moved back in the registry account, as its owner reads it.
        owner = client(sim, "ecr", "registry")
        assert tag_digest(owner, "platform/fluent-bit", "stable") == old
        assert undone.retag is not None and undone.retag.digest_before == new
        # The service still references the tag, which now names the old digest again.
        assert sidecar_image(runner.config, "shared").endswith("platform/fluent-bit:stable")
        kinds = [e.kind for e in runner.journal.entries(environment="dev")]
        assert EntryKind.RETAG in kinds and runner.journal.verify().ok


def test_a_shared_account_that_refuses_putimage_is_rolled_back_by_pinning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No repository policy lets dev write: ECR refuses the PutImage (AccessDeniedException),
    and the rollback pins instead, saying why in one line. Through the CLI, at 600x."""
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "journal.sqlite"))
    with Simulator(scenario(None), time_scale=600) as sim:
        path = render_config(sim, tmp_path / "fleetpatch.toml", sidecars=[SHARED_SIDECAR])
        config = load_config(path)
        old, new = shared_digest(sim, "1.0"), shared_digest(sim, "1.1")
        base = ["--config", str(path)]
        assert run([*base, "rollout", "--env", "dev", "--yes", "--poll-interval", "0.05"]) == 0
        assert running(config, "shared") == {new}
        capsys.readouterr()

        code = run([*base, "rollback", "--env", "dev", "--yes", "--poll-interval", "0.05"])
        out, err = capsys.readouterr()

        assert code == 0, out + err
        assert running(config, "shared") == {old}
        assert sidecar_image(config, "shared") == f"{SHARED_HOST}/platform/fluent-bit@{old}"
        # The tag was not moved: it still names the new digest.
        owner = client(sim, "ecr", "registry")
        assert tag_digest(owner, "platform/fluent-bit", "stable") == new
    # Said when it happened, and in the closing line.
    (line,) = [line for line in out.splitlines() if line.startswith("dev: rolled back to")]
    assert "by pin: ECR repository platform/fluent-bit of account 222222222222" in line
    assert "refused PutImage (AccessDeniedException" in line
    assert "Traceback" not in out + err
    # ... and at the moment ECR refused, before the deployments started.
    assert any(line.startswith("rollback by pin: ") for line in err.splitlines())


def test_an_ecr_public_sidecar_is_rolled_back_by_pinning(tmp_path: Path) -> None:
    with Simulator(scenario(None)) as sim, runner_for(sim, tmp_path, PUBLIC_SIDECAR) as runner:
        old, new = public_digest(sim, "2.32.0"), public_digest(sim, "2.32.1")
        roll_forward(sim, runner)
        assert running(runner.config, "public") == {new}

        undone = rollback(runner, "dev")

        assert undone.path is not None and undone.path.kind == "pin"
        assert undone.path.why.startswith("pin: public.ecr.aws is not an ECR registry")
        assert undone.plan.notes[0] == f"rollback by {undone.path.why}"
        assert undone.rollout.ok, undone.rollout.services
        assert running(runner.config, "public") == {old}
        assert sidecar_image(runner.config, "public") == f"{PUBLIC}/{PUBLIC_REPO}@{old}"
        assert undone.retag is None
        started = next(
            e
            for e in runner.journal.entries(environment="dev")
            if e.kind is EntryKind.ROLLBACK_STARTED
        )
        assert started.details["path"] == "pin"


# --- moving-tag mode and the other containers --------------------------------------------------


@pytest.fixture
def app_sim() -> Iterator[Simulator]:
    scenario_ = small_scenario()
    env = scenario_["environments"][0]
    v1 = {"tags": ["v1", "latest"], "pushed_at": "2026-11-01T00:00:00Z"}
    env["repositories"].append({"name": "shop", "images": [v1]})
    cluster = env["clusters"][0]
    app = {"name": "app", "image": "{registry}/shop:latest"}
    cluster["services"] = [{"name": "api", "containers": [app, cluster["containers"][1]]}, "web"]
    with Simulator(scenario_) as simulator:
        yield simulator


def test_tag_mode_rollback_pins_the_services_whose_app_tag_moved(
    app_sim: Simulator, tmp_path: Path
) -> None:
    """Between the forward rollout and the rollback, shop:latest moved to unreviewed v2. The
    rollback's forced deployment would ship it to api: api is pinned instead (only the
    sidecar changes there), web re-resolves the moved-back tag. Nothing waits on a human."""
    sim = app_sim
    with runner_for(sim, tmp_path, OWN_SIDECAR) as runner:
        old = digest_of(sim, "1.0-aaaaaaa")
        roll_forward(sim, runner)
        v1 = digest_of(sim, "v1")
        sim.push_image("dev", "shop", {"tags": ["v2", "latest"]})

        undone = rollback(runner, "dev")

        assert undone.rollout.ok, undone.rollout.services
        assert undone.path is not None and undone.path.kind == "retag"
        assert running(runner.config, "api") == running(runner.config, "web") == {old}
        steps = {s.key: s for s in undone.plan.services}
        assert steps["main/api"].pin and not steps["main/web"].pin
        (note,) = [n for n in undone.plan.notes if n.startswith("main/api is pinned instead")]
        assert "app (" in note and note.endswith("only the sidecar changes")
        # api's app still runs v1 and its sidecar is pinned; web's still follows the tag.
        assert running(runner.config, "api", "app") == {v1}
        assert sidecar_image(runner.config, "api").endswith(f"fluent-bit@{old}")
        assert sidecar_image(runner.config, "web").endswith("fluent-bit:latest")
        ecr = runner.sessions.get("dev").ecr()
        assert tag_digest(ecr, "fluent-bit", "latest") == old
        waves = json.loads(json.dumps(undone.plan.to_json()))["waves"]
        pinned = {s["service"]: s["pinned"] for w in waves for s in w["services"]}
        assert pinned == {"main/api": True, "main/web": False}
