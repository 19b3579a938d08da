"""`fleetpatch sim serve`: run the local AWS fleet simulator in the foreground."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from fleetpatch.cli.output import console, print_note
from fleetpatch.errors import UserError
from fleetpatch.sim_extra import require_simulator

sim_app = typer.Typer(help="Run the local AWS fleet simulator.", no_args_is_help=True)


@sim_app.command("serve")
def serve(
    scenario: Path = typer.Option(
        ..., "--scenario", "-s", metavar="FILE", help="Scenario file (.yaml or .toml)."
    ),
    port: int | None = typer.Option(
        None, "--port", "-p", min=0, max=65535, help="Port on 127.0.0.1 (default 4599)."
    ),
    time_scale: float | None = typer.Option(
        None,
        "--time-scale",
        min=0,
        help="Simulated seconds per real second (default: the scenario's, else 1).",
    ),
    now: str | None = typer.Option(
        None,
        "--now",
        metavar="TIME",
        help="Start the world at this ISO 8601 time (default: the scenario's, else the real "
        "time); the scenario's relative times (now-7d) count from it.",
    ),
) -> None:
    """Serve ECS, ECR and STS for a scenario on 127.0.0.1 until Ctrl-C."""
    require_simulator()  # the simulator is an extra: without it, one line says how to add it
    from fleetpatch.sim import DEFAULT_PORT, Simulator

    start = _parse_now(now) if now is not None else None
    sim = Simulator(
        scenario, port=DEFAULT_PORT if port is None else port, time_scale=time_scale, now=start
    )
    sim.start()
    try:
        environments = ", ".join(
            f"{env.name} ({env.account}, {env.region})" for env in sim.scenario.environments
        )
        console.print(
            f"fleetpatch simulator on [bold]{sim.endpoint_url}[/] "
            f"(time x{sim.clock.time_scale:g}, now {sim.clock.now():%Y-%m-%d %H:%M:%S}Z)",
            highlight=False,
        )
        console.print(f"environments: {environments}", highlight=False)
        print_note("Ctrl-C stops it. Point fleetpatch.toml's endpoint_url at the address above.")
        sim.serve_forever()
    except KeyboardInterrupt:
        print_note("simulator stopped")
    finally:
        sim.stop()


def _parse_now(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"--now {text!r} is not an ISO 8601 time, e.g. 2026-11-27T09:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
