"""The rollout workflow as deployed: the steps' Lambda handler with the journal, the lock and
the chain's anchors in DynamoDB and S3 (the simulator's, over real HTTP), the definitions run
state by state; every AWS call the steps make is one the hub's or the environment's generated
policy (`fleetpatch iam-policy`) allows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fleetpatch.config import load_config
from fleetpatch.iam import Hub
from fleetpatch.journal import EntryKind, open_journal
from fleetpatch.sim import Simulator
from fleetpatch.sim.credentials import BASE_ACCOUNT
from tests.conftest import small_scenario
from tests.iam.recorder import recording
from tests.iam.test_recorded_calls import _assert_allowed
from tests.journal.aws_journal import BUCKET, REGION, TABLE, AwsJournalWorld, environment
from tests.rollout.helpers import config_for
from tests.workflow.test_rollout_workflow import ROLLOUT_ID, interpreter, request


def test_a_whole_rollout_on_the_dynamodb_journal_makes_only_allowed_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Simulator(small_scenario()) as sim:
        # The function's own credentials and Region reach the hub's table and bucket.
        for name, value in environment(sim).items():
            monkeypatch.setenv(name, value)
        world = AwsJournalWorld(sim)
        world.create_table()
        world.create_bucket()
        config_for(sim, tmp_path)
        path = tmp_path / "fleetpatch.toml"
        path.write_text(
            f'journal = "dynamodb://{TABLE}"\njournal_anchor = "s3://{BUCKET}"\n' + path.read_text()
        )
        config = load_config(path)
        assert not list(tmp_path.glob("*.sqlite"))

        with recording(monkeypatch) as recorded:
            execution = interpreter(sim, config).start("rollout", ROLLOUT_ID, request())

        assert execution.status == "SUCCEEDED", execution.error
        assert execution.output["verified"] == ["main/api", "main/web", "main/worker"]
        with open_journal(config.journal, clock=sim.clock.now) as journal:
            mine = [e for e in journal.entries(environment="dev") if e.rollout_id == ROLLOUT_ID]
            verified = journal.verify()
        started = Counter(e.service for e in mine if e.kind == EntryKind.DEPLOYMENT_STARTED)
        assert started == Counter({"main/api": 1, "main/web": 1, "main/worker": 1})
        assert verified.ok, verified
        # Every append was anchored in the Object Lock bucket, and nothing was left on disk.
        assert world.anchor_keys()
        assert not list(tmp_path.glob("*.sqlite"))

    operations = {(c.service, c.operation) for c in recorded.calls}
    for expected in [
        ("dynamodb", "TransactWriteItems"),
        ("dynamodb", "Query"),
        ("s3", "PutObject"),
        ("ecs", "UpdateService"),
    ]:
        assert expected in operations, sorted(operations)
    hub = Hub.from_config(config, account_id=BASE_ACCOUNT, region=REGION)
    _assert_allowed(recorded.calls, config, hub)
