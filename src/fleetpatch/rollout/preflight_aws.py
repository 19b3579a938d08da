"""The AWS reading behind pre-flight: builds the `Facts` that `preflight.preflight` judges.

Calls: per involved repository one BatchGetImage (the target's manifest: present? platforms?);
DescribeServices (10 per call) and one DescribeTaskDefinition per distinct task definition
of the services to deploy; DescribeImageScanFindings for the target and the current digests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fleetpatch.compliance import EcrScanFindings, ImageRef, Severity
from fleetpatch.journal import Entry
from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout.approvals import approval_for
from fleetpatch.rollout.plan import Plan, ServiceStep
from fleetpatch.rollout.preflight import Facts, ServiceFacts, platform_of
from fleetpatch.rollout.retag import get_manifest

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient

# The simulator's single-platform manifests say their platform here (sim/registry.py
# manifest_for). A real single-platform manifest keeps it in its config blob, which this
# does not download: then the platform check warns instead of guessing.
PLATFORM_ANNOTATION = "io.fleetpatch.platform"


def manifest_platforms(manifest: str) -> tuple[str, ...] | None:
    """`os/arch` of every platform an image manifest names; None when it names none."""
    try:
        document = json.loads(manifest)
    except ValueError:
        return None
    if "manifests" in document:  # an OCI index / Docker manifest list
        platforms = [m.get("platform") or {} for m in document["manifests"]]
        found = tuple(f"{p['os']}/{p['architecture']}" for p in platforms if p.get("os"))
        return found or None
    annotated = (document.get("annotations") or {}).get(PLATFORM_ANNOTATION)
    return (str(annotated),) if annotated else None


def gather(
    ecs: ECSClient,
    ecrs: Mapping[str, ECRClient],
    the_plan: Plan,
    entries: Sequence[Entry],
) -> Facts:
    """Read what pre-flight needs. `ecrs`: environment name -> its ECR client, for every
    environment whose repository must hold the target (the plan's own is required)."""
    target = the_plan.target
    repository = target.repository
    present: dict[str, bool] = {}
    platforms: tuple[str, ...] | None = None
    for environment, ecr in ecrs.items():
        image = get_manifest(ecr, repository, target.digest)
        present[f"{environment}/{repository}"] = image is not None
        if environment == the_plan.environment and image is not None:
            platforms = manifest_platforms(str(image.get("imageManifest", "")))
    steps = the_plan.services
    services = _service_facts(ecs, steps)
    currents = {s.digest_before for s in steps if s.digest_before}
    critical = _critical(ecrs[the_plan.environment], repository, {target.digest} | currents)
    approval = approval_for(entries, the_plan.environment, target.digest)
    return Facts(
        target=target.digest,
        repositories=present,
        platforms=platforms,
        services=services,
        critical=critical,
        approved=approval.approved,
        other_approvals=approval.other_digests,
    )


def _service_facts(ecs: ECSClient, steps: Sequence[ServiceStep]) -> tuple[ServiceFacts, ...]:
    if not steps:
        return ()
    live = ecs_api.describe_services(ecs, [s.key for s in steps])
    definitions: dict[str, dict[str, Any]] = {}
    facts = []
    for step in steps:
        service = live.get(step.key)
        if service is None:
            continue  # gone: the executor reports it
        arn = str(service.get("taskDefinition", step.task_definition))
        if arn not in definitions:
            described = ecs.describe_task_definition(taskDefinition=arn)
            definitions[arn] = dict(described["taskDefinition"])
        definition = definitions[arn]
        breaker = (service.get("deploymentConfiguration") or {}).get(
            "deploymentCircuitBreaker"
        ) or {}
        facts.append(
            ServiceFacts(
                key=step.key,
                platform=platform_of(definition),
                circuit_breaker=bool(breaker.get("enable")),
                rollback=bool(breaker.get("rollback")),
                consistency_disabled=_consistency_disabled(definition),
                current_digest=step.digest_before,
            )
        )
    return tuple(facts)


def _consistency_disabled(definition: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(c.get("name"))
        for c in definition.get("containerDefinitions", [])
        if c.get("versionConsistency") == "disabled"
    )


def _critical(
    ecr: ECRClient, repository: str, digests: Iterable[str]
) -> dict[str, frozenset[str] | None]:
    refs = [ImageRef(repository, d) for d in sorted(digests)]
    found = EcrScanFindings(ecr).findings_for(refs)
    critical: dict[str, frozenset[str] | None] = {}
    for digest, image in found.items():
        if image.unavailable is not None:
            critical[digest] = None
            continue
        critical[digest] = frozenset(
            f.vulnerability_id for f in image.findings if f.severity is Severity.CRITICAL
        )
    return critical
