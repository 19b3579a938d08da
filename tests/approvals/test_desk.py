"""The approval desk over a real journal: four eyes, one start per approval, races, and the
journal as the only truth (hypothesis drives random sequences of decisions)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetpatch.approvals import (
    ApprovalDesk,
    ApprovalRequired,
    Principal,
    Refused,
    RequestState,
    slack_principal,
)
from fleetpatch.approvals.requests import cas_state, requests_from, state_key
from fleetpatch.config import Config, parse_config
from fleetpatch.errors import UserError
from fleetpatch.journal import EntryKind, SqliteJournal
from fleetpatch.rollout.plan import Plan, ServiceStep, Target, Wave

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ALICE = slack_principal("U0ALICE", "alice", ["S0PAYMENTS"])
BOB = slack_principal("U0BOB", "bob", ["S0SECOPS"])
DAN = slack_principal("U0DAN", "dan", ["S0SECOPS"])
MALLORY = slack_principal("U0MALLORY", "mallory")
DIGEST = "sha256:" + "4" * 64


def make_config(**approvals: Any) -> Config:
    policy = {"required": 1, "approvers": ["S0SECOPS"], **approvals}
    data = {
        "sidecars": [{"name": "fluent-bit", "repository": "fluent-bit"}],
        "environments": [
            {
                "name": "prod",
                "account_id": "333333333333",
                "region": "eu-west-1",
                "approvals": policy,
            }
        ],
    }
    return parse_config(data, Path("fleetpatch.toml"))


def make_plan(*services: str, digest: str = DIGEST, mode: Any = "tag") -> Plan:
    steps = tuple(
        ServiceStep(
            cluster="main",
            service=name,
            container="log_router",
            image="fluent-bit:latest",
            reference="tag",
            task_definition=f"{name}:3",
            digest_before="sha256:" + "3" * 64,
            desired_count=2,
        )
        for name in services or ("api",)
    )
    target = Target(digest, "fluent-bit", "tag latest", "3.0.4", tag="latest")
    return Plan("prod", "fluent-bit", target, mode, (Wave(1, True, steps),))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.sqlite", clock=clock) as journal:
        yield journal


def test_four_eyes_and_one_start(store: SqliteJournal, clock: Clock) -> None:
    desk = ApprovalDesk(store, make_config(), now=clock)
    plan = make_plan()
    request = desk.request("rollout", plan, ALICE)
    with pytest.raises(Refused, match="four eyes"):
        desk.approve(request.id, ALICE)
    with pytest.raises(Refused, match=r"not in its approvals\.approvers"):
        desk.approve(request.id, MALLORY)
    with pytest.raises(ApprovalRequired, match="0 of 1"):
        desk.authorize("rollout", plan, ALICE, "run-1")
    assert desk.approve(request.id, BOB).state is RequestState.APPROVED
    assert desk.authorize("rollout", plan, ALICE, "run-1").request is not None
    # The same plan again (a rerun after an interruption) resumes the run it approved...
    again = desk.authorize("rollout", plan, ALICE, "run-2")
    assert again.resumed
    # ...but another digest needs its own approval.
    with pytest.raises(ApprovalRequired, match="needs 1 approval"):
        desk.authorize("rollout", make_plan(digest="sha256:" + "5" * 64), ALICE, "run-3")
    starts = [e for e in store.entries(kind="request_started") if not e.details["resumed"]]
    assert [e.rollout_id for e in starts] == ["run-1"]


def test_a_rerun_after_another_run_needs_a_new_approval(store: SqliteJournal, clock: Clock) -> None:
    desk = ApprovalDesk(store, make_config(), now=clock)
    plan = make_plan()
    request = desk.request("rollout", plan, ALICE)
    desk.approve(request.id, BOB)
    desk.authorize("rollout", plan, ALICE, "run-1")
    # A rollback ran since (its plan record carries its own rollout id).
    from fleetpatch.journal import NewEntry

    store.append(NewEntry(kind=EntryKind.PLAN, environment="prod", rollout_id="rollback-1"))
    with pytest.raises(ApprovalRequired):
        desk.authorize("rollout", plan, ALICE, "run-2")


def test_requesters_and_expiry(store: SqliteJournal, clock: Clock) -> None:
    desk = ApprovalDesk(store, make_config(requesters=["S0PAYMENTS"], expiry_hours=2), now=clock)
    with pytest.raises(Refused, match="may not request"):
        desk.request("rollout", make_plan(), MALLORY)
    request = desk.request("rollout", make_plan(), ALICE)
    clock.now += timedelta(hours=2)
    assert desk.get(request.id).state is RequestState.EXPIRED
    with pytest.raises(Refused, match="expired"):
        desk.approve(request.id, BOB)
    kinds = [e.kind for e in store.entries() if e.details.get("request_id") == request.id]
    assert kinds == [EntryKind.REQUEST, EntryKind.EXPIRED, EntryKind.REFUSED]


def test_reject_and_cancel_close_a_request(store: SqliteJournal, clock: Clock) -> None:
    desk = ApprovalDesk(store, make_config(), now=clock)
    first = desk.request("rollout", make_plan(), ALICE)
    assert desk.reject(first.id, BOB, "not during the freeze").state is RequestState.REJECTED
    with pytest.raises(Refused, match="was rejected"):
        desk.approve(first.id, DAN)
    second = desk.request("rollout", make_plan(), ALICE)
    with pytest.raises(Refused, match="only its requester or an approver"):
        desk.cancel(second.id, MALLORY)
    assert desk.cancel(second.id, ALICE).state is RequestState.CANCELLED
    with pytest.raises(UserError, match="no request r-nothing"):
        desk.get("r-nothing")


def test_an_approval_of_a_moved_target_is_refused(store: SqliteJournal, clock: Clock) -> None:
    desk = ApprovalDesk(store, make_config(), now=clock)
    request = desk.request("rollout", make_plan(), ALICE)
    with pytest.raises(Refused, match="the target is now"):
        desk.approve(request.id, BOB, current_target="sha256:" + "6" * 64)
    assert desk.get(request.id).state is RequestState.PENDING


def test_two_approvals_needed_from_two_people(store: SqliteJournal, clock: Clock) -> None:
    desk = ApprovalDesk(store, make_config(required=2), now=clock)
    request = desk.request("rollout", make_plan(), ALICE)
    assert desk.approve(request.id, BOB).state is RequestState.PENDING
    assert desk.approve(request.id, BOB).state is RequestState.PENDING  # counted once
    after = desk.approve(request.id, DAN)
    assert after.state is RequestState.APPROVED and after.approved_by == (BOB.actor, DAN.actor)


def test_simultaneous_clicks_approve_once_and_start_once(
    store: SqliteJournal, clock: Clock
) -> None:
    desk = ApprovalDesk(store, make_config(), now=clock)
    plan = make_plan()
    request = desk.request("rollout", plan, ALICE)
    barrier = threading.Barrier(8)
    outcomes: list[object] = []

    def click() -> None:
        barrier.wait()
        try:
            desk.approve(request.id, BOB)
            outcomes.append(desk.authorize("rollout", plan, ALICE, f"run-{threading.get_ident()}"))
        except UserError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    approvals = [e for e in store.entries(kind="approval")]
    starts = [e for e in store.entries(kind="request_started") if not e.details["resumed"]]
    assert len(approvals) == 1 and len(starts) == 1


PEOPLE = (ALICE, BOB, DAN, MALLORY)
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["request", "approve", "reject", "cancel", "start", "wait"]),
        st.integers(0, len(PEOPLE) - 1),
        st.integers(0, 3),  # which request (by order made)
    ),
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS, required=st.integers(1, 2))
def test_the_journal_and_the_store_agree_whatever_happens(
    tmp_path_factory: pytest.TempPathFactory, operations: list[tuple[str, int, int]], required: int
) -> None:
    clock = Clock()
    path = tmp_path_factory.mktemp("desk") / "journal.sqlite"
    with SqliteJournal(path, clock=clock) as store:
        desk = ApprovalDesk(store, make_config(required=required, expiry_hours=3), now=clock)
        made: list[str] = []
        for operation, who_index, which in operations:
            who: Principal = PEOPLE[who_index]
            request_id = made[which % len(made)] if made else None
            try:
                if operation == "request":
                    made.append(desk.request("rollout", make_plan(), who).id)
                elif operation == "wait":
                    clock.now += timedelta(hours=1)
                elif request_id is None:
                    continue
                elif operation == "approve":
                    desk.approve(request_id, who)
                elif operation == "reject":
                    desk.reject(request_id, who)
                elif operation == "cancel":
                    desk.cancel(request_id, who)
                else:
                    desk.authorize(
                        "rollout", make_plan(), who, f"run-{len(made)}", request_id=request_id
                    )
            except UserError:
                pass
        for request in requests_from(store.entries()).values():
            assert store.state(state_key(request.id)) == cas_state(request)
            assert request.requester not in request.approved_by
            assert len(set(request.approved_by)) == len(request.approved_by)
            starts = [
                e
                for e in store.entries(kind="request_started")
                if e.details["request_id"] == request.id and not e.details["resumed"]
            ]
            assert len(starts) <= 1
            if starts:
                assert len(request.approvals) >= request.required
                assert request.state is RequestState.STARTED


def test_one_approval_call_completes_a_request_and_a_late_one_changes_nothing(
    store: SqliteJournal, clock: Clock
) -> None:
    desk = ApprovalDesk(store, make_config(), now=clock)
    plan = make_plan()
    request = desk.request("rollout", plan, ALICE)
    first = desk.give_approval(request.id, BOB)
    assert first.counted and first.completed
    repeat = desk.give_approval(request.id, BOB)  # a double click or a Slack redelivery
    assert not repeat.counted and not repeat.completed
    desk.authorize("rollout", plan, ALICE, "run-1")
    # Another approver's late click on the started request neither counts nor reopens it.
    late = desk.give_approval(request.id, DAN)
    assert not late.counted and late.request.state is RequestState.STARTED
    assert desk.get(request.id).state is RequestState.STARTED
    assert [e.actor for e in store.entries(kind="approval")] == [BOB.actor]
