"""The EventBridge shapes AWS documents, parsed; anything else is ignored or dropped, never a
crash (a handler that raised on a bad event would be retried by Lambda for nothing)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetpatch.events.shapes import (
    FindingChanged,
    ImagePushed,
    MalformedEvent,
    Origin,
    ScanCompleted,
    Scheduled,
    Unrecognized,
    parse_event,
)
from tests.events.helpers import fixture

NAMES = [
    "ecr-image-push",
    "ecr-image-scan",
    "inspector2-scan-ecr",
    "inspector2-finding-ecr",
    "scheduled-event",
]


def test_the_documented_examples_parse_as_aws_describes_them() -> None:
    push = parse_event(fixture("ecr-image-push"))
    assert push == ImagePushed(
        Origin("123456789012", "us-west-2"),
        "my-repository-name",
        "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
        "latest",
    )
    scan = parse_event(fixture("ecr-image-scan"))
    assert isinstance(scan, ScanCompleted)
    assert (scan.scanner, scan.repository, scan.critical, scan.tags) == ("ecr", "my-repo", 10, ())
    inspector = parse_event(fixture("inspector2-scan-ecr"))
    assert isinstance(inspector, ScanCompleted)
    # Inspector names the repository by its ARN.
    assert (inspector.scanner, inspector.repository) == ("inspector", "amazon/amazon-ecs-sample")
    assert inspector.critical == 7 and inspector.tags == ("latest",)
    finding = parse_event(fixture("inspector2-finding-ecr"))
    assert isinstance(finding, FindingChanged)
    assert (finding.vulnerability_id, finding.severity, finding.status) == (
        "CVE-2019-17498",
        "MEDIUM",
        "ACTIVE",
    )
    assert finding.repository == "amazon/amazon-ecs-sample"
    assert finding.origin == Origin("123456789012", "us-east-2")
    schedule = parse_event(fixture("scheduled-event"))
    assert schedule == Scheduled(
        "2015-10-08T16:53:06Z", "arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"
    )


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("ecr-image-push", ["detail", "action-type"], "DELETE"),
        ("ecr-image-push", ["detail", "result"], "FAILURE"),
        ("ecr-image-scan", ["detail", "scan-status"], "FAILED"),
        ("inspector2-scan-ecr", ["detail", "scan-status"], "SCAN_ELIGIBILITY_EXPIRED"),
        ("inspector2-finding-ecr", ["detail", "resources", 0, "type"], "AWS_EC2_INSTANCE"),
        ("scheduled-event", ["detail-type"], "EC2 Instance State-change Notification"),
    ],
)
def test_events_fleetpatch_does_not_act_on_are_unrecognized(
    name: str, path: list[Any], value: Any
) -> None:
    event = fixture(name)
    _set(event, path, value)
    assert isinstance(parse_event(event), Unrecognized)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("ecr-image-push", ["detail", "repository-name"]),
        ("ecr-image-push", ["detail", "image-digest"]),
        ("ecr-image-push", ["account"]),
        ("ecr-image-scan", ["detail"]),
        ("inspector2-scan-ecr", ["detail", "repository-name"]),
        ("inspector2-finding-ecr", ["detail", "resources"]),
        ("scheduled-event", ["time"]),
    ],
)
def test_an_event_missing_what_aws_always_sends_is_malformed(name: str, path: list[Any]) -> None:
    event = fixture(name)
    target: Any = event
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    with pytest.raises(MalformedEvent):
        parse_event(event)


def test_an_inspector_scan_without_an_image_digest_is_an_instance_scan_not_ours() -> None:
    event = fixture("inspector2-scan-ecr")
    del event["detail"]["image-digest"]
    assert isinstance(parse_event(event), Unrecognized)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(raw=json_values)
def test_any_json_is_parsed_ignored_or_malformed_never_a_crash(raw: Any) -> None:
    try:
        parsed = parse_event(raw)
    except MalformedEvent as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    # A random object is never one of AWS's events (it would need their source and type).
    assert isinstance(parsed, Unrecognized)


@settings(max_examples=400, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    data=st.data(),
    value=json_values,
)
def test_a_documented_event_with_any_field_replaced_never_crashes(
    name: str, data: st.DataObject, value: Any
) -> None:
    event = fixture(name)
    paths = list(_paths(event))
    path = data.draw(st.sampled_from(paths))
    _set(event, path, copy.deepcopy(value))
    try:
        parsed = parse_event(event)
    except MalformedEvent as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(
        parsed, ImagePushed | ScanCompleted | FindingChanged | Scheduled | Unrecognized
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[list[Any]]:
    found: list[list[Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append([*prefix, key])
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.append([*prefix, i])
            found.extend(_paths(item, (*prefix, i)))
    return found


def _set(event: Any, path: list[Any], value: Any) -> None:
    target = event
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
