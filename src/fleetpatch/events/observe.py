"""What decide.py needs to know about an event's environments, read from AWS and the journal.

One inventory read of the environments concerned (and those they `require`), then, per kind:
- image events and the schedule: where each environment's moving tag points, whether every
  service already runs that digest, each requirement's proof of it (the gate of `promote`,
  rollout/promote.py), and the change requests already made for it;
- a scan with critical findings: the critical vulnerabilities of the digest that the digests
  running now don't have (the same findings sources as `fleetpatch findings`);
- an Inspector finding: where the digest runs (as `fleetpatch trace` finds it) and the patch
  clock's deadline of the vulnerability there (as `fleetpatch status` prints it).

An AWS error is not caught here: the invocation fails and Lambda retries it (aws_lambda.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from fleetpatch.approvals import ApprovalDesk
from fleetpatch.aws.session import AwsSessions
from fleetpatch.compliance.clock import format_deadline
from fleetpatch.compliance.ecr import EcrScanFindings
from fleetpatch.compliance.inspector import InspectorFindings
from fleetpatch.compliance.model import ImageRef, Severity
from fleetpatch.compliance.source import FindingsSource
from fleetpatch.compliance.status import status_deadlines
from fleetpatch.config import Config, Sidecar
from fleetpatch.core.snapshot import EnvironmentSnapshot, Snapshot
from fleetpatch.core.trace import trace
from fleetpatch.errors import UserError
from fleetpatch.events.decide import Concern, Facts
from fleetpatch.events.shapes import AutomationEvent, FindingChanged, ScanCompleted
from fleetpatch.inventory.collect import collect
from fleetpatch.journal import JournalStore
from fleetpatch.rollout.promote import prove, unproven
from fleetpatch.rollout.target import resolve_target


def observe(
    event: AutomationEvent,
    config: Config,
    concern: Concern,
    journal: JournalStore,
    sessions: AwsSessions,
    now: Callable[[], datetime],
) -> Facts:
    names = _with_requirements(config, [e.name for e in concern.environments])
    snapshot = collect(config, names, sessions=sessions, clock=now)
    envs = {e.name: e for e in snapshot.environments}
    if isinstance(event, FindingChanged):
        return _finding_facts(event, config, concern, snapshot, sessions)
    targets: dict[str, str | None] = {}
    done: dict[str, bool] = {}
    proofs: dict[tuple[str, str], str | None] = {}
    requests: dict[str, tuple[str, ...]] = {}
    desk = ApprovalDesk(journal, config, now=now)
    sidecar = concern.sidecar
    for env in concern.environments:
        digest = _target(envs.get(env.name), sidecar)
        targets[env.name] = digest
        if digest is None:
            continue
        here = prove(envs[env.name], sidecar, digest, [])
        done[env.name] = bool(here.services) and not here.not_on_target
        for required in env.requires:
            proofs[(required, digest)] = _proof(
                envs.get(required), sidecar, digest, journal, config, now
            )
        requests[env.name] = tuple(
            r.id
            for r in desk.requests(env.name)
            if r.action == "rollout" and r.target_digest == digest
        )
    criticals: tuple[str, ...] | None = ()
    if isinstance(event, ScanCompleted) and event.critical > 0:
        criticals = _new_criticals(event, concern, snapshot, sessions)
    return Facts(
        targets=targets, proofs=proofs, done=done, requests=requests, new_criticals=criticals
    )


def _with_requirements(config: Config, names: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(names))
    for name in list(wanted):
        wanted.extend(r for r in config.environment(name).requires if r not in wanted)
    return wanted


def _target(env: EnvironmentSnapshot | None, sidecar: Sidecar) -> str | None:
    if env is None or env.error is not None:
        return None
    try:
        return resolve_target(env, sidecar).digest
    except UserError:
        return None  # the tag is in no image the registry holds: nothing to move to


def _proof(
    env: EnvironmentSnapshot | None,
    sidecar: Sidecar,
    digest: str,
    journal: JournalStore,
    config: Config,
    now: Callable[[], datetime],
) -> str | None:
    if env is None or env.error is not None:
        why = env.error if env is not None else "not read"
        return f"{env.name if env else 'a requirement'}: {why}"
    proof = prove(env, sidecar, digest, journal.entries(environment=env.name))
    return unproven(proof, now(), config.policy.soak_minutes)


def _running(snapshot: Snapshot, sidecar: Sidecar) -> set[str]:
    return {
        count.digest
        for _, _, run in snapshot.runs()
        if run.name == sidecar.name
        for count in run.running
    }


def _new_criticals(
    event: ScanCompleted, concern: Concern, snapshot: Snapshot, sessions: AwsSessions
) -> tuple[str, ...] | None:
    """Critical vulnerabilities of the scanned digest that no running digest has; None when
    the scan's details can't be read (unknown is not clean)."""
    env = concern.environments[0]
    aws = sessions.get(env.name)
    source: FindingsSource = (
        EcrScanFindings(aws.ecr())
        if event.scanner == "ecr"
        else InspectorFindings(aws.client("inspector2"))
    )
    registry = event.origin.account if event.origin.account != env.account_id else None
    running = _running(snapshot, concern.sidecar) - {event.digest}
    refs = [ImageRef(event.repository, d, registry) for d in [event.digest, *sorted(running)]]
    answers = source.findings_for(refs)
    scanned = answers.get(event.digest)
    if scanned is None or scanned.unavailable is not None:
        return None
    before = {
        f.vulnerability_id
        for digest in running
        if (answer := answers.get(digest)) is not None
        for f in answer.findings
        if f.severity is Severity.CRITICAL
    }
    found = {f.vulnerability_id for f in scanned.findings if f.severity is Severity.CRITICAL}
    new = tuple(sorted(found - before))
    # The event counted criticals but the scan read back has none: its details are unknown.
    return new if found else None


def _finding_facts(
    event: FindingChanged,
    config: Config,
    concern: Concern,
    snapshot: Snapshot,
    sessions: AwsSessions,
) -> Facts:
    running: dict[str, list[str]] = {}
    for hit in trace(snapshot, event.digest):
        if hit.sidecar == concern.sidecar.name:
            running.setdefault(hit.environment, []).append(f"{hit.cluster}/{hit.service}")
    deadlines: dict[str, str] = {}
    if running:
        for d in status_deadlines(config, snapshot, sessions).deadlines:
            if d.finding.vulnerability_id == event.vulnerability_id and d.environment in running:
                deadlines.setdefault(d.environment, format_deadline(d))
    return Facts(
        running={env: tuple(sorted(set(s))) for env, s in running.items()}, deadlines=deadlines
    )
