"""EcrScanFindings and InspectorFindings against botocore's Stubber on real clients: the
answers AWS gives that the simulator does not (scan states, errors, Inspector's
ListFindings, which moto does not model with seeded findings)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from fleetpatch.compliance import (
    EcrScanFindings,
    ImageRef,
    InspectorFindings,
    Severity,
)

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def _client(service: str) -> Any:
    return boto3.client(
        service,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def ecr() -> Iterator[tuple[Any, Stubber]]:
    client = _client("ecr")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _inspector_finding(digest: str, vulnerability: str, **package: Any) -> dict[str, Any]:
    return {
        "awsAccountId": "111111111111",
        "findingArn": f"arn:aws:inspector2:eu-west-1:111111111111:finding/{vulnerability}",
        "description": f"{vulnerability} description",
        "type": "PACKAGE_VULNERABILITY",
        "severity": "HIGH",
        "status": "ACTIVE",
        "firstObservedAt": datetime(2026, 11, 1, tzinfo=UTC),
        "lastObservedAt": datetime(2026, 11, 1, tzinfo=UTC),
        "remediation": {},
        "resources": [
            {
                "id": "arn:aws:ecr:eu-west-1:111111111111:repository/fluent-bit/" + digest,
                "type": "AWS_ECR_CONTAINER_IMAGE",
                "details": {
                    "awsEcrContainerImage": {
                        "imageHash": digest,
                        "repositoryName": "fluent-bit",
                        "registry": "111111111111",
                    }
                },
            }
        ],
        "packageVulnerabilityDetails": {
            "vulnerabilityId": vulnerability,
            "source": "NVD",
            "vendorCreatedAt": datetime(2026, 10, 1, tzinfo=UTC),
            "vulnerablePackages": [{"name": "openssl", "version": "3.0.13", **package}],
        },
    }


# --- ECR ------------------------------------------------------------------------------------


def test_ecr_enhanced_finding_with_two_packages_is_two_rows(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    item = _inspector_finding(D1, "CVE-2026-1", fixedInVersion="3.0.14")
    item["packageVulnerabilityDetails"]["vulnerablePackages"].append(
        {"name": "libssl3", "version": "3.0.13", "fixedInVersion": "NotAvailable"}
    )
    stubber.add_response(
        "describe_image_scan_findings",
        {
            "imageScanStatus": {"status": "ACTIVE"},
            "imageScanFindings": {"enhancedFindings": [item]},
        },
        {
            "repositoryName": "fluent-bit",
            "imageId": {"imageDigest": D1},
            "registryId": "111111111111",
        },
    )
    scan = EcrScanFindings(client).findings_for([ImageRef("fluent-bit", D1, "111111111111")])[D1]
    rows = [(f.package, f.fixed_version, f.severity) for f in scan.findings]
    assert rows == [("openssl", "3.0.14", Severity.HIGH), ("libssl3", None, Severity.HIGH)]


def test_ecr_asks_once_per_distinct_digest(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_response(
        "describe_image_scan_findings",
        {"imageScanStatus": {"status": "COMPLETE"}, "imageScanFindings": {"findings": []}},
    )
    answer = EcrScanFindings(client).findings_for(
        [ImageRef("fluent-bit", D1), ImageRef("fluent-bit", D1)]
    )
    assert list(answer) == [D1] and answer[D1].scanned


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("ScanNotFoundException", "no scan found"),
        ("ImageNotFoundException", "image not found"),
        ("RepositoryNotFoundException", "repository not found"),
    ],
)
def test_ecr_missing_scan_is_a_reason(ecr: tuple[Any, Stubber], code: str, reason: str) -> None:
    client, stubber = ecr
    stubber.add_client_error("describe_image_scan_findings", service_error_code=code)
    stubber.add_response(
        "describe_image_scan_findings",
        {"imageScanStatus": {"status": "COMPLETE"}, "imageScanFindings": {"findings": []}},
    )
    answer = EcrScanFindings(client).findings_for(
        [ImageRef("fluent-bit", D1), ImageRef("fluent-bit", D2)]
    )
    assert reason in (answer[D1].unavailable or "")
    assert answer[D2].scanned  # one unscanned image does not hide the others


def test_ecr_scan_in_progress_is_unknown_not_clean(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_response(
        "describe_image_scan_findings",
        {"imageScanStatus": {"status": "IN_PROGRESS", "description": "scanning"}},
    )
    scan = EcrScanFindings(client).findings_for([ImageRef("fluent-bit", D1)])[D1]
    assert scan.unavailable == "scan in_progress: scanning"


def test_ecr_access_denied_is_raised_for_the_environment(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_client_error("describe_image_scan_findings", "AccessDeniedException")
    with pytest.raises(ClientError):
        EcrScanFindings(client).findings_for([ImageRef("fluent-bit", D1)])


# --- Inspector ------------------------------------------------------------------------------


def _expected_filter(digests: list[str]) -> dict[str, Any]:
    return {
        "filterCriteria": {
            "ecrImageHash": [{"comparison": "EQUALS", "value": d} for d in digests],
            "findingType": [{"comparison": "EQUALS", "value": "PACKAGE_VULNERABILITY"}],
            "findingStatus": [{"comparison": "EQUALS", "value": "ACTIVE"}],
        }
    }


def test_inspector_batches_ten_digests_per_call_and_paginates() -> None:
    client = _client("inspector2")
    digests = [f"sha256:{n:064x}" for n in range(12)]
    with Stubber(client) as stubber:
        # First batch of ten: two pages.
        stubber.add_response(
            "list_findings",
            {"findings": [_inspector_finding(digests[0], "CVE-A")], "nextToken": "page2"},
            _expected_filter(digests[:10]),
        )
        stubber.add_response(
            "list_findings",
            {"findings": [_inspector_finding(digests[9], "CVE-B", fixedInVersion="3.0.14")]},
            {**_expected_filter(digests[:10]), "nextToken": "page2"},
        )
        # Second batch: the remaining two.
        stubber.add_response(
            "list_findings",
            {"findings": [_inspector_finding(digests[11], "CVE-C")]},
            _expected_filter(digests[10:]),
        )
        answer = InspectorFindings(client).findings_for(
            [ImageRef("fluent-bit", d) for d in digests]
        )
        stubber.assert_no_pending_responses()

    assert list(answer) == digests
    assert [f.vulnerability_id for f in answer[digests[0]].findings] == ["CVE-A"]
    (b,) = answer[digests[9]].findings
    assert (b.vulnerability_id, b.fixed_version, b.source) == ("CVE-B", "3.0.14", "inspector")
    assert b.published == datetime(2026, 10, 1, tzinfo=UTC)
    assert answer[digests[5]].findings == () and answer[digests[5]].scanned
    assert [f.vulnerability_id for f in answer[digests[11]].findings] == ["CVE-C"]


def test_inspector_ignores_findings_of_images_not_asked_about() -> None:
    client = _client("inspector2")
    with Stubber(client) as stubber:
        stubber.add_response(
            "list_findings",
            {"findings": [_inspector_finding(D2, "CVE-A")]},
            {"filterCriteria": ANY},
        )
        answer = InspectorFindings(client).findings_for([ImageRef("fluent-bit", D1)])
    assert answer[D1].findings == () and D2 not in answer
