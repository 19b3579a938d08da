"""Rollback: return an environment to the previous *digest*, not to an older task definition.

The trap: with a moving tag (`latest`), an older task definition still says `:latest`; ECS
resolves it again at deployment time and brings the new digest right back. So, where
fleetpatch may write (the sidecar's ECR, in this account or another), rollback first moves
the tag back to the previous digest (BatchGetImage + PutImage: no pull), then rolls out to it
with the ordinary executor, which verifies every task. Elsewhere (ECR Public, Docker Hub and
other OCI registries, an ECR that refuses the PutImage) it pins: a new revision per service
with the sidecar at `repository@<previous digest>` (rollback_path.py says which and why).
A service whose other containers' tags moved is pinned in either case: a forced deployment
would ship their new code with the rollback.
`--pin` returns each service to the revision it ran before when that revision pins the
previous digest, else pins the previous digest in a new revision (returning to a revision
that says `:latest` would walk into the same trap).

Which digest is "previous", first answer wins:
1. the journal: the digest the last forward rollout started from (`previous_digest`);
2. ECS: the source revision of each service's latest service deployment;
3. ECR (the sidecar's, in whichever account): the most recent image pushed before the current
   one that carries a version tag.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fleetpatch.aws.errors import DENIED_CODES
from fleetpatch.config import Sidecar
from fleetpatch.core.images import RegistryLocation, configured_location, parse_image, short_digest
from fleetpatch.core.snapshot import EnvironmentSnapshot
from fleetpatch.errors import UserError
from fleetpatch.inventory.registry import Registry, RegistryError
from fleetpatch.journal import Entry, EntryKind, NewEntry, previous_digest
from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout import rollback_path
from fleetpatch.rollout.events import Event
from fleetpatch.rollout.executor import RolloutResult, new_rollout_id
from fleetpatch.rollout.others import plan_only_sidecar
from fleetpatch.rollout.plan import Mode, Plan, ServiceStep
from fleetpatch.rollout.promote import record_retag
from fleetpatch.rollout.retag import Retag, retag
from fleetpatch.rollout.rollback_path import RollbackPath
from fleetpatch.rollout.runner import Runner
from fleetpatch.rollout.target import Target, resolve_target, sidecar_origin

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

# A version tag: starts with a digit or v+digit (3.0.4, v1.2, 3.0.4-a1b2c3d), never `latest`.
_VERSION_TAG = re.compile(r"^v?\d")


@dataclass
class RollbackResult:
    digest: str  # the digest rolled back to
    digest_before: str | None  # what ran before the rollback
    found_in: str  # journal | service revisions | ECR | registry | --to
    plan: Plan
    rollout: RolloutResult
    retag: Retag | None = None
    revisions: dict[str, str] | None = None  # pin mode: service -> revision returned to
    path: RollbackPath | None = None  # re-tag or pin, and why


def rollback(
    runner: Runner,
    environment: str,
    *,
    sidecar_name: str | None = None,
    to: str | None = None,
    mode: Mode = "tag",
) -> RollbackResult:
    config = runner.config
    sidecar = config.sidecar(sidecar_name)
    config.environment(environment)
    with runner.locked(environment) as lock:
        snapshot = runner.snapshot(environment)
        env = snapshot.environments[0]
        location = configured_location(sidecar.image, env.account, env.region)
        registry = runner.registries(environment)(location)
        current = current_digest(env, sidecar)
        entries = runner.journal.entries(environment=environment)
        ecs = runner.sessions.get(environment).ecs()
        if to and to != "previous":
            digest, found_in = resolve_target(env, sidecar, digest=to).digest, "--to"
        else:
            digest, found_in = find_previous(entries, env, sidecar, current, ecs)
        path = rollback_path.choose(location, sidecar.repository, sidecar.tag, mode == "pin")
        # Already running it is not enough when re-tagging: the moving tag must point back
        # too, or the next deployment (or scale-out) pulls the bad digest again.
        if digest == current and (path.kind == "pin" or _tag_digest(env, sidecar) == digest):
            raise UserError(f"{environment} already runs {short_digest(digest)}: nothing to undo")
        target = _target(env, sidecar, digest, found_in, path, registry)
        # Moving-tag mode: a service whose other containers' tags moved is pinned instead (the
        # urgent path is not blocked, and no unreviewed app code ships with the rollback).
        the_plan = plan_only_sidecar(
            runner.registries(environment),
            snapshot,
            environment,
            sidecar,
            target,
            config.policy,
            path.mode,
            pin_other_changes=True,
        )
        the_plan = dataclasses.replace(the_plan, notes=(f"rollback by {path.why}", *the_plan.notes))
        revisions = _revisions_before(entries, ecs, the_plan, digest) if mode == "pin" else {}
        moves_tag = sidecar.tag if path.kind == "retag" else None
        runner.preflight(the_plan, rollback=True, moves_tag=moves_tag)
        runner.confirm(the_plan)

        rollout_id = new_rollout_id()
        runner.authorize("rollback", the_plan, rollout_id)
        runner.record(
            EntryKind.ROLLBACK_STARTED,
            environment,
            sidecar=sidecar.name,
            digest_before=current,
            digest_after=digest,
            target_digest=digest,
            rollout_id=rollout_id,
            details={"found_in": found_in, "mode": mode, "revisions": revisions, **path.to_json()},
        )
        moved = None
        if path.kind == "retag":
            moved, refusal = _retag(runner, environment, location, sidecar, digest)
            if moved is not None:
                record_retag(runner, environment, sidecar.name, moved, rollout_id, "rollback")
            else:
                path = rollback_path.refused(location, sidecar.repository, refusal)
                the_plan = _pinned(the_plan, path)
                runner.sink.emit(Event("rollback_path", path.to_json()))
        result = runner.execute(the_plan, lock, rollout_id=rollout_id, task_definitions=revisions)
        # Handed to a Step Functions execution, the rollback completes there: its finish
        # step journals this (rollback_completed), once the waves are done.
        if result.execution is None:
            runner.journal.append(
                rollback_completed(
                    environment,
                    sidecar.name,
                    current,
                    digest,
                    rollout_id,
                    result,
                    path.to_json(),
                    runner.actor,
                )
            )
    return RollbackResult(digest, current, found_in, the_plan, result, moved, revisions, path)


def rollback_completed(
    environment: str,
    sidecar: str,
    digest_before: str | None,
    digest_after: str,
    rollout_id: str,
    result: RolloutResult,
    path: Mapping[str, str],
    actor: str,
) -> NewEntry:
    """The journal's `rollback_completed`: the rollback's outcome, after its waves."""
    return NewEntry(
        kind=EntryKind.ROLLBACK_COMPLETED,
        environment=environment,
        actor=actor,
        sidecar=sidecar,
        digest_before=digest_before,
        digest_after=digest_after,
        target_digest=digest_after,
        rollout_id=rollout_id,
        details={
            "ok": result.ok,
            "verified": len(result.with_status("verified")),
            "failed": [r.key for r in result.with_status("failed")],
            **path,
        },
    )


def _retag(
    runner: Runner,
    environment: str,
    location: RegistryLocation,
    sidecar: Sidecar,
    digest: str,
) -> tuple[Retag | None, str]:
    """Move the sidecar's tag back in its ECR: (the re-tag, "") or, when ECR refuses the
    write, (None, the error code)."""
    aws = runner.sessions.get(environment)
    registry_id = location.account if location.kind == "ecr" else None
    ecr = aws.ecr(location.region) if location.kind == "ecr" else aws.ecr()
    try:
        return retag(ecr, sidecar.repository, digest, sidecar.tag, registry_id), ""
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if exc.operation_name != "PutImage" or code not in DENIED_CODES:
            raise
        return None, code


def _pinned(the_plan: Plan, path: RollbackPath) -> Plan:
    """The confirmed plan, deployed by pinning: the same services, the same digest, no tag
    to follow (it was not moved)."""
    notes = (f"rollback by {path.why}", *the_plan.notes[1:])
    target = dataclasses.replace(the_plan.target, tag=None)
    return dataclasses.replace(the_plan, mode="pin", target=target, notes=notes)


def _tag_digest(env: EnvironmentSnapshot, sidecar: Sidecar) -> str | None:
    repository = env.repository(sidecar.repository, sidecar_origin(env, sidecar))
    image = repository.tagged(sidecar.tag) if repository is not None else None
    return image.digest if image is not None else None


def current_digest(env: EnvironmentSnapshot, sidecar: Sidecar) -> str | None:
    """The digest most of the environment's sidecar tasks run now."""
    counts: Counter[str] = Counter()
    for service in env.services:
        for run in service.sidecars:
            if run.name == sidecar.name:
                counts.update({c.digest: c.tasks for c in run.running})
    return counts.most_common(1)[0][0] if counts else None


def find_previous(
    entries: Sequence[Entry],
    env: EnvironmentSnapshot,
    sidecar: Sidecar,
    current: str | None,
    ecs: ECSClient,
) -> tuple[str, str]:
    """(digest, where it was found). Raises UserError when no source knows one."""
    # The journal knows what ran before the last forward rollout. That is the answer even when
    # the fleet already runs it again (a circuit breaker rolled the canary back): the moving tag
    # still points at the bad digest and must go back.
    from_journal = previous_digest(entries, env.name, None)
    if from_journal:
        return from_journal, "journal"
    from_ecs = previous_from_revisions(ecs, env, sidecar, current)
    if from_ecs:
        return from_ecs, "service revisions"
    from_ecr = previous_from_ecr(env, sidecar, current)
    if from_ecr:
        return from_ecr, "ECR"
    origin = sidecar_origin(env, sidecar)
    raise UserError(
        f"{env.name}: no previous digest in the journal, the service revisions or "
        f"{origin or 'ECR'}: name one with --to DIGEST"
    )


def previous_from_revisions(
    ecs: ECSClient, env: EnvironmentSnapshot, sidecar: Sidecar, current: str | None
) -> str | None:
    """The digest the services' latest deployments started from (the most common one)."""
    counts: Counter[str] = Counter()
    for service in env.services:
        container = next((r.container for r in service.sidecars if r.name == sidecar.name), None)
        if container is None:
            continue
        source = _source_revision(ecs, service.cluster, service.service)
        digest = ecs_api.revision_digest(source, container)
        if digest and digest != current:
            counts[digest] += 1
    return counts.most_common(1)[0][0] if counts else None


def previous_from_ecr(
    env: EnvironmentSnapshot, sidecar: Sidecar, current: str | None
) -> str | None:
    """The most recent image pushed before the current one that carries a version tag (in
    the sidecar's registry: an OCI registry's snapshot knows no push times, so none)."""
    repository = env.repository(sidecar.repository, sidecar_origin(env, sidecar))
    if repository is None or current is None:
        return None
    now = repository.image(current)
    if now is None or now.pushed_at is None:
        return None
    older = [
        (i.pushed_at, i.digest)
        for i in repository.images
        if i.digest != current
        and i.pushed_at is not None
        and i.pushed_at < now.pushed_at
        and any(_VERSION_TAG.match(t) for t in i.tags)
    ]
    return max(older)[1] if older else None


def _source_revision(ecs: ECSClient, cluster: str, service: str) -> dict[str, Any] | None:
    """The revision a service's latest service deployment replaced."""
    listed = ecs.list_service_deployments(cluster=cluster, service=service, maxResults=1)
    arns = [str(d["serviceDeploymentArn"]) for d in listed.get("serviceDeployments", [])]
    if not arns:
        return None
    deployment = ecs_api.describe_service_deployments(ecs, arns).get(arns[0]) or {}
    sources = [str(r["arn"]) for r in deployment.get("sourceServiceRevisions", [])]
    if not sources:
        return None
    return ecs_api.describe_revisions(ecs, sources[:1]).get(sources[0])


def _target(
    env: EnvironmentSnapshot,
    sidecar: Sidecar,
    digest: str,
    found_in: str,
    path: RollbackPath,
    registry: Registry,
) -> Target:
    origin = sidecar_origin(env, sidecar)
    repository = env.repository(sidecar.repository, origin)
    image = repository.image(digest) if repository is not None else None
    label = image.label if image is not None else None
    if label is None and origin:
        # An OCI registry's snapshot holds only what the fleet uses: ask for the digest.
        try:
            label = short_digest(digest) if registry.manifest(sidecar.repository, digest) else None
        except RegistryError as exc:
            raise UserError(f"{env.name}: {exc}") from None
    if label is None:
        where = (
            f"{origin}/{sidecar.repository}" if origin else f"ECR repository {sidecar.repository}"
        )
        raise UserError(
            f"{env.name}: {short_digest(digest)} is no longer in {where} (expired by a "
            "lifecycle rule?): push it again, or --to another"
        )
    return Target(
        digest=digest,
        repository=sidecar.repository,
        chosen_by=f"rollback (previous digest from {found_in})",
        label=label,
        # Re-tagging moves the tag back before the first wave.
        tag=sidecar.tag if path.kind == "retag" else None,
        registry=origin,
    )


# --- pin mode: the revision each service ran before -----------------------------------------------


def _revisions_before(
    entries: Sequence[Entry], ecs: ECSClient, the_plan: Plan, digest: str
) -> dict[str, str]:
    """service -> the task definition it ran before, for those whose sidecar there is pinned
    to `digest`. The others get a new revision pinned to it (the executor's pin mode)."""
    chosen = {}
    for step in the_plan.services:
        before = _journaled_revision(entries, step.key) or _revision_from_ecs(ecs, step)
        if before and _pins(ecs, before, step.container, digest):
            chosen[step.key] = before
    return chosen


def _journaled_revision(entries: Sequence[Entry], service: str) -> str | None:
    rollback_runs = {
        e.rollout_id
        for e in entries
        if e.kind in (EntryKind.ROLLBACK_STARTED, EntryKind.ROLLBACK_COMPLETED)
    }
    for entry in sorted(entries, key=lambda e: e.seq, reverse=True):
        if (
            entry.kind is EntryKind.DEPLOYMENT_STARTED
            and entry.service == service
            and entry.rollout_id not in rollback_runs
        ):
            before = entry.details.get("task_definition_before")
            return str(before) if before else None
    return None


def _revision_from_ecs(ecs: ECSClient, step: ServiceStep) -> str | None:
    cluster, service = ecs_api.split_key(step.key)
    source = _source_revision(ecs, cluster, service)
    definition = (source or {}).get("taskDefinition")
    return str(definition) if definition else None


def _pins(ecs: ECSClient, task_definition: str, container: str, digest: str) -> bool:
    """Does this revision's sidecar reference exactly `digest`? (A tag would re-resolve.)"""
    described = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    for definition in described.get("containerDefinitions", []):
        if definition.get("name") == container:
            return parse_image(str(definition.get("image", ""))).digest == digest
    return False
