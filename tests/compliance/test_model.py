import pytest

from fleetpatch.compliance import Finding, ImageFindings, ImageRef, Severity, parse_severities
from fleetpatch.errors import UserError


def test_severities_are_ordered_worst_last():
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW
    assert Severity.LOW > Severity.INFORMATIONAL > Severity.UNDEFINED
    assert max([Severity.LOW, Severity.CRITICAL, Severity.HIGH]) is Severity.CRITICAL


def test_parse_severities_from_cli_input_ignores_case_and_blanks():
    assert parse_severities("critical,HIGH") == {Severity.CRITICAL, Severity.HIGH}
    assert parse_severities(" Medium , ,low,") == {Severity.MEDIUM, Severity.LOW}


def test_unknown_severity_is_one_line_listing_the_valid_ones():
    with pytest.raises(UserError) as error:
        parse_severities("critical,severe")
    message = str(error.value)
    assert "\n" not in message
    assert "'severe'" in message
    assert "critical, high, medium, low, informational, undefined" in message


def test_empty_severity_selection_is_an_error():
    with pytest.raises(UserError, match="no severity given"):
        parse_severities(" , ")


@pytest.mark.parametrize(
    ("reported", "severity"),
    [
        ("CRITICAL", Severity.CRITICAL),
        ("high", Severity.HIGH),
        ("UNTRIAGED", Severity.UNDEFINED),
        ("UNKNOWN", Severity.UNDEFINED),
        (None, Severity.UNDEFINED),
        (5, Severity.UNDEFINED),
    ],
)
def test_severity_from_a_scanner_never_fails(reported, severity):
    assert Severity.from_source(reported) is severity


def test_image_findings_answers_by_vulnerability_id():
    finding = Finding("CVE-1", Severity.HIGH, "openssl", "3.0.13", None, None, "ecr")
    scan = ImageFindings("sha256:a", "fluent-bit", (finding,), None, "ecr")
    assert scan.scanned and scan.has("CVE-1") and not scan.has("CVE-2")
    missing = ImageFindings.missing(ImageRef("fluent-bit", "sha256:b"), "ecr", "no scan")
    assert not missing.scanned and missing.findings == () and missing.unavailable == "no scan"


def test_a_target_fixes_what_its_scan_no_longer_reports():
    finding = Finding("CVE-1", Severity.HIGH, "openssl", "3.0.13", None, None, "ecr")
    target = ImageFindings("sha256:t", "fluent-bit", (finding,), None, "ecr")
    assert target.fixes("CVE-2") is True and target.fixes("CVE-1") is False
    unscanned = ImageFindings.missing(ImageRef("fluent-bit", "sha256:u"), "ecr", "no scan")
    assert unscanned.fixes("CVE-1") is None
