"""The rollout plan: which services of one environment must move to the target digest, in waves.

Pure: a `Snapshot` (what runs now) + a `Target` (the digest to run) + the policy -> a `Plan`.
No AWS calls, so the plan can be shown, journaled, approved and tested on its own.

    target = resolve_target(env_snapshot, sidecar)                 # rollout/target.py
    the_plan = plan(snapshot, "dev", sidecar, target, policy)      # canary wave, then batches

Services are named `cluster/service` everywhere in the rollout (plan, events, journal):
two clusters may hold services of the same name.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from fleetpatch.config import Policy, Sidecar
from fleetpatch.core.images import parse_image
from fleetpatch.core.snapshot import EnvironmentSnapshot, ServiceSnapshot, SidecarRun, Snapshot
from fleetpatch.errors import UserError
from fleetpatch.rollout.target import Target

# tag: force a new deployment so ECS re-resolves the moving tag (the talk's design).
# pin: register a task definition revision whose sidecar image is `repository@digest`.
Mode = Literal["tag", "pin"]


@dataclass(frozen=True)
class ServiceStep:
    """One service to move (or already moved), as the snapshot saw it."""

    cluster: str
    service: str
    container: str  # the sidecar's container name in the task definition
    image: str  # the sidecar image as the task definition writes it
    reference: Literal["tag", "digest"]
    task_definition: str  # family:revision
    digest_before: str | None
    desired_count: int
    # The other containers and the digests their tasks run now: pin mode pins them there,
    # verification checks they still run them (only the sidecar may change).
    others: tuple[tuple[str, str], ...] = ()
    # Minutes its strategy bakes at least (0 for ROLLING): the wave's estimate.
    bake_minutes: float = 0.0
    # Deployed by pinning even in moving-tag mode: a forced deployment would change its other
    # containers too (rollback pins those services rather than ship their new tags).
    pin: bool = False

    @property
    def key(self) -> str:
        """`cluster/service`: how the rollout and the journal name a service."""
        return f"{self.cluster}/{self.service}"

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.key,
            "container": self.container,
            "image": self.image,
            "task_definition": self.task_definition,
            "digest_before": self.digest_before,
            "desired_count": self.desired_count,
            "pinned": self.pin,
        }


@dataclass(frozen=True)
class Skipped:
    """A service with the sidecar that this plan can't move, and why."""

    key: str
    reason: str
    # Moving-tag mode: the other containers a forced new deployment would change.
    other_changes: tuple[OtherChangeLike, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"service": self.key, "reason": self.reason}
        if self.other_changes:
            data["other_changes"] = [c.to_json() for c in self.other_changes]
        return data


class OtherChangeLike(Protocol):
    """What the plan needs of rollout/others.py's OtherChange (plan stays free of I/O)."""

    @property
    def container(self) -> str: ...

    def describe(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Wave:
    index: int  # 1-based, as shown to people
    canary: bool
    services: tuple[ServiceStep, ...]

    @property
    def bake_minutes(self) -> float:
        """At least this long: its services deploy together, the longest bake decides."""
        return max((s.bake_minutes for s in self.services), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "wave": self.index,
            "canary": self.canary,
            "services": [s.to_json() for s in self.services],
            "bake_minutes": self.bake_minutes,
        }


@dataclass(frozen=True)
class Plan:
    environment: str
    sidecar: str
    target: Target
    mode: Mode
    waves: tuple[Wave, ...]
    # Already on the target: nothing to deploy (the executor still verifies and records them).
    done: tuple[ServiceStep, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    failure_budget: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def services(self) -> tuple[ServiceStep, ...]:
        return tuple(step for wave in self.waves for step in wave.services)

    @property
    def bake_minutes(self) -> float:
        """The waves run one after another: their strategies' bakes add up, at least."""
        return sum(wave.bake_minutes for wave in self.waves)

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "sidecar": self.sidecar,
            "mode": self.mode,
            "target": self.target.to_json(),
            "failure_budget": self.failure_budget,
            "waves": [w.to_json() for w in self.waves],
            "done": [s.to_json() for s in self.done],
            "skipped": [s.to_json() for s in self.skipped],
            "notes": list(self.notes),
        }


# --- the plan -----------------------------------------------------------------------------------


def plan(
    snapshot: Snapshot,
    environment: str,
    sidecar: Sidecar,
    target: Target,
    policy: Policy | None = None,
    mode: Mode = "tag",
    *,
    other_changes: Mapping[str, Sequence[OtherChangeLike]] | None = None,
    allow_other_changes: bool = False,
    pin_other_changes: bool = False,
) -> Plan:
    """Services of `environment` whose sidecar doesn't run `target`, canary waves first, then
    batches of `policy.max_parallel`; services already on the target are listed as done.
    `other_changes` (moving-tag mode): what a forced deployment would change besides the
    sidecar, per service; those services are skipped unless `allow_other_changes`, or
    deployed by pinning with `pin_other_changes` (rollback: the urgent path is not blocked,
    and no other container changes)."""
    other_changes = other_changes or {}
    policy = policy or Policy()
    env = _environment(snapshot, environment)
    todo: list[ServiceStep] = []
    done: list[ServiceStep] = []
    skipped: list[Skipped] = []
    notes: list[str] = []
    for service in sorted(env.services, key=lambda s: (s.cluster, s.service)):
        # Without a task definition (EXTERNAL) nobody can say it has no sidecar: list it.
        unknown = not service.task_definition
        why_not = ineligible(service)
        if why_not is not None and (unknown or _has(service, sidecar.name)):
            skipped.append(Skipped(f"{service.cluster}/{service.service}", why_not))
            continue
        for run in service.sidecars:
            if run.name != sidecar.name:
                continue
            step = _step(service, run)
            if on_target(service, run, target.digest):
                done.append(step)
                continue
            reason = _cannot_move(run, sidecar, target, mode)
            if reason is not None:
                skipped.append(Skipped(step.key, reason))
                continue
            changes = tuple(other_changes.get(step.key, ()))
            if mode == "tag" and changes and pin_other_changes:
                notes.append(
                    f"{step.key} is pinned instead (a forced deployment would also change "
                    f"{_listed(changes)}): only the sidecar changes"
                )
                todo.append(replace(step, pin=True))
                break
            if mode == "tag" and changes and not allow_other_changes:
                skipped.append(Skipped(step.key, _other_changes_reason(changes), changes))
                continue
            if mode == "tag" and changes:
                # Allowed: those containers may change; verification checks the rest.
                notes.append(f"{step.key} ships other changes too (allowed): " + _listed(changes))
                changed = {c.container for c in changes}
                step = replace(step, others=tuple(o for o in step.others if o[0] not in changed))
            todo.append(step)
            break  # one sidecar container per service is enough to redeploy it
    if any(s.other_changes for s in skipped):
        notes.append(
            "services whose other containers would change in moving-tag mode are skipped: "
            "--pin changes only the sidecar (it pins the others to what they run now)"
        )
    if mode == "tag" and target.tag is None and todo:
        notes.append(
            f"the moving tag {sidecar.tag} does not point to {target.label}: moving-tag mode "
            "can't reach it; use --pin, or move the tag first"
        )
    return Plan(
        environment=environment,
        sidecar=sidecar.name,
        target=target,
        mode=mode,
        waves=make_waves(todo, policy.canary, policy.max_parallel),
        done=tuple(done),
        skipped=tuple(skipped),
        failure_budget=policy.failure_budget,
        notes=tuple(notes),
    )


def ineligible(service: ServiceSnapshot) -> str | None:
    """Why fleetpatch must not deploy this service at all, and what to do instead; None when
    it may (ECS controller, ACTIVE, REPLICA or DAEMON, managed by the customer)."""
    if service.status != "ACTIVE":
        return f"service is {service.status} (being deleted): nothing to patch"
    if service.controller == "CODE_DEPLOY":
        return (
            "deployment controller CODE_DEPLOY: its deployments belong to CodeDeploy; register "
            "a revision with the fixed sidecar (`fleetpatch plan --pin` names the digest) and "
            "deploy it through its CodeDeploy deployment group"
        )
    if service.controller == "EXTERNAL":
        return (
            "deployment controller EXTERNAL: its task sets belong to an external controller; "
            "roll the fixed sidecar out through that controller"
        )
    if service.resource_management == "ECS":
        return (
            "ECS Express Mode service (resourceManagementType ECS): ECS manages its resources "
            "and deployments; update it with UpdateExpressGatewayService"
        )
    return None


def not_patchable(snapshot: Snapshot, sidecar: str | None = None) -> list[dict[str, str]]:
    """Services fleetpatch may not deploy (`ineligible`), for `status` and the report: an
    auditor sees what fleetpatch can't patch, not a shorter list. `sidecar`: only services
    running that sidecar (and those without a task definition, which nobody can rule out)."""

    def concerned(s: ServiceSnapshot) -> bool:
        if not s.task_definition:
            return True
        return _has(s, sidecar) if sidecar is not None else s.has_sidecar

    return [
        {"environment": env.name, "service": f"{s.cluster}/{s.service}", "reason": reason}
        for env in snapshot.environments
        for s in env.services
        if concerned(s) and (reason := ineligible(s)) is not None
    ]


def _has(service: ServiceSnapshot, sidecar: str) -> bool:
    return any(run.name == sidecar for run in service.sidecars)


def on_target(service: ServiceSnapshot, run: SidecarRun, digest: str) -> bool:
    """Every task runs the digest, none is starting, and the service's current revision (when
    known) resolved it too, so a replacement task would also run it."""
    if run.starting:
        return False
    if any(count.digest != digest for count in run.running):
        return False
    if run.revision_digest is not None:
        return run.revision_digest == digest
    # No revision info and no tasks: nothing proves the digest; deploy to find out.
    return bool(run.running) or (service.desired_count == 0 and run.digest == digest)


def make_waves(
    steps: Sequence[ServiceStep], canary: int | tuple[str, ...], max_parallel: int
) -> tuple[Wave, ...]:
    """Canary services first (a count of the first services, or those matching globs), then
    the rest; every wave holds at most `max_parallel` services."""
    canaries = _canaries(steps, canary)
    rest = [s for s in steps if s not in canaries]
    waves: list[Wave] = []
    for chunk in _chunks(canaries, max_parallel):
        waves.append(Wave(len(waves) + 1, True, tuple(chunk)))
    for chunk in _chunks(rest, max_parallel):
        waves.append(Wave(len(waves) + 1, False, tuple(chunk)))
    return tuple(waves)


def _canaries(steps: Sequence[ServiceStep], canary: int | tuple[str, ...]) -> list[ServiceStep]:
    if isinstance(canary, int):
        return list(steps[:canary])
    return [
        s
        for s in steps
        if any(fnmatch.fnmatchcase(s.service, g) or fnmatch.fnmatchcase(s.key, g) for g in canary)
    ]


def _chunks(items: Sequence[ServiceStep], size: int) -> Iterable[list[ServiceStep]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _environment(snapshot: Snapshot, name: str) -> EnvironmentSnapshot:
    for env in snapshot.environments:
        if env.name == name:
            if env.error is not None:
                raise UserError(f"{name}: {env.error}")
            return env
    raise UserError(f"environment '{name}' is not in the snapshot")


def _step(service: ServiceSnapshot, run: SidecarRun) -> ServiceStep:
    return ServiceStep(
        cluster=service.cluster,
        service=service.service,
        container=run.container,
        image=run.image,
        reference=run.reference,
        task_definition=service.task_definition,
        digest_before=run.digest,
        desired_count=service.desired_count,
        others=tuple((o.name, d) for o in service.others if (d := o.digest) is not None),
        bake_minutes=service.strategy_bake_minutes,
    )


def _other_changes_reason(changes: Sequence[OtherChangeLike]) -> str:
    return (
        f"a new deployment would also change {_listed(changes)}: use --pin to change only "
        "the sidecar, or --allow-other-changes to ship them too"
    )


def _listed(changes: Sequence[OtherChangeLike]) -> str:
    return "; ".join(c.describe() for c in changes)


def _cannot_move(run: SidecarRun, sidecar: Sidecar, target: Target, mode: Mode) -> str | None:
    """Why this run can't be moved to the target in this mode, or None."""
    if not run.resolvable:
        return run.reason or "image not in this environment's ECR"
    if run.repository != target.repository or run.origin != target.registry:
        where = f"{target.registry}/" if target.registry else ""
        return f"image {run.image} is not from repository {where}{target.repository}"
    if mode == "pin":
        return None
    if run.reference == "digest":
        return "references the image by digest: a new deployment would not change it; use --pin"
    tag = parse_image(run.image).tag
    if tag != sidecar.tag:
        return f"references tag {tag}, not the moving tag {sidecar.tag}: use --pin"
    return None
