"""The rollout's decide rules (rollout/decide.py): pure functions of one pass's observation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.rollout.decide import Action, decide, over_budget, tag_moved
from fleetpatch.rollout.observe import INTENT_WINDOW, JournalFacts, ServiceState
from fleetpatch.rollout.plan import ServiceStep

OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64
STEP = ServiceStep("main", "api", "log_router", "x/fluent-bit:latest", "tag", "api:1", OLD, 2)
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
DAY_BEFORE = T0 - timedelta(days=1)


def dep(
    id_: str, status: str = "PRIMARY", state: str = "COMPLETED", at: datetime = T0, **more: Any
) -> dict[str, Any]:
    return {"id": id_, "status": status, "rolloutState": state, "createdAt": at, **more}


def seen(*deployments: dict[str, Any], digest: str | None = OLD) -> ServiceState:
    return ServiceState(
        "main/api", {"serviceName": "api", "deployments": list(deployments)}, digest
    )


def act(state: ServiceState, facts: JournalFacts | None = None, **kw: Any) -> Action:
    return decide(STEP, state, facts or JournalFacts(), NEW, **kw).action


def test_a_service_on_another_digest_is_started() -> None:
    assert act(seen(dep("d1"))) is Action.START


def test_a_gone_service_fails() -> None:
    assert act(ServiceState("main/api", None)) is Action.GONE


def test_fleetpatchs_deployment_is_followed_to_its_end() -> None:
    facts = JournalFacts(started={"main/api": "d2"})
    going = seen(dep("d2", state="IN_PROGRESS"), dep("d1", "ACTIVE", at=DAY_BEFORE))
    assert act(going, facts) is Action.WAIT
    assert act(seen(dep("d2"), digest=None), facts) is Action.VERIFY
    breaker = seen(
        dep("d3", state="IN_PROGRESS", rolloutStateReason="rolling back to deploymentId d1"),
        dep("d2", "ACTIVE", "FAILED", rolloutStateReason="ECS deployment circuit breaker"),
    )
    failed = decide(STEP, breaker, facts, NEW)
    assert failed.action is Action.DEPLOY_FAILED and "circuit breaker" in failed.reason
    replaced = decide(STEP, seen(dep("d9")), facts, NEW)
    assert replaced.action is Action.DEPLOY_FAILED and "replaced by d9" in replaced.reason


def test_on_the_target_it_is_verified_once() -> None:
    settled = seen(dep("d2"), digest=NEW)
    assert act(settled) is Action.VERIFY
    assert act(settled, JournalFacts(verified=frozenset({"main/api"}))) is Action.SKIP


def test_a_failure_is_not_retried_unless_asked() -> None:
    facts = JournalFacts(failed=frozenset({"main/api"}))
    assert act(seen(dep("d1")), facts) is Action.FAILED_EARLIER
    assert act(seen(dep("d1")), facts, retry_failed=True) is Action.START


def test_someone_elses_deployment_in_progress_is_never_superseded() -> None:
    theirs = seen(dep("d5", state="IN_PROGRESS", at=T0), dep("d1", "ACTIVE", at=DAY_BEFORE))
    decision = decide(STEP, theirs, JournalFacts(), NEW)
    assert decision.action is Action.SKIP
    assert decision.reason == (
        "deployment d5 in progress since 2026-11-27 09:00 UTC, not started by fleetpatch; "
        "run again when it finishes"
    )


def test_a_deployment_created_right_after_fleetpatchs_intent_is_fleetpatchs() -> None:
    created = T0 + timedelta(seconds=3)
    state = seen(dep("d2", state="IN_PROGRESS", at=created), dep("d1", "ACTIVE", at=DAY_BEFORE))
    facts = JournalFacts(requested={"main/api": T0})
    decision = decide(STEP, state, facts, NEW)
    assert (decision.action, decision.deployment_id) == (Action.ADOPT, "d2")


@given(st.integers(min_value=int(INTENT_WINDOW.total_seconds()) + 1, max_value=10**7))
def test_a_deployment_created_long_after_the_intent_is_someone_elses(seconds: int) -> None:
    created = T0 + timedelta(seconds=seconds)
    state = seen(dep("d2", state="IN_PROGRESS", at=created), dep("d1", "ACTIVE", at=DAY_BEFORE))
    facts = JournalFacts(requested={"main/api": T0})
    assert act(state, facts) is Action.SKIP


@given(
    state=st.sampled_from(["IN_PROGRESS", "COMPLETED", "FAILED"]),
    status=st.sampled_from(["PRIMARY", "ACTIVE"]),
    digest=st.sampled_from([OLD, NEW, None]),
    verified=st.booleans(),
    failed=st.booleans(),
    retry=st.booleans(),
)
def test_never_a_second_deployment_while_one_of_fleetpatchs_is_known(
    state: str, status: str, digest: str | None, verified: bool, failed: bool, retry: bool
) -> None:
    facts = JournalFacts(
        verified=frozenset({"main/api"} if verified else set()),
        failed=frozenset({"main/api"} if failed else set()),
        started={"main/api": "d2"},
    )
    observed = seen(dep("d2", status, state), dep("d1", "ACTIVE", at=DAY_BEFORE), digest=digest)
    assert act(observed, facts, retry_failed=retry) is not Action.START


def test_halt_and_tag_rules() -> None:
    assert over_budget(1, ["a"], 1) is None
    assert over_budget(2, ["a", "b"], 1) == (
        "wave 2: 2 service(s) failed, more than the failure budget of 1: a, b"
    )
    assert tag_moved("fluent-bit", "latest", "1.1", NEW, {NEW}) is None
    moved = tag_moved("fluent-bit", "latest", "1.1", NEW, {OLD})
    assert moved is not None and "the tag moved since the plan" in moved
    assert "use --pin" in (tag_moved("fluent-bit", None, "1.1", NEW, set()) or "")


def test_a_native_strategy_is_judged_by_its_service_deployment() -> None:
    facts = JournalFacts(started={"main/api": "d2"})
    # deployments[] says IN_PROGRESS all along (the bake); the service deployment decides.
    baking = seen(dep("d2", state="IN_PROGRESS"), dep("d1", "ACTIVE", at=DAY_BEFORE))

    def with_sd(status: str, reason: str = "") -> ServiceState:
        sd = {"status": status, "lifecycleStage": "BAKE_TIME", "statusReason": reason}
        return ServiceState(baking.key, baking.service, baking.revision_digest, sd)

    assert act(with_sd("IN_PROGRESS"), facts) is Action.WAIT
    assert act(with_sd("SUCCESSFUL"), facts) is Action.VERIFY
    rolled = decide(STEP, with_sd("ROLLBACK_SUCCESSFUL", "alarm tripped"), facts, NEW)
    assert rolled.action is Action.DEPLOY_FAILED
    assert rolled.reason == "alarm tripped (ROLLBACK_SUCCESSFUL)"
