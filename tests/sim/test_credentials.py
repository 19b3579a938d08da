"""Access keys as AWS treats them: the documented base credential and the keys the simulator's
STS issued work; any other key (a stale cached session, a real AWS key) is refused in each
protocol's own words instead of landing in a default account."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from fleetpatch.sim import SIM_ACCESS_KEY, Simulator
from fleetpatch.sim.seeding import NETWORK_CONFIGURATION
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario


def _client(sim: Simulator, service: str, key: str, token: str | None = None) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=sim.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id=key,
        aws_secret_access_key="whatever",
        aws_session_token=token,
    )


def test_keys_the_simulator_issued_reach_their_account(sim: Simulator) -> None:
    ecs = client(sim, "ecs", "dev")
    assert ecs.list_clusters()["clusterArns"] == ["arn:aws:ecs:eu-west-1:111111111111:cluster/main"]
    identity = _client(sim, "sts", SIM_ACCESS_KEY).get_caller_identity()
    assert identity["Account"] == "123456789012"


def test_a_service_and_a_task_definition_record_who_made_them(sim: Simulator) -> None:
    ecs = client(sim, "ecs", "dev")
    td = ecs.describe_task_definition(taskDefinition="api")["taskDefinition"]
    registered = ecs.register_task_definition(
        family="api", containerDefinitions=td["containerDefinitions"]
    )["taskDefinition"]
    assert registered["registeredBy"] == (
        "arn:aws:sts::111111111111:assumed-role/fleetpatch/fleetpatch-sim"
    )
    created = ecs.create_service(
        cluster="main",
        serviceName="extra",
        taskDefinition=registered["taskDefinitionArn"],
        desiredCount=1,
        networkConfiguration=NETWORK_CONFIGURATION,
    )["service"]
    assert created["createdBy"] == "arn:aws:iam::111111111111:role/fleetpatch"


@pytest.mark.parametrize("service", ["ecs", "ecr"])
def test_an_unknown_key_is_refused_by_json_services(sim: Simulator, service: str) -> None:
    # Temporary keys cached from an earlier simulator run: this one never issued them.
    stale = _client(sim, service, "ASIA1111111111111111", token="FQoGZXIvYXdzEOLD")
    call = stale.list_clusters if service == "ecs" else stale.describe_repositories
    with pytest.raises(ClientError) as err:
        call()
    error = err.value.response
    assert error["Error"]["Code"] == "UnrecognizedClientException"
    assert error["Error"]["Message"] == "The security token included in the request is invalid."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_unknown_key_is_refused_by_sts(sim: Simulator) -> None:
    with pytest.raises(ClientError) as err:
        _client(sim, "sts", "AKIAREALAWSKEY000000").assume_role(
            RoleArn="arn:aws:iam::111111111111:role/fleetpatch", RoleSessionName="someone"
        )
    error = err.value.response
    assert error["Error"]["Code"] == "InvalidClientTokenId"
    assert error["Error"]["Message"] == "The security token included in the request is invalid."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_keys_of_an_earlier_run_are_refused_by_the_next() -> None:
    with Simulator(small_scenario()) as first:
        issued = _client(first, "sts", SIM_ACCESS_KEY).assume_role(
            RoleArn="arn:aws:iam::111111111111:role/fleetpatch", RoleSessionName="cached"
        )["Credentials"]
        port = first.port
    # A new run on the same port: the keys the first one issued mean nothing to it.
    with Simulator(small_scenario(), port=port) as second:
        stale = _client(second, "ecs", issued["AccessKeyId"], token=issued["SessionToken"])
        with pytest.raises(ClientError) as err:
            stale.list_clusters()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
