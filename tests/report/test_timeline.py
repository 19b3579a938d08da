"""The timeline builder's rules, pure: ECS deployments, journal transitions, the snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleetpatch.compliance.clock import DigestInterval, DigestTimeline
from fleetpatch.compliance.timeline import (
    RevisionRun,
    Transition,
    apply_journal,
    apply_snapshot,
    clip,
    coalesce,
    ecs_intervals,
)

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_replacing_deployment_ends_the_previous_digest_when_it_finishes() -> None:
    runs = [
        RevisionRun("D4", "SUCCESSFUL", h(100), h(100.2)),
        RevisionRun("D3", "SUCCESSFUL", h(0), h(0.1)),
    ]
    assert ecs_intervals(runs) == [
        DigestInterval("D3", h(0), h(100.2)),
        DigestInterval("D4", h(100), None),
    ]


def test_a_rolled_back_deployment_ran_only_briefly_and_the_old_digest_carries_on() -> None:
    runs = [
        RevisionRun("D3", "SUCCESSFUL", h(0), h(0.1)),
        RevisionRun("BAD", "ROLLBACK_SUCCESSFUL", h(50), h(50.5)),
    ]
    assert ecs_intervals(runs) == [
        DigestInterval("D3", h(0), None),
        DigestInterval("BAD", h(50), h(50.5)),
    ]


def test_an_in_progress_deployment_leaves_both_digests_running() -> None:
    runs = [
        RevisionRun("D3", "SUCCESSFUL", h(0), h(0.1)),
        RevisionRun("D4", "IN_PROGRESS", h(9), None),
    ]
    assert ecs_intervals(runs) == [
        DigestInterval("D3", h(0), None),
        DigestInterval("D4", h(9), None),
    ]


def test_journal_without_ecs_history_still_gives_a_timeline() -> None:
    """A service with no ECS service deployments (deployed before Oct 2024)."""
    result = apply_journal([], [Transition(h(10), h(10.2), "D3", "D4")])
    assert result == [DigestInterval("D3", h(10), h(10.2)), DigestInterval("D4", h(10), None)]


def test_the_later_end_wins_when_sources_disagree() -> None:
    ecs = [DigestInterval("D3", h(0), h(10.1)), DigestInterval("D4", h(10), None)]
    result = apply_journal(ecs, [Transition(h(10), h(10.3), "D3", "D4")])
    assert result == [DigestInterval("D3", h(0), h(10.3)), DigestInterval("D4", h(10), None)]


def test_snapshot_opens_what_runs_and_closes_what_does_not() -> None:
    intervals = [DigestInterval("D3", h(0), None)]
    result = apply_snapshot(intervals, ["D4"], h(20))
    assert result == [DigestInterval("D3", h(0), h(20)), DigestInterval("D4", h(20), None)]


def test_a_fleet_never_touched_runs_since_the_snapshot_at_least() -> None:
    assert apply_snapshot([], ["D3"], h(20)) == [DigestInterval("D3", h(20), None)]


def test_coalesce_merges_overlaps_of_one_digest_only() -> None:
    result = coalesce(
        [
            DigestInterval("D4", h(5), None),
            DigestInterval("D4", h(3), h(6)),
            DigestInterval("D3", h(0), h(4)),
        ]
    )
    assert result == [DigestInterval("D3", h(0), h(4)), DigestInterval("D4", h(3), None)]


def test_clip_reopens_what_ended_later_and_drops_what_started_later() -> None:
    timeline = DigestTimeline(
        "dev",
        "c/s",
        "fluent-bit",
        (DigestInterval("D3", h(0), h(30)), DigestInterval("D4", h(29), None)),
    )
    assert clip(timeline, h(20)).intervals == (DigestInterval("D3", h(0), None),)
