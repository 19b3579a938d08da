"""Four eyes from the terminal: rollout refused until someone else approves, against the
simulator (each person is a role session of their own: credentials.session_name)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.cli.app import run
from fleetpatch.journal import SqliteJournal
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config

POLL = ["--poll-interval", "0.05"]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(small_scenario(), time_scale=600) as simulator:
        yield simulator


@pytest.fixture
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.sqlite"
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(path))
    return path


def _session_arn(sim: Simulator, session: str) -> str:
    env = sim.scenario.environments[0]
    return f"arn:aws:sts::{env.account}:assumed-role/{sim.scenario.role_name}/{session}"


def _as(sim: Simulator, tmp_path: Path, person: str, **approvals: Any) -> list[str]:
    """The CLI as `person`: dev needs one approval, from bob or dan."""
    policy = {
        "required": 1,
        "approvers": [_session_arn(sim, "bob"), _session_arn(sim, "dan")],
        **approvals,
    }
    config = render_config(
        sim,
        tmp_path / f"{person}.toml",
        environments={"dev": {"session_name": person, "approvals": policy}},
    )
    return ["--config", str(config)]


def _request_id(err: str) -> str:
    found = re.search(r"\b(r-[0-9a-f]{10})\b", err)
    assert found, err
    return found[1]


def test_a_rollout_needs_someone_elses_approval(
    sim: Simulator, tmp_path: Path, journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, bob, carol = (_as(sim, tmp_path, p) for p in ("alice", "bob", "carol"))

    assert run([*alice, "rollout", "--env", "dev", "--yes", *POLL], now=sim.clock.now) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs 1 approval" in err
    request_id = _request_id(err)
    assert sim.calls["ecs:UpdateService"] == 0

    # The requester can't approve; someone who isn't an approver can't either.
    assert run([*alice, "approve", request_id], now=sim.clock.now) == 2
    assert "four eyes" in capsys.readouterr().err
    assert run([*carol, "approve", request_id], now=sim.clock.now) == 2
    assert "not in its approvals.approvers" in capsys.readouterr().err
    # Running again before the approval: still waiting, no second request.
    assert run([*alice, "rollout", "--env", "dev", "--yes", *POLL], now=sim.clock.now) == 2
    assert f"waits for approval: {request_id} has 0 of 1" in capsys.readouterr().err

    assert run([*bob, "approve", request_id], now=sim.clock.now) == 0
    assert "1 of 1" in capsys.readouterr().out
    assert (
        run([*bob, "approve", request_id], now=sim.clock.now) == 0
    )  # a second click changes nothing

    assert run([*alice, "rollout", "--env", "dev", "--yes", *POLL], now=sim.clock.now) == 0
    assert sim.calls["ecs:UpdateService"] > 0

    with SqliteJournal(journal_path) as journal:
        entries = journal.entries(environment="dev")
    trail = [
        (e.kind.value, e.actor.rsplit("/", 1)[-1])
        for e in entries
        if e.details.get("request_id") == request_id
    ]
    assert trail == [
        ("request", "alice"),
        ("refused", "alice"),
        ("refused", "carol"),
        ("approval", "bob"),
        ("request_started", "alice"),
    ]

    capsys.readouterr()
    assert run([*alice, "requests", "--all", "--json"], now=sim.clock.now) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["state"] == "started"
    assert [a["actor"] for a in listed["approved_by"]] == ["iam:" + _session_arn(sim, "bob")]


def test_an_approval_is_for_one_plan(
    sim: Simulator, tmp_path: Path, journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, bob = _as(sim, tmp_path, "alice"), _as(sim, tmp_path, "bob")
    assert run([*alice, "rollout", "--env", "dev", "--yes", *POLL], now=sim.clock.now) == 2
    request_id = _request_id(capsys.readouterr().err)
    assert run([*bob, "approve", request_id], now=sim.clock.now) == 0
    capsys.readouterr()

    # The approved plan was tag mode; a pin-mode rollout is another plan.
    assert run([*alice, "rollout", "--env", "dev", "--pin", "--yes", *POLL], now=sim.clock.now) == 2
    err = capsys.readouterr().err
    assert "needs 1 approval" in err and f"the plan changed since {request_id}" in err
    assert _request_id(err.split("requested as")[1]) != request_id
    assert sim.calls["ecs:UpdateService"] == 0


def test_an_unused_request_expires(
    sim: Simulator, tmp_path: Path, journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, bob = _as(sim, tmp_path, "alice", expiry_hours=1), _as(sim, tmp_path, "bob")
    assert run([*alice, "rollout", "--env", "dev", "--yes", *POLL], now=sim.clock.now) == 2
    request_id = _request_id(capsys.readouterr().err)
    sim.advance(3600)
    assert run([*bob, "approve", request_id], now=sim.clock.now) == 2
    assert "expired" in capsys.readouterr().err
    with SqliteJournal(journal_path) as journal:
        kinds = [
            e.kind.value for e in journal.entries() if e.details.get("request_id") == request_id
        ]
    assert kinds == ["request", "expired", "refused"]


def test_reject_and_cancel_from_the_terminal(
    sim: Simulator, tmp_path: Path, journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, bob = _as(sim, tmp_path, "alice"), _as(sim, tmp_path, "bob")
    assert run([*alice, "rollout", "--env", "dev", "--yes", *POLL], now=sim.clock.now) == 2
    first = _request_id(capsys.readouterr().err)
    assert run([*bob, "reject", first, "--reason", "freeze"], now=sim.clock.now) == 0
    assert "rejected" in capsys.readouterr().out
    assert run([*bob, "approve", first], now=sim.clock.now) == 2
    assert f"{first} was rejected" in capsys.readouterr().err

    # Asking again makes a new request; its requester withdraws it.
    assert run([*alice, "rollout", "--env", "dev", "--yes", *POLL], now=sim.clock.now) == 2
    second = _request_id(capsys.readouterr().err.split("requested as")[1])
    assert second != first
    assert run([*alice, "cancel", second], now=sim.clock.now) == 0
    assert run([*alice, "requests"], now=sim.clock.now) == 0
    assert "no open requests" in capsys.readouterr().out
    assert sim.calls["ecs:UpdateService"] == 0
