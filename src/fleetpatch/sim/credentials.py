"""Who is calling: access keys as AWS treats them.

The simulator knows two kinds of access key, as AWS knows only the keys it issued:
- the documented base credential, `fleetpatch-sim` (any secret), which stands for a principal
  of moto's default account (123456789012) and is what a client uses to call sts:AssumeRole;
- the temporary keys its STS issued (AssumeRole and the like) and the keys of IAM users
  created through it, each in the account it belongs to.

Any other key (a real AWS key from the environment, or temporary keys a client cached from an
earlier simulator run, which the restarted simulator never issued) is refused as AWS refuses an
unknown key, rather than landing in a default account where every cluster is missing. The
refusal depends on the protocol, as it does in AWS: JSON services (ECS, ECR, DynamoDB) answer
400 UnrecognizedClientException, query services (STS, IAM) 403 InvalidClientTokenId, S3 403
InvalidAccessKeyId.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fleetpatch.aws.session import SIM_ACCESS_KEY

# moto's default account: the base credential's.
BASE_ACCOUNT = "123456789012"
INVALID_TOKEN = "The security token included in the request is invalid."
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class Caller:
    """The principal behind an access key."""

    account: str
    # The caller's ARN as sts:GetCallerIdentity tells it (assumed-role ARN for STS keys).
    arn: str


@dataclass(frozen=True)
class Signature:
    """What a SigV4 Authorization header names: the key, the region and the service."""

    access_key: str
    region: str
    service: str


def signature(environ: dict[str, Any]) -> Signature | None:
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        return None
    return Signature(match.group(1), match.group(2), match.group(3))


class KnownKeys:
    """Access keys -> callers, from the base credential and moto's STS and IAM."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Only found keys are kept: a key unknown now may be issued later.
        self._callers: dict[str, Caller] = {}

    def caller(self, access_key: str) -> Caller | None:
        with self._lock:
            cached = self._callers.get(access_key)
        if cached is not None:
            return cached
        found = _lookup(access_key)
        if found is not None:
            with self._lock:
                self._callers[access_key] = found
        return found


def _lookup(access_key: str) -> Caller | None:
    if access_key == SIM_ACCESS_KEY:
        return Caller(BASE_ACCOUNT, f"arn:aws:iam::{BASE_ACCOUNT}:root")
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    # list() copies: moto's dicts may grow while a request runs (moto issue #5881).
    for account_backends in list(sts_backends.values()):
        for backend in list(account_backends.values()):
            for assumed in list(backend.assumed_roles):
                if assumed.access_key_id == access_key:
                    return Caller(assumed.account_id, assumed.arn)
    for account_id, partitions in list(iam_backends.items()):
        for iam in list(partitions.values()):
            key = iam.access_keys.get(access_key)
            if key is None:
                continue
            if key.user_name:
                return Caller(account_id, f"arn:aws:iam::{account_id}:user/{key.user_name}")
            return Caller(account_id, f"arn:aws:iam::{account_id}:root")
    return None


def refuse(environ: dict[str, Any], service: str, start_response: StartResponse) -> Iterable[bytes]:
    """The answer AWS gives a request signed with a key it does not know."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": "UnrecognizedClientException", "message": INVALID_TOKEN})
        return _answer(start_response, "400 Bad Request", "application/x-amz-json-1.1", body)
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidAccessKeyId</Code>'
            "<Message>The AWS Access Key Id you provided does not exist in our records."
            "</Message></Error>"
        )
        return _answer(start_response, "403 Forbidden", "application/xml", body)
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        f"<Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>{INVALID_TOKEN}"
        "</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId>"
        "</ErrorResponse>"
    )
    return _answer(start_response, "403 Forbidden", "text/xml", body)


def _answer(
    start_response: StartResponse, status: str, content_type: str, body: str
) -> list[bytes]:
    payload = body.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
    return [payload]
