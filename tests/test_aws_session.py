"""AWS sessions per environment, through real boto3 calls to a local moto server."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ClientError, NoCredentialsError, ProfileNotFound
from moto.server import ThreadedMotoServer

from fleetpatch import __version__
from fleetpatch.aws import SIM_ACCESS_KEY, AccountMismatch, AwsEnvironment, AwsSessions, explain
from fleetpatch.aws.session import build_session
from fleetpatch.config import Config, Environment
from fleetpatch.errors import EnvironmentFailure


@pytest.fixture(autouse=True)
def no_ambient_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials anywhere, as on a newcomer's laptop (and never the developer's own)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def environment(**fields: Any) -> Environment:
    values: dict[str, Any] = {"name": "dev", "account_id": "123456789012", "region": "eu-west-1"}
    values.update(fields)
    return Environment.model_validate(values)


def sessions_for(env: Environment, max_attempts: int = 10) -> AwsSessions:
    config = Config.model_validate(
        {
            "sidecars": [{"name": "fluent-bit", "repository": "fluent-bit"}],
            "environments": [env.model_dump()],
        }
    )
    return AwsSessions(config, max_attempts=max_attempts)


def test_clients_use_region_endpoint_and_fleetpatch_settings() -> None:
    aws = AwsEnvironment(environment(endpoint_url="http://127.0.0.1:4599"))
    ecs = aws.ecs()
    assert ecs.meta.region_name == "eu-west-1"
    assert ecs.meta.endpoint_url == "http://127.0.0.1:4599"
    config = ecs.meta.config
    # botocore counts max_attempts=10 as retries after the first call: 11 calls in all.
    assert config.retries == {"mode": "standard", "total_max_attempts": 11}
    assert config.max_pool_connections == 50
    assert config.user_agent_extra == f"fleetpatch/{__version__}"


def test_clients_are_cached_and_created_once_across_threads() -> None:
    aws = AwsEnvironment(environment(endpoint_url="http://127.0.0.1:4599"))
    seen: list[object] = []
    barrier = threading.Barrier(16)

    def grab() -> None:
        barrier.wait()
        seen.append(aws.client("ecs"))

    threads = [threading.Thread(target=grab) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(c) for c in seen}) == 1
    assert aws.client("ecr") is aws.ecr()


def test_sessions_are_shared_per_environment() -> None:
    config = Config.model_validate(
        {
            "sidecars": [{"name": "fluent-bit", "repository": "fluent-bit"}],
            "environments": [environment().model_dump()],
        }
    )
    sessions = AwsSessions(config)
    assert sessions.get("dev") is sessions.get("dev")


def test_simulator_credentials_only_with_an_endpoint_and_nothing_else() -> None:
    sim = build_session(environment(endpoint_url="http://127.0.0.1:4599")).get_credentials()
    assert sim is not None
    assert sim.access_key == SIM_ACCESS_KEY
    # Real AWS keeps the standard chain, which here finds nothing.
    assert build_session(environment()).get_credentials() is None


def test_ambient_credentials_win_over_the_simulator_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    creds = build_session(environment(endpoint_url="http://127.0.0.1:4599")).get_credentials()
    assert creds is not None
    assert creds.access_key == "AKIAEXAMPLE"


def test_assumed_role_reaches_the_role_account_with_refreshable_credentials(
    moto_url: str,
) -> None:
    env = environment(
        account_id="333333333333",
        endpoint_url=moto_url,
        credentials={"role_arn": "arn:aws:iam::333333333333:role/fleetpatch", "external_id": "x1"},
    )
    assert AwsEnvironment(env).caller_account() == "333333333333"
    sessions_for(env).confirm_account("dev")  # no mismatch: no error

    creds = build_session(env).get_credentials()
    assert isinstance(creds, RefreshableCredentials)
    assert creds.method == "assume-role"


def test_account_mismatch_is_one_line_naming_both_accounts_and_the_setting(
    moto_url: str,
) -> None:
    # The role is in 333333333333, the config says 444444444444.
    env = environment(
        account_id="444444444444",
        endpoint_url=moto_url,
        credentials={"role_arn": "arn:aws:iam::333333333333:role/fleetpatch"},
    )
    with pytest.raises(AccountMismatch) as info:
        sessions_for(env).confirm_account("dev")
    message = str(info.value)
    assert message.startswith("dev: the credentials reach account 333333333333, but ")
    assert "account_id = 444444444444" in message
    assert "credentials.role_arn of environment 'dev'" in message
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_default_chain_mismatch_names_profile_or_role(moto_url: str) -> None:
    # moto's default account answers for the simulator's fallback credentials.
    env = environment(account_id="999999999999", endpoint_url=moto_url)
    with pytest.raises(
        AccountMismatch, match=re.escape("credentials.profile or credentials.role_arn")
    ):
        sessions_for(env).confirm_account("dev")


def test_the_account_is_asked_once_per_environment(moto_url: str) -> None:
    env = environment(endpoint_url=moto_url)
    sessions = sessions_for(env)
    asked: list[str] = []
    sessions.get("dev").sts().meta.events.register(
        "before-call.sts.GetCallerIdentity", lambda **_: asked.append("dev")
    )
    for _ in range(5):
        sessions.confirm_accounts(["dev", "dev"])
    assert asked == ["dev"]


def test_sts_unreachable_is_an_environment_failure() -> None:
    env = environment(endpoint_url="http://127.0.0.1:9")
    with pytest.raises(EnvironmentFailure, match=re.escape("cannot connect to http://127.0.0.1:9")):
        sessions_for(env, max_attempts=1).confirm_account("dev")


def test_missing_profile_explained() -> None:
    with pytest.raises(ProfileNotFound) as info:
        AwsEnvironment(environment(credentials={"profile": "nope"})).ecs()
    failure = explain("dev", info.value)
    assert failure is not None
    assert str(failure).startswith("dev: AWS profile 'nope' not found")


def test_unreachable_simulator_suggests_starting_it() -> None:
    aws = AwsEnvironment(environment(endpoint_url="http://127.0.0.1:9"), max_attempts=1)
    with pytest.raises(Exception) as info:
        aws.caller_account()
    failure = explain("dev", info.value)
    assert failure is not None
    assert "cannot connect to http://127.0.0.1:9" in failure.message
    assert "fleetpatch sim serve --scenario" in failure.message


def test_no_credentials_for_real_aws_explained() -> None:
    with pytest.raises(NoCredentialsError) as info:
        AwsEnvironment(environment()).caller_account()
    failure = explain("prod", info.value)
    assert failure is not None
    assert "no AWS credentials found" in failure.message


def client_error(code: str, operation: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            client_error("AccessDeniedException", "DescribeServices"),
            "access denied for ecs:DescribeServices: grant the IAM permission ecs:DescribeServices",
        ),
        (
            client_error(
                "AccessDenied",
                "AssumeRole",
                "User: arn:aws:iam::1:user/x is not authorized to perform: sts:AssumeRole on ...",
            ),
            "access denied for sts:AssumeRole",
        ),
        (client_error("ExpiredTokenException", "ListClusters"), "credentials expired"),
        (client_error("RequestExpired", "ListClusters"), "credentials expired"),
        (client_error("InvalidClientTokenId", "GetCallerIdentity"), "rejected the credentials"),
        (client_error("UnrecognizedClientException", "ListServices"), "rejected the credentials"),
        (client_error("ThrottlingException", "DescribeServices"), "lower policy.max_parallel"),
    ],
)
def test_client_errors_become_one_actionable_line(error: ClientError, expected: str) -> None:
    failure = explain("stg", error)
    assert failure is not None
    assert failure.environment == "stg"
    assert expected in failure.message
    assert "\n" not in str(failure)


def test_unknown_errors_are_left_to_the_caller() -> None:
    assert explain("dev", client_error("ServiceNotFoundException", "UpdateService")) is None
    assert explain("dev", ValueError("bug")) is None
