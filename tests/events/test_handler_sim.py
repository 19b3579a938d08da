"""The events handler end to end (issue 11, deliverable 3): EventBridge events in AWS's
documented shapes, the fleet on the simulator over HTTP, the rollout state machine in the
simulator's Step Functions (executions asserted through ListExecutions/DescribeExecution,
never run), Slack a fake Web API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from fleetpatch.events.decide import rollout_id
from fleetpatch.journal import SqliteJournal
from fleetpatch.sim import Simulator
from fleetpatch.slack.blocks import APPROVE
from tests.events.helpers import (
    ACCOUNT,
    CHANNEL,
    capture,
    digest_of,
    ecr_scan_event,
    event_lines,
    finding_event,
    inspector_scan_event,
    push_event,
    running,
    scenario,
    scheduled_event,
    write_config,
)
from tests.rollout.helpers import run_rollout
from tests.slack.slack_app import posted, running_app, texts


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(scenario()) as simulator:
        yield simulator


def test_a_push_of_the_moving_tag_starts_dev_and_stg_once_and_asks_prod_for_approval(
    sim: Simulator, tmp_path: Path
) -> None:
    config = write_config(sim, tmp_path)
    digest = digest_of(sim, "latest")
    with running(sim, config) as handler:
        handler(push_event(digest))
        handler(push_event(digest))  # EventBridge delivers at least once

        executions = handler.executions()
        assert sorted(executions) == sorted([rollout_id("dev", digest), rollout_id("stg", digest)])
        dev = executions[rollout_id("dev", digest)]
        assert dev == {
            "rollout_id": rollout_id("dev", digest),
            "environment": "dev",
            "sidecar": "fluent-bit",
            "digest": digest,
            "tag": "latest",
            "actor": "eventbridge:ecr-push",
            "source": "ecr-push",
            "request_id": None,
        }
        assert executions[rollout_id("stg", digest)]["environment"] == "stg"
        # prod needs an approval: one request, posted once with the Approve / Reject buttons.
        posts = handler.posts()
        assert len(posts) == 1 and posts[0]["channel"] == CHANNEL
        shown = texts(posts[0]["blocks"])
        assert "Rollout prod" in shown and "Approve" in shown
    with SqliteJournal(tmp_path / "journal.sqlite") as journal:
        requests = [e for e in journal.entries(environment="prod") if e.kind.value == "request"]
    assert len(requests) == 1 and requests[0].target_digest == digest


def test_another_repository_or_tag_is_ignored_with_one_log_line(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    capture(caplog)
    config = write_config(sim, tmp_path)
    digest = digest_of(sim, "latest")
    with running(sim, config) as handler:
        for event in (
            push_event(digest, repository="payments-api"),
            push_event(digest, "1.1-bbbbbbb"),
        ):
            caplog.clear()
            answer = handler(event)
            assert answer["outcome"] == "ignored"
            lines = event_lines(caplog)
            assert len(lines) == 1 and "ignored" in lines[0]
        assert "payments-api" in answer["reason"] or "1.1-bbbbbbb" in answer["reason"]
        assert handler.executions() == {} and handler.posts() == []


def test_a_malformed_event_is_logged_once_and_dropped_not_raised(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    capture(caplog)
    config = write_config(sim, tmp_path)
    digest = digest_of(sim, "latest")
    broken = push_event(digest)
    del broken["detail"]["repository-name"]
    with running(sim, config) as handler:
        for event in (broken, ["not", "an", "event"], {**push_event(digest), "detail": "PUSH"}):
            caplog.clear()
            answer = handler(event)  # returns: Lambda's async retries would never succeed
            assert answer["outcome"] == "dropped"
            lines = event_lines(caplog)
            assert len(lines) == 1 and lines[0].startswith("dropped malformed event")
        assert handler.executions() == {}


def test_wait_for_scan_holds_the_push_until_a_clean_scan(sim: Simulator, tmp_path: Path) -> None:
    config = write_config(sim, tmp_path, wait_for_scan=True)
    digest = digest_of(sim, "latest")
    with running(sim, config) as handler:
        answer = handler(push_event(digest))
        assert handler.executions() == {}
        assert any("waits for the scan" in line for line in answer["actions"])

        handler(ecr_scan_event(digest))

        assert sorted(handler.executions()) == sorted(
            [rollout_id("dev", digest), rollout_id("stg", digest)]
        )
        assert {e["source"] for e in handler.executions().values()} == {"ecr-scan"}


def test_an_inspector_scan_without_criticals_starts_what_waited_for_it(
    sim: Simulator, tmp_path: Path
) -> None:
    config = write_config(sim, tmp_path, wait_for_scan=True)
    digest = digest_of(sim, "latest")
    with running(sim, config) as handler:
        handler(push_event(digest))
        handler(inspector_scan_event(digest))
        handler(inspector_scan_event(digest))  # redelivered

        executions = handler.executions()
        assert sorted(executions) == sorted([rollout_id("dev", digest), rollout_id("stg", digest)])
        assert {e["actor"] for e in executions.values()} == {"eventbridge:inspector-scan"}


def test_a_scan_with_a_new_critical_finding_starts_nothing_and_says_why(tmp_path: Path) -> None:
    new = {"id": "CVE-2026-0001", "severity": "critical", "package": "zlib", "installed": "1.3"}
    with Simulator(scenario(new_image_findings=[new])) as sim:
        config = write_config(sim, tmp_path, wait_for_scan=True)
        digest = digest_of(sim, "latest")
        with running(sim, config) as handler:
            handler(push_event(digest))
            answer = handler(ecr_scan_event(digest, critical=1))

            assert handler.executions() == {}
            posts = handler.posts()
            assert len(posts) == 1 and "CVE-2026-0001" in texts(posts[0]["blocks"])
            # The critical the running 1.0 already has is not "new": only CVE-2026-0001 is.
            assert "CVE-2024-4323" not in texts(posts[0]["blocks"])
            skipped = [line for line in answer["actions"] if ": not started: the scan of" in line]
            assert [line.split(":")[0] for line in skipped] == ["dev", "stg", "prod"]


def test_a_finding_in_a_running_digest_posts_the_services_and_the_deadline(
    sim: Simulator, tmp_path: Path
) -> None:
    config = write_config(sim, tmp_path)
    running_digest = digest_of(sim, "1.0-aaaaaaa")
    with running(sim, config) as handler:
        answer = handler(finding_event(running_digest, "CVE-2024-4323"))

        assert handler.executions() == {}
        posts = handler.posts()
        assert len(posts) == 3  # one per environment running it
        dev = next(p for p in posts if "dev:" in p["text"])
        shown = texts(dev["blocks"])
        assert "dev/api" in shown and "dev/worker" in shown and "prod/api" not in shown
        # The patch clock: fix available since 1.1's push (2026-11-25), 30 days for critical.
        assert "due 2026-12-25 (28 days)" in shown
        assert len(answer["actions"]) == 3


def test_the_schedule_starts_a_gated_environment_once_its_proof_is_met(
    sim: Simulator, tmp_path: Path
) -> None:
    config = write_config(sim, tmp_path, stg_requires=("dev",), prod_requires=("stg",))
    digest = digest_of(sim, "latest")
    with running(sim, config) as handler:
        handler(push_event(digest))
        assert sorted(handler.executions()) == [rollout_id("dev", digest)]  # stg waits for dev

        answer = handler(scheduled_event())
        assert sorted(handler.executions()) == [rollout_id("dev", digest)]
        assert any(
            line.startswith("stg: not started: waits for its requires")
            for line in answer["actions"]
        )

        # dev's rollout runs (the workflow's steps would; here the engine, as the CLI runs it)
        # and soaks: now dev proves the digest.
        with SqliteJournal(tmp_path / "journal.sqlite", clock=sim.clock.now) as journal:
            result, _ = run_rollout(sim, config, journal, environment="dev")
        assert result.ok
        sim.advance(config.policy.soak_minutes * 60 + 60)

        handler(scheduled_event())
        handler(scheduled_event())  # every hour: still one execution

        assert sorted(handler.executions()) == sorted(
            [rollout_id("dev", digest), rollout_id("stg", digest)]
        )
        assert handler.executions()[rollout_id("stg", digest)]["source"] == "schedule"
        assert handler.posts() == []  # prod requires stg, which has proven nothing yet

        # stg proves it too: prod, which needs approval, is asked once, never started.
        with SqliteJournal(tmp_path / "journal.sqlite", clock=sim.clock.now) as journal:
            result, _ = run_rollout(sim, config, journal, environment="stg")
        assert result.ok
        sim.advance(config.policy.soak_minutes * 60 + 60)
        handler(scheduled_event())
        handler(scheduled_event())

        assert rollout_id("prod", digest) not in handler.executions()
        posts = handler.posts()
        assert len(posts) == 1 and "Rollout prod" in texts(posts[0]["blocks"])


def test_an_aws_error_while_starting_is_raised_for_lambda_to_retry(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    capture(caplog)
    config = write_config(sim, tmp_path)
    digest = digest_of(sim, "latest")
    with running(sim, config) as handler:
        right = handler.arn
        handler.arn = right.replace("fleetpatch-rollout", "deleted-rollout")
        with pytest.raises(ClientError) as raised:
            handler(push_event(digest))
        assert raised.value.response["Error"]["Code"] == "StateMachineDoesNotExist"
        errors = [
            r for r in caplog.records if r.name == "fleetpatch.events" and r.levelname == "ERROR"
        ]
        assert len(errors) == 1 and "Lambda retries it" in errors[0].getMessage()

        handler.arn = right  # fixed: Lambda's retry of the same event starts what it should
        handler(push_event(digest))
        assert sorted(handler.executions()) == sorted(
            [rollout_id("dev", digest), rollout_id("stg", digest)]
        )


def test_an_approved_automatic_request_runs_as_the_automation_that_asked(
    tmp_path: Path,
) -> None:
    # prod lets only the automation's role ask; secops approves in Slack. The run that the
    # approval starts is the automation's (its IAM identity asked), not a Slack user's.
    with Simulator(scenario(), time_scale=600) as sim:
        role = f"arn:aws:iam::{ACCOUNT}:role/{sim.scenario.role_name}"
        config = write_config(sim, tmp_path, prod_requesters=(role,))
        digest = digest_of(sim, "latest")
        with running(sim, config) as handler:
            handler.slack.user_groups["S0SECOPS"] = ["U0BOB"]
            handler(push_event(digest))
            [asked] = [posted(c) for c in handler.slack.calls("chat.postMessage")]
            with running_app(config, handler.slack, sim) as app:
                assert app.click(asked, "U0BOB", APPROVE).status == 200
                handler.slack.wait_for("files.completeUploadExternal", timeout=120)
    with SqliteJournal(tmp_path / "journal.sqlite") as journal:
        prod = journal.entries(environment="prod")
    started = [e for e in prod if e.kind.value == "request_started"]
    verified = sorted(e.service or "" for e in prod if e.kind.value == "verified")
    assert len(started) == 1 and started[0].actor.startswith("iam:arn:aws:sts::")
    assert verified == ["prod/api", "prod/worker"]
    assert not [e for e in prod if e.kind.value == "refused"]
