"""plan.py: pure tests and hypothesis properties of the waves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.config import Policy, Sidecar
from fleetpatch.core.images import ImageInfo
from fleetpatch.core.snapshot import (
    DigestCount,
    EnvironmentSnapshot,
    RepositorySnapshot,
    ServiceSnapshot,
    SidecarRun,
    Snapshot,
)
from fleetpatch.errors import UserError
from fleetpatch.rollout.plan import make_waves, plan
from fleetpatch.rollout.target import resolve_target

OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64
REGISTRY = "111111111111.dkr.ecr.eu-west-1.amazonaws.com"
SIDECAR = Sidecar(name="fluent-bit", repository="fluent-bit", container="log_router*")
IMAGES = (
    ImageInfo(OLD, ("1.0-aaaaaaa",), None),
    ImageInfo(NEW, ("1.1-bbbbbbb", "latest"), None),
)


def service(
    name: str, digest: str = OLD, *, image: str = "fluent-bit:latest", cluster: str = "main"
) -> ServiceSnapshot:
    run = SidecarRun(
        name="fluent-bit",
        container="log_router",
        image=f"{REGISTRY}/{image}",
        reference="digest" if "@" in image else "tag",
        repository="fluent-bit",
        registry=REGISTRY,
        running=(DigestCount(digest, 2),),
        tag_digest=NEW,
        drift=digest != NEW,
        digest=digest,
        tags=(),
        pushed_at=None,
        resolvable=True,
        revision_digest=digest,
    )
    return ServiceSnapshot(cluster, name, f"{name}:1", 2, 2, 0, "COMPLETED", 1, (run,))


def snapshot(*services: ServiceSnapshot) -> Snapshot:
    env = EnvironmentSnapshot(
        "dev",
        "111111111111",
        "eu-west-1",
        services=services,
        repositories=(RepositorySnapshot("fluent-bit", IMAGES),),
    )
    return Snapshot((env,), 0, datetime(2026, 11, 27, tzinfo=UTC), ("fluent-bit",))


def test_default_target_is_the_moving_tag() -> None:
    target = resolve_target(snapshot().environments[0], SIDECAR)
    assert target.digest == NEW
    assert target.tag == "latest"
    assert target.chosen_by == "tag latest"


def test_version_prefix_and_digest_prefix() -> None:
    env = snapshot().environments[0]
    assert resolve_target(env, SIDECAR, version="1.0").digest == OLD
    assert resolve_target(env, SIDECAR, version="1.0").tag is None
    assert resolve_target(env, SIDECAR, digest="bbbbbbbb").digest == NEW
    with pytest.raises(UserError, match="no image with version 9"):
        resolve_target(env, SIDECAR, version="9")


def test_plan_excludes_done_and_puts_the_canary_first() -> None:
    snap = snapshot(service("a"), service("b", NEW), service("c"), service("d"))
    target = resolve_target(snap.environments[0], SIDECAR)
    result = plan(snap, "dev", SIDECAR, target, Policy(canary=1, max_parallel=2))
    assert [[s.key for s in w.services] for w in result.waves] == [
        ["main/a"],
        ["main/c", "main/d"],
    ]
    assert result.waves[0].canary
    assert [s.key for s in result.done] == ["main/b"]


def test_canary_globs_and_digest_references_skipped_in_tag_mode() -> None:
    snap = snapshot(service("api"), service("web"), service("pinned", image=f"fluent-bit@{OLD}"))
    target = resolve_target(snap.environments[0], SIDECAR)
    result = plan(snap, "dev", SIDECAR, target, Policy(canary=("web",), max_parallel=5))
    assert [s.key for s in result.waves[0].services] == ["main/web"]
    assert [s.key for s in result.skipped] == ["main/pinned"]
    pinned = plan(snap, "dev", SIDECAR, target, Policy(canary=0), mode="pin")
    assert "main/pinned" in [s.key for s in pinned.services]


names = st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), unique=True, max_size=40)


@given(
    names,
    st.sets(st.integers(0, 39)),
    st.one_of(st.integers(0, 10), st.lists(st.sampled_from(["a*", "b*", "*x*", "zz"]), max_size=3)),
    st.integers(1, 7),
)
def test_wave_invariants(
    service_names: list[str], on_target: set[int], canary: int | list[str], max_parallel: int
) -> None:
    services = [service(n, NEW if i in on_target else OLD) for i, n in enumerate(service_names)]
    snap = snapshot(*services)
    target = resolve_target(snap.environments[0], SIDECAR)
    canary_policy = canary if isinstance(canary, int) else tuple(canary)
    result = plan(
        snap, "dev", SIDECAR, target, Policy(canary=canary_policy, max_parallel=max_parallel)
    )
    needing = {f"main/{n}" for i, n in enumerate(service_names) if i not in on_target}
    planned = [s.key for w in result.waves for s in w.services]
    # every service needing the target appears in exactly one wave
    assert sorted(planned) == sorted(needing)
    assert {s.key for s in result.done} == {
        f"main/{n}" for i, n in enumerate(service_names) if i in on_target
    }
    # wave sizes within max_parallel, none empty, numbered 1..n
    assert all(0 < len(w.services) <= max_parallel for w in result.waves)
    assert [w.index for w in result.waves] == list(range(1, len(result.waves) + 1))
    # canary waves come first
    flags = [w.canary for w in result.waves]
    assert flags == sorted(flags, reverse=True)


def test_make_waves_empty() -> None:
    assert make_waves([], 1, 5) == ()


# --- eligibility (issue 8 item 1): every matching service is a step or skipped with a reason


def test_services_fleetpatch_must_not_deploy_are_listed_with_what_to_do() -> None:
    from dataclasses import replace

    code_deploy = replace(service("payments"), controller="CODE_DEPLOY")
    # An EXTERNAL service may have no task definition, so no known sidecar: still listed.
    external = replace(service("router"), controller="EXTERNAL", task_definition="", sidecars=())
    draining = replace(service("old"), status="DRAINING")
    express = replace(service("express"), resource_management="ECS")
    daemon = replace(service("agent"), scheduling="DAEMON")
    unrelated = replace(service("batch"), sidecars=())
    snap = snapshot(code_deploy, external, draining, express, daemon, unrelated, service("api"))
    target = resolve_target(snap.environments[0], SIDECAR)
    the_plan = plan(snap, "dev", SIDECAR, target)

    assert [s.key for s in the_plan.services] == ["main/agent", "main/api"]
    reasons = {s.key: s.reason for s in the_plan.skipped}
    assert set(reasons) == {"main/payments", "main/router", "main/old", "main/express"}
    assert reasons["main/payments"].startswith("deployment controller CODE_DEPLOY:")
    assert "through its CodeDeploy deployment group" in reasons["main/payments"]
    assert reasons["main/router"].startswith("deployment controller EXTERNAL:")
    assert reasons["main/old"] == "service is DRAINING (being deleted): nothing to patch"
    assert "Express Mode" in reasons["main/express"]
    assert the_plan.to_json()["skipped"][0] == {
        "service": "main/express",
        "reason": reasons["main/express"],
    }


def test_status_lists_what_fleetpatch_cannot_patch() -> None:
    from dataclasses import replace

    from fleetpatch.rollout.plan import not_patchable

    snap = snapshot(
        replace(service("payments"), controller="CODE_DEPLOY"),
        replace(service("batch"), controller="CODE_DEPLOY", sidecars=()),  # no sidecar
        service("api"),
    )
    (item,) = not_patchable(snap)
    assert (item["environment"], item["service"]) == ("dev", "main/payments")
    assert item["reason"].startswith("deployment controller CODE_DEPLOY:")


def test_other_changes_are_skipped_in_rollout_and_pinned_in_rollback() -> None:
    from fleetpatch.rollout.others import OtherChange

    snap = snapshot(service("api"), service("web"))
    target = resolve_target(snap.environments[0], SIDECAR)
    moved = {"main/api": (OtherChange("app", "shop:latest", OLD, NEW, "its tag moved"),)}
    rollout = plan(snap, "dev", SIDECAR, target, other_changes=moved)
    assert [s.key for s in rollout.services] == ["main/web"]
    assert [s.key for s in rollout.skipped] == ["main/api"]

    rollback = plan(snap, "dev", SIDECAR, target, other_changes=moved, pin_other_changes=True)
    assert {s.key: s.pin for s in rollback.services} == {"main/api": True, "main/web": False}
    assert rollback.skipped == ()
    (note,) = rollback.notes
    assert note.startswith("main/api is pinned instead (a forced deployment would also change app")
    # Pin mode pins everything anyway: the option changes nothing there.
    pinned = plan(snap, "dev", SIDECAR, target, mode="pin", other_changes=moved)
    assert {s.key for s in pinned.services} == {"main/api", "main/web"}
