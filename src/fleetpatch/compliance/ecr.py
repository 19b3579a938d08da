"""ECR image scan findings (DescribeImageScanFindings), basic and enhanced scanning.

Basic scanning answers `imageScanFindings.findings` (CVE name, severity, package name and
version as attributes, no fixed version, no publication date). Enhanced scanning is Amazon
Inspector behind the ECR API and answers `imageScanFindings.enhancedFindings` with the
vulnerable packages, their fixed versions and the vendor's publication date.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fleetpatch.compliance.inspector import inspector_finding
from fleetpatch.compliance.model import Finding, ImageFindings, ImageRef, Severity

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

SOURCE = "ecr"

# Errors that mean "there is no scan for this image": recorded as a reason, never raised.
_NO_SCAN = {
    "ScanNotFoundException": "no scan found for this image (is scanning on push enabled?)",
    "ImageNotFoundException": "image not found in the repository (deleted or expired?)",
    "RepositoryNotFoundException": "repository not found",
}


class EcrScanFindings:
    """One ECR registry (one account and region): one paginated call per image.

    Other ClientErrors (access denied, throttling after retries) are raised: they concern the
    whole environment, and `fleetpatch.aws.errors.explain` turns them into one line.
    """

    name = SOURCE

    def __init__(self, client: ECRClient) -> None:
        self._client = client

    def findings_for(self, images: Sequence[ImageRef]) -> dict[str, ImageFindings]:
        answer: dict[str, ImageFindings] = {}
        for ref in images:
            if ref.digest not in answer:
                answer[ref.digest] = self._one(ref)
        return answer

    def _one(self, ref: ImageRef) -> ImageFindings:
        try:
            pages = list(self._pages(ref))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _NO_SCAN:
                return ImageFindings.missing(ref, SOURCE, _NO_SCAN[code])
            raise
        status = pages[0].get("imageScanStatus", {}) if pages else {}
        if status.get("status") not in (None, "COMPLETE", "ACTIVE"):
            # IN_PROGRESS, FAILED, UNSUPPORTED_IMAGE, SCAN_ELIGIBILITY_EXPIRED, ...
            reason = f"scan {status.get('status', '').lower()}"
            if status.get("description"):
                reason += f": {status['description']}"
            return ImageFindings.missing(ref, SOURCE, reason)

        findings: list[Finding] = []
        scanned_at: datetime | None = None
        for page in pages:
            scan = page.get("imageScanFindings", {})
            scanned_at = scanned_at or scan.get("imageScanCompletedAt")
            findings.extend(_basic(item) for item in scan.get("findings", []))
            for item in scan.get("enhancedFindings", []):
                findings.extend(inspector_finding(item, SOURCE))
        return ImageFindings(ref.digest, ref.repository, tuple(findings), scanned_at, SOURCE)

    def _pages(self, ref: ImageRef) -> Iterator[Mapping[str, Any]]:
        request: dict[str, Any] = {
            "repositoryName": ref.repository,
            "imageId": {"imageDigest": ref.digest},
        }
        if ref.registry_id is not None:
            request["registryId"] = ref.registry_id
        paginator = self._client.get_paginator("describe_image_scan_findings")
        yield from paginator.paginate(**request)


def _basic(item: Mapping[str, Any]) -> Finding:
    attributes = {a.get("key"): a.get("value") for a in item.get("attributes", [])}
    return Finding(
        vulnerability_id=item.get("name", "?"),
        severity=Severity.from_source(item.get("severity")),
        package=attributes.get("package_name") or "?",
        installed_version=attributes.get("package_version") or "?",
        fixed_version=None,
        published=None,
        source=SOURCE,
        description=item.get("description", ""),
    )
