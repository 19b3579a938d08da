"""The patch clock's edge cases (issue 5) and fix availability, on hand-built inputs.

The story: fluent-bit image OLD has CVE-A (critical); image FIX, pushed 2026-11-20, does not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.compliance import (
    DigestInterval,
    DigestTimeline,
    Finding,
    ImageFindings,
    ImagePush,
    PatchPolicy,
    Severity,
    Status,
    fix_availability,
    format_deadlines,
    nearest_deadlines,
    patch_clock,
)
from fleetpatch.compliance.clock import ClockEntry

REPO = "fluent-bit"
OLD, FIX, OLDER, NEW = "sha256:old", "sha256:fix", "sha256:older", "sha256:new"
PUBLISHED = datetime(2026, 10, 1, tzinfo=UTC)
FIX_PUSHED = datetime(2026, 11, 20, 6, 30, tzinfo=UTC)
TODAY = date(2026, 11, 27)


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def finding(
    vid: str = "CVE-A",
    severity: Severity = Severity.CRITICAL,
    published: datetime | None = PUBLISHED,
) -> Finding:
    return Finding(vid, severity, "fluent-bit", "3.0.3", "3.0.4", published, "test")


def scans(**by_digest: list[Finding]) -> dict[str, ImageFindings]:
    return {
        f"sha256:{name}": ImageFindings(f"sha256:{name}", REPO, tuple(found), None, "test")
        for name, found in by_digest.items()
    }


def timeline(service: str, *intervals: tuple[str, datetime, datetime | None], env: str = "prod"):
    return DigestTimeline(env, service, REPO, tuple(DigestInterval(*i) for i in intervals))


def clock(
    *timelines: DigestTimeline,
    published: datetime | None = PUBLISHED,
    today: date = TODAY,
    policy: PatchPolicy | None = None,
    fix_pushed: datetime | None = FIX_PUSHED,
) -> list[ClockEntry]:
    findings = scans(old=[finding(published=published)], fix=[])
    pushes = [ImagePush(REPO, OLD, at("2026-10-16"))]
    if fix_pushed is not None:
        pushes.append(ImagePush(REPO, FIX, fix_pushed))
    fixes = fix_availability(pushes, findings)
    return patch_clock(timelines, findings, fixes, policy or PatchPolicy(), today)


def running_old(service: str = "payment-api", env: str = "prod") -> DigestTimeline:
    return timeline(service, (OLD, at("2026-11-02"), None), env=env)


def patched(day: datetime, service: str = "payment-api", env: str = "prod") -> DigestTimeline:
    return timeline(service, (OLD, at("2026-11-02"), day), (FIX, day, None), env=env)


# --- open clocks ----------------------------------------------------------------------------


def test_a_service_still_running_the_vulnerable_digest_is_due() -> None:
    (entry,) = clock(running_old())
    assert entry.status is Status.DUE
    assert entry.fix is not None and entry.fix.digest == FIX
    assert (entry.start, entry.deadline) == (date(2026, 11, 20), date(2026, 12, 20))
    assert entry.days_left == 23
    assert entry.digests == (OLD,)


def test_due_today_is_still_due_and_the_day_after_is_overdue() -> None:
    (today,) = clock(running_old(), today=date(2026, 12, 20))
    assert (today.status, today.days_left) == (Status.DUE, 0)
    (late,) = clock(running_old(), today=date(2026, 12, 21))
    assert (late.status, late.days_left) == (Status.OVERDUE, -1)


def test_fix_before_the_finding_was_published_starts_the_clock_at_publication() -> None:
    published = datetime(2026, 11, 25, 15, tzinfo=UTC)
    (entry,) = clock(running_old(), published=published)
    assert entry.fix is not None and entry.fix.since == date(2026, 11, 20)
    assert (entry.start, entry.deadline) == (date(2026, 11, 25), date(2026, 12, 25))


def test_a_finding_without_a_published_date_starts_at_the_fix() -> None:
    (entry,) = clock(running_old(), published=None)
    assert entry.start == date(2026, 11, 20)


def test_no_fixing_image_means_not_fixable_and_no_deadline() -> None:
    (entry,) = clock(running_old(), fix_pushed=None)
    assert entry.status is Status.NOT_FIXABLE
    assert (entry.fix, entry.start, entry.deadline, entry.days_left) == (None, None, None, None)


# --- patched --------------------------------------------------------------------------------


def test_same_day_patch_took_zero_days() -> None:
    (entry,) = clock(patched(at("2026-11-20", hour=10)))
    assert entry.status is Status.COMPLIANT
    assert (entry.patched_on, entry.days_taken, entry.on_time) == (date(2026, 11, 20), 0, True)


def test_patched_exactly_on_the_deadline_is_on_time() -> None:
    (entry,) = clock(patched(at("2026-12-20", hour=23)), today=date(2027, 1, 5))
    assert (entry.status, entry.days_taken, entry.on_time) == (Status.COMPLIANT, 30, True)


def test_patched_one_day_late_is_compliant_now_but_late() -> None:
    (entry,) = clock(patched(at("2026-12-21", hour=0)), today=date(2027, 1, 5))
    assert (entry.status, entry.days_taken, entry.on_time) == (Status.COMPLIANT, 31, False)


def test_a_rollback_to_the_vulnerable_digest_reopens_the_clock() -> None:
    back = timeline(
        "payment-api",
        (OLD, at("2026-11-02"), at("2026-11-21")),
        (FIX, at("2026-11-21"), at("2026-11-22")),
        (OLD, at("2026-11-22"), None),
    )
    (entry,) = clock(back)
    assert entry.status is Status.DUE and entry.patched_on is None


def test_overlapping_tasks_during_a_deployment_patch_when_the_last_old_task_stops() -> None:
    rolling = timeline(
        "payment-api",
        (OLD, at("2026-11-02"), at("2026-11-23", hour=1)),
        (FIX, at("2026-11-22", hour=23), None),
    )
    (entry,) = clock(rolling)
    assert entry.patched_on == date(2026, 11, 23)


# --- who is listed --------------------------------------------------------------------------


def test_fixed_in_one_environment_but_not_another() -> None:
    entries = clock(patched(at("2026-11-21"), env="dev"), running_old(env="prod"))
    status = {e.environment: e.status for e in entries}
    assert status == {"dev": Status.COMPLIANT, "prod": Status.DUE}


def test_a_service_that_never_ran_the_vulnerable_digest_is_not_listed() -> None:
    assert clock(timeline("admin-web", (FIX, at("2026-11-21"), None))) == []


def test_a_service_that_left_the_vulnerable_digest_before_the_clock_started_is_not_listed() -> None:
    early = timeline(
        "admin-web", (OLD, at("2026-11-02"), at("2026-11-10")), (NEW, at("2026-11-10"), None)
    )
    assert clock(early) == []


def test_a_service_no_longer_running_an_unfixable_finding_is_not_listed() -> None:
    assert clock(patched(at("2026-11-21")), fix_pushed=None) == []


def test_only_the_policy_severities_are_clocked() -> None:
    findings = scans(
        old=[finding("CVE-H", Severity.HIGH), finding("CVE-M", Severity.MEDIUM)], fix=[]
    )
    pushes = [ImagePush(REPO, OLD, at("2026-10-16")), ImagePush(REPO, FIX, FIX_PUSHED)]
    fixes = fix_availability(pushes, findings)
    assert patch_clock([running_old()], findings, fixes, PatchPolicy(), TODAY) == []
    policy = PatchPolicy({Severity.CRITICAL: 30, Severity.HIGH: 90})
    (high,) = patch_clock([running_old()], findings, fixes, policy, TODAY)
    assert (high.vulnerability_id, high.deadline) == ("CVE-H", date(2027, 2, 18))


def test_policy_from_a_lookup_by_label() -> None:
    policy = PatchPolicy.for_severities(
        [Severity.CRITICAL, Severity.HIGH], {"critical": 30, "high": 60}.__getitem__
    )
    assert policy.deadline_days == {Severity.CRITICAL: 30, Severity.HIGH: 60}


# --- fix availability -----------------------------------------------------------------------


def test_an_image_older_than_the_vulnerability_is_not_its_fix() -> None:
    findings = scans(older=[], old=[finding()], fix=[])
    pushes = [
        ImagePush(REPO, OLDER, at("2026-09-01")),
        ImagePush(REPO, FIX, FIX_PUSHED),
        ImagePush(REPO, OLD, at("2026-10-16")),
    ]
    fix = fix_availability(pushes, findings)[REPO]["CVE-A"]
    assert (fix.digest, fix.since) == (FIX, date(2026, 11, 20))


def test_an_unscanned_image_is_not_a_fix() -> None:
    findings = scans(old=[finding()], fix=[])
    findings[NEW] = ImageFindings(NEW, REPO, (), None, "ecr", unavailable="scan in progress")
    pushes = [
        ImagePush(REPO, OLD, at("2026-10-16")),
        ImagePush(REPO, NEW, at("2026-11-01")),
        ImagePush(REPO, FIX, FIX_PUSHED),
    ]
    assert fix_availability(pushes, findings)[REPO]["CVE-A"].digest == FIX


def test_a_later_regression_keeps_the_first_fix() -> None:
    findings = scans(old=[finding()], fix=[], new=[finding()])
    pushes = [
        ImagePush(REPO, OLD, at("2026-10-16")),
        ImagePush(REPO, FIX, FIX_PUSHED),
        ImagePush(REPO, NEW, at("2026-11-25")),
    ]
    assert fix_availability(pushes, findings)[REPO]["CVE-A"].digest == FIX


def test_a_recorded_date_replaces_the_computed_one_and_makes_a_finding_fixable() -> None:
    findings = scans(old=[finding()])
    pushes = [ImagePush(REPO, OLD, at("2026-10-16"))]
    fix = fix_availability(pushes, findings, {"CVE-A": date(2026, 11, 5)})[REPO]["CVE-A"]
    assert (fix.since, fix.digest, fix.recorded) == (date(2026, 11, 5), None, True)


def test_push_days_are_utc_days() -> None:
    from datetime import timezone

    tokyo = timezone(timedelta(hours=9))
    findings = scans(old=[finding()], fix=[])
    pushes = [
        ImagePush(REPO, OLD, at("2026-10-16")),
        ImagePush(REPO, FIX, datetime(2026, 11, 21, 8, tzinfo=tokyo)),  # 2026-11-20 23:00 UTC
    ]
    assert fix_availability(pushes, findings)[REPO]["CVE-A"].since == date(2026, 11, 20)


# --- what `fleetpatch status` prints --------------------------------------------------------

SERVICES = [f"service-{n:02d}" for n in range(12)]


def test_the_status_line_of_the_issue() -> None:
    entries = clock(*(running_old(s) for s in SERVICES))
    assert format_deadlines(entries, TODAY) == [
        "prod: 12 services run a digest with CVE-A (critical); "
        "fix available since 2026-11-20; due 2026-12-20 (23 days)"
    ]


def test_nearest_deadline_first_overdue_leads_unfixable_last() -> None:
    findings = scans(
        c=[finding("CVE-C")],
        old=[finding("CVE-A"), finding("CVE-B", published=at("2026-11-24")), finding("CVE-X")],
        fix=[finding("CVE-X")],
    )
    pushes = [
        ImagePush(REPO, "sha256:c", at("2026-09-01")),
        ImagePush(REPO, OLD, at("2026-10-16")),
        ImagePush(REPO, FIX, FIX_PUSHED),
    ]
    # The user records when CVE-C's fix was released.
    fixes = fix_availability(pushes, findings, {"CVE-C": date(2026, 10, 1)})
    timelines = [
        running_old("api", env="prod"),
        running_old("api", env="dev"),
        patched(at("2026-11-21"), "web", env="prod"),  # FIX still has CVE-X
        timeline("job", ("sha256:c", at("2026-11-02"), None), env="stg"),
    ]
    entries = patch_clock(timelines, findings, fixes, PatchPolicy(), TODAY)
    assert format_deadlines(entries, TODAY) == [
        "stg: 1 service runs a digest with CVE-C (critical); fix available since 2026-10-01 "
        "(recorded); was due 2026-10-31 (overdue by 27 days)",
        "dev: 1 service runs a digest with CVE-A (critical); fix available since 2026-11-20; "
        "due 2026-12-20 (23 days)",
        "prod: 1 service runs a digest with CVE-A (critical); fix available since 2026-11-20; "
        "due 2026-12-20 (23 days)",
        "dev: 1 service runs a digest with CVE-B (critical); fix available since 2026-11-20, "
        "published 2026-11-24; due 2026-12-24 (27 days)",
        "prod: 1 service runs a digest with CVE-B (critical); fix available since 2026-11-20, "
        "published 2026-11-24; due 2026-12-24 (27 days)",
        "dev: 1 service runs a digest with CVE-X (critical); no fix available yet",
        "prod: 2 services run a digest with CVE-X (critical); no fix available yet",
    ]
    first = nearest_deadlines(entries, TODAY)[0]
    assert (first.environment, first.services, first.days_left) == ("stg", ("job",), -27)


# --- a property: on time <=> patched within the policy's days -------------------------------


@given(
    published_offset=st.integers(min_value=-60, max_value=60),
    patch_offset=st.integers(min_value=0, max_value=120),
    days=st.integers(min_value=1, max_value=90),
)
def test_on_time_means_within_the_policy_days(
    published_offset: int, patch_offset: int, days: int
) -> None:
    published = FIX_PUSHED + timedelta(days=published_offset)
    start = max(FIX_PUSHED, published).date()
    patch = datetime.combine(start, datetime.min.time(), UTC) + timedelta(days=patch_offset)
    policy = PatchPolicy({Severity.CRITICAL: days})
    (entry,) = clock(patched(patch), published=published, policy=policy, today=date(2028, 1, 1))
    assert entry.start == start
    assert entry.days_taken == patch_offset
    assert entry.on_time is (patch_offset <= days)
