"""`fleetpatch hold`: keep ECR lifecycle policies from deleting digests services still need.

After a moving tag moves, the digest running services resolved may carry no tag at all, and
a rule such as "expire untagged images after 14 days" deletes it; the next task of those
services then fails with CannotPullContainerError. `hold` gives every needed digest of the
environment's own ECR a tag of its own, `inuse-<env>-<12 hex of the digest>`, which no
`untagged` rule selects, and releases the tags of digests nothing needs any more.

One tag per digest, because a tag names one image in a repository: a shared `inuse-dev`
would move from digest to digest. Tagging needs no pull: BatchGetImage returns the manifest
and PutImage stores it again under the new tag (ECR user guide, "Retagging an image").

Releasing uses BatchDeleteImage with the tag: ECR removes just that tag when the image has
others, but deletes the image when it was its last tag. Such images are left alone: deleting
an image is not fleetpatch's call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.aws.errors import explain
from fleetpatch.aws.session import AwsEnvironment, AwsSessions
from fleetpatch.config import Config
from fleetpatch.core.images import ImageInfo, short_digest
from fleetpatch.core.lifecycle import would_expire
from fleetpatch.core.lifecycle_risks import in_use_digests
from fleetpatch.core.snapshot import EnvironmentSnapshot, RepositorySnapshot, Snapshot
from fleetpatch.errors import EnvironmentFailure
from fleetpatch.inventory.collect import CallCounter, ProgressCallback, collect

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

HOLD_PREFIX = "inuse-"
IDS_PER_CALL = 100
# Manifest types BatchGetImage may return (single-arch Docker/OCI and multi-arch indexes).
MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]

Action = Literal["hold", "held", "already held", "release", "released", "kept", "missing"]


@dataclass(frozen=True)
class HoldAction:
    """What hold did (or, with dry_run, would do) for one digest."""

    environment: str
    repository: str
    digest: str
    tag: str
    action: Action
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "environment": self.environment,
            "repository": self.repository,
            "digest": self.digest,
            "tag": self.tag,
            "action": self.action,
            "detail": self.detail,
        }


def hold_tag(environment: str, digest: str) -> str:
    """`inuse-dev-3554e69c6722`: the hold tag of one digest in one environment."""
    return f"{HOLD_PREFIX}{environment}-{digest.removeprefix('sha256:')[:12]}"


def is_hold_tag(environment: str, tag: str) -> bool:
    # Exact shape, so that environment "dev" never releases the tags of "dev-2".
    return re.fullmatch(rf"{re.escape(HOLD_PREFIX + environment)}-[0-9a-f]{{12}}", tag) is not None


# --- planning (pure) ----------------------------------------------------------------------------


def plan_hold(env: EnvironmentSnapshot) -> list[HoldAction]:
    """Actions "hold", "already held", "missing", "release" and "kept" for one environment."""
    needed = in_use_digests(env)
    actions: list[HoldAction] = []
    for repository in env.repositories:
        if repository.error is not None:
            continue
        wanted = needed.get(repository.name, {})
        actions.extend(_holds(env.name, repository, wanted))
        actions.extend(_releases(env.name, repository, wanted))
    return actions


def _holds(
    environment: str, repository: RepositorySnapshot, wanted: dict[str, list[str]]
) -> list[HoldAction]:
    actions = []
    for digest, services in sorted(wanted.items()):
        tag = hold_tag(environment, digest)
        image = repository.image(digest)
        users = _who(services)
        if image is None:
            detail = f"no longer in ECR: too late to hold; redeploy what it was {users}"
            actions.append(HoldAction(environment, repository.name, digest, tag, "missing", detail))
        elif tag in image.tags:
            actions.append(
                HoldAction(environment, repository.name, digest, tag, "already held", users)
            )
        else:
            actions.append(HoldAction(environment, repository.name, digest, tag, "hold", users))
    return actions


def _who(services: list[str]) -> str:
    names = sorted(services)
    if len(names) <= 3:
        return "needed by " + ", ".join(names)
    return f"needed by {names[0]}, {names[1]} and {len(names) - 2} more services"


def _releases(
    environment: str, repository: RepositorySnapshot, wanted: dict[str, list[str]]
) -> list[HoldAction]:
    actions = []
    for image in repository.images:
        for tag in image.tags:
            if not is_hold_tag(environment, tag) or image.digest in wanted:
                continue
            if image.tags == (tag,):
                detail = (
                    "its only tag: removing it would delete the image; delete it yourself "
                    "or let the lifecycle policy expire it"
                )
                action: Action = "kept"
            else:
                detail, action = "nothing runs it any more", "release"
            actions.append(
                HoldAction(environment, repository.name, image.digest, tag, action, detail)
            )
    return actions


def still_at_risk(
    env: EnvironmentSnapshot, actions: Sequence[HoldAction], now: datetime
) -> list[HoldAction]:
    """Held digests the lifecycle policy would expire even with their hold tag (a rule with
    tagStatus "any", or one whose prefixes cover `inuse-`)."""
    held = {(a.repository, a.digest): a for a in actions if a.action in ("held", "already held")}
    at_risk: list[HoldAction] = []
    for repository in env.repositories:
        if not repository.lifecycle_policy:
            continue
        images = [_with_hold(image, repository.name, held) for image in repository.images]
        for expiry in would_expire(repository.lifecycle_policy, images, now):
            action = held.get((repository.name, expiry.digest))
            if action is not None:
                detail = f"lifecycle rule {expiry.rule_priority} ({expiry.rule}) ignores the tag"
                at_risk.append(replace(action, detail=detail))
    return at_risk


def _with_hold(
    image: ImageInfo, repository: str, held: dict[tuple[str, str], HoldAction]
) -> ImageInfo:
    action = held.get((repository, image.digest))
    if action is None or action.tag in image.tags:
        return image
    return replace(image, tags=(*image.tags, action.tag))


# --- applying (ECR calls) -----------------------------------------------------------------------


def apply_hold(ecr: ECRClient, actions: Sequence[HoldAction]) -> list[HoldAction]:
    """Carry out "hold" and "release" actions; the others pass through unchanged."""
    done: list[HoldAction] = [a for a in actions if a.action not in ("hold", "release")]
    by_repository: dict[str, list[HoldAction]] = {}
    for action in actions:
        if action.action in ("hold", "release"):
            by_repository.setdefault(action.repository, []).append(action)
    for repository, pending in by_repository.items():
        holds = [a for a in pending if a.action == "hold"]
        releases = [a for a in pending if a.action == "release"]
        done.extend(_tag_digests(ecr, repository, holds))
        done.extend(_untag(ecr, repository, releases))
    return done


def _tag_digests(ecr: ECRClient, repository: str, holds: list[HoldAction]) -> list[HoldAction]:
    results: list[HoldAction] = []
    for batch in _chunks(holds, IDS_PER_CALL):
        answer = ecr.batch_get_image(
            repositoryName=repository,
            imageIds=[{"imageDigest": a.digest} for a in batch],
            acceptedMediaTypes=MANIFEST_TYPES,
        )
        manifests = {
            image["imageId"]["imageDigest"]: image
            for image in answer.get("images", [])
            if "imageId" in image and "imageDigest" in image["imageId"]
        }
        for action in batch:
            image = manifests.get(action.digest)
            if image is None:
                results.append(replace(action, action="missing", detail="no longer in ECR"))
                continue
            results.append(_put_tag(ecr, repository, action, dict(image)))
    return results


def _put_tag(
    ecr: ECRClient, repository: str, action: HoldAction, image: dict[str, Any]
) -> HoldAction:
    request: dict[str, Any] = {
        "repositoryName": repository,
        "imageManifest": image["imageManifest"],
        "imageTag": action.tag,
        "imageDigest": action.digest,
    }
    if image.get("imageManifestMediaType"):
        request["imageManifestMediaType"] = image["imageManifestMediaType"]
    try:
        ecr.put_image(**request)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ImageAlreadyExistsException":
            return replace(action, action="already held")
        if code == "ImageTagAlreadyExistsException":
            detail = f"tag {action.tag} is immutable and already names another image"
            return replace(action, action="kept", detail=detail)
        raise
    return replace(action, action="held")


def _untag(ecr: ECRClient, repository: str, releases: list[HoldAction]) -> list[HoldAction]:
    results: list[HoldAction] = []
    for batch in _chunks(releases, IDS_PER_CALL):
        answer = ecr.batch_delete_image(
            repositoryName=repository, imageIds=[{"imageTag": a.tag} for a in batch]
        )
        failed = {
            f.get("imageId", {}).get("imageTag", ""): f.get("failureReason", "failed")
            for f in answer.get("failures", [])
        }
        for action in batch:
            if action.tag in failed:
                detail = f"not released: {failed[action.tag]}"
                results.append(replace(action, action="kept", detail=detail))
            else:
                results.append(replace(action, action="released"))
    return results


def _chunks(items: Sequence[HoldAction], size: int) -> list[list[HoldAction]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def describe(action: HoldAction) -> str:
    """One line for a human: `dev fluent-bit sha256:3554e69c… held (inuse-dev-…)`."""
    text = f"{action.environment} {action.repository} {short_digest(action.digest)} {action.action}"
    return f"{text} ({action.tag})" + (f": {action.detail}" if action.detail else "")


# --- the whole command ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldResult:
    snapshot: Snapshot
    actions: tuple[HoldAction, ...]
    at_risk: tuple[HoldAction, ...]
    # Failures while tagging, per environment (one line each), beside the snapshot's own.
    errors: tuple[tuple[str, str], ...]
    api_calls: int


def hold(
    config: Config,
    environments: Iterable[str] | None = None,
    *,
    sessions: AwsSessions | None = None,
    dry_run: bool = False,
    clock: Callable[[], datetime] | None = None,
    progress: ProgressCallback | None = None,
) -> HoldResult:
    """Read the fleet, then hold needed digests and release unneeded ones, per environment.
    `progress` follows the reading of the fleet, as in `collect`."""
    sessions = sessions or AwsSessions(config)
    snapshot = collect(config, environments, sessions=sessions, clock=clock, progress=progress)
    counter = CallCounter()
    actions: list[HoldAction] = []
    at_risk: list[HoldAction] = []
    errors: list[tuple[str, str]] = []
    plans = {env.name: plan_hold(env) for env in snapshot.environments if env.error is None}
    if not dry_run:
        # Writes go only where the config says: every environment reaches its configured
        # account, or nothing is written anywhere (AccountMismatch). Also when this run has
        # nothing to write: read from the wrong account, "nothing to hold" would be a lie.
        errors.extend(_confirm_accounts(sessions, plans))
    unconfirmed = {name for name, _ in errors}
    try:
        for env in snapshot.environments:
            if env.name not in plans or env.name in unconfirmed:
                continue
            planned = plans[env.name]
            try:
                done = planned if dry_run else _apply(sessions.get(env.name), planned, counter)
            except (ClientError, BotoCoreError, EnvironmentFailure) as exc:
                failure = explain(env.name, exc)
                errors.append((env.name, failure.message if failure else str(exc)))
                continue
            actions.extend(done)
            at_risk.extend(still_at_risk(env, done, snapshot.taken_at))
    finally:
        counter.detach_all()
    return HoldResult(
        snapshot=snapshot,
        actions=tuple(actions),
        at_risk=tuple(at_risk),
        errors=tuple(errors),
        api_calls=snapshot.api_calls + counter.total,
    )


def _writes(planned: list[HoldAction]) -> bool:
    return any(a.action in ("hold", "release") for a in planned)


def _confirm_accounts(sessions: AwsSessions, names: Iterable[str]) -> list[tuple[str, str]]:
    """Each environment's account confirmed; one that STS cannot answer is reported and left
    alone (as an unreadable one is). A mismatch raises: the config is wrong, write nothing."""
    errors: list[tuple[str, str]] = []
    for name in names:
        try:
            sessions.confirm_account(name)
        except EnvironmentFailure as exc:
            errors.append((name, exc.message))
    return errors


def _apply(
    aws: AwsEnvironment, planned: list[HoldAction], counter: CallCounter
) -> list[HoldAction]:
    if not _writes(planned):
        return planned
    ecr = aws.ecr()
    counter.attach(ecr)
    return apply_hold(ecr, planned)
