"""What fleetpatch could not patch is in every report format, as open and outside its
evidence: on the talk's fleet, dev's canary is mid-release by its own team (a task definition
still on the vulnerable 3.0.3) when `rollout` runs, so the run skips it; prod's
reporting-batch is being deleted (DRAINING), so fleetpatch may not deploy it at all."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetpatch.config import Config, load_config
from fleetpatch.journal import Entry, EntryKind, SqliteJournal
from fleetpatch.report.common import NOT_PATCHED_NOTE
from fleetpatch.report.model import Report
from fleetpatch.report.not_patched import not_patched
from fleetpatch.report.write import make_report, write_report
from fleetpatch.rollout.plan import ServiceStep
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from tests.conftest import TALK_NOW, TALK_SCENARIO
from tests.report.helpers import CLUSTER, config_with_journal, digests
from tests.report.test_html_chromium import CHROMIUM, chromium
from tests.rollout.helpers import make_plan, run_rollout

DRAINING = "service is DRAINING (being deleted): nothing to patch"


@dataclass(frozen=True)
class Fleet:
    config: Config
    tmp: Path
    busy: str  # dev's service with someone else's deployment in progress
    report: Report
    files: dict[str, Path]


def their_release_on_the_old_sidecar(sim: Simulator, canary: ServiceStep) -> None:
    """The canary's team deploys its own revision, pinned to 3.0.3, after the plan was made."""
    ecs = client(sim, "ecs", "dev")
    current = ecs.describe_task_definition(taskDefinition=canary.task_definition)
    containers = current["taskDefinition"]["containerDefinitions"]
    old = canary.image.rsplit(":", 1)[0] + "@" + digests(sim)["3.0.3"]
    for container in containers:
        if container["name"] == canary.container:
            container["image"] = old
    revision = ecs.register_task_definition(
        family=current["taskDefinition"]["family"], containerDefinitions=containers
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=canary.cluster, service=canary.service, taskDefinition=revision)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("not-patched")
    with Simulator(TALK_SCENARIO, time_scale=0, now=TALK_NOW) as sim:
        config = load_config(config_with_journal(sim, tmp))
        the_plan = make_plan(config)
        canary = the_plan.waves[0].services[0]
        their_release_on_the_old_sidecar(sim, canary)
        busy = canary.key
        assert config.journal is not None
        with SqliteJournal(config.journal, clock=sim.clock.now) as journal:
            result, _ = run_rollout(sim, config, journal, the_plan=the_plan)
        assert [r.key for r in result.with_status("skipped")] == [busy]
        assert len(result.with_status("verified")) == 11
        prod = client(sim, "ecs", "prod")
        prod.delete_service(cluster=CLUSTER, service="reporting-batch", force=True)
        today, now = sim.clock.now().date(), sim.clock.now()
        report = make_report(config, "2026-11", today=today, now=now)
        files = {
            fmt: write_report(config, "2026-11", fmt, tmp / f"report.{fmt}", today=today, now=now)
            for fmt in ("md", "csv", "json", "html")
        }
        yield Fleet(config, tmp, busy, report, files)


def test_the_model_lists_each_with_its_reason_and_status(fleet: Fleet) -> None:
    dev, stg, prod = fleet.report.environments
    (skipped,) = dev.not_patched
    assert skipped.service == fleet.busy
    assert skipped.reason.startswith("deployment ecs-svc/")
    assert "in progress since 2026-11-27 09:00 UTC, not started by fleetpatch" in skipped.reason
    # Their release finished on 3.0.3: still vulnerable, its clock still runs.
    assert skipped.running == ("3.0.3-4b9c0d1",) and skipped.status == "due"
    assert skipped.journal_seq is not None and skipped.skipped_at is not None
    assert stg.not_patched == ()
    (draining,) = prod.not_patched
    assert (draining.service, draining.reason) == (f"{CLUSTER}/reporting-batch", DRAINING)
    assert draining.journal_seq is None  # seen in the fleet, no run met it


def test_the_run_journaled_the_skip(fleet: Fleet) -> None:
    assert fleet.config.journal is not None
    with SqliteJournal(fleet.config.journal) as journal:
        (entry,) = [e for e in journal.entries() if e.kind is EntryKind.SKIPPED]
    assert entry.service == fleet.busy and "not started by fleetpatch" in entry.details["reason"]


def test_markdown_says_they_are_open_and_outside_the_evidence(fleet: Fleet) -> None:
    text = fleet.files["md"].read_text()
    dev = text.split("## dev ")[1].split("## stg ")[0]
    assert "### Not patched by fleetpatch (1)" in dev
    assert NOT_PATCHED_NOTE in dev
    section = dev.split("### Not patched by fleetpatch")[1].split("### ")[0]
    (row,) = [line for line in section.splitlines() if line.startswith(f"| {fleet.busy} | 3.0.3")]
    assert "| OPEN: runs a vulnerable digest, due |" in row
    assert "not started by fleetpatch; run again when it finishes" in row
    assert "skipped by a run at 2026-11-27 09:00 UTC (journal #" in row
    prod = text.split("## prod ")[1]
    assert f"| {CLUSTER}/reporting-batch | - |" in prod and DRAINING in prod
    assert "Not patched by fleetpatch" not in text.split("## stg ")[1].split("## prod ")[0]


def test_csv_names_the_reason_on_every_row_of_the_service(fleet: Fleet) -> None:
    rows = list(csv.DictReader(io.StringIO(fleet.files["csv"].read_text())))
    marked = {(r["environment"], r["service"]): r["not_patched"] for r in rows if r["not_patched"]}
    assert set(marked) == {("dev", fleet.busy), ("prod", f"{CLUSTER}/reporting-batch")}
    assert marked[("prod", f"{CLUSTER}/reporting-batch")] == DRAINING
    busy = next(r for r in rows if (r["environment"], r["service"]) == ("dev", fleet.busy))
    assert (busy["status"], busy["deployed_at"]) == ("due", "")


def test_json_has_them_per_environment(fleet: Fleet) -> None:
    data = json.loads(fleet.files["json"].read_text())
    dev, stg, prod = data["environments"]
    (skipped,) = dev["not_patched"]
    assert skipped["service"] == fleet.busy and skipped["status"] == "due"
    assert skipped["running"] == ["3.0.3-4b9c0d1"] and skipped["skipped_at"].startswith("2026-")
    assert stg["not_patched"] == []
    assert [(p["service"], p["reason"]) for p in prod["not_patched"]] == [
        (f"{CLUSTER}/reporting-batch", DRAINING)
    ]


def test_html_shows_the_table_and_counts(fleet: Fleet) -> None:
    html = fleet.files["html"].read_text()
    assert html.count('<tr class="not-patched">') == 2
    assert html.count('<table class="not-patched">') == 2
    assert "OPEN: runs a vulnerable digest, due" in html
    assert "<th>not patched by fleetpatch</th>" in html


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed")
def test_html_renders_them_in_chromium(fleet: Fleet, tmp_path: Path) -> None:
    result = chromium(tmp_path, "--dump-dom", fleet.files["html"].as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count('<tr class="not-patched">') == 2
    assert "Not patched by fleetpatch (1)" in result.stdout


def _entry(seq: int, kind: EntryKind, service: str, **details: str) -> Entry:
    return Entry(
        kind=kind,
        environment="dev",
        service=service,
        details=dict(details),
        seq=seq,
        timestamp=datetime(2026, 11, 27, 9, seq, tzinfo=UTC),
        prev_hash="0" * 64,
        hash="0" * 64,
    )


def test_a_skip_stands_until_a_later_verification_and_the_fleets_reason_wins() -> None:
    from dataclasses import replace

    from tests.rollout.test_plan import service, snapshot

    fleet = snapshot(replace(service("payments"), controller="CODE_DEPLOY"), service("api"))
    entries = [
        _entry(1, EntryKind.SKIPPED, "main/api", reason="deployment d1 in progress"),
        _entry(2, EntryKind.SKIPPED, "main/web", reason="deployment d2 in progress"),
        _entry(3, EntryKind.VERIFIED, "main/web"),
        _entry(4, EntryKind.SKIPPED, "main/payments", reason="what the run said"),
        _entry(40, EntryKind.SKIPPED, "main/late", reason="after the report's day"),
    ]
    until = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    found = not_patched(fleet, "fluent-bit", "dev", entries, (), until)
    assert [(p.service, p.journal_seq, p.status) for p in found] == [
        ("main/api", 1, "unknown"),
        ("main/payments", 4, "unknown"),
    ]
    assert found[0].reason == "deployment d1 in progress"
    assert found[1].reason.startswith("deployment controller CODE_DEPLOY:")
