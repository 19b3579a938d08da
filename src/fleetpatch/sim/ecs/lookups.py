"""Finding ECS resources named in a request, paging answers, and the errors for both."""

from __future__ import annotations

import base64
import binascii
import unicodedata
from collections.abc import Iterable
from typing import Any, TypeVar

from fleetpatch.sim.ecs.models import Cluster, EcsAccount, Service, TaskDefinition
from fleetpatch.sim.protocol import AwsError

T = TypeVar("T")


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def paginate(
    items: list[T], params: dict[str, Any], default: int, maximum: int
) -> tuple[list[T], str | None]:
    """One page of `items` and the token for the next. The token is an opaque offset."""
    size = params.get("maxResults") or default
    if not isinstance(size, int) or not 1 <= size <= maximum:
        raise invalid(f"maxResults must be between 1 and {maximum}.")
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(base64.b64decode(str(token)).decode())
        except (ValueError, binascii.Error) as exc:
            raise invalid("Invalid nextToken.") from exc
    page = items[start : start + size]
    more = start + size < len(items)
    next_token = base64.b64encode(str(start + size).encode()).decode() if more else None
    return page, next_token


def last_segment(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def arn_parts(arn: str) -> tuple[str, str, str]:
    """(region, account, resource) of an ECS ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        raise invalid(f"Invalid ARN: {arn}")
    return parts[3], parts[4], parts[5]


def cluster(acct: EcsAccount, ref: str | None) -> Cluster:
    ref = ref or "default"
    if ref.startswith("arn:"):
        region, account, _ = arn_parts(ref)
        if account != acct.account:
            raise AwsError(
                "AccessDeniedException", "User is not authorized to access this resource."
            )
        if region != acct.region:
            raise AwsError("ClusterNotFoundException", "Cluster not found.")
    c = acct.clusters.get(last_segment(ref))
    if c is None or c.status != "ACTIVE":
        raise AwsError("ClusterNotFoundException", "Cluster not found.")
    return c


def find_service(cluster: Cluster, ref: str) -> Service | None:
    """By name or ARN (`service/{cluster}/{name}`, or the old `service/{name}`)."""
    if ref.startswith("arn:"):
        parts = ref.split(":service/", 1)[-1].split("/")
        if len(parts) == 2 and parts[0] != cluster.name:
            return None
    return cluster.services.get(last_segment(ref))


def service(cluster: Cluster, ref: str | None) -> Service:
    if not ref:
        raise invalid("service must be specified.")
    s = find_service(cluster, ref)
    if s is None:
        raise AwsError("ServiceNotFoundException", "Service not found.")
    return s


def service_of_arn(acct: EcsAccount, service_arn: str) -> Service | None:
    """The service of an ARN `...:service/{cluster}/{name}`."""
    _, _, resource = arn_parts(service_arn)
    parts = resource.split("/")
    if len(parts) < 3:
        return None
    cluster = acct.clusters.get(parts[1])
    return cluster.services.get(parts[2]) if cluster else None


def task_definition(acct: EcsAccount, ref: str | None) -> TaskDefinition:
    td = acct.find_task_definition(ref) if ref else None
    if td is None:
        raise AwsError("ClientException", "Unable to describe task definition.")
    return td


def tags_of(acct: EcsAccount, arn: str, include: Iterable[str] | None) -> dict[str, str] | None:
    return acct.tags.get(arn, {}) if include and "TAGS" in include else None


# The API reference's tag rules (Tag; TagResource): at most 50 tags per resource, keys of
# 1-128 and values of 0-256 characters out of letters, numbers, spaces and `_.:/=+-@`; `aws:`
# (any case) starts AWS's own keys and values, which a request may not set and which don't
# count towards the 50. ECS refuses a request that breaks them with InvalidParameterException
# (its documented error for invalid parameters; the messages are the simulator's own).
MAX_TAGS = 50
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def check_tags(tags: list[dict[str, Any]] | None, existing: dict[str, str] | None = None) -> None:
    """Refuse tags as ECS does, before the request changes anything."""
    if not tags:
        return
    if len(tags) > MAX_TAGS:
        raise invalid(f"Too many tags: at most {MAX_TAGS} can be specified.")
    merged = {k: v for k, v in (existing or {}).items() if not _reserved(k)}
    for tag in tags:
        key, value = str(tag.get("key") or ""), str(tag.get("value") or "")
        if not 1 <= len(key) <= 128:
            raise invalid("Tag keys must be between 1 and 128 characters long.")
        if len(value) > 256:
            raise invalid("Tag values must be at most 256 characters long.")
        if not (_tag_text(key) and _tag_text(value)):
            raise invalid(f"Tag '{key}' contains characters that are not allowed.")
        if _reserved(key) or _reserved(value):
            raise invalid("Tag keys and values beginning with 'aws:' are reserved for AWS use.")
        merged[key] = value
    if len(merged) > MAX_TAGS:
        raise invalid(f"A resource can have at most {MAX_TAGS} tags.")


def _reserved(text: str) -> bool:
    return text.lower().startswith("aws:")


def _tag_text(text: str) -> bool:
    """The API's pattern `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`."""
    return all(
        ch.isalpha()
        or ch.isnumeric()
        or unicodedata.category(ch).startswith("Z")
        or ch in _TAG_PUNCTUATION
        for ch in text
    )


def set_tags(acct: EcsAccount, arn: str, tags: list[dict[str, Any]] | None) -> None:
    if tags:
        acct.tags.setdefault(arn, {}).update({str(t["key"]): str(t.get("value", "")) for t in tags})


def clean_token(answer: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token is not None:
        answer["nextToken"] = token
    return answer
