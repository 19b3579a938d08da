"""Credentials that reach another account than the config says: every command that changes
anything refuses in one line, exit 2, before it touches the fleet or the journal's locks.

In the simulator, as in AWS, sts:GetCallerIdentity answers with the account of the role the
credentials assumed. Here stg's role points into prod's account (333333333333) while the
config says stg is 222222222222: a rollout "to stg" would have patched prod.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleetpatch.cli.app import run
from fleetpatch.journal import SqliteJournal
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from tests.inventory.helpers import render_config

PROD_ROLE = "arn:aws:iam::333333333333:role/fleetpatch"
CHANGES = (
    "ecs:UpdateService",
    "ecs:RegisterTaskDefinition",
    "ecr:PutImage",
    "ecr:BatchDeleteImage",
)


@pytest.fixture
def wrong_stg(talk_sim: Simulator, tmp_path: Path) -> Path:
    path = render_config(
        talk_sim, tmp_path / "fleetpatch.toml", environments={"stg": {"role_arn": PROD_ROLE}}
    )
    path.write_text(f'journal = "{tmp_path / "journal.sqlite"}"\n\n' + path.read_text(), "utf-8")
    return path


@pytest.fixture
def locks_taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The environments whose journal lock was asked for (the journal's own lock, spied)."""
    taken: list[str] = []
    acquire = SqliteJournal.acquire_lock

    def spy(self: SqliteJournal, environment: str, *args: Any, **kwargs: Any) -> Any:
        taken.append(environment)
        return acquire(self, environment, *args, **kwargs)

    monkeypatch.setattr(SqliteJournal, "acquire_lock", spy)
    return taken


def fleet(sim: Simulator) -> dict[str, Any]:
    """Every environment's deployments per service and image tags: what a change would move."""
    state: dict[str, Any] = {}
    for env in sim.scenario.environments:
        ecs = client(sim, "ecs", env.name)
        ecr = client(sim, "ecr", env.name)
        for cluster in ecs.list_clusters()["clusterArns"]:
            arns = ecs.list_services(cluster=cluster, maxResults=100)["serviceArns"]
            for start in range(0, len(arns), 10):
                described = ecs.describe_services(
                    cluster=cluster, services=arns[start : start + 10]
                )
                for service in described["services"]:
                    deployments = [(d["id"], d["taskDefinition"]) for d in service["deployments"]]
                    state[service["serviceArn"]] = sorted(deployments)
        images = ecr.describe_images(repositoryName="fluent-bit")["imageDetails"]
        state[f"{env.name} tags"] = sorted(tag for i in images for tag in i.get("imageTags", []))
    return state


COMMANDS = {
    "rollout": ["rollout", "--env", "stg", "--yes"],
    "rollout --pin": ["rollout", "--env", "stg", "--yes", "--pin"],
    "promote": ["promote", "--from", "dev", "--to", "stg", "--yes"],
    "promote --move-tag": ["promote", "--from", "dev", "--to", "stg", "--yes", "--move-tag", "stg"],
    "rollback": ["rollback", "--env", "stg", "--yes"],
    "hold": ["hold", "--env", "stg"],
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_command_that_changes_refuses_the_wrong_account(
    command: list[str],
    talk_sim: Simulator,
    wrong_stg: Path,
    locks_taken: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = fleet(talk_sim)
    talk_sim.reset_calls()

    code = run(["--config", str(wrong_stg), *command], now=talk_sim.clock.now)

    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: stg: the credentials reach account 333333333333, but ")
    assert "says account_id = 222222222222" in err[0]
    fix = "set credentials.role_arn of environment 'stg' to a role in account 222222222222"
    assert f"{fix} (it is {PROD_ROLE})" in err[0]
    assert str(wrong_stg) in err[0]
    assert not [op for op in CHANGES if talk_sim.calls[op]]
    assert locks_taken == []
    assert fleet(talk_sim) == before


def test_rollout_refused_for_the_wrong_account_opens_no_journal(
    talk_sim: Simulator, wrong_stg: Path
) -> None:
    assert run(["--config", str(wrong_stg), "rollout", "--env", "stg", "--yes"]) == 2
    assert not (wrong_stg.parent / "journal.sqlite").exists()


def test_changing_nothing_needs_no_account_check(
    talk_sim: Simulator, wrong_stg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Reading and dry runs change nothing: they work (and read what the credentials reach).
    base = ["--config", str(wrong_stg)]
    assert run([*base, "hold", "--env", "stg", "--dry-run"], now=talk_sim.clock.now) == 0
    assert run([*base, "rollout", "--env", "stg", "--dry-run"], now=talk_sim.clock.now) == 0
    assert run([*base, "plan", "--env", "stg"], now=talk_sim.clock.now) == 0
    assert "the credentials reach" not in capsys.readouterr().err


def test_the_right_accounts_pass_the_check(
    talk_sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Same commands, correct roles: past the account check (hold then really tags).
    path = render_config(talk_sim, tmp_path / "fleetpatch.toml")
    assert run(["--config", str(path), "hold", "--env", "stg"], now=talk_sim.clock.now) == 0
    assert talk_sim.calls["ecr:PutImage"] > 0
    assert "the credentials reach" not in capsys.readouterr().err


def test_a_prerequisite_in_the_wrong_account_is_refused_too(
    talk_sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # prod requires stg; the proof read from stg would come from prod's own account.
    path = render_config(
        talk_sim,
        tmp_path / "fleetpatch.toml",
        environments={"stg": {"role_arn": PROD_ROLE}, "prod": {"requires": ["stg"]}},
    )
    code = run(["--config", str(path), "rollout", "--env", "prod", "--yes"], now=talk_sim.clock.now)
    assert code == 2
    assert "stg: the credentials reach account 333333333333" in capsys.readouterr().err
    assert not [op for op in CHANGES if talk_sim.calls[op]]
