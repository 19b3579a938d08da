"""A Trivy JSON report (`trivy image --format json IMAGE > report.json`) as a findings source.

The report is for one image; it is matched to the fleet's images by the digests in
`Metadata.RepoDigests` (`repo@sha256:...`), or by a digest the user names when the image was
scanned by tag or from a local build. `Metadata.ImageID` is the config digest, which is not
the digest ECS reports for a task, so it cannot be used for matching.

Anything that is not a Trivy report is a UserError of one line naming the file and what is
missing; no other exception escapes the parser, whatever the file holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetpatch.compliance.model import Finding, ImageFindings, ImageRef, Severity
from fleetpatch.errors import UserError

SOURCE = "trivy"
HINT = "expected the output of `trivy image --format json`"


@dataclass(frozen=True, slots=True)
class TrivyScan:
    """The parts of a Trivy report fleetpatch uses."""

    artifact: str
    digests: tuple[str, ...]
    findings: tuple[Finding, ...]
    scanned_at: datetime | None


class _Malformed(Exception):
    """Internal: what is missing or wrong, turned into a UserError with the file's name."""


def load_trivy_report(path: Path) -> TrivyScan:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: Trivy report not found") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a Trivy JSON report: not UTF-8 text; {HINT}") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the Trivy report: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}: not a Trivy JSON report: invalid JSON at line {exc.lineno}; {HINT}"
        ) from None
    except RecursionError:
        raise UserError(f"{path}: not a Trivy JSON report: JSON nested too deeply") from None
    return parse_trivy_report(data, str(path))


def parse_trivy_report(data: object, source: str = "Trivy report") -> TrivyScan:
    """Parse already-decoded JSON; `source` names the file in error messages."""
    try:
        return _parse(data)
    except _Malformed as exc:
        raise UserError(f"{source}: not a Trivy JSON report: {exc}; {HINT}") from None


def _parse(data: object) -> TrivyScan:
    report = _mapping(data, "the top level")
    if not isinstance(report.get("SchemaVersion"), int):
        raise _Malformed("no SchemaVersion number")
    artifact = report.get("ArtifactName")
    if not isinstance(artifact, str):
        raise _Malformed("no ArtifactName")
    metadata = _mapping(report.get("Metadata", {}), "Metadata")
    repo_digests = _list(metadata.get("RepoDigests", []), "Metadata.RepoDigests")
    digests = tuple(
        d.split("@", 1)[1] for d in repo_digests if isinstance(d, str) and "@sha256:" in d
    )
    findings: list[Finding] = []
    # A clean image may have no Results at all, or Results without Vulnerabilities.
    results = _list(_or_empty(report.get("Results")), "Results")
    for r, result in enumerate(results):
        where = f"Results[{r}]"
        vulnerabilities = _or_empty(_mapping(result, where).get("Vulnerabilities"))
        for v, item in enumerate(_list(vulnerabilities, f"{where}.Vulnerabilities")):
            at = f"{where}.Vulnerabilities[{v}]"
            findings.append(_finding(_mapping(item, at), at))
    return TrivyScan(artifact, digests, tuple(findings), _datetime(report.get("CreatedAt")))


def _finding(item: Mapping[str, Any], where: str) -> Finding:
    # Identity fields are required; descriptive ones are optional and ignored when odd.
    fixed = item.get("FixedVersion")
    title, description = item.get("Title"), item.get("Description")
    return Finding(
        vulnerability_id=_text(item, "VulnerabilityID", where),
        severity=Severity.from_source(item.get("Severity")),
        package=_text(item, "PkgName", where),
        installed_version=_text(item, "InstalledVersion", where),
        fixed_version=fixed if isinstance(fixed, str) and fixed else None,
        published=_datetime(item.get("PublishedDate")),
        source=SOURCE,
        description=title
        if isinstance(title, str)
        else (description if isinstance(description, str) else ""),
    )


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _Malformed(f"{where} is not an object")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Malformed(f"{where} is not a list")
    return value


def _or_empty(value: object) -> object:
    """Trivy omits, or writes null for, an empty list."""
    return [] if value is None else value


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{where}.{key} is missing")
    return value


def _datetime(value: object) -> datetime | None:
    """Trivy writes RFC 3339 ("2024-05-20T12:15:09.233Z"); anything else counts as unknown."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class TrivyReport:
    """One report file as a FindingsSource: it answers for the image(s) it scanned."""

    name = SOURCE

    def __init__(self, scan: TrivyScan, *, source: str = "Trivy report", digest: str | None = None):
        if digest is None and not scan.digests:
            raise UserError(
                f"{source}: the Trivy report names no image digest (Metadata.RepoDigests is "
                "empty): scan the image from the registry, or name the digest it belongs to"
            )
        self.scan = scan
        self.digests = frozenset([digest] if digest else scan.digests)
        self._source = source

    @classmethod
    def from_file(cls, path: Path, *, digest: str | None = None) -> TrivyReport:
        return cls(load_trivy_report(path), source=str(path), digest=digest)

    def findings_for(self, images: Sequence[ImageRef]) -> dict[str, ImageFindings]:
        answer: dict[str, ImageFindings] = {}
        for ref in images:
            if ref.digest in self.digests:
                answer[ref.digest] = ImageFindings(
                    ref.digest, ref.repository, self.scan.findings, self.scan.scanned_at, SOURCE
                )
            else:
                reason = f"{self._source} is a scan of {self.scan.artifact}, not of this image"
                answer[ref.digest] = ImageFindings.missing(ref, SOURCE, reason)
        return answer
