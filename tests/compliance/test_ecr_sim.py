"""EcrScanFindings against the simulator (real boto3 over HTTP): basic and enhanced scanning,
pagination, and images without a scan; then the talk's scenario through the whole clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from fleetpatch.compliance import (
    DigestInterval,
    DigestTimeline,
    EcrScanFindings,
    ImagePush,
    ImageRef,
    PatchPolicy,
    Severity,
    Status,
    fix_availability,
    format_deadlines,
    patch_clock,
)
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client

LUMBERJACK = {
    "id": "CVE-2024-4323",
    "severity": "critical",
    "package": "fluent-bit",
    "installed": "3.0.3",
    "fixed": "3.0.4",
    "published": "2024-05-20T00:00:00Z",
    "description": "Linguistic Lumberjack",
}
# More findings than one page of DescribeImageScanFindings (100 by default).
MANY = [
    {"id": f"CVE-2026-{n:05d}", "severity": "low", "package": "libfoo", "installed": "1.0"}
    for n in range(130)
]


def _scenario() -> dict[str, Any]:
    return {
        "now": "2026-11-27T09:00:00Z",
        "time_scale": 0,
        "environments": [
            {
                "name": "dev",
                "account": "111111111111",
                "region": "eu-west-1",
                "repositories": [
                    {
                        "name": "fluent-bit",
                        "scan": "enhanced",
                        "images": [
                            {
                                "tags": ["3.0.3"],
                                "pushed_at": "2026-10-16T00:00:00Z",
                                "findings": [LUMBERJACK, *MANY],
                            },
                            {"tags": ["3.0.4", "latest"], "pushed_at": "2026-11-20T00:00:00Z"},
                        ],
                    },
                    {
                        "name": "fluent-bit-basic",
                        "scan": "basic",
                        "images": [
                            {
                                "tags": ["3.0.3"],
                                "pushed_at": "2026-10-16T00:00:00Z",
                                "findings": [LUMBERJACK],
                            }
                        ],
                    },
                ],
            }
        ],
    }


@pytest.fixture
def scan_sim() -> Iterator[Simulator]:
    with Simulator(_scenario()) as simulator:
        yield simulator


def _digest(ecr: Any, repository: str, tag: str) -> str:
    images = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    return str(images["imageDetails"][0]["imageDigest"])


def test_enhanced_scanning_pages_through_every_finding(scan_sim: Simulator) -> None:
    ecr = client(scan_sim, "ecr", "dev")
    vulnerable, fixed = _digest(ecr, "fluent-bit", "3.0.3"), _digest(ecr, "fluent-bit", "3.0.4")
    answer = EcrScanFindings(ecr).findings_for(
        [ImageRef("fluent-bit", vulnerable), ImageRef("fluent-bit", fixed)]
    )
    scan = answer[vulnerable]
    assert len(scan.findings) == 131
    assert scan.scanned_at is not None
    lumberjack = next(f for f in scan.findings if f.vulnerability_id == "CVE-2024-4323")
    assert lumberjack.severity is Severity.CRITICAL
    assert (lumberjack.package, lumberjack.installed_version) == ("fluent-bit", "3.0.3")
    assert lumberjack.fixed_version == "3.0.4"
    assert lumberjack.published == datetime(2024, 5, 20, tzinfo=UTC)
    assert answer[fixed].scanned and answer[fixed].findings == ()


def test_basic_scanning_has_packages_but_no_fixed_version(scan_sim: Simulator) -> None:
    ecr = client(scan_sim, "ecr", "dev")
    digest = _digest(ecr, "fluent-bit-basic", "3.0.3")
    (finding,) = (
        EcrScanFindings(ecr).findings_for([ImageRef("fluent-bit-basic", digest)])[digest].findings
    )
    assert finding.vulnerability_id == "CVE-2024-4323"
    assert finding.severity is Severity.CRITICAL
    assert (finding.package, finding.installed_version) == ("fluent-bit", "3.0.3")
    assert finding.fixed_version is None and finding.published is None


def test_an_image_that_is_gone_is_a_reason_not_a_crash(scan_sim: Simulator) -> None:
    ecr = client(scan_sim, "ecr", "dev")
    gone = "sha256:" + "0" * 64
    answer = EcrScanFindings(ecr).findings_for([ImageRef("fluent-bit", gone)])
    assert not answer[gone].scanned
    assert "image not found" in (answer[gone].unavailable or "")


def test_the_talk_scenario_through_the_clock(talk_sim: Simulator) -> None:
    """fluent-bit 3.0.3 runs in all 12 prod services; 3.0.4 was pushed on 2026-11-20."""
    ecr = client(talk_sim, "ecr", "prod")
    images = ecr.describe_images(repositoryName="fluent-bit")["imageDetails"]
    pushes = [ImagePush("fluent-bit", i["imageDigest"], i["imagePushedAt"]) for i in images]
    findings = EcrScanFindings(ecr).findings_for(
        [ImageRef("fluent-bit", push.digest) for push in pushes]
    )
    fixes = fix_availability(pushes, findings)
    running = _digest(ecr, "fluent-bit", "3.0.3-4b9c0d1")
    deployed = datetime(2026, 11, 2, 10, tzinfo=UTC)
    services = ["payment-api", "repayment-api", "application-api", "notification-api"]
    services += ["async-jobs", "admin-web", "card-issuing-api", "merchant-api", "auth-api"]
    services += ["statement-api", "webhook-worker", "reporting-batch"]
    timelines = [
        DigestTimeline("prod", name, "fluent-bit", (DigestInterval(running, deployed),))
        for name in services
    ]
    today = date(2026, 11, 27)
    entries = patch_clock(timelines, findings, fixes, PatchPolicy(), today)
    assert {e.status for e in entries} == {Status.DUE}
    assert format_deadlines(entries, today) == [
        "prod: 12 services run a digest with CVE-2024-4323 (critical); "
        "fix available since 2026-11-20; due 2026-12-20 (23 days)"
    ]
