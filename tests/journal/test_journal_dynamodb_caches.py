"""The caches follow the journal: with the journal in DynamoDB, a warm inventory's answers are
kept in its table (with a TTL), not in a file beside a journal that isn't there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.cli.app import run
from fleetpatch.sim import Simulator
from tests.inventory.helpers import render_config
from tests.journal.aws_journal import BUCKET, TABLE, AwsJournalWorld, environment


def inventory(path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    sim.reset_calls()
    assert run(["--config", str(path), "inventory", "--all", "--json"], now=sim.clock.now) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_a_warm_inventory_keeps_its_answers_in_the_journal_table(
    sim: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in environment(sim).items():
        monkeypatch.setenv(name, value)
    world = AwsJournalWorld(sim)
    world.create_table()
    world.create_bucket()
    path = render_config(sim, tmp_path / "fleetpatch.toml")
    header = f'journal = "dynamodb://{TABLE}"\njournal_anchor = "s3://{BUCKET}"\n\n'
    path.write_text(header + path.read_text())

    cold = inventory(path, sim, capsys)
    assert sim.calls["ecs:DescribeTaskDefinition"] == 3
    warm = inventory(path, sim, capsys)

    assert sim.calls["ecs:DescribeTaskDefinition"] == 0
    assert sim.calls["ecs:DescribeServiceRevisions"] == 0
    assert warm["environments"][0]["services"] == cold["environments"][0]["services"]
    assert not list(tmp_path.glob("*.sqlite"))  # nothing on the runner's disk
    items = world.dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "answer#task_definition"}},
    )["Items"]
    assert len(items) == 3
    assert all(int(item["expires_at"]["N"]) > sim.clock.now().timestamp() for item in items)
