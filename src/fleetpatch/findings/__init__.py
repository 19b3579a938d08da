"""`fleetpatch findings`: what each running sidecar digest is vulnerable to. Pure view.

For every digest some task runs: where it runs (environment -> services), and its findings by
severity, package, installed and fixed version, each with whether the environment's target
digest (the moving tag's) fixes it: True (absent from the target's scan), False (the target
has it too), None (the target has no scan, so nobody can say).

Images no service runs that have findings (older pushes, the target itself before any rollout,
a Trivy report of another image) are listed separately: not running, but not lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fleetpatch.compliance.evidence import FleetEvidence
from fleetpatch.compliance.model import Finding, ImageFindings, Severity


@dataclass(frozen=True)
class FindingRow:
    finding: Finding
    # environment -> does that environment's target fix it (None: target not scanned)
    fixed_by_target: tuple[tuple[str, bool | None], ...]


@dataclass(frozen=True)
class DigestFindings:
    digest: str
    label: str
    repository: str
    source: str
    unavailable: str | None  # why there is no scan: unknown, not clean
    where: tuple[tuple[str, tuple[str, ...]], ...]  # environment -> services running it
    rows: tuple[FindingRow, ...]

    @property
    def running(self) -> bool:
        return bool(self.where)


@dataclass(frozen=True)
class FindingsView:
    sidecar: str
    severities: frozenset[Severity]
    targets: tuple[tuple[str, str | None, str], ...]  # environment, digest, label
    running: tuple[DigestFindings, ...]
    not_running: tuple[DigestFindings, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "sidecar": self.sidecar,
            "severities": sorted(s.label for s in self.severities),
            "targets": [
                {"environment": e, "digest": d, "label": lbl} for e, d, lbl in self.targets
            ],
            "running": [_digest_json(d) for d in self.running],
            "not_running": [_digest_json(d) for d in self.not_running],
        }


def findings_view(evidence: FleetEvidence, severities: Iterable[Severity]) -> FindingsView:
    chosen = frozenset(severities)
    where = _where(evidence)
    running: list[DigestFindings] = []
    not_running: list[DigestFindings] = []
    # Running digests first (in order of first sight), then every other image with a scan.
    for digest in dict.fromkeys([*evidence.running_digests(), *evidence.findings]):
        scan = evidence.findings.get(digest)
        envs = where.get(digest, {})
        item = _digest(evidence, digest, scan, envs, chosen)
        if envs:
            running.append(item)
        elif item.rows:
            not_running.append(item)
    return FindingsView(
        sidecar=evidence.sidecar.name,
        severities=chosen,
        targets=tuple((env, d, evidence.label(d)) for env, d in evidence.targets.items()),
        running=tuple(running),
        not_running=tuple(not_running),
    )


def _where(evidence: FleetEvidence) -> dict[str, dict[str, list[str]]]:
    where: dict[str, dict[str, list[str]]] = {}
    for env, service, run in evidence.snapshot.runs():
        if run.name != evidence.sidecar.name:
            continue
        for count in run.running:
            services = where.setdefault(count.digest, {}).setdefault(env.name, [])
            services.append(f"{service.cluster}/{service.service}")
    return where


def _digest(
    evidence: FleetEvidence,
    digest: str,
    scan: ImageFindings | None,
    envs: dict[str, list[str]],
    severities: frozenset[Severity],
) -> DigestFindings:
    findings = scan.findings if scan is not None else ()
    chosen = sorted(
        (f for f in findings if f.severity in severities),
        key=lambda f: (-f.severity, f.vulnerability_id, f.package),
    )
    # The environments whose target matters: where it runs, else all of them.
    environments = list(envs) or list(evidence.targets)
    rows = tuple(
        FindingRow(f, tuple((env, _fixes(evidence, env, f)) for env in environments))
        for f in chosen
    )
    return DigestFindings(
        digest=digest,
        label=evidence.label(digest),
        repository=scan.repository if scan else evidence.sidecar.repository,
        source=scan.source if scan else "-",
        unavailable=scan.unavailable if scan else "not asked",
        where=tuple((env, tuple(sorted(services))) for env, services in envs.items()),
        rows=rows,
    )


def _fixes(evidence: FleetEvidence, environment: str, finding: Finding) -> bool | None:
    target = evidence.targets.get(environment)
    scan = evidence.findings.get(target) if target else None
    if scan is None:
        return None
    return scan.fixes(finding.vulnerability_id)


def _digest_json(item: DigestFindings) -> dict[str, Any]:
    return {
        "digest": item.digest,
        "label": item.label,
        "repository": item.repository,
        "source": item.source,
        "unavailable": item.unavailable,
        "running_in": {env: list(services) for env, services in item.where},
        "findings": [
            {
                "vulnerability_id": row.finding.vulnerability_id,
                "severity": row.finding.severity.label,
                "package": row.finding.package,
                "installed_version": row.finding.installed_version,
                "fixed_version": row.finding.fixed_version,
                "published": row.finding.published.isoformat() if row.finding.published else None,
                "fixed_by_target": dict(row.fixed_by_target),
            }
            for row in item.rows
        ],
    }
