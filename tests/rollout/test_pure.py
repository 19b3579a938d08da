"""Pure pieces of the rollout: the verification verdict and the progress views (the
per-service decision has its own tests: test_decide.py)."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from fleetpatch.cli.progress import LinePrinter, LiveRun, RichProgress
from fleetpatch.rollout.events import Event
from fleetpatch.rollout.plan import ServiceStep
from fleetpatch.rollout.verify import Check, judge

OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64
STEP = ServiceStep("main", "api", "log_router", "x/fluent-bit:latest", "tag", "api:1", OLD, 2)


def service(*deployments: dict[str, Any]) -> dict[str, Any]:
    return {"serviceName": "api", "deployments": list(deployments), "events": []}


def dep(id_: str, status: str = "PRIMARY", state: str = "COMPLETED", **more: Any) -> dict[str, Any]:
    return {"id": id_, "status": status, "rolloutState": state, **more}


def task(digest: str | None, status: str = "RUNNING") -> dict[str, Any]:
    containers = [{"name": "app", "imageDigest": "sha256:" + "f" * 64}]
    containers.append({"name": "log_router", **({"imageDigest": digest} if digest else {})})
    return {"taskArn": "arn:aws:ecs:::task/main/t1", "lastStatus": status, "containers": containers}


def revision(digest: str) -> dict[str, Any]:
    return {"containerImages": [{"containerName": "log_router", "imageDigest": digest}]}


def test_judge() -> None:
    check = Check("main/api", "log_router", NEW, desired_count=2)
    assert judge(check, [task(NEW), task(NEW)], revision(NEW)).ok
    assert judge(check, [task(NEW), task(None, "PENDING")], revision(NEW)).ok
    mixed = judge(check, [task(NEW), task(OLD)], revision(NEW))
    assert not mixed.ok and "runs sha256:aaaaaaaaaaaa" in mixed.reason
    other = judge(check, [task(OLD), task(OLD)], revision(OLD))
    assert not other.ok and "completed on sha256:aaaaaaaaaaaa" in other.reason
    assert not judge(check, [], None).ok
    assert judge(Check("main/api", "log_router", NEW, desired_count=0), [], None).ok


def test_progress_views_render_events() -> None:
    events = [
        Event(
            "plan", {"waves": [{"wave": 1, "canary": True, "services": [{"service": "main/api"}]}]}
        ),
        Event("wave_started", {"wave": 1, "canary": True, "services": ["main/api"]}),
        Event(
            "deployment_started", {"service": "main/api", "deployment_id": "d2", "adopted": False}
        ),
        Event("deployment_progress", {"service": "main/api", "running": 1, "desired": 2}),
        Event("failed", {"service": "main/api", "reason": "circuit breaker"}),
        Event("halted", {"reason": "wave 1: 1 service(s) failed"}),
        Event("finished", {"verified": 0, "failed": 1, "skipped": 0}),
    ]
    live_out = io.StringIO()
    with RichProgress(Console(file=live_out, force_terminal=True, width=100)) as view:
        for event in events:
            view.emit(event)
    assert "main/api" in live_out.getvalue() and "HALTED" in live_out.getvalue()
    assert "None" not in live_out.getvalue(), "run-wide events (waves, finish) get no row"
    plain = io.StringIO()
    printer = LinePrinter(Console(file=plain, width=100))
    for event in events:
        printer.emit(event)
    assert "main/api: FAILED, circuit breaker" in plain.getvalue()


def test_live_run_shows_only_the_rollout_and_stops_at_its_end() -> None:
    out = io.StringIO()
    live = LiveRun(Console(file=out, force_terminal=True, width=100))
    with live:
        # Before the rollout runs (pre-flight, the confirmation prompt): no table yet.
        live.emit(Event("preflight", {"checks": []}))
        assert not live.running and out.getvalue() == ""
        live.emit(
            Event(
                "plan",
                {"waves": [{"wave": 1, "canary": True, "services": [{"service": "main/api"}]}]},
            )
        )
        assert live.running
        live.emit(Event("verified", {"service": "main/api", "digest": NEW, "tasks": 2}))
        live.emit(Event("finished", {"verified": 1, "failed": 0, "skipped": 0}))
        # Stopped: what the command prints next lands below the table.
        assert not live.running
    assert "main/api" in out.getvalue() and "verified" in out.getvalue()
