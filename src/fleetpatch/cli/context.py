"""What every command reads from the root: the config path and the wall clock.

Kept apart from `cli.app` so that command modules depend on this small module, not on the
app that registers them (no import circle).

The wall clock is an input, like the config: `run(argv, now=...)` sets it (tests and `make
demo` pass the simulator's clock, so that fleetpatch and its simulated AWS agree on the
date); otherwise it is the real UTC time. Every command takes time from `now()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import typer

from fleetpatch.config import Config, load_config

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CliState:
    """What the root callback learned, stored on the Typer context for every command."""

    config_path: Path | None = None
    now: WallClock = field(default=utc_now)


def state(ctx: typer.Context) -> CliState:
    return ctx.find_object(CliState) or CliState()


def load_from_context(ctx: typer.Context) -> Config:
    """The config for a command: --config, then $FLEETPATCH_CONFIG, then ./fleetpatch.toml."""
    return load_config(state(ctx).config_path)


def now(ctx: typer.Context) -> datetime:
    """The command's wall clock, read once, in UTC."""
    moment = state(ctx).now()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def clock(ctx: typer.Context) -> WallClock:
    """The command's wall clock as a callable (for the journal, the runner, inventory)."""
    return state(ctx).now
