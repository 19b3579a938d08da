"""Every AWS call of the talk's whole story is in the operation table and allowed by the
policy `fleetpatch iam-policy` generates for the role that made it.

The story is `make demo`'s, run in-process against the simulator: inventory, status,
findings, plan, rollout to dev and stg, a promote to prod with four-eyes approval, a halted
rollout, a rollback, journal verify and the report. A new AWS call anywhere in those paths
fails here until the table (fleetpatch/iam/actions.py) and the policy cover it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetpatch.cli.app import run
from fleetpatch.config import Config, load_config
from fleetpatch.demo import TIME_SCALE, Demo
from fleetpatch.iam import Hub, allows, checks, operation, policy_document
from fleetpatch.iam.arns import Where
from fleetpatch.journal import SqliteJournal
from fleetpatch.sim import Simulator
from fleetpatch.sim.credentials import BASE_ACCOUNT
from tests.conftest import TALK_SCENARIO, small_scenario
from tests.iam.recorder import Call, recording
from tests.inventory.helpers import render_config
from tests.rollout.helpers import start_canary_then_hang


def test_the_talks_story_makes_only_calls_the_generated_policies_allow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the demo keeps its report in ./out
    with Simulator(TALK_SCENARIO, time_scale=TIME_SCALE) as sim, recording(monkeypatch) as rec:
        demo = Demo(sim, tmp_path)
        assert demo.tell() == 0, capsys.readouterr().out[-3000:]
    config = load_config(demo.config)
    # The simulator's base credential stands for the hub: moto's default account.
    hub = Hub.from_config(config, account_id=BASE_ACCOUNT, region="ap-northeast-1")

    calls = rec.calls
    operations = {(c.service, c.operation) for c in calls}
    # The story reaches every part of the product that talks to AWS.
    for expected in [
        ("sts", "AssumeRole"),
        ("sts", "GetCallerIdentity"),
        ("ecs", "ListServices"),
        ("ecs", "DescribeTasks"),
        ("ecs", "UpdateService"),
        ("ecr", "BatchGetImage"),
        ("ecr", "PutImage"),
    ]:
        assert expected in operations, sorted(operations)

    _assert_allowed(calls, config, hub)


def test_a_pinned_rollout_and_its_rollback_make_only_allowed_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pin mode registers task definition revisions (tagged with the rollout's owner tags):
    # RegisterTaskDefinition and its tag-on-create authorization, which the demo never needs.
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "journal.sqlite"))
    with Simulator(small_scenario(), time_scale=600) as sim, recording(monkeypatch) as rec:
        path = render_config(sim, tmp_path / "fleetpatch.toml")
        base = ["--config", str(path)]
        fast = ["--yes", "--poll-interval", "0.05"]
        assert run([*base, "rollout", "--env", "dev", "--pin", *fast]) == 0
        assert run([*base, "rollback", "--env", "dev", *fast]) == 0
    config = load_config(path)
    operations = {(c.service, c.operation) for c in rec.calls}
    assert ("ecs", "RegisterTaskDefinition") in operations, sorted(operations)
    assert any(c.params.get("tags") for c in rec.calls if c.operation == "RegisterTaskDefinition")
    hub = Hub.from_config(config, account_id=BASE_ACCOUNT, region="eu-west-1")
    _assert_allowed(rec.calls, config, hub)


def test_an_abort_and_inspector_findings_make_only_allowed_calls(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = render_config(sim, tmp_path / "fleetpatch.toml")
    path.write_text(f'journal = "{tmp_path / "journal.sqlite"}"\n\n' + path.read_text())
    config = load_config(path)
    with recording(monkeypatch) as rec:
        with SqliteJournal(tmp_path / "journal.sqlite") as journal:
            start_canary_then_hang(sim, config, journal)
        assert run(["--config", str(path), "abort", "--env", "dev"]) == 0
        assert (
            run(["--config", str(path), "findings", "--env", "dev", "--source", "inspector"]) == 0
        )
    operations = {(c.service, c.operation) for c in rec.calls}
    assert ("ecs", "StopServiceDeployment") in operations, sorted(operations)
    assert ("inspector2", "ListFindings") in operations, sorted(operations)
    hub = Hub.from_config(config, account_id=BASE_ACCOUNT, region="eu-west-1")
    _assert_allowed(rec.calls, config, hub)


def _assert_allowed(calls: list[Call], config: Config, hub: Hub) -> None:
    problems = [problem for call in calls if (problem := _problem(call, config, hub))]
    assert not problems, "\n".join(sorted(set(problems)))


def _problem(call: Call, config: Config, hub: Hub) -> str | None:
    row = operation(call.service, call.operation)
    name = f"{call.service}:{call.operation}"
    if row is None:
        return f"{name}: no row in fleetpatch/iam/actions.py"
    if call.environment is None:
        role, where = "hub", Where(hub.account_id or "", call.region)
        policy = policy_document(config, "hub", None, hub=hub)
    else:
        env = config.environment(call.environment)
        role, where = "target", Where(env.account_id, call.region)
        policy = policy_document(config, "target", call.environment)
    for check in checks(call.service, call.operation, call.params, where):
        if not allows(policy, check.action, check.resource, check.context):
            context = f" with {dict(check.context)}" if check.context else ""
            return (
                f"{name} ({role} {call.environment or ''}): {check.action} on "
                f"{check.resource}{context} is denied"
            )
    return None
