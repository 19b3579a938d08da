"""Pre-flight: checks run before any wave of a rollout, promote or rollback.

    facts = gather(...)                  # preflight_aws.py: the AWS reading, at the edge
    checks = preflight(facts, strict)    # here: pure, one `Check` per finding
    refusal(checks)                      # a one-line reason to refuse, or None

What is checked, and why:
- image: the target digest is in every involved environment's repository (else every new
  task fails with CannotPullContainerError);
- platform: the image has each service's platform (runtimePlatform; none means linux/amd64);
  an arm64-only image on an X86_64 service starts nothing;
- circuit_breaker: with rollback enabled, ECS itself returns a failing service to its last
  good revision; without it, a bad image keeps failing tasks. Warn (fail with --strict);
- version_consistency: a container with `versionConsistency: disabled` resolves its tag per
  task, so "every task runs digest D" can't be said of it: refuse;
- findings: the target must not bring a critical vulnerability the current digest lacks;
- pullable: the target is not in ECR's archive storage class (imageStatus ARCHIVED or
  ACTIVATING): an archived image can't be pulled until it is restored;
- tag: when the run moves a tag (rollback's re-tag, promote --move-tag), the repository lets
  it move (IMMUTABLE, and the *_WITH_EXCLUSION settings with their wildcard filters);
- approval: informational until approvals are required (approvals.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fleetpatch.core.images import short_digest

Status = Literal["ok", "warn", "fail"]

# ECS runtimePlatform.cpuArchitecture -> OCI platform architecture.
ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}
DEFAULT_PLATFORM = "linux/amd64"  # a task definition without runtimePlatform


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    message: str
    service: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "status": self.status,
            "message": self.message,
            "service": self.service,
        }


@dataclass(frozen=True)
class ServiceFacts:
    key: str  # cluster/service
    platform: str  # "linux/amd64"
    circuit_breaker: bool
    rollback: bool
    consistency_disabled: tuple[str, ...] = ()  # container names
    current_digest: str | None = None


@dataclass(frozen=True)
class Facts:
    target: str
    # "environment/repository" -> does it hold the target digest?
    repositories: Mapping[str, bool]
    # The target's platforms ("linux/arm64"); None: the manifest names none we can read.
    platforms: tuple[str, ...] | None
    services: tuple[ServiceFacts, ...]
    # digest -> ids of its critical findings; None: no scan for that digest.
    critical: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    approved: bool = False
    other_approvals: tuple[str, ...] = ()
    # "environment/repository" -> the target's imageStatus there (ACTIVE, ARCHIVED, ...).
    image_status: Mapping[str, str] = field(default_factory=dict)
    # The tag this run moves to the target (None: it moves none), and the repository's rule.
    moves_tag: str | None = None
    tag_mutability: str = "MUTABLE"
    mutability_exclusions: tuple[str, ...] = ()


def platform_of(task_definition: Mapping[str, Any]) -> str:
    """`os/arch` of a task definition, as OCI platforms spell it."""
    runtime = task_definition.get("runtimePlatform") or {}
    if not runtime:
        return DEFAULT_PLATFORM
    family = str(runtime.get("operatingSystemFamily") or "LINUX")
    os_name = "linux" if family == "LINUX" else "windows"
    arch = ARCHITECTURES.get(str(runtime.get("cpuArchitecture") or "X86_64"), "amd64")
    return f"{os_name}/{arch}"


def preflight(facts: Facts, strict: bool = False, rollback: bool = False) -> list[Check]:
    """Every check's verdict. A rollback goes back to a digest that already ran, so a critical
    finding it has is a warning there, not a refusal: a broken fleet is the worse outcome."""
    checks: list[Check] = []
    checks += _image(facts)
    checks += _pullable(facts)
    checks += _tag_may_move(facts)
    checks += _platforms(facts)
    checks += _circuit_breakers(facts, strict)
    checks += _version_consistency(facts)
    checks += _findings(facts, rollback)
    checks += _approval(facts)
    return checks


def refusal(checks: Iterable[Check]) -> str | None:
    """One line naming the failed checks, or None when nothing failed."""
    failed = [c for c in checks if c.status == "fail"]
    if not failed:
        return None
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return f"pre-flight refused: {failed[0].message}{more}"


# --- the checks -------------------------------------------------------------------------------


def _image(facts: Facts) -> list[Check]:
    short = short_digest(facts.target)
    missing = sorted(where for where, present in facts.repositories.items() if not present)
    if missing:
        return [Check("image", "fail", f"{short} is not in ECR repository {', '.join(missing)}")]
    return [Check("image", "ok", f"{short} is in {', '.join(sorted(facts.repositories))}")]


def _pullable(facts: Facts) -> list[Check]:
    checks = []
    for where, status in sorted(facts.image_status.items()):
        repository = where.split("/", 1)[-1]
        short = short_digest(facts.target)
        if status == "ARCHIVED":
            checks.append(
                Check(
                    "pullable",
                    "fail",
                    f"{short} is archived in ECR repository {where} (imageStatus ARCHIVED: "
                    "an archived image can't be pulled): restore it with `aws ecr "
                    f"update-image-storage-class --repository-name {repository} --image-id "
                    f"imageDigest={facts.target} --target-storage-class STANDARD`, wait until "
                    "its imageStatus is ACTIVE, then run again",
                )
            )
        elif status == "ACTIVATING":
            checks.append(
                Check(
                    "pullable",
                    "fail",
                    f"{short} is being restored from the archive in {where} (imageStatus "
                    "ACTIVATING): run again when its imageStatus is ACTIVE",
                )
            )
    return checks


def tag_is_immutable(tag: str, mutability: str, exclusions: Iterable[str]) -> bool:
    """ECR's rule: IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION unless a wildcard filter matches
    the tag, or MUTABLE_WITH_EXCLUSION when one does."""
    matches = any(_wildcard(pattern).fullmatch(tag) for pattern in exclusions)
    if mutability == "IMMUTABLE":
        return True
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        return not matches
    if mutability == "MUTABLE_WITH_EXCLUSION":
        return matches
    return False


def _wildcard(pattern: str) -> re.Pattern[str]:
    # ECR's WILDCARD filters know one wildcard, `*`.
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _tag_may_move(facts: Facts) -> list[Check]:
    tag = facts.moves_tag
    if tag is None:
        return []
    if not tag_is_immutable(tag, facts.tag_mutability, facts.mutability_exclusions):
        return [Check("tag", "ok", f"tag {tag} may move ({facts.tag_mutability})")]
    rule = facts.tag_mutability
    if facts.mutability_exclusions:
        rule += f" with exclusions {', '.join(facts.mutability_exclusions)}"
    return [
        Check(
            "tag",
            "fail",
            f"tag {tag} can't be moved: the repository's tags are {rule}; use --pin (it "
            "pins the digest in a task definition and moves no tag), or let the tag move "
            "(aws ecr put-image-tag-mutability)",
        )
    ]


def _platforms(facts: Facts) -> list[Check]:
    if facts.platforms is None:
        return [Check("platform", "warn", "the image's manifest names no platform: not checked")]
    checks = []
    for service in facts.services:
        if service.platform not in facts.platforms:
            has = ", ".join(facts.platforms) or "none"
            message = (
                f"{service.key} runs on {service.platform}; {short_digest(facts.target)} "
                f"is built for {has}"
            )
            checks.append(Check("platform", "fail", message, service.key))
    if not checks:
        checks.append(Check("platform", "ok", f"built for {', '.join(facts.platforms)}"))
    return checks


def _circuit_breakers(facts: Facts, strict: bool) -> list[Check]:
    status: Status = "fail" if strict else "warn"
    checks = []
    for service in facts.services:
        if service.circuit_breaker and service.rollback:
            continue
        what = "rollback disabled" if service.circuit_breaker else "no circuit breaker"
        message = (
            f"{service.key}: deployment circuit breaker with rollback is off ({what}): a bad "
            "image would keep failing tasks instead of rolling back"
        )
        checks.append(Check("circuit_breaker", status, message, service.key))
    return checks or [Check("circuit_breaker", "ok", "circuit breaker with rollback everywhere")]


def _version_consistency(facts: Facts) -> list[Check]:
    checks = []
    for service in facts.services:
        if service.consistency_disabled:
            names = ", ".join(service.consistency_disabled)
            message = (
                f"{service.key}: container {names} disables version consistency: its tasks "
                "resolve the tag one by one, so no digest can be verified for the service"
            )
            checks.append(Check("version_consistency", "fail", message, service.key))
    return checks or [Check("version_consistency", "ok", "enabled for every container")]


def _findings(facts: Facts, rollback: bool = False) -> list[Check]:
    target = facts.critical.get(facts.target)
    short = short_digest(facts.target)
    if target is None:
        return [Check("findings", "warn", f"no scan for {short}: critical findings not checked")]
    checks = []
    currents = sorted({s.current_digest for s in facts.services if s.current_digest})
    for current in currents:
        if current == facts.target:
            continue
        # A current digest without a scan counts as clean: the target must prove itself.
        known = facts.critical.get(current) or frozenset()
        new = sorted(target - known)
        if new:
            message = (
                f"{short} has critical finding(s) {', '.join(new)} that {short_digest(current)} "
                "(running now) doesn't have"
            )
            if rollback:
                checks.append(Check("findings", "warn", message + " (rollback: allowed)"))
            else:
                checks.append(Check("findings", "fail", message))
    return checks or [Check("findings", "ok", f"{short} adds no critical finding")]


def _approval(facts: Facts) -> list[Check]:
    if facts.approved:
        return [Check("approval", "ok", f"{short_digest(facts.target)} is approved")]
    if facts.other_approvals:
        others = ", ".join(short_digest(d) for d in facts.other_approvals)
        message = (
            f"approvals of {others} don't apply to {short_digest(facts.target)}: an approval "
            "is bound to the digest, not to a tag"
        )
        return [Check("approval", "warn", message)]
    return []
