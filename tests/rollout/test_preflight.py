"""Pre-flight: each check failing on the simulator with a clear message; approvals by digest."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.journal import Entry, EntryKind
from fleetpatch.rollout.approvals import approval_for
from fleetpatch.rollout.preflight import Check, refusal
from fleetpatch.rollout.runner import PreflightRefused, Runner
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.rollout.flows import sim_config, sim_journal, sim_runner
from tests.rollout.helpers import make_plan

CRITICAL = {"id": "CVE-2099-0001", "severity": "CRITICAL", "package": "libc", "installed": "1"}
SIDECAR = {"name": "log_router", "image": "{registry}/fluent-bit:latest", "firelens": "fluentbit"}
APP = {"name": "app", "image": "{registry}/{service}:1"}


def scenario() -> dict[str, Any]:
    data = small_scenario()
    env = data["environments"][0]
    images = env["repositories"][0]["images"]
    # 1.1: amd64 only, with a critical finding 1.0 doesn't have.
    images[1] = {**images[1], "platforms": ["linux/amd64"], "findings": [CRITICAL]}
    env["clusters"][0]["services"] = [
        "api",
        {"name": "arm", "cpu_architecture": "ARM64"},
        {"name": "nobreaker", "circuit_breaker": False},
        {"name": "loose", "containers": [APP, {**SIDECAR, "version_consistency": "disabled"}]},
    ]
    return data


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(scenario()) as simulator:
        yield simulator


@pytest.fixture
def runner(sim: Simulator, tmp_path: Path) -> Iterator[Runner]:
    config = sim_config(sim, tmp_path)
    with sim_journal(sim, tmp_path) as journal:
        yield sim_runner(sim, config, journal)


def failing(checks: list[Check]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for check in checks:
        if check.status == "fail":
            found.setdefault(check.name, []).append(check.message)
    return found


def test_each_check_fails_with_a_clear_message(sim: Simulator, runner: Runner) -> None:
    the_plan = make_plan(runner.config)
    with pytest.raises(PreflightRefused) as refused:
        runner.preflight(the_plan)
    assert str(refused.value).startswith("pre-flight refused: ")
    fails = failing(refused.value.checks)
    assert fails["platform"] == [
        "main/arm runs on linux/arm64; sha256:"
        + the_plan.target.digest[7:15]
        + "… is built for linux/amd64"
    ]
    assert fails["version_consistency"][0].startswith(
        "main/loose: container log_router disables version consistency"
    )
    assert "CVE-2099-0001" in fails["findings"][0]
    assert "circuit_breaker" not in fails  # a warning unless --strict
    warned = [c for c in refused.value.checks if c.status == "warn"]
    assert [c.service for c in warned if c.name == "circuit_breaker"] == ["main/nobreaker"]
    assert sim.calls["ecs:UpdateService"] == 0


def test_strict_refuses_a_missing_circuit_breaker(sim: Simulator, runner: Runner) -> None:
    runner.strict = True
    with pytest.raises(PreflightRefused) as refused:
        runner.preflight(make_plan(runner.config))
    assert "main/nobreaker: deployment circuit breaker with rollback is off" in " ".join(
        failing(refused.value.checks)["circuit_breaker"]
    )


def test_a_digest_missing_from_an_involved_repository(sim: Simulator, runner: Runner) -> None:
    the_plan = make_plan(runner.config)
    ghost = "sha256:" + "0" * 64
    ghost_plan = dataclasses.replace(
        the_plan, target=dataclasses.replace(the_plan.target, digest=ghost)
    )
    with pytest.raises(PreflightRefused, match=r"sha256:00000000… is not in ECR repository"):
        runner.preflight(ghost_plan)


def test_a_healthy_service_fails_only_on_findings(sim: Simulator, runner: Runner) -> None:
    # Only main/api planned: amd64, circuit breaker on, version consistency on.
    the_plan = make_plan(runner.config, mode="pin", version="1.1")
    healthy = dataclasses.replace(
        the_plan,
        waves=tuple(
            dataclasses.replace(w, services=tuple(s for s in w.services if s.key == "main/api"))
            for w in the_plan.waves
        ),
    )
    checks = [c for c in _checks_or_refusal(runner, healthy) if c.status == "fail"]
    assert [c.name for c in checks] == ["findings"]  # 1.1 still brings the critical CVE


def _checks_or_refusal(runner: Runner, the_plan: Any) -> list[Check]:
    try:
        return runner.preflight(the_plan)
    except PreflightRefused as exc:
        return exc.checks


# --- approvals: bound to the digest, never the tag (pure) -------------------------------------


def approval(digest: str, environment: str = "prod", actor: str = "alice") -> Entry:
    return Entry(
        kind=EntryKind.APPROVAL,
        environment=environment,
        actor=actor,
        target_digest=digest,
        seq=1,
        timestamp=datetime(2026, 11, 27, tzinfo=UTC),
        prev_hash="0" * 64,
        hash="1" * 64,
    )


def test_an_approval_applies_only_to_its_digest() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert approval_for([approval(a)], "prod", a).approved
    assert approval_for([approval(a)], "prod", a).by == "alice"
    # The tag moved to b after alice approved a: her approval doesn't follow the tag.
    moved = approval_for([approval(a)], "prod", b)
    assert not moved.approved and moved.other_digests == (a,)
    assert not approval_for([approval(a, "stg")], "prod", a).approved


def test_preflight_warns_about_an_approval_of_another_digest(
    sim: Simulator, runner: Runner, tmp_path: Path
) -> None:
    the_plan = make_plan(runner.config)
    runner.journal.append(
        _new_approval("dev", "sha256:" + "a" * 64)  # approved before the tag moved
    )
    checks = _checks_or_refusal(runner, the_plan)
    approval_check = next(c for c in checks if c.name == "approval")
    assert approval_check.status == "warn"
    assert "don't apply to" in approval_check.message


def _new_approval(environment: str, digest: str) -> Any:
    from fleetpatch.journal import NewEntry

    return NewEntry(kind=EntryKind.APPROVAL, environment=environment, target_digest=digest)


def test_refusal_is_one_line() -> None:
    checks = [Check("a", "fail", "first"), Check("b", "fail", "second"), Check("c", "ok", "x")]
    assert refusal(checks) == "pre-flight refused: first (and 1 more)"
    assert refusal([Check("c", "warn", "x")]) is None
