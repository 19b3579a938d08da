"""Turn botocore exceptions into one actionable line per environment.

`explain` returns None for anything it does not recognise, so the caller re-raises it: an
unknown exception is a bug and should keep its traceback. Messages never include
credentials; they name the environment, the operation and what to change.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from fleetpatch.errors import EnvironmentFailure

EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
INVALID_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch", "AuthFailure"}
)
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
THROTTLE_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)

# ClientError knows the operation but not the service; the IAM action needs both. AWS's own
# AccessDenied message usually names the action, and this table covers the rest.
_SERVICE_OF_OPERATION = {
    "AssumeRole": "sts",
    "GetCallerIdentity": "sts",
    **{
        op: "ecs"
        for op in [
            "ListClusters",
            "DescribeClusters",
            "ListServices",
            "DescribeServices",
            "UpdateService",
            "ListTasks",
            "DescribeTasks",
            "DescribeTaskDefinition",
            "RegisterTaskDefinition",
            "ListServiceDeployments",
            "DescribeServiceDeployments",
            "DescribeServiceRevisions",
            "StopServiceDeployment",
        ]
    },
    **{
        op: "ecr"
        for op in [
            "DescribeImages",
            "BatchGetImage",
            "PutImage",
            "ListImages",
            "DescribeRepositories",
            "DescribeImageScanFindings",
            "GetLifecyclePolicy",
        ]
    },
}

SIM_HINT = "start the simulator with `fleetpatch sim serve --scenario examples/talk/scenario.yaml`"


def explain(environment_name: str, exc: BaseException) -> EnvironmentFailure | None:
    """One clear line for a known AWS failure in `environment_name`, else None."""
    message = _message(exc)
    return None if message is None else EnvironmentFailure(environment_name, message)


def _message(exc: BaseException) -> str | None:
    if isinstance(exc, EnvironmentFailure):
        return exc.message
    if isinstance(exc, ClientError):
        return _client_error(exc)
    if isinstance(exc, ProfileNotFound):
        profile = exc.kwargs.get("profile", "?")
        return (
            f"AWS profile '{profile}' not found in ~/.aws/config or ~/.aws/credentials: "
            f"fix credentials.profile or create it with `aws configure --profile {profile}`"
        )
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials found: set credentials.profile or credentials.role_arn for "
            "this environment, or log in (`aws configure`, `aws sso login`)"
        )
    if isinstance(exc, PartialCredentialsError):
        provider = exc.kwargs.get("provider", "?")
        missing = exc.kwargs.get("cred_var", "?")
        return f"incomplete AWS credentials from {provider}: {missing} is missing"
    if isinstance(exc, SSOTokenLoadError | UnauthorizedSSOTokenError | TokenRetrievalError):
        return "the AWS SSO session is missing or expired: run `aws sso login --profile <profile>`"
    if isinstance(exc, NoRegionError):
        return "no AWS region: set region for this environment in fleetpatch.toml"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return _unreachable(str(exc.kwargs.get("endpoint_url", "?")), "cannot connect to")
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
        return _unreachable(str(exc.kwargs.get("endpoint_url", "?")), "no answer from")
    return None


def _client_error(exc: ClientError) -> str | None:
    code = exc.response.get("Error", {}).get("Code", "")
    action = _iam_action(exc)
    if code in EXPIRED_CODES:
        return (
            f"AWS credentials expired (during {action}): refresh them "
            "(`aws sso login`, or new keys) and run the command again"
        )
    if code in INVALID_CODES:
        return (
            f"AWS rejected the credentials ({code} during {action}): they are invalid or "
            "revoked; check credentials.profile, AWS_PROFILE and AWS_ACCESS_KEY_ID"
        )
    if code in DENIED_CODES:
        return (
            f"access denied for {action}: grant the IAM permission {action} to the "
            "identity or role used for this environment"
        )
    if code in THROTTLE_CODES:
        return (
            f"AWS kept throttling {action} after retries: lower policy.max_parallel "
            "or run again later"
        )
    return None


def _iam_action(exc: ClientError) -> str:
    """'ecs:DescribeServices' for the failed call, as precisely as the error allows."""
    text = exc.response.get("Error", {}).get("Message", "") or ""
    named = re.search(r"perform: ([a-z0-9-]+:[A-Za-z0-9]+)", text)
    if named:
        return named.group(1)
    operation = exc.operation_name
    service = _SERVICE_OF_OPERATION.get(operation)
    return f"{service}:{operation}" if service else operation


def _unreachable(url: str, verb: str) -> str:
    host = urlparse(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        return f"{verb} {url}: is the simulator running? {SIM_HINT}"
    return f"{verb} {url}: check endpoint_url, the network or proxy settings"
