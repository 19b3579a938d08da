"""Findings, the PCI DSS patch clock and its evidence (issue 5; docs/compliance.md).

    findings sources (ecr, inspector, trivy) --> ImageFindings per digest
    fixes.fix_availability(pushes, findings)  --> when each fix became available
    clock.patch_clock(timelines, findings, fixes, policy, today) --> ClockEntry per
        environment x service x vulnerability; clock.format_deadlines for `fleetpatch status`

Everything but the three sources is pure.
"""

from fleetpatch.compliance.clock import (
    ClockEntry,
    DigestInterval,
    DigestTimeline,
    OpenDeadline,
    PatchPolicy,
    Status,
    clock_start,
    format_deadline,
    format_deadlines,
    nearest_deadlines,
    patch_clock,
)
from fleetpatch.compliance.ecr import EcrScanFindings
from fleetpatch.compliance.fixes import FixAvailable, ImagePush, fix_availability
from fleetpatch.compliance.inspector import InspectorFindings
from fleetpatch.compliance.model import (
    Finding,
    ImageFindings,
    ImageRef,
    Severity,
    parse_severities,
)
from fleetpatch.compliance.source import FindingsSource
from fleetpatch.compliance.trivy import (
    TrivyReport,
    TrivyScan,
    load_trivy_report,
    parse_trivy_report,
)

__all__ = [
    "ClockEntry",
    "DigestInterval",
    "DigestTimeline",
    "EcrScanFindings",
    "Finding",
    "FindingsSource",
    "FixAvailable",
    "ImageFindings",
    "ImagePush",
    "ImageRef",
    "InspectorFindings",
    "OpenDeadline",
    "PatchPolicy",
    "Severity",
    "Status",
    "TrivyReport",
    "TrivyScan",
    "clock_start",
    "fix_availability",
    "format_deadline",
    "format_deadlines",
    "load_trivy_report",
    "nearest_deadlines",
    "parse_severities",
    "parse_trivy_report",
    "patch_clock",
]
