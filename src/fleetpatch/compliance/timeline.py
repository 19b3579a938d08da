"""Which sidecar digest each environment x service ran, and when: the clock's `DigestTimeline`s.

Pure. Three kinds of evidence are combined, each filling the gaps of the others:

1. ECS service deployments (`RevisionRun`, read by `compliance.ecs_history`): exact intervals,
   including deployments fleetpatch never made (a fleet never rolled out by fleetpatch still
   gets a timeline);
2. the journal: a `verified` record says the service ran `digest_after` at that moment (since
   its `deployment_started`) and no longer ran `digest_before`;
3. the snapshot: what runs *now*. It is the ground truth for the present: a digest running now
   gets an open interval, and an interval still open for a digest that no longer runs is
   closed at the snapshot.

Where sources disagree on when a digest stopped, the later moment wins: the evidence never
claims a patch earlier than every source can show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fleetpatch.compliance.clock import DigestInterval, DigestTimeline
from fleetpatch.core.snapshot import Snapshot
from fleetpatch.journal import Entry, EntryKind

# ECS service deployment statuses whose target revision replaced the one before it.
_REPLACING = frozenset({"PENDING", "IN_PROGRESS", "SUCCESSFUL"})
# Journal kinds that prove the service runs `digest_after` and no longer `digest_before`.
_ARRIVED = frozenset({EntryKind.VERIFIED, EntryKind.ROLLBACK_COMPLETED})


@dataclass(frozen=True, slots=True)
class RevisionRun:
    """One ECS service deployment of one service: the sidecar digest its target revision
    resolved, when it was created and when it finished (None: still in progress)."""

    digest: str
    status: str
    created_at: datetime
    finished_at: datetime | None


ServiceKey = tuple[str, str]  # (environment, "cluster/service")


def build_timelines(
    snapshot: Snapshot,
    sidecar: str,
    entries: Iterable[Entry] = (),
    ecs_history: Mapping[ServiceKey, Sequence[RevisionRun]] | None = None,
) -> list[DigestTimeline]:
    """One timeline per environment x service running `sidecar` in the snapshot.

    Services the journal knows but the snapshot no longer has (deleted) are left out: the
    clock is about the fleet as it is; the journal keeps their history.
    """
    journal = _journal_transitions(entries, sidecar)
    history = ecs_history or {}
    timelines: list[DigestTimeline] = []
    for env, service, run in snapshot.runs():
        if run.name != sidecar:
            continue
        key = (env.name, f"{service.cluster}/{service.service}")
        intervals = ecs_intervals(history.get(key, ()))
        intervals = apply_journal(intervals, journal.get(key, ()))
        running = [count.digest for count in run.running]
        intervals = apply_snapshot(intervals, running, snapshot.taken_at)
        timelines.append(DigestTimeline(key[0], key[1], run.repository, tuple(intervals)))
    return timelines


# --- ECS ---------------------------------------------------------------------------------------


def ecs_intervals(runs: Iterable[RevisionRun]) -> list[DigestInterval]:
    """Intervals from a service's deployments, oldest first.

    A deployment that replaced its predecessor ends the previous digest when it finished
    (the last old task stops then); one that was stopped or rolled back ran its digest only
    until it finished, and the previous digest carried on.
    """
    intervals: list[DigestInterval] = []
    current: DigestInterval | None = None
    for run in sorted(runs, key=lambda r: r.created_at):
        if run.status not in _REPLACING:
            intervals.append(DigestInterval(run.digest, run.created_at, run.finished_at))
            continue
        if current is not None:
            intervals.append(DigestInterval(current.digest, current.start, run.finished_at))
        current = DigestInterval(run.digest, run.created_at, None)
    if current is not None:
        intervals.append(current)
    return coalesce(intervals)


# --- journal -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transition:
    """From the journal: at `at`, the service ran `after` (since `since`) and not `before`."""

    since: datetime
    at: datetime
    before: str | None
    after: str


def _journal_transitions(
    entries: Iterable[Entry], sidecar: str
) -> dict[ServiceKey, list[Transition]]:
    started: dict[tuple[ServiceKey, str], datetime] = {}
    transitions: dict[ServiceKey, list[Transition]] = {}
    for entry in sorted(entries, key=lambda e: e.seq):
        if entry.service is None or entry.sidecar not in (None, sidecar):
            continue
        key = (entry.environment, entry.service)
        target = entry.target_digest or entry.digest_after
        if entry.kind is EntryKind.DEPLOYMENT_STARTED and target:
            started.setdefault((key, target), entry.timestamp)
            continue
        if entry.kind not in _ARRIVED or not entry.digest_after:
            continue
        since = started.pop((key, entry.digest_after), entry.timestamp)
        before = entry.digest_before if entry.digest_before != entry.digest_after else None
        transitions.setdefault(key, []).append(
            Transition(since, entry.timestamp, before, entry.digest_after)
        )
    return transitions


def apply_journal(
    intervals: Sequence[DigestInterval], transitions: Iterable[Transition]
) -> list[DigestInterval]:
    """Add what the journal proves to the ECS intervals."""
    result = list(intervals)
    for t in transitions:
        if t.before is not None:
            result = _ended_by(result, t.before, t.since, t.at)
        result.append(DigestInterval(t.after, t.since, None))
    return coalesce(result)


def _ended_by(
    intervals: list[DigestInterval], digest: str, since: datetime, moment: datetime
) -> list[DigestInterval]:
    """`digest` no longer ran at `moment`: close its open interval there (or stretch an
    earlier end to it). Without any interval of it, it ran at least from `since`."""
    mine = [i for i in intervals if i.digest == digest and i.start <= moment]
    if not mine:
        return [*intervals, DigestInterval(digest, since, moment)]
    last = max(mine, key=lambda i: i.start)
    end = moment if last.end is None else max(last.end, moment)
    return [DigestInterval(digest, last.start, end) if i is last else i for i in intervals]


# --- snapshot ----------------------------------------------------------------------------------


def apply_snapshot(
    intervals: Sequence[DigestInterval], running: Sequence[str], taken_at: datetime
) -> list[DigestInterval]:
    """What runs now is open; anything else still open stopped by `taken_at` at the latest."""
    result: list[DigestInterval] = []
    for interval in intervals:
        if interval.end is None and interval.digest not in running:
            result.append(DigestInterval(interval.digest, interval.start, taken_at))
        else:
            result.append(interval)
    for digest in running:
        if not any(i.digest == digest and i.end is None for i in result):
            # Running, but no source says since when: at least since the snapshot.
            result.append(DigestInterval(digest, taken_at, None))
    return coalesce(result)


# --- shared ------------------------------------------------------------------------------------


def coalesce(intervals: Iterable[DigestInterval]) -> list[DigestInterval]:
    """Merge overlapping or touching intervals of the same digest; sorted by start."""
    merged: list[DigestInterval] = []
    for interval in sorted(intervals, key=lambda i: (i.start, i.digest)):
        index = _overlapping(merged, interval)
        if index is None:
            merged.append(interval)
            continue
        other = merged[index]
        end = None if other.end is None or interval.end is None else max(other.end, interval.end)
        merged[index] = DigestInterval(interval.digest, min(other.start, interval.start), end)
    return sorted(merged, key=lambda i: (i.start, i.digest))


def _overlapping(merged: list[DigestInterval], new: DigestInterval) -> int | None:
    for index, interval in enumerate(merged):
        if interval.digest != new.digest:
            continue
        if interval.end is None or interval.end >= new.start:
            return index
    return None


def clip(
    timeline: DigestTimeline, until: datetime, since: datetime | None = None
) -> DigestTimeline:
    """The timeline as known at `until` (later starts dropped, later ends reopened), and,
    with `since`, without intervals that ended before it."""
    intervals = []
    for interval in timeline.intervals:
        if interval.start >= until:
            continue
        end = interval.end if interval.end is not None and interval.end < until else None
        if since is not None and end is not None and end < since:
            continue
        intervals.append(DigestInterval(interval.digest, interval.start, end))
    return DigestTimeline(
        timeline.environment, timeline.service, timeline.repository, tuple(intervals)
    )
