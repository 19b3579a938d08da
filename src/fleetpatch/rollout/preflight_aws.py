"""The AWS reading behind pre-flight: builds the `Facts` that `preflight.preflight` judges.

Calls: per involved repository one BatchGetImage (the target's manifest: present? platforms?
an index lists them; a single-platform image says its platform in its config blob, read with
GetDownloadUrlForLayer and a download of the URL it returns);
DescribeServices (10 per call) and one DescribeTaskDefinition per distinct task definition
of the services to deploy; DescribeImageScanFindings for the target and the current digests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fleetpatch.compliance import EcrScanFindings, ImageRef, Severity
from fleetpatch.inventory.registry import EcrRegistry, Manifest, Registry, RegistryError
from fleetpatch.journal import Entry
from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout.approvals import approval_for
from fleetpatch.rollout.plan import Plan, ServiceStep
from fleetpatch.rollout.preflight import Facts, ServiceFacts, platform_of

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient


def index_platforms(document: Mapping[str, Any]) -> tuple[str, ...] | None:
    """`os/arch` of every image an OCI index / Docker manifest list names, leaving out
    attestation manifests (BuildKit lists them as platform unknown/unknown)."""
    found = []
    for entry in document.get("manifests") or []:
        platform = entry.get("platform") or {}
        os_name, arch = platform.get("os"), platform.get("architecture")
        if os_name and arch and (os_name, arch) != ("unknown", "unknown"):
            found.append(f"{os_name}/{arch}")
    return tuple(dict.fromkeys(found)) or None


def config_platform(config: bytes) -> tuple[str, ...] | None:
    """The `os/arch` an image config blob (its `os` and `architecture`) says."""
    try:
        document = json.loads(config)
    except ValueError:
        return None
    if not isinstance(document, dict) or not document.get("os"):
        return None
    if not document.get("architecture"):
        return None
    return (f"{document['os']}/{document['architecture']}",)


def image_platforms(
    registry: Registry, repository: str, manifest: Manifest
) -> tuple[str, ...] | None:
    """The platforms of an image: from its index, else from the config blob its manifest
    names (GetDownloadUrlForLayer in ECR, /blobs/ elsewhere). None: not readable."""
    try:
        document = json.loads(manifest.body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    if "manifests" in document:
        return index_platforms(document)
    config = (document.get("config") or {}).get("digest")
    if not config:
        return None
    try:
        return config_platform(registry.blob(repository, str(config)))
    except RegistryError:
        return None


def gather(
    ecs: ECSClient,
    ecrs: Mapping[str, ECRClient],
    the_plan: Plan,
    entries: Sequence[Entry],
    registry: Registry | None = None,
    moves_tag: str | None = None,
) -> Facts:
    """Read what pre-flight needs. `ecrs`: environment name -> its ECR client, for every
    environment whose repository must hold the target (the plan's own is required).
    `registry`: where the target lives when it is not the environments' own ECR
    (`Target.registry` set: another account's ECR or an OCI registry, shared by all).
    `moves_tag`: the tag the run will move to the target (its repository's mutability is
    read)."""
    target = the_plan.target
    repository = target.repository
    present: dict[str, bool] = {}
    platforms: tuple[str, ...] | None = None
    critical: dict[str, frozenset[str] | None] = {}
    statuses: dict[str, str] = {}
    mutability: str = "MUTABLE"
    exclusions: tuple[str, ...] = ()
    steps = the_plan.services
    if target.registry:
        if registry is None:
            raise ValueError(f"the target is in {target.registry}: pass its registry")
        where = f"{target.registry}/{repository}"
        manifest = registry.manifest(repository, target.digest)
        present[where] = manifest is not None
        if manifest is not None:
            platforms = image_platforms(registry, repository, manifest)
        # Another account's ECR says what the own ECR says: archived? may the tag move?
        # (An OCI registry has no archive and fleetpatch moves no tag there.)
        if isinstance(registry, EcrRegistry):
            status = registry.image_status(repository, target.digest) if manifest else None
            if status is not None:
                statuses[where] = status
            if moves_tag is not None:
                mutability, exclusions = registry.tag_mutability(repository)
    else:
        for environment, ecr in ecrs.items():
            own = EcrRegistry(ecr)
            manifest = own.manifest(repository, target.digest)
            present[f"{environment}/{repository}"] = manifest is not None
            if manifest is not None:
                status = own.image_status(repository, target.digest)
                if status is not None:
                    statuses[f"{environment}/{repository}"] = status
            if environment == the_plan.environment and manifest is not None:
                platforms = image_platforms(own, repository, manifest)
        currents = {s.digest_before for s in steps if s.digest_before}
        critical = _critical(ecrs[the_plan.environment], repository, {target.digest} | currents)
        if moves_tag is not None:
            own = EcrRegistry(ecrs[the_plan.environment])
            mutability, exclusions = own.tag_mutability(repository)
    services = _service_facts(ecs, steps)
    approval = approval_for(entries, the_plan.environment, target.digest)
    return Facts(
        target=target.digest,
        repositories=present,
        platforms=platforms,
        services=services,
        critical=critical,
        approved=approval.approved,
        other_approvals=approval.other_digests,
        image_status=statuses,
        moves_tag=moves_tag,
        tag_mutability=mutability,
        mutability_exclusions=exclusions,
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
