"""The Slack app on AWS Lambda, in-process: the events API Gateway (REST, v1 payload; HTTP
API, v2) and a Lambda function URL send, signed with a test signing secret; Bolt's lazy
listener handed to a fake Lambda client (the adapter's LambdaLazyListenerRunner invokes it,
unchanged) and replayed; the worker's run as one more asynchronous invocation; the Slack
Web API a local fake."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from fleetpatch.journal import EntryKind, SqliteJournal
from fleetpatch.sim import Simulator
from fleetpatch.slack.aws_lambda import JOB_KEY, make_handler
from tests.chatbot.fake_lambda import FUNCTION_ARN, FakeLambda, LambdaContext
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config
from tests.slack.fake_api import FakeSlackApi

SIGNING_SECRET = "test-signing-secret-for-lambda"
BOT_TOKEN = "xoxb-test-lambda-bot"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(small_scenario(), time_scale=600) as simulator:
        yield simulator


@pytest.fixture
def slack() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as api:
        yield api


@pytest.fixture
def lambda_client() -> FakeLambda:
    return FakeLambda()


@pytest.fixture
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.sqlite"
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(path))
    return path


@pytest.fixture
def handler(
    sim: Simulator,
    slack: FakeSlackApi,
    lambda_client: FakeLambda,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    journal_path: Path,
) -> Any:
    monkeypatch.setenv("FLEETPATCH_CONFIG", str(render_config(sim, tmp_path / "f.toml")))
    environ = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
    }
    return make_handler(
        lambda_client=lambda_client, environ=environ, now=sim.clock.now, poll_interval=0.05
    )


def _command(slack: FakeSlackApi, text: str) -> str:
    return urlencode(
        {
            "token": "unused",
            "team_id": "T0FLEET",
            "channel_id": "C0OPS",
            "user_id": "U0ALICE",
            "user_name": "alice",
            "command": "/fleetpatch",
            "text": text,
            "response_url": slack.response_url("cmd"),
            "trigger_id": "1.2.3",
        }
    )


def _signed(body: str, secret: str = SIGNING_SECRET, age: int = 0) -> dict[str, str]:
    timestamp = str(int(time.time()) - age)
    base = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


def rest_v1(body: str, headers: dict[str, str]) -> dict[str, Any]:
    """API Gateway REST API, Lambda proxy integration (payload format 1.0)."""
    return {
        "resource": "/slack/events",
        "path": "/slack/events",
        "httpMethod": "POST",
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/slack/events",
            "httpMethod": "POST",
            "path": "/prod/slack/events",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def http_api_v2(body: str, headers: dict[str, str]) -> dict[str, Any]:
    """API Gateway HTTP API (payload format 2.0): headers lower-cased, body as text."""
    return {
        "version": "2.0",
        "routeKey": "POST /slack/events",
        "rawPath": "/slack/events",
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "http": {
                "method": "POST",
                "path": "/slack/events",
                "protocol": "HTTP/1.1",
                "sourceIp": "3.4.5.6",
                "userAgent": headers["User-Agent"],
            },
            "routeKey": "POST /slack/events",
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def function_url(body: str, headers: dict[str, str]) -> dict[str, Any]:
    """A Lambda function URL: the 2.0 format, route `$default`, the form body base64."""
    event = http_api_v2(body, headers)
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    event["requestContext"]["domainName"] = "abcdefgh.lambda-url.eu-west-1.on.aws"
    event["body"] = base64.b64encode(body.encode()).decode()
    event["isBase64Encoded"] = True
    return event


SHAPES = [rest_v1, http_api_v2, function_url]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.__name__)
def test_a_command_is_acknowledged_then_answered_by_the_lazy_invocation(
    handler: Any, slack: FakeSlackApi, lambda_client: FakeLambda, shape: Any
) -> None:
    body = _command(slack, "status")
    response = handler(shape(body, _signed(body)), LambdaContext())
    assert response["statusCode"] == 200
    # Acknowledged, not yet answered: the work is one asynchronous invocation of this ARN.
    assert slack.calls("response_url:cmd") == []
    [lazy] = lambda_client.invocations
    assert (lazy["FunctionName"], lazy["InvocationType"]) == (FUNCTION_ARN, "Event")
    assert json.loads(lazy["Payload"])["headers"]["x-slack-bolt-lazy-only"] == "1"
    lambda_client.replay(handler)
    [answer] = slack.calls("response_url:cmd")
    assert "dev" in json.dumps(answer.params)
    assert "1.0-aaaaaaa" in json.dumps(answer.params)


@pytest.mark.parametrize(
    ("secret", "age"), [("not-the-signing-secret", 0), (SIGNING_SECRET, 6 * 60)]
)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.__name__)
def test_a_bad_signature_or_an_old_timestamp_is_401_and_nothing_happens(
    handler: Any, slack: FakeSlackApi, lambda_client: FakeLambda, shape: Any, secret: str, age: int
) -> None:
    body = _command(slack, "rollout dev")
    response = handler(shape(body, _signed(body, secret, age)), LambdaContext())
    assert response["statusCode"] == 401
    assert lambda_client.invocations == []
    assert [c.method for c in slack.calls() if c.method != "auth.test"] == []


def test_a_rollout_runs_as_a_job_invocation_and_verifies(
    handler: Any, slack: FakeSlackApi, lambda_client: FakeLambda, journal_path: Path
) -> None:
    body = _command(slack, "rollout dev")
    assert handler(http_api_v2(body, _signed(body)), LambdaContext())["statusCode"] == 200
    lambda_client.replay(handler)  # the lazy listener decides and hands the run off; then the run
    jobs = [json.loads(i["Payload"]) for i in lambda_client.invocations]
    assert [JOB_KEY in job for job in jobs] == [False, True]
    assert jobs[1][JOB_KEY]["environment"] == "dev"
    with SqliteJournal(journal_path) as journal:
        kinds = [e.kind for e in journal.entries(environment="dev")]
    assert kinds.count(EntryKind.VERIFIED) == 3
    # The secrets reached Slack as the bearer token and nowhere else: not in the journal.
    stored = b"".join(p.read_bytes() for p in journal_path.parent.glob(journal_path.name + "*"))
    assert stored and BOT_TOKEN.encode() not in stored and SIGNING_SECRET.encode() not in stored


def test_missing_secrets_are_one_log_line_and_a_500(
    sim: Simulator, lambda_client: FakeLambda, caplog: pytest.LogCaptureFixture
) -> None:
    handler = make_handler(lambda_client=lambda_client, environ={"SLACK_BOT_TOKEN": BOT_TOKEN})
    body = "text=status"
    response = handler(http_api_v2(body, _signed(body)), LambdaContext())
    assert response["statusCode"] == 500
    [record] = [r for r in caplog.records if r.name == "fleetpatch.slack"]
    assert record.getMessage().startswith("fleetpatch slack: SLACK_SIGNING_SECRET is not set")
    assert BOT_TOKEN not in caplog.text
