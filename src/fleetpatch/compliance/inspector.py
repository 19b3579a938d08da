"""Amazon Inspector findings for ECR images (inspector2 ListFindings, filtered by digest).

Inspector ORs the values of one filter, and takes at most ten per filter, so ten digests cost
one paginated call instead of ten.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fleetpatch.compliance.model import Finding, ImageFindings, ImageRef, Severity

if TYPE_CHECKING:
    from mypy_boto3_inspector2 import Inspector2Client

SOURCE = "inspector"
# Inspector's StringFilterList takes 1 to 10 values.
DIGESTS_PER_CALL = 10


class InspectorFindings:
    """Active package-vulnerability findings of one Inspector account (region).

    Inspector returns nothing for an image it does not cover, and also nothing for a clean
    image; this source cannot tell them apart, so an image without findings is reported
    clean with `scanned_at` None.
    """

    name = SOURCE

    def __init__(self, client: Inspector2Client) -> None:
        self._client = client

    def findings_for(self, images: Sequence[ImageRef]) -> dict[str, ImageFindings]:
        refs = {ref.digest: ref for ref in images}  # one entry per digest, order kept
        found: dict[str, list[Finding]] = {digest: [] for digest in refs}
        digests = list(refs)
        for start in range(0, len(digests), DIGESTS_PER_CALL):
            for item in self._findings(digests[start : start + DIGESTS_PER_CALL]):
                for digest in _image_digests(item):
                    if digest in found:
                        found[digest].extend(inspector_finding(item, SOURCE))
        return {
            digest: ImageFindings(digest, ref.repository, tuple(found[digest]), None, SOURCE)
            for digest, ref in refs.items()
        }

    def _findings(self, digests: list[str]) -> Iterator[Mapping[str, Any]]:
        paginator = self._client.get_paginator("list_findings")
        pages = paginator.paginate(
            filterCriteria={
                "ecrImageHash": [{"comparison": "EQUALS", "value": d} for d in digests],
                "findingType": [{"comparison": "EQUALS", "value": "PACKAGE_VULNERABILITY"}],
                "findingStatus": [{"comparison": "EQUALS", "value": "ACTIVE"}],
            }
        )
        for page in pages:
            yield from page.get("findings", [])


def _image_digests(item: Mapping[str, Any]) -> Iterator[str]:
    for resource in item.get("resources", []):
        image = resource.get("details", {}).get("awsEcrContainerImage", {})
        if image.get("imageHash"):
            yield image["imageHash"]


def inspector_finding(item: Mapping[str, Any], source: str) -> list[Finding]:
    """An Inspector finding (also ECR's enhancedFindings, which are Inspector's) as Findings:
    one per vulnerable package, since a CVE in openssl and libssl3 is two rows to fix."""
    details = item.get("packageVulnerabilityDetails", {})
    packages = details.get("vulnerablePackages") or [{}]
    return [
        Finding(
            vulnerability_id=details.get("vulnerabilityId") or item.get("title", "?"),
            severity=Severity.from_source(item.get("severity")),
            package=package.get("name", "?"),
            installed_version=package.get("version", "?"),
            fixed_version=_fixed_version(package.get("fixedInVersion")),
            published=details.get("vendorCreatedAt"),
            source=source,
            description=item.get("description") or item.get("title", ""),
        )
        for package in packages
    ]


def _fixed_version(value: object) -> str | None:
    """Inspector writes "NotAvailable" where it has no fixed version."""
    if not isinstance(value, str) or not value or value == "NotAvailable":
        return None
    return value
