"""The findings domain: severities, one vulnerability in one package, the findings of one image.

Every findings source (ECR scan, Inspector, Trivy) translates its own format into these types,
so everything downstream (the clock, `fleetpatch findings`, the report) sees one shape.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from fleetpatch.errors import UserError


class Severity(enum.IntEnum):
    """Ordered: `Severity.CRITICAL > Severity.HIGH`; sort descending for "worst first"."""

    UNDEFINED = 0
    INFORMATIONAL = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    CRITICAL = 5

    @property
    def label(self) -> str:
        """Lower-case name, as users type it and as lines print it: "critical"."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """A severity a user typed (any case); UserError naming the valid ones otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise UserError(
                f"unknown severity {text.strip()!r}: use one or more of {_valid_labels()}, "
                "comma-separated"
            ) from None

    @classmethod
    def from_source(cls, text: object) -> Severity:
        """A severity as a scanner reports it. Never fails: scanners have their own extras
        (Inspector's UNTRIAGED, Trivy's UNKNOWN), which all mean "not rated" here."""
        if isinstance(text, str):
            member = cls.__members__.get(text.strip().upper())
            if member is not None:
                return member
        return cls.UNDEFINED


def _valid_labels() -> str:
    return ", ".join(s.label for s in sorted(Severity, reverse=True))


def parse_severities(text: str) -> frozenset[Severity]:
    """`--severity critical,high` -> {CRITICAL, HIGH}. Blank items are ignored; an empty
    selection is a mistake (it would silently show nothing)."""
    chosen = frozenset(Severity.parse(item) for item in text.split(",") if item.strip())
    if not chosen:
        raise UserError(f"no severity given: use one or more of {_valid_labels()}, comma-separated")
    return chosen


@dataclass(frozen=True, slots=True)
class Finding:
    """One vulnerability in one package of an image, as one source reports it."""

    vulnerability_id: str
    severity: Severity
    package: str
    installed_version: str
    # None when the source does not know a fixed version (ECR basic scanning never does).
    fixed_version: str | None
    # When the vendor published the vulnerability; None when the source does not say.
    published: datetime | None
    source: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image to ask a source about. `registry_id` is the ECR account (None: the caller's)."""

    repository: str
    digest: str
    registry_id: str | None = None


@dataclass(frozen=True, slots=True)
class ImageFindings:
    """What one source knows about one image.

    `unavailable` says why a source has no scan for the image (never scanned, scan failed,
    image deleted). Such an image is *unknown*, not *clean*: the clock never counts it as a
    fix, and reports show the reason instead of an empty list.
    """

    digest: str
    repository: str
    findings: tuple[Finding, ...]
    scanned_at: datetime | None
    source: str
    unavailable: str | None = None
    _ids: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Cached because the clock asks "does this image have CVE-x?" for every pair.
        object.__setattr__(self, "_ids", frozenset(f.vulnerability_id for f in self.findings))

    @property
    def scanned(self) -> bool:
        return self.unavailable is None

    @property
    def vulnerability_ids(self) -> frozenset[str]:
        return self._ids

    def has(self, vulnerability_id: str) -> bool:
        return vulnerability_id in self._ids

    def fixes(self, vulnerability_id: str) -> bool | None:
        """Does this image (a fleet's target, say) fix the vulnerability? None: unknown,
        because the image has no scan result."""
        return None if not self.scanned else not self.has(vulnerability_id)

    @classmethod
    def missing(cls, ref: ImageRef, source: str, reason: str) -> ImageFindings:
        """No scan for `ref` from `source`, and why."""
        return cls(ref.digest, ref.repository, (), None, source, unavailable=reason)


def utc_date(moment: datetime) -> date:
    """The UTC calendar day of a moment (naive datetimes are taken as UTC). The clock counts
    whole days in UTC, so the same evidence gives the same dates wherever it is rendered."""
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()
