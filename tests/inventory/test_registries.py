"""Sidecars from any registry (issue 8 items 5 and 8), on the simulator over real HTTP.

A shared registry account's ECR in another region, ECR Public and Docker Hub (official and
organisation images), each with a tag that moved since the services were deployed: inventory
must show the digest the tasks run and where the tag points now, plan and pin mode must work
for them, and pre-flight must read the platform from the image itself.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.cli.app import run
from fleetpatch.config import Config, load_config
from fleetpatch.core.snapshot import SidecarRun, Snapshot
from fleetpatch.errors import UserError
from fleetpatch.inventory.collect import collect
from fleetpatch.inventory.oci import OciRegistry
from fleetpatch.rollout.plan import plan
from fleetpatch.rollout.runner import PreflightRefused
from fleetpatch.rollout.target import resolve_target
from fleetpatch.sim import Simulator
from tests.inventory.helpers import render_config
from tests.rollout.flows import sim_journal, sim_runner
from tests.rollout.helpers import run_rollout

SHARED = "222222222222.dkr.ecr.us-east-1.amazonaws.com"
PUBLIC = "public.ecr.aws"
FLUENT = {"name": "fluent-bit", "repository": "fluent-bit", "container": "log_router*"}
PUBLIC_SIDECAR = {
    "name": "fluent-bit",
    "image": f"{PUBLIC}/aws-observability/aws-for-fluent-bit",
    "tag": "stable",
    "container": "log_router*",
}


def images(old: str, new: str, moving: str, **new_fields: Any) -> list[dict[str, Any]]:
    """`old` pushed before the services were deployed, then `new` took the moving tag."""
    return [
        {"tags": [old, moving], "pushed_at": "2026-11-01T00:00:00Z"},
        {"tags": [new, moving], "pushed_at": "2026-11-20T00:00:00Z", **new_fields},
    ]


def service(name: str, image: str, **fields: Any) -> dict[str, Any]:
    containers = [
        {"name": "app", "image": "{registry}/app:1"},
        {"name": "log_router", "image": image, "firelens": "fluentbit"},
    ]
    return {"name": name, "containers": containers, **fields}


def scenario() -> dict[str, Any]:
    return {
        "now": "2026-11-27T09:00:00Z",
        "time_scale": 0,
        "environments": [
            {
                "name": "dev",
                "account": "111111111111",
                "region": "eu-west-1",
                "repositories": [{"name": "app", "images": images("1", "2", "latest")}],
                "clusters": [
                    {
                        "name": "main",
                        "deployed_at": "2026-11-10T00:00:00Z",
                        "services": [
                            service(
                                "shared",
                                f"{SHARED}/platform/fluent-bit:stable",
                                cpu_architecture="ARM64",
                            ),
                            service(
                                "public", f"{PUBLIC}/aws-observability/aws-for-fluent-bit:stable"
                            ),
                            service("hub-org", "fluent/fluent-bit:3.0"),
                            service("hub-official", "docker.io/library/fluent-bit:3.0"),
                            service("elsewhere", "registry.invalid/fluent-bit:3.0"),
                        ],
                    }
                ],
            },
            # The shared registry account: an environment with repositories and no clusters.
            {
                "name": "registry",
                "account": "222222222222",
                "region": "us-east-1",
                "repositories": [
                    {
                        "name": "platform/fluent-bit",
                        # The new build is amd64 only: its platform is in its config blob.
                        "images": images("1.0", "1.1", "stable", platforms=["linux/amd64"]),
                    }
                ],
            },
        ],
        "registries": [
            {
                "host": PUBLIC,
                "repositories": [
                    {
                        "name": "aws-observability/aws-for-fluent-bit",
                        "images": images("2.32.0", "2.32.1", "stable"),
                    }
                ],
            },
            {
                "host": "docker.io",
                "repositories": [
                    {"name": "fluent/fluent-bit", "images": images("3.0.1", "3.0.2", "3.0")},
                    {"name": "fluent-bit", "images": images("3.0.1", "3.0.2", "3.0")},
                ],
            },
        ],
    }


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(scenario()) as simulator:
        yield simulator


def config(sim: Simulator, tmp_path: Path, sidecar: dict[str, str] | None = None) -> Path:
    path = render_config(sim, tmp_path / "fleetpatch.toml", sidecars=[sidecar or FLUENT])
    # registry.invalid is reached at a port nothing listens on: an unreachable registry.
    text = '[[registries]]\nhost = "registry.invalid"\nendpoint_url = "http://127.0.0.1:9"\n\n'
    path.write_text(text + path.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def runs(snapshot: Snapshot) -> dict[str, SidecarRun]:
    return {svc.service: run_ for env, svc, run_ in snapshot.runs() if env.name == "dev"}


def oci_digest(sim: Simulator, host: str, name: str, tag: str) -> str:
    digest = sim.registry.oci.digest_for(host, name, tag, None)
    assert digest is not None
    return digest


def ecr_digest(sim: Simulator, tag: str) -> str:
    return next(
        d for d, (env, _, first) in sim.images.items() if env == "registry" and first == tag
    )


def test_inventory_reads_each_sidecar_from_its_own_registry(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = collect(load_config(config(sim, tmp_path)))
    found = runs(snapshot)
    expected = {
        "shared": (ecr_digest(sim, "1.0"), ecr_digest(sim, "1.1"), SHARED),
        "public": (
            oci_digest(sim, PUBLIC, "aws-observability/aws-for-fluent-bit", "2.32.0"),
            oci_digest(sim, PUBLIC, "aws-observability/aws-for-fluent-bit", "2.32.1"),
            PUBLIC,
        ),
        "hub-org": (
            oci_digest(sim, "docker.io", "fluent/fluent-bit", "3.0.1"),
            oci_digest(sim, "docker.io", "fluent/fluent-bit", "3.0.2"),
            "docker.io",
        ),
        "hub-official": (
            oci_digest(sim, "docker.io", "library/fluent-bit", "3.0.1"),
            oci_digest(sim, "docker.io", "library/fluent-bit", "3.0.2"),
            "docker.io",
        ),
    }
    for name, (running, tag_now, origin) in expected.items():
        run_ = found[name]
        assert run_.reason is None and run_.resolvable, name
        assert [c.digest for c in run_.running] == [running], name
        assert run_.running[0].tasks == 2 and run_.running[0].in_registry is True, name
        assert run_.tag_digest == tag_now and run_.drift is True, name
        assert run_.origin == origin, name
    # Another account's ECR is listed whole: the running digest's tags and push time too.
    assert found["shared"].tags == ("1.0",)
    assert found["shared"].pushed_at is not None
    assert found["hub-official"].repository == "library/fluent-bit"

    # The table names another account's versions by their tags, as for the own ECR.
    code = run(["--config", str(tmp_path / "fleetpatch.toml"), "inventory"])
    out, _ = capsys.readouterr()
    row = next(line for line in out.splitlines() if line.strip().startswith("shared"))
    assert code == 0 and "1.0 (2)" in row and "1.1" in row


def test_an_unreachable_registry_is_one_line_per_service(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(sim, tmp_path)
    run_ = runs(collect(load_config(path)))["elsewhere"]
    assert run_.resolvable is False and run_.tag_digest is None
    assert run_.reason is not None and run_.reason.startswith(
        "registry registry.invalid is unreachable"
    )
    assert run_.running[0].tasks == 2  # what runs is known from ECS all the same

    code = run(["--config", str(path), "inventory"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in out + err
    lines = [line for line in err.splitlines() if "registry.invalid is unreachable" in line]
    assert len(lines) == 1 and "elsewhere" in lines[0]


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        (
            {"name": "f", "image": "fluent/fluent-bit:3.0"},
            "sidecars[0].image: 'fluent/fluent-bit:3.0' has a tag or digest",
        ),
        (
            {"name": "f", "image": "public.ecr.aws/Fluent"},
            "sidecars[0].image: 'Fluent' is not a repository name",
        ),
        (
            {"name": "f", "image": "public.ecr.aws/fluent", "repository": "other"},
            "sidecars[0].repository: 'other' contradicts image",
        ),
    ],
)
def test_a_bad_sidecar_image_is_one_line(
    sim: Simulator, tmp_path: Path, sidecar: dict[str, str], message: str
) -> None:
    path = render_config(sim, tmp_path / "fleetpatch.toml", sidecars=[sidecar])
    with pytest.raises(UserError) as error:
        load_config(path)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (f'host = "{SHARED}"', "is read through the AWS API"),
        ('host = "bad host!"', "expected a registry host"),
        ('host = "quay.io"\nendpoint_url = "ftp://mirror"', "expected an http(s) URL"),
    ],
)
def test_a_bad_registry_entry_is_one_line(
    sim: Simulator, tmp_path: Path, entry: str, message: str
) -> None:
    path = render_config(sim, tmp_path / "fleetpatch.toml")
    if "endpoint_url" not in entry:
        entry += '\nendpoint_url = "http://127.0.0.1:1"'
    path.write_text(f"[[registries]]\n{entry}\n\n" + path.read_text(encoding="utf-8"))
    with pytest.raises(UserError) as error:
        load_config(path)
    assert "registries[0].host" in str(error.value) or "registries[0].endpoint_url" in str(
        error.value
    )
    assert message in str(error.value) and "\n" not in str(error.value)


def test_anonymous_token_auth_as_docker_does(sim: Simulator) -> None:
    url = f"{sim.registry_url('docker.io')}/v2/fluent/fluent-bit/manifests/3.0"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    challenge = refused.value.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer realm="{sim.registry_url("docker.io")}/token"')
    assert 'service="docker.io"' in challenge
    assert 'scope="repository:fluent/fluent-bit:pull"' in challenge
    assert json.loads(refused.value.read())["errors"][0]["code"] == "UNAUTHORIZED"

    registry = OciRegistry("docker.io", sim.registry_url("docker.io"))
    manifest = registry.manifest("fluent/fluent-bit", "3.0")
    assert manifest is not None
    assert manifest.digest == "sha256:" + hashlib.sha256(manifest.body).hexdigest()
    assert manifest.media_type == "application/vnd.oci.image.index.v1+json"
    assert registry.manifest("fluent/fluent-bit", "9.9") is None
    snapshot = registry.repository("nobody/nothing", ["latest"])
    assert snapshot.error == "docker.io: repository nobody/nothing does not exist"


def test_plan_and_pin_a_sidecar_from_ecr_public(sim: Simulator, tmp_path: Path) -> None:
    loaded = load_config(config(sim, tmp_path, PUBLIC_SIDECAR))
    snapshot = collect(loaded, ["dev"])
    sidecar = loaded.sidecar()
    target = resolve_target(snapshot.environments[0], sidecar)
    new = oci_digest(sim, PUBLIC, "aws-observability/aws-for-fluent-bit", "2.32.1")
    assert (target.digest, target.registry, target.tag) == (new, PUBLIC, "stable")

    the_plan = plan(snapshot, "dev", sidecar, target, loaded.policy, "pin")
    assert [s.service for s in the_plan.services] == ["public"]
    skipped = {s.key: s.reason for s in the_plan.skipped}
    assert "is not from repository public.ecr.aws/aws-observability" in skipped["main/hub-org"]

    # Pre-flight reads the target's platforms from its index in ECR Public.
    with sim_journal(sim, tmp_path) as journal:
        runner = sim_runner(sim, loaded, journal)
        checks = {c.name: c for c in runner.preflight(the_plan)}
        assert checks["platform"].status == "ok"
        assert checks["platform"].message == "built for linux/amd64, linux/arm64"
        assert checks["image"].message.endswith(
            f"is in {PUBLIC}/aws-observability/aws-for-fluent-bit"
        )

        result, _ = run_rollout(sim, loaded, journal, mode="pin")
    assert result.ok, result
    after = runs(collect(loaded, ["dev"]))["public"]
    assert [c.digest for c in after.running] == [new] and after.drift is False
    assert after.image == f"{PUBLIC}/aws-observability/aws-for-fluent-bit@{new}"


def test_moving_tag_mode_checks_the_tag_where_it_lives(sim: Simulator, tmp_path: Path) -> None:
    loaded = load_config(config(sim, tmp_path, PUBLIC_SIDECAR))
    new = oci_digest(sim, PUBLIC, "aws-observability/aws-for-fluent-bit", "2.32.1")
    with sim_journal(sim, tmp_path) as journal:
        result, _ = run_rollout(sim, loaded, journal, mode="tag")
    # The tag check read ECR Public (not the environment's own ECR, which has no such image).
    assert not result.halted, result.halt_reason
    assert result.ok, result.services
    after = runs(collect(loaded, ["dev"]))["public"]
    assert [c.digest for c in after.running] == [new]


def test_platform_check_reads_a_single_platform_image_config(
    sim: Simulator, tmp_path: Path
) -> None:
    """The shared ECR's new build is amd64 only, the service runs on ARM64: refused, read from
    the config blob through GetDownloadUrlForLayer (another account's, another region's)."""
    sidecar = {**FLUENT, "image": f"{SHARED}/platform/fluent-bit", "tag": "stable"}
    sidecar.pop("repository")
    loaded = load_config(config(sim, tmp_path, sidecar))
    snapshot = collect(loaded, ["dev"])
    target = resolve_target(snapshot.environments[0], loaded.sidecar())
    assert target.digest == ecr_digest(sim, "1.1") and target.registry == SHARED
    the_plan = plan(snapshot, "dev", loaded.sidecar(), target, loaded.policy, "pin")
    assert [s.service for s in the_plan.services] == ["shared"]
    with sim_journal(sim, tmp_path) as journal:
        runner = sim_runner(sim, loaded, journal)
        with pytest.raises(PreflightRefused) as refused:
            runner.preflight(the_plan)
    (platform,) = [c for c in refused.value.checks if c.name == "platform"]
    assert platform.status == "fail"
    assert platform.message.startswith("main/shared runs on linux/arm64;")
    assert platform.message.endswith("is built for linux/amd64")
    assert sim.calls["ecr:GetDownloadUrlForLayer"] == 1


def test_config_keeps_old_sidecars_valid(sim: Simulator, tmp_path: Path) -> None:
    loaded: Config = load_config(render_config(sim, tmp_path / "fleetpatch.toml", registries=[]))
    sidecar = loaded.sidecar()
    assert (sidecar.repository, sidecar.image, sidecar.registry) == ("fluent-bit", None, None)
    assert loaded.registries == ()
