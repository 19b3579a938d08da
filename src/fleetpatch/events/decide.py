"""What an event makes fleetpatch do. Pure: event + config + observed facts -> actions.

    concern = concerned(event, config)       # which sidecar and environments, or Ignore
    facts = observe(...)                     # observe.py: where tags point, proofs, findings
    actions = decide(event, config, facts)   # StartRollout, RequestApproval, Post..., Skip

The rules (docs/automation.md):
- A push of a configured sidecar's moving tag concerns the `auto = true` environments whose
  sidecar comes from that registry (their own ECR, or the sidecar's `image` registry). Each
  is started, unless `[automation] wait_for_scan` (then its scan decides), the tag has moved
  on since, its `requires` are not proven for the digest, or it already runs it; an
  environment whose rollouts need approval gets one approval request per digest instead.
- A completed scan of that digest: with wait_for_scan, starts as the push would have, unless
  the scan has critical findings the running digests don't (or they can't be read): then it
  posts them and starts nothing. Without wait_for_scan the push started it; new criticals are
  still posted.
- An Inspector finding for a digest that runs: the affected services and the patch clock's
  deadline are posted, per environment.
- The hourly schedule: each `auto` environment with `requires` whose proof is now met for the
  digest its moving tag points to is started (or asked for).
A start is idempotent: the execution is named by the rollout id, a hash of environment and
digest, so the same digest never starts twice in one environment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from fleetpatch.config import Config, Environment, Sidecar
from fleetpatch.core.images import ecr_host, short_digest
from fleetpatch.events.shapes import (
    AutomationEvent,
    FindingChanged,
    ImagePushed,
    Origin,
    ScanCompleted,
    Scheduled,
)


def rollout_id(environment: str, digest: str) -> str:
    """The automatic rollout's id, also its execution's name (contracts: deterministic)."""
    return "r-" + hashlib.sha256(f"{environment}\n{digest}".encode()).hexdigest()[:12]


# --- what is observed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What observe.py read for the event's environments. A missing key means "not known",
    which never starts anything."""

    # environment -> the digest the sidecar's moving tag points to now in its registry
    targets: Mapping[str, str | None] = field(default_factory=dict)
    # (environment, digest) -> why that environment doesn't prove the digest; None: proven
    proofs: Mapping[tuple[str, str], str | None] = field(default_factory=dict)
    # environment -> every service with the sidecar already runs the target
    done: Mapping[str, bool] = field(default_factory=dict)
    # environment -> ids of change requests (any state) for its rollout to the target
    requests: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # critical vulnerabilities of the scanned digest that no running digest has; None: unread
    new_criticals: tuple[str, ...] | None = ()
    # environment -> services running the finding's digest
    running: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # environment -> the patch clock's line for the finding's vulnerability there
    deadlines: Mapping[str, str] = field(default_factory=dict)


# --- what is done -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartRollout:
    environment: str
    sidecar: str
    digest: str
    tag: str
    trigger: str  # ecr-push | ecr-scan | inspector-scan | schedule

    @property
    def rollout_id(self) -> str:
        return rollout_id(self.environment, self.digest)

    def execution_input(self) -> dict[str, object]:
        """The rollout execution's input (contracts.md); the plan step reads it."""
        return {
            "rollout_id": self.rollout_id,
            "environment": self.environment,
            "sidecar": self.sidecar,
            "digest": self.digest,
            "tag": self.tag,
            "actor": f"eventbridge:{self.trigger}",
            "source": self.trigger,
            "request_id": None,
        }


@dataclass(frozen=True)
class RequestApproval:
    environment: str
    sidecar: str
    digest: str


@dataclass(frozen=True)
class PostCriticals:
    """The scanned digest brings critical findings the running digests don't have."""

    sidecar: str
    digest: str
    environments: tuple[str, ...]
    vulnerabilities: tuple[str, ...]  # empty: the scan counted some, their details unread
    count: int


@dataclass(frozen=True)
class PostFinding:
    environment: str
    sidecar: str
    digest: str
    vulnerability_id: str
    severity: str
    title: str
    services: tuple[str, ...]
    deadline: str | None  # the patch clock's line; None: no clock for it (yet)


@dataclass(frozen=True)
class Skip:
    """An environment the event concerns, left alone for now, and why."""

    environment: str
    reason: str


@dataclass(frozen=True)
class Ignore:
    """The event concerns nothing fleetpatch keeps patched."""

    reason: str


Action = StartRollout | RequestApproval | PostCriticals | PostFinding | Skip | Ignore


# --- which sidecar and environments -------------------------------------------------------------


@dataclass(frozen=True)
class Concern:
    sidecar: Sidecar
    environments: tuple[Environment, ...]


def expand(event: AutomationEvent, config: Config) -> list[AutomationEvent]:
    """The schedule, once per configured sidecar; any other event as it is."""
    if isinstance(event, Scheduled) and event.sidecar is None:
        return [replace(event, sidecar=s.name) for s in config.sidecars]
    return [event]


def concerned(event: AutomationEvent, config: Config) -> Concern | Ignore:
    """The sidecar and environments an image event is about (the schedule, for one sidecar
    (`expand`): its `auto` environments with `requires`); Ignore with the reason when none."""
    if isinstance(event, Scheduled):
        gated = tuple(e for e in config.environments if e.auto and e.requires)
        if not gated:
            return Ignore("no auto environment has requires: the schedule has nothing to check")
        return Concern(config.sidecar(event.sidecar), gated)
    sidecars = [s for s in config.sidecars if s.repository == event.repository]
    if not sidecars:
        return Ignore(f"repository {event.repository} is no configured sidecar's")
    # Two sidecars may share a repository name in different registries: the event's own.
    sidecar = next(
        (s for s in sidecars if any(_pulls_from(e, s, event.origin) for e in config.environments)),
        sidecars[0],
    )
    if isinstance(event, ImagePushed) and event.tag != sidecar.tag:
        pushed = f"tag {event.tag}" if event.tag else "an untagged image"
        return Ignore(
            f"{event.repository}: {pushed} pushed, not {sidecar.name}'s moving tag {sidecar.tag}"
        )
    fed = tuple(e for e in config.environments if _pulls_from(e, sidecar, event.origin))
    if not fed:
        host = ecr_host(event.origin.account, event.origin.region)
        return Ignore(
            f"{host}/{event.repository}: no configured environment's sidecar is from there"
        )
    if isinstance(event, FindingChanged):
        return Concern(sidecar, fed)
    auto = tuple(e for e in fed if e.auto)
    if not auto:
        return Ignore(f"{sidecar.name}: no environment it reaches has auto = true")
    return Concern(sidecar, auto)


def _pulls_from(env: Environment, sidecar: Sidecar, origin: Origin) -> bool:
    host = ecr_host(origin.account, origin.region)
    if sidecar.registry is not None:
        return sidecar.registry == host
    return env.registry == host


# --- deciding -----------------------------------------------------------------------------------


def decide(event: AutomationEvent, config: Config, facts: Facts) -> list[Action]:
    """The actions for one event (the schedule: for one sidecar, see `expand`)."""
    concern = concerned(event, config)
    if isinstance(concern, Ignore):
        return [concern]
    if isinstance(event, Scheduled):
        return _scheduled(concern, facts)
    if isinstance(event, ImagePushed):
        if config.automation.wait_for_scan:
            short = short_digest(event.digest)
            return [Skip(e.name, f"waits for the scan of {short}") for e in concern.environments]
        return [_start_or_ask(e, concern.sidecar, event.digest, "ecr-push", facts)
                for e in concern.environments]  # fmt: skip
    if isinstance(event, ScanCompleted):
        return _scanned(event, concern, config, facts)
    return _finding(event, concern, facts)


def _scheduled(concern: Concern, facts: Facts) -> list[Action]:
    actions: list[Action] = []
    for env in concern.environments:
        digest = facts.targets.get(env.name)
        if digest is None:
            actions.append(Skip(env.name, f"{concern.sidecar.tag} points to no known image"))
            continue
        actions.append(_start_or_ask(env, concern.sidecar, digest, "schedule", facts))
    return actions


def _scanned(event: ScanCompleted, concern: Concern, config: Config, facts: Facts) -> list[Action]:
    trigger = "ecr-scan" if event.scanner == "ecr" else "inspector-scan"
    names = tuple(e.name for e in concern.environments)
    actions: list[Action] = []
    criticals = facts.new_criticals
    if event.critical > 0 and (criticals is None or criticals):
        actions.append(
            PostCriticals(
                concern.sidecar.name, event.digest, names, criticals or (), event.critical
            )
        )
        why = f"the scan of {short_digest(event.digest)} has new critical findings"
        return actions + [Skip(name, why) for name in names]
    if not config.automation.wait_for_scan:
        return [Ignore("wait_for_scan is off: the push started what it could")]
    for env in concern.environments:
        actions.append(_start_or_ask(env, concern.sidecar, event.digest, trigger, facts))
    return actions


def _finding(event: FindingChanged, concern: Concern, facts: Facts) -> list[Action]:
    if event.status != "ACTIVE":
        return [
            Ignore(f"{event.vulnerability_id} on {short_digest(event.digest)} is {event.status}")
        ]
    actions: list[Action] = []
    for env in concern.environments:
        services = facts.running.get(env.name, ())
        if services:
            actions.append(
                PostFinding(
                    env.name,
                    concern.sidecar.name,
                    event.digest,
                    event.vulnerability_id,
                    event.severity,
                    event.title,
                    tuple(sorted(services)),
                    facts.deadlines.get(env.name),
                )
            )
    if not actions:
        return [Ignore(f"{short_digest(event.digest)} runs nowhere fleetpatch looks")]
    return actions


def _start_or_ask(
    env: Environment, sidecar: Sidecar, digest: str, trigger: str, facts: Facts
) -> Action:
    short = short_digest(digest)
    target = facts.targets.get(env.name)
    if target != digest:
        now = short_digest(target) if target else "no known image"
        return Skip(env.name, f"{sidecar.tag} points to {now} now, not {short}")
    if facts.done.get(env.name):
        return Skip(env.name, f"every service already runs {short}")
    unproven = _unproven(env.requires, digest, facts.proofs)
    if unproven:
        return Skip(env.name, f"waits for its requires: {unproven}")
    if env.approvals.needed("rollout") > 0:
        asked = facts.requests.get(env.name, ())
        if asked:
            return Skip(env.name, f"approval of {short} already requested ({', '.join(asked)})")
        return RequestApproval(env.name, sidecar.name, digest)
    return StartRollout(env.name, sidecar.name, digest, sidecar.tag, trigger)


def _unproven(
    requires: Sequence[str], digest: str, proofs: Mapping[tuple[str, str], str | None]
) -> str | None:
    for required in requires:
        key = (required, digest)
        if key not in proofs:
            return f"{required}: not observed"
        reason = proofs[key]
        if reason is not None:
            return reason
    return None
