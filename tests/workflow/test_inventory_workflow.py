"""The inventory as Step Functions runs it (issue 11 item 6): inventory.asl.json run state by
state by tests/workflow/asl.py, its Map over (account, Region) shards included, each Task
calling the inventory Lambda handler in-process against the simulator, which holds several
accounts in two Regions; the shards' snapshots go through the simulator's S3 (moto's), with
credentials in the environment as Lambda gives a function its role's."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from fleetpatch.config import Config, load_config
from fleetpatch.core.snapshot_record import snapshot_from_record
from fleetpatch.errors import UserError
from fleetpatch.inventory.collect import collect
from fleetpatch.sim import SIM_ACCESS_KEY, Simulator
from fleetpatch.workflow.inventory import make_handler, shards
from fleetpatch.workflow.snapshots import BUCKET_VARIABLE, store_from_environment
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config
from tests.workflow.asl import INVENTORY_FUNCTION, MAX_PAYLOAD, Interpreter, StatesError

BUCKET = "fleetpatch-snapshots"
HUB_ROLE = "arn:aws:iam::999999999999:role/fleetpatch-hub"
RUN_ID = "inventory-2026-11-27T0900"
PLACES = [
    ("dev-eu", "111111111111", "eu-west-1"),
    ("dev-us", "111111111111", "us-east-1"),
    ("stg-eu", "222222222222", "eu-west-1"),
    ("stg-us", "222222222222", "us-east-1"),
    ("prod-eu", "333333333333", "eu-west-1"),
    ("prod-us", "333333333333", "us-east-1"),
]


def scenario() -> dict[str, Any]:
    """Three accounts x two Regions, each its own services; dev-eu also runs a batch cluster
    that a second configured environment (dev-batch) names: one shard, two environments."""
    base = small_scenario()
    template = base["environments"][0]
    environments = []
    for number, (name, account, region) in enumerate(PLACES):
        env = json.loads(json.dumps(template))
        env.update(name=name, account=account, region=region)
        env["clusters"][0]["services"] = [f"svc-{n}" for n in range(1 + number % 3)]
        environments.append(env)
    batch = json.loads(json.dumps(template["clusters"][0]))
    batch.update(name="batch", services=["nightly"])
    environments[0]["clusters"].append(batch)
    return {**base, "environments": environments}


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Simulator, Config]]:
    with Simulator(scenario()) as sim:
        as_the_functions_role(sim, monkeypatch)
        boto3.Session().client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        monkeypatch.setenv(BUCKET_VARIABLE, BUCKET)
        path = render_config(
            sim, tmp_path / "fleetpatch.toml", environments={"dev-eu": {"clusters": ["main"]}}
        )
        role = 'role_arn = "arn:aws:iam::111111111111:role/fleetpatch"'
        batch = (
            '\n[[environments]]\nname = "dev-batch"\naccount_id = "111111111111"\n'
            f'region = "eu-west-1"\nclusters = ["batch"]\nendpoint_url = "{sim.endpoint_url}"\n'
            f"credentials = {{ {role} }}\n"
        )
        path.write_text(path.read_text() + batch)
        yield sim, load_config(path)


def as_the_functions_role(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub function's role credentials in the environment, S3 at the simulator."""
    sts = boto3.client(
        "sts",
        endpoint_url=sim.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id=SIM_ACCESS_KEY,
        aws_secret_access_key=SIM_ACCESS_KEY,
    )
    issued = sts.assume_role(RoleArn=HUB_ROLE, RoleSessionName="inventory")["Credentials"]
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", issued["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", issued["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", issued["SessionToken"])
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    # botocore's own per-service endpoint variable: nothing fleetpatch-specific.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", sim.endpoint_url)


def machine(sim: Simulator, config: Config) -> Interpreter:
    handler = make_handler(now=sim.clock.now, config=lambda: config)
    return Interpreter(
        lambda payload: handler(payload, None), sim.advance, function=INVENTORY_FUNCTION
    )


def s3_object(key: str) -> Any:
    return json.loads(
        boto3.Session().client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    )


def test_the_map_reads_every_account_and_region_and_merges_what_the_cli_reads(
    fleet: tuple[Simulator, Config],
) -> None:
    sim, config = fleet
    machines = machine(sim, config)

    execution = machines.start("inventory", RUN_ID, {})

    assert execution.status == "SUCCEEDED", execution.error
    # One shard per account and Region: dev-eu and dev-batch share one (one set of buckets).
    assert [(s["account"], s["region"], s["environments"]) for s in shards(config)] == [
        ("111111111111", "eu-west-1", ["dev-eu", "dev-batch"]),
        ("111111111111", "us-east-1", ["dev-us"]),
        ("222222222222", "eu-west-1", ["stg-eu"]),
        ("222222222222", "us-east-1", ["stg-us"]),
        ("333333333333", "eu-west-1", ["prod-eu"]),
        ("333333333333", "us-east-1", ["prod-us"]),
    ]
    states = [c.state for c in machines.calls]
    assert states == ["Shards"] + ["InventoryShard"] * 6 + ["Merge"]
    shard_calls = [c.payload for c in machines.calls if c.state == "InventoryShard"]
    assert all(p["step"] == "inventory_shard" and p["run_id"] == RUN_ID for p in shard_calls)
    assert shard_calls[0]["shard"] == "111111111111/eu-west-1"
    assert [p["shard"].split("/")[1] for p in shard_calls] == ["eu-west-1", "us-east-1"] * 3
    output = execution.output
    assert output["failed"] == [] and output["failed_count"] == 0
    assert (output["shards"], output["environments"]) == (6, 7)
    assert output["snapshot"] == f"s3://{BUCKET}/inventory/{RUN_ID}/snapshot.json"

    merged = snapshot_from_record(s3_object(f"inventory/{RUN_ID}/snapshot.json"))
    # What `fleetpatch inventory` reads in one process, to the last field and call.
    assert merged == collect(config, clock=sim.clock.now)
    assert s3_object(f"inventory/{RUN_ID}/inventory.json") == merged.to_json()
    assert output["services"] == sum(len(env.services) for env in merged.environments) == 13
    batch = next(env for env in merged.environments if env.name == "dev-batch")
    assert [s.service for s in batch.services] == ["nightly"]
    assert machines.largest_payload < MAX_PAYLOAD // 50  # the Map carries keys, not fleets


def test_an_account_whose_credentials_are_refused_is_reported_and_the_others_are_read(
    fleet: tuple[Simulator, Config], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, config = fleet
    # stg's keys were revoked: the simulator, like AWS, refuses keys it never issued.
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        "[stg-revoked]\naws_access_key_id = AKIAREVOKEDKEY000000\naws_secret_access_key = revoked\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    assert config.source is not None
    text = config.source.read_text().replace(
        'role_arn = "arn:aws:iam::222222222222:role/fleetpatch"', 'profile = "stg-revoked"'
    )
    config.source.write_text(text)
    config = load_config(config.source)

    execution = machine(sim, config).start("inventory", RUN_ID, {})

    assert execution.status == "SUCCEEDED", execution.error
    output = execution.output
    assert [f["environment"] for f in output["failed"]] == ["stg-eu", "stg-us"]
    assert output["failed_count"] == 2
    for failure in output["failed"]:
        assert failure["account"] == "222222222222"
        assert failure["error"].startswith(
            "AWS rejected the credentials (UnrecognizedClientException during ecs:ListClusters)"
        )
    merged = snapshot_from_record(s3_object(f"inventory/{RUN_ID}/snapshot.json"))
    read = [env.name for env in merged.environments if env.error is None]
    assert read == ["dev-eu", "dev-us", "prod-eu", "prod-us", "dev-batch"]


def test_lambda_throttling_a_shard_is_retried_by_the_definition_and_reads_it_once(
    fleet: tuple[Simulator, Config],
) -> None:
    sim, config = fleet
    throttled = {"111111111111/us-east-1": 2, "333333333333/eu-west-1": 1}

    def lambda_throttles(state: str, payload: dict[str, Any]) -> None:
        shard = payload.get("shard")
        if state == "InventoryShard" and throttled.get(shard):
            throttled[shard] -= 1
            raise StatesError("Lambda.TooManyRequestsException", "Rate Exceeded.")

    handler = make_handler(now=sim.clock.now, config=lambda: config)
    machines = Interpreter(
        lambda payload: handler(payload, None),
        sim.advance,
        fault=lambda_throttles,
        function=INVENTORY_FUNCTION,
    )

    execution = machines.start("inventory", RUN_ID, {})

    assert execution.status == "SUCCEEDED", execution.error
    assert execution.output["failed"] == [] and execution.output["environments"] == 7
    attempts = Counter(c.payload["shard"] for c in machines.calls if c.state == "InventoryShard")
    assert attempts["111111111111/us-east-1"] == 3 and attempts["333333333333/eu-west-1"] == 2
    assert sum(attempts.values()) == 6 + 3


def test_a_shard_that_left_no_snapshot_is_reported_per_environment_by_the_merge(
    fleet: tuple[Simulator, Config],
) -> None:
    sim, config = fleet
    handler = make_handler(now=sim.clock.now, config=lambda: config)
    for shard in shards(config):
        if shard["account"] != "333333333333":
            item = f"{shard['account']}/{shard['region']}"
            handler({"step": "inventory_shard", "run_id": RUN_ID, "shard": item}, None)

    output = handler({"step": "merge", "run_id": RUN_ID}, None)

    assert [f["environment"] for f in output["failed"]] == ["prod-eu", "prod-us"]
    assert output["failed"][0]["error"] == (
        f"not read: no shard snapshot at s3://{BUCKET}/inventory/{RUN_ID}/shards/"
        "333333333333-eu-west-1.json (its Map iteration failed)"
    )
    assert output["environments"] == 7


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "not a fleetpatch inventory step: None"),
        ({"step": "merge"}, "run_id must be 1-80 of"),
        ({"step": "merge", "run_id": "../other"}, "run_id must be 1-80 of"),
        ({"step": "inventory_shard", "run_id": RUN_ID}, "needs a shard 'account/Region'"),
        (
            {
                "step": "inventory_shard",
                "run_id": RUN_ID,
                "shard": "444444444444/eu-west-1",
            },
            "no configured environment is in account 444444444444 Region eu-west-1",
        ),
    ],
)
def test_a_step_input_that_is_not_one_fails_the_step_saying_so(
    fleet: tuple[Simulator, Config], event: dict[str, Any], message: str
) -> None:
    sim, config = fleet
    with pytest.raises(UserError, match=message):
        make_handler(now=sim.clock.now, config=lambda: config)(event, None)


def test_a_missing_bucket_or_variable_is_one_line_saying_what_to_fix(
    fleet: tuple[Simulator, Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, config = fleet
    handler = make_handler(now=sim.clock.now, config=lambda: config)
    monkeypatch.setenv(BUCKET_VARIABLE, "fleetpatch-nowhere")
    shard = {"step": "inventory_shard", "run_id": RUN_ID, "shard": "111111111111/us-east-1"}
    with pytest.raises(UserError) as missing:
        handler(shard, None)
    assert str(missing.value) == (
        f"s3:PutObject s3://fleetpatch-nowhere/inventory/{RUN_ID}/shards/111111111111-us-east-1"
        ".json failed: NoSuchBucket: The specified bucket does not exist: create the bucket or "
        "fix FLEETPATCH_SNAPSHOT_BUCKET"
    )
    with pytest.raises(UserError, match=r"^s3:GetObject s3://fleetpatch-nowhere/.* NoSuchBucket"):
        handler({"step": "merge", "run_id": RUN_ID}, None)
    monkeypatch.delenv(BUCKET_VARIABLE)
    with pytest.raises(UserError, match=r"^FLEETPATCH_SNAPSHOT_BUCKET is not set: name the S3"):
        store_from_environment()
