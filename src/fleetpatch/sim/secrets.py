"""Secrets Manager: moto's secrets, with the access rules AWS applies before it answers.

AWS evaluates a Secrets Manager request against the caller's identity policy and the
secret's resource policy: an explicit deny in either wins; within the secret's own account an
allow in either is enough; from another account both must allow ("Determine who has
permissions to your AWS Secrets Manager secrets", Secrets Manager user guide). In the
simulator the caller's identity policy allows everything (the scenario's role is an
administrator), so:
- same account: refused only by an explicit deny in the secret's resource policy;
- another account (the SecretId is an ARN naming it): refused unless the resource policy has
  a statement that allows the action to the caller, and served from that account.
A refusal is AccessDeniedException (HTTP 400, as every Secrets Manager error but the
internal ones: the API reference's Common Errors) with IAM's wording. The KMS key policy
that cross-account access also needs in AWS is not modelled (docs/scenario.md).

moto answers ResourceNotFoundException with HTTP 404; AWS documents 400 for it (and for every
Secrets Manager client error), so the status is corrected here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fleetpatch.sim.credentials import Caller
from fleetpatch.sim.policies import evaluate
from fleetpatch.sim.protocol import AwsError

TARGET = "secretsmanager."

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def check_access(caller: Caller, region: str, action: str, params: dict[str, Any]) -> str:
    """The account whose secrets serve the call; AccessDeniedException when AWS would refuse.

    `action` is the operation name (GetSecretValue); `params` the request's JSON body."""
    secret_id = params.get("SecretId")
    if not isinstance(secret_id, str) or not secret_id:
        return caller.account
    owner = _arn_account(secret_id) or caller.account
    secret = _find(owner, region, secret_id)
    if secret is None:
        return owner  # moto answers ResourceNotFoundException, as AWS does
    permission = f"secretsmanager:{action}"
    verdict = evaluate(secret.policy, caller.account, _role_name(caller.arn), permission)
    if verdict == "deny":
        raise _denied(caller, action, secret.arn, "an explicit deny in a resource-based policy")
    if owner != caller.account and verdict != "allow":
        raise _denied(
            caller,
            action,
            secret.arn,
            f"no resource-based policy allows the secretsmanager:{action} action",
        )
    return owner


def seed_secret(
    account: str, region: str, name: str, value: str, policy: dict[str, Any] | None
) -> None:
    """Create a scenario's secret (and its resource policy) in moto's backend."""
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[account][region]
    backend.create_secret(
        name=name,
        secret_string=value,
        secret_binary=None,
        description=None,
        tags=None,
        kms_key_id=None,
        client_request_token=None,
        replica_regions=[],
        force_overwrite=False,
    )
    if policy is not None:
        backend.put_resource_policy(name, json.dumps(policy))


def with_aws_status(start_response: StartResponse) -> StartResponse:
    """A start_response that answers moto's 404 (ResourceNotFoundException) as AWS's 400."""

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if status.startswith("404"):
            status = "400 Bad Request"
        return start_response(status, headers)

    return start


def _find(account: str, region: str, secret_id: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[account][region]
    return backend.secrets.get(secret_id)


def _arn_account(secret_id: str) -> str | None:
    parts = secret_id.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "secretsmanager":
        return parts[4] or None
    return None


def _role_name(arn: str) -> str:
    # arn:aws:sts::111111111111:assumed-role/fleetpatch/session -> fleetpatch
    _, _, rest = arn.partition(":assumed-role/")
    return rest.split("/", 1)[0]


def _denied(caller: Caller, action: str, resource: str, why: str) -> AwsError:
    return AwsError(
        "AccessDeniedException",
        f"User: {caller.arn} is not authorized to perform: secretsmanager:{action} on "
        f"resource: {resource} because {why}",
    )
