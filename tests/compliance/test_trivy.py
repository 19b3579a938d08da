import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetpatch.compliance import (
    ImageRef,
    Severity,
    TrivyReport,
    load_trivy_report,
    parse_trivy_report,
)
from fleetpatch.errors import UserError

DATA = Path(__file__).parent / "data"
REPORT = DATA / "trivy-fluent-bit.json"
DIGEST = "sha256:4b9c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


def test_parses_a_trivy_image_report():
    scan = load_trivy_report(REPORT)
    assert scan.digests == (DIGEST,)
    assert scan.scanned_at == datetime(2026, 11, 21, 3, 12, 45, 123456, tzinfo=UTC)
    by_id = {f.vulnerability_id: f for f in scan.findings}
    assert set(by_id) == {"CVE-2024-2511", "CVE-2023-45853", "CVE-2024-4323"}
    lumberjack = by_id["CVE-2024-4323"]
    assert lumberjack.severity is Severity.CRITICAL
    assert (lumberjack.package, lumberjack.installed_version) == ("fluent-bit", "3.0.3")
    assert lumberjack.fixed_version == "3.0.4"
    assert lumberjack.published == datetime(2024, 5, 20, 12, 15, 9, 233000, tzinfo=UTC)
    assert lumberjack.source == "trivy"
    assert lumberjack.description.startswith("fluent-bit: Linguistic Lumberjack")
    assert by_id["CVE-2023-45853"].fixed_version is None  # will_not_fix


def test_report_answers_for_its_digest_and_explains_the_others():
    source = TrivyReport.from_file(REPORT)
    other = "sha256:" + "0" * 64
    answer = source.findings_for([ImageRef("fluent-bit", DIGEST), ImageRef("fluent-bit", other)])
    assert len(answer[DIGEST].findings) == 3
    assert not answer[other].scanned
    assert "not of this image" in (answer[other].unavailable or "")


def test_a_report_without_repo_digests_needs_the_digest_named(tmp_path):
    data = json.loads(REPORT.read_text())
    data["Metadata"]["RepoDigests"] = []
    path = tmp_path / "local.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="names no image digest"):
        TrivyReport.from_file(path)
    named = TrivyReport.from_file(path, digest="sha256:" + "1" * 64)
    assert named.findings_for([ImageRef("r", "sha256:" + "1" * 64)])["sha256:" + "1" * 64].scanned


def test_a_clean_image_report_has_no_findings():
    scan = parse_trivy_report(
        {"SchemaVersion": 2, "ArtifactName": "x", "Results": [{"Target": "x"}]}
    )
    assert scan.findings == () and scan.digests == ()


@pytest.mark.parametrize(
    ("content", "missing"),
    [
        ('{"foo": 1}', "no SchemaVersion"),
        ("[1, 2]", "the top level is not an object"),
        ('{"SchemaVersion": 2}', "no ArtifactName"),
        ('{"SchemaVersion": 2, "ArtifactName": "x", "Results": {}}', "Results is not a list"),
        (
            '{"SchemaVersion": 2, "ArtifactName": "x", "Results": [{"Vulnerabilities": [{}]}]}',
            "Results[0].Vulnerabilities[0].VulnerabilityID is missing",
        ),
        ("{not json", "invalid JSON at line 1"),
        ("", "invalid JSON"),
    ],
)
def test_a_file_that_is_not_a_trivy_report_is_one_line(tmp_path, content, missing):
    path = tmp_path / "scan.json"
    path.write_text(content)
    with pytest.raises(UserError) as error:
        load_trivy_report(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    assert missing in message
    assert "\n" not in message


def test_unreadable_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_trivy_report(tmp_path / "nope.json")
    binary = tmp_path / "image.tar"
    binary.write_bytes(b"\x89PNG\xff\xfe\x00")
    with pytest.raises(UserError, match="not UTF-8"):
        load_trivy_report(binary)


# --- property tests: junk never raises anything but UserError ------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def junk_or(value):
    return st.one_of(st.just(value), json_values)


# Trivy-shaped documents whose every part may be replaced by junk, so that the parser's
# deeper branches are reached too, not only the top-level checks.
vulnerability = st.fixed_dictionaries(
    {},
    optional={
        "VulnerabilityID": junk_or("CVE-2024-4323"),
        "PkgName": junk_or("fluent-bit"),
        "InstalledVersion": junk_or("3.0.3"),
        "FixedVersion": junk_or("3.0.4"),
        "Severity": junk_or("CRITICAL"),
        "PublishedDate": st.one_of(st.text(max_size=30), junk_or("2024-05-20T12:15:09Z")),
        "Title": json_values,
    },
)
trivy_like = st.fixed_dictionaries(
    {},
    optional={
        "SchemaVersion": junk_or(2),
        "ArtifactName": junk_or("fluent-bit:3.0.3"),
        "CreatedAt": st.one_of(st.text(max_size=30), json_values),
        "Metadata": st.one_of(
            json_values,
            st.fixed_dictionaries({"RepoDigests": st.one_of(json_values, st.lists(json_values))}),
        ),
        "Results": st.one_of(
            json_values,
            st.lists(
                st.one_of(
                    json_values,
                    st.fixed_dictionaries(
                        {"Vulnerabilities": st.one_of(json_values, st.lists(vulnerability))}
                    ),
                ),
                max_size=3,
            ),
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, trivy_like))
def test_junk_json_never_raises_anything_but_user_error(data):
    try:
        scan = parse_trivy_report(data, "junk.json")
    except UserError as error:
        assert str(error).startswith("junk.json: not a Trivy JSON report: ")
        assert "\n" not in str(error)
    else:
        assert all(f.vulnerability_id for f in scan.findings)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_junk_bytes_never_raise_anything_but_user_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("junk") / "report.json"
    path.write_bytes(content)
    with contextlib.suppress(UserError):
        load_trivy_report(path)
