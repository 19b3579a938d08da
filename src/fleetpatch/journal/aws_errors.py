"""AWS failures of the journal's DynamoDB table and S3 anchor bucket, as one line each.

A missing table or bucket, a bucket without Object Lock, a permission or credentials problem is
the user's to fix (UserError: one line, exit 2) and the line names the resource and what fixes
it: the template that creates it, the config key that names it, or the statement of
`fleetpatch iam-policy` that allows the call. Anything else propagates with its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from fleetpatch.errors import UserError

# The Sids of the hub policy's statements that allow the journal's calls (fleetpatch.iam).
TABLE_STATEMENT = "JournalTable"
ANCHOR_STATEMENT = "JournalAnchor"
TEMPLATE = "deploy/template.yaml"

_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})
_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
# "User: arn:... is not authorized to perform: dynamodb:PutItem on resource: arn:... because"
_NOT_AUTHORIZED = re.compile(r"perform: (?P<action>[\w-]+:\w+) on resource: (?P<resource>\S+)")


@dataclass(frozen=True)
class Resource:
    """What a call touched, for the message: 'journal table T', its ARN, and its fixes."""

    service: str  # "dynamodb" | "s3"
    description: str  # "journal table fleetpatch-journal in eu-west-1"
    arn: str
    config_key: str  # `journal` | `journal_anchor`
    statement: str


def table_resource(name: str, region: str) -> Resource:
    # The account is not known without asking STS; AWS's own AccessDenied names the full ARN.
    return Resource(
        "dynamodb",
        f"journal table {name} in {region}",
        f"arn:aws:dynamodb:{region}:*:table/{name}",
        "journal",
        TABLE_STATEMENT,
    )


def bucket_resource(bucket: str) -> Resource:
    return Resource(
        "s3",
        f"journal anchor bucket {bucket}",
        f"arn:aws:s3:::{bucket}",
        "journal_anchor",
        ANCHOR_STATEMENT,
    )


@contextmanager
def explained(resource: Resource) -> Iterator[None]:
    """Re-raise a user-fixable AWS failure of a call on `resource` as one-line UserError."""
    try:
        yield
    except ClientError as exc:
        message = explain_client_error(resource, exc)
        if message is None:
            raise
        raise UserError(message) from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise UserError(
            f"no AWS credentials for the {resource.description}: set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where a role provides them"
        ) from exc
    except NoRegionError as exc:
        raise UserError(
            f"no AWS region for the {resource.description}: set AWS_REGION "
            "(or region in the AWS profile)"
        ) from exc
    except EndpointConnectionError as exc:
        raise UserError(
            f"cannot reach the {resource.description}: {exc}; check AWS_ENDPOINT_URL and "
            "the network"
        ) from exc
    except BotoCoreError:
        raise


def explain_client_error(resource: Resource, exc: ClientError) -> str | None:
    """The one line for a ClientError a user can fix, else None."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    text = str(error.get("Message", "")).strip()
    operation = exc.operation_name
    if code in _DENIED:
        found = _NOT_AUTHORIZED.search(text)
        action = found["action"] if found else f"{resource.service}:{operation}"
        target = found["resource"] if found else resource.arn
        return (
            f"not allowed {action} on {target}: add the {resource.statement} statement of "
            "`fleetpatch iam-policy` to the role fleetpatch runs as"
        )
    if code == "ResourceNotFoundException" and resource.service == "dynamodb":
        return (
            f"{resource.description.replace(' in ', ' not found in ', 1)}: deploy {TEMPLATE} "
            f"or fix `{resource.config_key}`"
        )
    if code in ("NoSuchBucket", "404") and resource.service == "s3":
        return f"{resource.description} not found: deploy {TEMPLATE} or fix `journal_anchor`"
    if code == "ObjectLockConfigurationNotFoundError":
        return no_object_lock(resource)
    if code in _CREDENTIALS:
        return (
            f"AWS refused the credentials used for the {resource.description} ({code}: "
            f"{text or 'no message'}); check AWS_PROFILE or the credentials in the environment"
        )
    return None


def no_object_lock(resource: Resource) -> str:
    return (
        f"{resource.description} has no Object Lock, so its anchors could be deleted: "
        f"point `journal_anchor` at a bucket created with Object Lock enabled ({TEMPLATE})"
    )
