"""When did a fix become available? Pure: pushes + scan results -> first fixing image.

A vulnerability's fix is available from the first push, into the same repository, of a
scanned image that no longer has the vulnerability, counted only after the first image that
has it: an older image that predates the vulnerable code does not count as a fix, and an
image without a scan result is unknown, not clean. A date the user records (the vendor's
release date, say, when the image was built later) replaces the computed one.

"Same repository" is a name such as "fluent-bit": pushes of that name in every
environment's registry are merged, so the first push anywhere starts the clock everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from fleetpatch.compliance.model import ImageFindings, utc_date


@dataclass(frozen=True, slots=True)
class ImagePush:
    repository: str
    digest: str
    pushed_at: datetime


@dataclass(frozen=True, slots=True)
class FixAvailable:
    """The fix for one vulnerability in one repository."""

    vulnerability_id: str
    since: date  # UTC calendar day
    # The first image without the vulnerability; None when the date was recorded by the user.
    digest: str | None

    @property
    def recorded(self) -> bool:
        return self.digest is None


# repository -> vulnerability id -> fix
Fixes = Mapping[str, Mapping[str, FixAvailable]]


def fix_availability(
    pushes: Iterable[ImagePush],
    findings: Mapping[str, ImageFindings],
    recorded: Mapping[str, date] | None = None,
) -> dict[str, dict[str, FixAvailable]]:
    """For each repository, the fix of every vulnerability seen in it (if there is one yet).

    `findings` is keyed by digest; `recorded` maps a vulnerability id to the date the user
    says its fix became available, and applies in every repository where it is seen.
    """
    by_repository: dict[str, list[ImagePush]] = {}
    for push in pushes:
        by_repository.setdefault(push.repository, []).append(push)

    answer: dict[str, dict[str, FixAvailable]] = {}
    for repository, repo_pushes in by_repository.items():
        repo_pushes.sort(key=lambda p: p.pushed_at)
        answer[repository] = _fixes_in(repo_pushes, findings, recorded or {})
    return answer


def _fixes_in(
    pushes: list[ImagePush], findings: Mapping[str, ImageFindings], recorded: Mapping[str, date]
) -> dict[str, FixAvailable]:
    fixes: dict[str, FixAvailable] = {}
    vulnerable_seen: set[str] = set()
    # Walk the pushes in time order: a scanned image lacking a vulnerability seen earlier
    # is that vulnerability's first fix.
    for push in pushes:
        scan = findings.get(push.digest)
        if scan is None or not scan.scanned:
            continue
        for vulnerability_id in vulnerable_seen - scan.vulnerability_ids - fixes.keys():
            since = utc_date(push.pushed_at)
            fixes[vulnerability_id] = FixAvailable(vulnerability_id, since, push.digest)
        vulnerable_seen |= scan.vulnerability_ids
    for vulnerability_id in vulnerable_seen:
        if vulnerability_id in recorded:
            fixes[vulnerability_id] = FixAvailable(
                vulnerability_id, recorded[vulnerability_id], None
            )
    return fixes
