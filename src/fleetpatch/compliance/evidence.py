"""Gather everything `findings`, `status` and `report` compute from: the edge of compliance.

    snapshot (inventory) ─┬─► images of the sidecar's repository ─► findings per digest
                          │                                          (ECR scan | Inspector,
                          │                                           overlaid by a Trivy file)
                          ├─► ECS deployment history ─┐
    journal ──────────────┴───────────────────────────┴─► DigestTimeline per env x service

Each digest is asked about once, in the first environment whose registry holds it: the
talk's three accounts hold the same images, and asking three registries would triple the
calls for the same answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from fleetpatch.aws.session import AwsSessions
from fleetpatch.compliance.clock import ClockEntry, DigestTimeline, PatchPolicy, patch_clock
from fleetpatch.compliance.ecr import EcrScanFindings
from fleetpatch.compliance.ecs_history import read_history
from fleetpatch.compliance.fixes import Fixes, ImagePush, fix_availability
from fleetpatch.compliance.inspector import InspectorFindings
from fleetpatch.compliance.model import ImageFindings, ImageRef, Severity
from fleetpatch.compliance.source import FindingsSource
from fleetpatch.compliance.timeline import RevisionRun, ServiceKey, build_timelines
from fleetpatch.compliance.trivy import TrivyReport
from fleetpatch.config import SEVERITIES, Config, Sidecar
from fleetpatch.core.images import ImageInfo, version_label
from fleetpatch.core.snapshot import Snapshot
from fleetpatch.inventory.collect import collect
from fleetpatch.journal import Entry, open_journal

SourceName = Literal["ecr", "inspector"]
SOURCES: tuple[SourceName, ...] = ("ecr", "inspector")
# What the report and `findings` show by default: PCI DSS 6.3.3 is about critical patches,
# and high findings are what most organisations' risk ranking adds.
DEFAULT_SEVERITIES = frozenset({Severity.CRITICAL, Severity.HIGH})


@dataclass(frozen=True)
class FleetEvidence:
    """One sidecar across the selected environments, with everything the clock needs."""

    snapshot: Snapshot
    sidecar: Sidecar
    images: dict[str, ImageInfo]  # digest -> tags and push time (any environment's registry)
    findings: dict[str, ImageFindings]  # digest -> findings
    fixes: Fixes
    targets: dict[str, str | None]  # environment -> where the moving tag points
    timelines: tuple[DigestTimeline, ...]
    entries: tuple[Entry, ...]  # the journal, this sidecar's records
    notes: tuple[str, ...] = ()

    def label(self, digest: str | None) -> str:
        """3.0.4-a1b2c3d for a digest ECR knows, else the short digest."""
        if digest is None:
            return "-"
        image = self.images.get(digest)
        return version_label(image.tags if image else (), digest)

    def running_digests(self) -> list[str]:
        """Every digest some task runs, in order of first sight."""
        seen = [
            count.digest
            for _, _, run in self.snapshot.runs()
            if run.name == self.sidecar.name
            for count in run.running
        ]
        return list(dict.fromkeys(seen))

    def clock(
        self,
        policy: PatchPolicy,
        today: date,
        timelines: Sequence[DigestTimeline] | None = None,
    ) -> list[ClockEntry]:
        """The patch clock as of `today` (of `timelines`, default: the whole fleet's)."""
        chosen = self.timelines if timelines is None else timelines
        return patch_clock(chosen, self.findings, self.fixes, policy, today)


def policy_for(config: Config, severities: Iterable[Severity] = DEFAULT_SEVERITIES) -> PatchPolicy:
    """Days per severity from fleetpatch.toml (`policy.deadline_days` and its overrides)."""

    def days(label: str) -> int:
        if label not in SEVERITIES:  # undefined: not a severity the config can name
            return config.policy.deadline_days
        return config.policy.deadline_for(label)

    return PatchPolicy.for_severities(severities, days)


def gather(
    config: Config,
    environments: Iterable[str] | None = None,
    *,
    sidecar: str | None = None,
    sessions: AwsSessions | None = None,
    snapshot: Snapshot | None = None,
    source: SourceName = "ecr",
    trivy: Path | None = None,
    trivy_digest: str | None = None,
    with_history: bool = True,
    with_journal: bool = True,
    clock: Callable[[], datetime] | None = None,
) -> FleetEvidence:
    """Read the fleet (unless a snapshot is given; `clock` stamps it), the findings and the
    history."""
    chosen = config.sidecar(sidecar)
    trivy_report = TrivyReport.from_file(trivy, digest=trivy_digest) if trivy else None
    sessions = sessions or AwsSessions(config)
    snapshot = snapshot or collect(config, environments, sessions=sessions, clock=clock)
    notes: list[str] = []

    images = _images(snapshot, chosen)
    findings = _findings(snapshot, chosen, sessions, source, images)
    if trivy_report is not None:
        findings.update(_trivy(trivy_report, chosen))

    pushes = [
        ImagePush(chosen.repository, digest, image.pushed_at)
        for digest, image in images.items()
        if image.pushed_at is not None
    ]
    history: dict[ServiceKey, list[RevisionRun]] = {}
    if with_history:
        for env in snapshot.environments:
            if env.error is not None:
                continue
            read = read_history(sessions.get(env.name).ecs(), env, chosen.name)
            history.update(read.runs)
            notes.extend(read.notes)
    entries: list[Entry] = []
    if with_journal:
        with open_journal(config.journal) as journal:
            names = {env.name for env in snapshot.environments}
            entries = [
                e
                for e in journal.entries()
                if e.environment in names and e.sidecar in (None, chosen.name)
            ]
    return FleetEvidence(
        snapshot=snapshot,
        sidecar=chosen,
        images=images,
        findings=findings,
        fixes=fix_availability(pushes, findings),
        targets=_targets(snapshot, chosen),
        timelines=tuple(build_timelines(snapshot, chosen.name, entries, history)),
        entries=tuple(entries),
        notes=tuple(notes),
    )


def _images(snapshot: Snapshot, sidecar: Sidecar) -> dict[str, ImageInfo]:
    images: dict[str, ImageInfo] = {}
    for env in snapshot.environments:
        repository = env.repository(sidecar.repository)
        if repository is None:
            continue
        for image in repository.images:
            images.setdefault(image.digest, image)
    return images


def _findings(
    snapshot: Snapshot,
    sidecar: Sidecar,
    sessions: AwsSessions,
    source: SourceName,
    images: dict[str, ImageInfo],
) -> dict[str, ImageFindings]:
    """Every image of the repository plus every running digest, each asked once."""
    wanted = list(images)
    for _, _, run in snapshot.runs():
        if run.name == sidecar.name:
            wanted.extend(c.digest for c in run.running)
    wanted = list(dict.fromkeys(wanted))
    readable = [env for env in snapshot.environments if env.error is None]
    answer: dict[str, ImageFindings] = {}
    for env in readable:
        repository = env.repository(sidecar.repository)
        held = {image.digest for image in repository.images} if repository else set()
        mine = [d for d in wanted if d in held and d not in answer]
        if mine:
            answer.update(_ask(sessions, env.name, source, sidecar, mine))
    # Running digests no registry holds (deleted, or pulled from elsewhere): the first
    # environment's source answers, and says why it has no scan; never silently dropped.
    leftover = [d for d in wanted if d not in answer]
    if leftover and readable:
        answer.update(_ask(sessions, readable[0].name, source, sidecar, leftover))
    return answer


def _ask(
    sessions: AwsSessions,
    environment: str,
    source: SourceName,
    sidecar: Sidecar,
    digests: Sequence[str],
) -> dict[str, ImageFindings]:
    refs = [ImageRef(sidecar.repository, digest) for digest in digests]
    return _source(sessions, environment, source).findings_for(refs)


def _source(sessions: AwsSessions, environment: str, source: SourceName) -> FindingsSource:
    aws = sessions.get(environment)
    if source == "inspector":
        return InspectorFindings(aws.client("inspector2"))
    return EcrScanFindings(aws.ecr())


def _trivy(report: TrivyReport, sidecar: Sidecar) -> dict[str, ImageFindings]:
    """The report's own image(s) only: it says nothing about the others."""
    refs = [ImageRef(sidecar.repository, digest) for digest in sorted(report.digests)]
    return report.findings_for(refs)


def _targets(snapshot: Snapshot, sidecar: Sidecar) -> dict[str, str | None]:
    """Per environment, where the moving tag points (what a rollout would move to)."""
    targets: dict[str, str | None] = {}
    for env in snapshot.environments:
        repository = env.repository(sidecar.repository)
        tagged = repository.tagged(sidecar.tag) if repository else None
        if tagged is not None:
            targets[env.name] = tagged.digest
            continue
        seen = Counter(
            run.tag_digest
            for service in env.services
            for run in service.sidecars
            if run.name == sidecar.name and run.tag_digest
        )
        targets[env.name] = seen.most_common(1)[0][0] if seen else None
    return targets
