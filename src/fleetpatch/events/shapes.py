"""The EventBridge events fleetpatch acts on, parsed from the shapes AWS documents. Pure.

    event = parse_event(raw)      # ImagePushed | ScanCompleted | FindingChanged | Scheduled
                                  # | Unrecognized (not ours: ignored), or MalformedEvent

- `ECR Image Action` (aws.ecr), action-type PUSH: detail repository-name, image-digest,
  image-tag (Amazon ECR User Guide, "Amazon ECR events and EventBridge").
- `ECR Image Scan` (aws.ecr), basic scanning: detail scan-status COMPLETE, repository-name,
  image-digest, image-tags, finding-severity-counts (a severity without findings is absent).
- `Inspector2 Scan` (aws.inspector2), enhanced scanning: scan-status INITIAL_SCAN_COMPLETE,
  repository-name *as an ARN*, image-digest, image-tags, finding-severity-counts (with TOTAL).
- `Inspector2 Finding` (aws.inspector2): a finding created, updated or closed; the image in
  detail.resources[].details.awsEcrContainerImage (imageHash, repositoryName, registry).
- `Scheduled Event` (aws.events): the hourly rule; detail is empty.

Anything else EventBridge might deliver (another detail-type, an ECR DELETE, an EC2
instance's scan) is `Unrecognized`, ignored with one log line. An event that claims to be one
of these but lacks what AWS always sends raises MalformedEvent: logged and dropped, because
retrying it could never succeed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# The OCI image spec's digest grammar (algorithm ":" encoded), as ECR and Inspector send it.
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
_REPOSITORY_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/(?P<name>.+)$"
)


class MalformedEvent(ValueError):
    """Not an event AWS would send: says what is missing or wrong."""


@dataclass(frozen=True)
class Origin:
    """Where an image event comes from: the registry's account and Region."""

    account: str
    region: str


@dataclass(frozen=True)
class ImagePushed:
    origin: Origin
    repository: str
    digest: str
    tag: str | None  # a push by digest alone has no tag


@dataclass(frozen=True)
class ScanCompleted:
    origin: Origin
    scanner: Literal["ecr", "inspector"]
    repository: str
    digest: str
    tags: tuple[str, ...]
    critical: int  # finding-severity-counts.CRITICAL (absent: none)


@dataclass(frozen=True)
class FindingChanged:
    origin: Origin
    repository: str
    digest: str
    vulnerability_id: str
    severity: str  # Inspector's: CRITICAL, HIGH, ..., UNTRIAGED
    status: str  # ACTIVE, SUPPRESSED, CLOSED
    title: str


@dataclass(frozen=True)
class Scheduled:
    time: str
    rule: str
    # The sidecar whose environments this check is for: the handler decides the schedule once
    # per configured sidecar (decide.expand), since each has its own tag and proofs.
    sidecar: str | None = None


@dataclass(frozen=True)
class Unrecognized:
    reason: str


AutomationEvent = ImagePushed | ScanCompleted | FindingChanged | Scheduled


def parse_event(raw: object) -> AutomationEvent | Unrecognized:
    """The event as fleetpatch reads it; MalformedEvent when it isn't an EventBridge event."""
    if not isinstance(raw, Mapping):
        raise MalformedEvent(f"an EventBridge event is a JSON object, got {type(raw).__name__}")
    source, kind = _text(raw, "source"), _text(raw, "detail-type")
    if (source, kind) == ("aws.events", "Scheduled Event"):
        resources = raw.get("resources")
        rule = resources[0] if isinstance(resources, list) and resources else ""
        return Scheduled(time=_text(raw, "time"), rule=str(rule))
    parse = _PARSERS.get((source, kind))
    if parse is None:
        return Unrecognized(f"not an event fleetpatch acts on: {source} {kind!r}")
    detail = raw.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEvent(f"{kind} without a detail object")
    return parse(raw, detail)


def _push(raw: Mapping[str, Any], detail: Mapping[str, Any]) -> ImagePushed | Unrecognized:
    action, result = detail.get("action-type"), detail.get("result")
    if action != "PUSH":
        return Unrecognized(f"ECR Image Action {action!r}, not a PUSH")
    if result != "SUCCESS":
        return Unrecognized(f"ECR push of result {result!r}, not SUCCESS")
    tag = detail.get("image-tag")
    if tag is not None and not isinstance(tag, str):
        raise MalformedEvent("ECR Image Action: image-tag is not a string")
    return ImagePushed(
        origin=_origin(raw),
        repository=_text(detail, "repository-name"),
        digest=_digest(detail, "image-digest"),
        tag=tag or None,
    )


def _ecr_scan(raw: Mapping[str, Any], detail: Mapping[str, Any]) -> ScanCompleted | Unrecognized:
    status = detail.get("scan-status")
    if status != "COMPLETE":
        return Unrecognized(f"ECR Image Scan of status {status!r}, not COMPLETE")
    return ScanCompleted(
        origin=_origin(raw),
        scanner="ecr",
        repository=_text(detail, "repository-name"),
        digest=_digest(detail, "image-digest"),
        tags=_tags(detail.get("image-tags")),
        critical=_critical(detail),
    )


def _inspector_scan(
    raw: Mapping[str, Any], detail: Mapping[str, Any]
) -> ScanCompleted | Unrecognized:
    if "image-digest" not in detail:
        return Unrecognized("Inspector2 Scan of a resource that is not an ECR image")
    status = detail.get("scan-status")
    if status != "INITIAL_SCAN_COMPLETE":
        return Unrecognized(f"Inspector2 Scan of status {status!r}, not INITIAL_SCAN_COMPLETE")
    return ScanCompleted(
        origin=_origin(raw),
        scanner="inspector",
        repository=_repository_name(_text(detail, "repository-name")),
        digest=_digest(detail, "image-digest"),
        tags=_tags(detail.get("image-tags")),
        critical=_critical(detail),
    )


def _finding(raw: Mapping[str, Any], detail: Mapping[str, Any]) -> FindingChanged | Unrecognized:
    resources = detail.get("resources")
    if not isinstance(resources, list):
        raise MalformedEvent("Inspector2 Finding without a resources list")
    images = [
        r["details"]["awsEcrContainerImage"]
        for r in resources
        if isinstance(r, Mapping)
        and r.get("type") == "AWS_ECR_CONTAINER_IMAGE"
        and isinstance(r.get("details"), Mapping)
        and isinstance(r["details"].get("awsEcrContainerImage"), Mapping)
    ]
    if not images:
        return Unrecognized("Inspector2 Finding of a resource that is not an ECR image")
    image = images[0]
    registry = image.get("registry", raw.get("account"))
    if not isinstance(registry, str) or not _ACCOUNT_RE.match(registry):
        raise MalformedEvent("Inspector2 Finding: the image's registry is not an account id")
    vulnerability = detail.get("packageVulnerabilityDetails")
    vulnerability_id = (
        vulnerability.get("vulnerabilityId") if isinstance(vulnerability, Mapping) else None
    )
    if not isinstance(vulnerability_id, str) or not vulnerability_id:
        return Unrecognized("Inspector2 Finding that is not a package vulnerability")
    return FindingChanged(
        origin=Origin(registry, _origin(raw).region),
        repository=_text(image, "repositoryName"),
        digest=_digest(image, "imageHash"),
        vulnerability_id=vulnerability_id,
        severity=_text(detail, "severity"),
        status=_text(detail, "status"),
        title=str(detail.get("title") or vulnerability_id),
    )


_PARSERS = {
    ("aws.ecr", "ECR Image Action"): _push,
    ("aws.ecr", "ECR Image Scan"): _ecr_scan,
    ("aws.inspector2", "Inspector2 Scan"): _inspector_scan,
    ("aws.inspector2", "Inspector2 Finding"): _finding,
}


# --- fields -------------------------------------------------------------------------------------


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"no {key!r} string in the event")
    return value


def _digest(data: Mapping[str, Any], key: str) -> str:
    value = _text(data, key)
    if not _DIGEST_RE.match(value):
        raise MalformedEvent(f"{key} {value[:80]!r} is not an image digest")
    return value


def _origin(raw: Mapping[str, Any]) -> Origin:
    account = _text(raw, "account")
    if not _ACCOUNT_RE.match(account):
        raise MalformedEvent(f"account {account[:40]!r} is not a 12-digit account id")
    return Origin(account, _text(raw, "region"))


def _tags(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise MalformedEvent("image-tags is not a list of strings")
    return tuple(value)


def _critical(detail: Mapping[str, Any]) -> int:
    counts = detail.get("finding-severity-counts", {})
    if not isinstance(counts, Mapping):
        raise MalformedEvent("finding-severity-counts is not an object")
    value = counts.get("CRITICAL", 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedEvent("finding-severity-counts.CRITICAL is not a count")
    return value


def _repository_name(value: str) -> str:
    """Inspector names the repository by its ARN; ECR by its name."""
    match = _REPOSITORY_ARN_RE.match(value)
    return match["name"] if match else value
