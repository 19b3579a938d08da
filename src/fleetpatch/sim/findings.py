"""DescribeImageScanFindings answered from the scenario's seeded findings.

Basic scanning reports `findings` (name, severity, package attributes; no fixed version, as
real basic scanning); enhanced scanning (Amazon Inspector) reports `enhancedFindings` with the
vulnerable package, its fixed version and the vendor's publication date.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from moto.core.exceptions import ServiceException

from fleetpatch.sim.protocol import AwsError
from fleetpatch.sim.registry import Registry, StoredFinding

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100


def scan_findings_response(
    registry: Registry, account: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    try:
        scan_type, findings, image = registry.scan_findings(account, region, params)
    except ServiceException as exc:
        raise AwsError(exc.code, exc.message) from None

    limit = int(params.get("maxResults") or DEFAULT_RESULTS)
    if not 1 <= limit <= MAX_RESULTS:
        raise AwsError("InvalidParameterException", "maxResults must be between 1 and 1000")
    start = int(params.get("nextToken") or 0)
    page = findings[start : start + limit]
    digest = image.get_image_digest()
    repository = params["repositoryName"]

    counts = Counter(stored.finding.severity for stored in findings)
    scan: dict[str, Any] = {
        "imageScanCompletedAt": float(image.image_pushed_at) + 60,
        "vulnerabilitySourceUpdatedAt": float(image.image_pushed_at),
        "findingSeverityCounts": dict(counts),
    }
    if scan_type == "enhanced":
        scan["enhancedFindings"] = [
            _enhanced(stored, account, region, repository, digest, image) for stored in page
        ]
    else:
        scan["findings"] = [_basic(stored) for stored in page]

    answer: dict[str, Any] = {
        "registryId": account,
        "repositoryName": repository,
        "imageId": {"imageDigest": digest, **_tag(params)},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed."},
        "imageScanFindings": scan,
    }
    if start + limit < len(findings):
        answer["nextToken"] = str(start + limit)
    return answer


def _tag(params: dict[str, Any]) -> dict[str, str]:
    tag = (params.get("imageId") or {}).get("imageTag")
    return {"imageTag": tag} if tag else {}


def _basic(stored: StoredFinding) -> dict[str, Any]:
    finding = stored.finding
    return {
        "name": finding.id,
        "description": finding.description,
        "uri": f"https://nvd.nist.gov/vuln/detail/{finding.id}",
        "severity": finding.severity,
        "attributes": [
            {"key": "package_name", "value": finding.package},
            {"key": "package_version", "value": finding.installed},
        ],
    }


def _enhanced(
    stored: StoredFinding, account: str, region: str, repository: str, digest: str, image: Any
) -> dict[str, Any]:
    finding = stored.finding
    package: dict[str, Any] = {
        "name": finding.package,
        "version": finding.installed,
        "packageManager": "OS",
    }
    if finding.fixed:
        package["fixedInVersion"] = finding.fixed
    details: dict[str, Any] = {
        "vulnerabilityId": finding.id,
        "source": "NVD",
        "sourceUrl": f"https://nvd.nist.gov/vuln/detail/{finding.id}",
        "vulnerablePackages": [package],
    }
    if finding.published:
        details["vendorCreatedAt"] = finding.published.timestamp()
    observed = stored.first_observed.timestamp()
    return {
        "awsAccountId": account,
        "description": finding.description,
        "findingArn": f"arn:aws:inspector2:{region}:{account}:finding/{finding.id}-{digest[7:19]}",
        "firstObservedAt": observed,
        "lastObservedAt": observed,
        "updatedAt": observed,
        "packageVulnerabilityDetails": details,
        "resources": [
            {
                "id": f"arn:aws:ecr:{region}:{account}:repository/{repository}/{digest}",
                "type": "AWS_ECR_CONTAINER_IMAGE",
                "details": {
                    "awsEcrContainerImage": {
                        "imageHash": digest,
                        "repositoryName": repository,
                        "imageTags": list(image.image_tags),
                        "pushedAt": float(image.image_pushed_at),
                        "registry": account,
                    }
                },
            }
        ],
        "severity": finding.severity,
        "status": "ACTIVE",
        "title": f"{finding.id} - {finding.package}",
        "type": "PACKAGE_VULNERABILITY",
        "fixAvailable": "YES" if finding.fixed else "NO",
    }
