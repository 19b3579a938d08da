"""The patch-clock lines `fleetpatch status` prints first, nearest deadline first (issue 5):

    prod: 12 services run a digest with CVE-2024-4323 (critical); fix available since
    2026-11-20; due 2026-12-20 (23 days)

Only open clocks matter here (what runs now), so neither the journal nor the ECS history
is read: the snapshot plus the findings of the running digests and of the tag's digest.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.aws.session import AwsSessions
from fleetpatch.compliance.clock import OpenDeadline, format_deadline, nearest_deadlines
from fleetpatch.compliance.evidence import gather, policy_for
from fleetpatch.config import Config
from fleetpatch.core.snapshot import Snapshot


@dataclass(frozen=True)
class Deadlines:
    deadlines: tuple[OpenDeadline, ...]
    warnings: tuple[str, ...] = ()

    @property
    def lines(self) -> list[str]:
        return [format_deadline(d) for d in self.deadlines]


def status_deadlines(
    config: Config, snapshot: Snapshot, sessions: AwsSessions | None = None
) -> Deadlines:
    """Open deadlines of every configured sidecar, as of the snapshot's day. A findings
    source that cannot be read is a warning: status must still show what runs."""
    today = snapshot.taken_at.date()
    sessions = sessions or AwsSessions(config)
    found: list[OpenDeadline] = []
    warnings: list[str] = []
    for sidecar in config.sidecars:
        try:
            evidence = gather(
                config,
                sidecar=sidecar.name,
                sessions=sessions,
                snapshot=snapshot,
                with_history=False,
                with_journal=False,
            )
        except (ClientError, BotoCoreError) as exc:
            warnings.append(f"{sidecar.name}: findings not read, no patch clock: {exc}")
            continue
        found.extend(nearest_deadlines(evidence.clock(policy_for(config), today), today))
    found.sort(key=lambda d: (d.deadline is None, d.deadline or today, -d.finding.severity))
    return Deadlines(tuple(found), tuple(warnings))


def deadline_json(d: OpenDeadline) -> dict[str, object]:
    return {
        "environment": d.environment,
        "vulnerability_id": d.finding.vulnerability_id,
        "severity": d.finding.severity.label,
        "services": list(d.services),
        "fix_available": d.fix.since.isoformat() if d.fix else None,
        "deadline": d.deadline.isoformat() if d.deadline else None,
        "days_left": d.days_left,
        "line": format_deadline(d),
    }
