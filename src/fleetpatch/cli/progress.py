"""How a rollout looks to a person: a live Rich table in a terminal, plain lines elsewhere.

Both are `EventSink`s fed by the executor (fleetpatch.rollout.events); `--json` uses
`JsonLinesSink` instead.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from fleetpatch.core.images import short_digest
from fleetpatch.rollout.events import Event

_STYLES = {
    "waiting": "dim",
    "deploying": "yellow",
    "verified": "green",
    "skipped": "cyan",
    "failed": "bold red",
}


class RichProgress:
    """A live table of every service of the plan: wave, state, tasks, and the last word."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._lock = threading.Lock()
        self._rows: dict[str, dict[str, str]] = {}
        self._footer = ""
        self._live = Live(self._render(), console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> RichProgress:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.update(self._render())
        self._live.stop()

    def emit(self, event: Event) -> None:
        with self._lock:
            self._apply(event.kind, event.data)
            self._live.update(self._render())

    def _apply(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "plan":
            for wave in data["waves"]:
                label = f"{wave['wave']}{' canary' if wave['canary'] else ''}"
                for service in wave["services"]:
                    self._rows[service["service"]] = {
                        "wave": label,
                        "state": "waiting",
                        "tasks": "",
                        "detail": "",
                    }
            return
        service = data.get("service")
        if service is None:
            if kind == "halted":
                self._footer = f"HALTED: {data['reason']}"
            elif kind == "finished":
                self._footer = self._footer or (
                    f"done: {data['verified']} verified, {data['failed']} failed, "
                    f"{data['skipped']} skipped"
                )
            return
        # Events about the whole run (waves, lock, finish) have no row of their own.
        row = self._rows.setdefault(
            str(service), {"wave": "-", "state": "waiting", "tasks": "", "detail": ""}
        )
        if kind == "deployment_started":
            row["state"] = "deploying"
            row["detail"] = ("adopted " if data.get("adopted") else "") + str(
                data.get("deployment_id", "")
            )
        elif kind == "deployment_progress":
            row["tasks"] = f"{data['running']}/{data['desired']}"
            if data.get("stage"):
                row["detail"] = _stage_text(data)
        elif kind == "verified":
            row["state"] = "verified"
            row["detail"] = _verified_text(data).removeprefix("verified ")
        elif kind == "service_skipped":
            row["state"] = "skipped"
            row["detail"] = str(data["reason"])
        elif kind in ("failed", "rolled_back"):
            row["state"] = "failed"
            row["detail"] = str(data.get("reason", ""))

    def _render(self) -> Table:
        table = Table(title="rollout", title_justify="left", caption=self._footer or None)
        for column in ("wave", "service", "state", "tasks", "detail"):
            table.add_column(column, overflow="fold")
        for service, row in self._rows.items():
            table.add_row(
                row["wave"],
                service,
                Text(row["state"], style=_STYLES.get(row["state"], "")),
                row["tasks"],
                row["detail"],
            )
        return table


class LiveRun:
    """The live table for a rollout that another command drives (promote, rollback).

    Those commands emit events (pre-flight) and ask for confirmation before the rollout runs,
    so the table starts at the rollout's own `plan` event, never covering the prompt, and stops
    at `finished`, so what the command prints after it lands below the table. Events before
    the run are not the table's: give them to a sink that prints them (ChecksPrinter).
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._view: RichProgress | None = None

    def __enter__(self) -> LiveRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # an error mid-run: stop the live display so the message prints cleanly

    def emit(self, event: Event) -> None:
        if event.kind == "plan" and self._view is None:
            self._view = RichProgress(self._console).__enter__()
        if self._view is None:
            return
        self._view.emit(event)
        if event.kind == "finished":
            self.close()

    @property
    def running(self) -> bool:
        return self._view is not None

    def close(self) -> None:
        view, self._view = self._view, None
        if view is not None:
            view.__exit__(None, None, None)


class LinePrinter:
    """One plain line per notable event, for logs and pipes."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def emit(self, event: Event) -> None:
        line = _line(event.kind, event.data)
        if line:
            self._console.print(line, markup=False, highlight=False, soft_wrap=True)


def _line(kind: str, data: dict[str, Any]) -> str | None:
    if kind == "wave_started":
        canary = " (canary)" if data["canary"] else ""
        return f"wave {data['wave']}{canary}: {', '.join(data['services'])}"
    if kind == "deployment_started":
        if data.get("found"):
            return f"  {data['service']}: found deployment {data['deployment_id']}, {data['found']}"
        verb = "waiting for" if data.get("adopted") else "started"
        return f"  {data['service']}: {verb} deployment {data['deployment_id']}"
    if kind == "verified":
        return f"  {data['service']}: {_verified_text(data)}"
    if kind == "deployment_progress" and data.get("stage"):
        return f"  {data['service']}: {_stage_text(data)}"
    if kind == "service_skipped":
        return f"  {data['service']}: skipped, {data['reason']}"
    if kind == "failed":
        return f"  {data['service']}: FAILED, {data.get('reason', '')}"
    if kind == "start_unconfirmed":
        return f"  {data['service']}: start not confirmed ({data['reason']}); looking again"
    if kind == "rolled_back":
        return f"  {data['service']}: {data['reason']}"
    if kind == "halted":
        return f"HALTED: {data['reason']}"
    return None


def _verified_text(data: dict[str, Any]) -> str:
    """What a verification proved; a service that runs no task proves nothing, and says so."""
    digest = short_digest(data["digest"])
    if not data.get("tasks"):
        return f"verified {digest}: {data.get('note') or 'no tasks run'}"
    return f"verified {digest} on {data['tasks']} task(s)"


def _stage_text(data: dict[str, Any]) -> str:
    """A native-strategy deployment's stage: the bake left, a PAUSE hook and how to go on."""
    text = str(data["stage"])
    if data.get("bake_left_minutes") is not None:
        text += f", {data['bake_left_minutes']} min of bake left"
    hook = data.get("awaiting_hook")
    if hook:
        text += f", paused by hook {hook['hook_id']}: to go on, {hook['continue']}"
    return text
