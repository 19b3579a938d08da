"""What every command reads from the root: the config path and the wall clock.

Kept apart from `cli.app` so that command modules depend on this small module, not on the
app that registers them (no import circle).

The wall clock is an input, like the config: `run(argv, now=...)` sets it (tests and `make
demo` pass the simulator's clock, so that fleetpatch and its simulated AWS agree on the
date); otherwise it is the real UTC time. Every command takes time from `now()`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.aws.errors import explain
from fleetpatch.config import Config, load_config
from fleetpatch.errors import EnvironmentFailure
from fleetpatch.inventory.answers import AnswerCache
from fleetpatch.journal import LockLost
from fleetpatch.journal.sqlite import utc_now as utc_now

WallClock = Callable[[], datetime]


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


def answer_cache(config: Config) -> AnswerCache:
    """The answers AWS never changes, kept beside the journal (a warm inventory): a file next
    to the SQLite journal, or items in the DynamoDB journal's table."""
    from fleetpatch.config.journal import DynamoDbTable
    from fleetpatch.inventory.answers import SqliteAnswerCache, answer_cache_path
    from fleetpatch.journal.location import journal_setting

    setting = journal_setting(config.journal)
    if isinstance(setting, DynamoDbTable):
        from fleetpatch.inventory.dynamodb_answers import DynamoDbAnswerCache
        from fleetpatch.journal.dynamodb import journal_clients

        return DynamoDbAnswerCache(journal_clients(setting)[0], setting.name)
    return SqliteAnswerCache(answer_cache_path(setting))


def clock(ctx: typer.Context) -> WallClock:
    """The command's wall clock as a callable (for the journal, the runner, inventory)."""
    return state(ctx).now


@contextmanager
def aws_errors(environment: str) -> Iterator[None]:
    """AWS refusals and a lost lock as one line naming the environment (exit 1, or 2 for a
    user's mistake such as missing permissions), as every changing command reports them."""
    try:
        yield
    except LockLost as exc:
        raise EnvironmentFailure(environment, f"{exc}: stopped") from exc
    except (ClientError, BotoCoreError) as exc:
        failure = explain(environment, exc)
        if failure is None:
            raise
        raise failure from exc


class CtrlC:
    """Ctrl-C during a rollout, once armed (after the last question, when changes begin): the
    first one asks the run to stop where it next waits (rollout/waits.py StoppableClock), a
    second one interrupts at once. Before `arm`, Ctrl-C interrupts as usual."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._previous: Any = None
        self._armed = False

    def arm(self) -> None:
        if self._armed or threading.current_thread() is not threading.main_thread():
            return  # signals reach only the main thread
        self._previous = signal.signal(signal.SIGINT, self._on_ctrl_c)
        self._armed = True

    def disarm(self) -> None:
        if self._armed:
            signal.signal(signal.SIGINT, self._previous)
            self._armed = False

    def _on_ctrl_c(self, signum: int, frame: object) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()


@contextmanager
def ctrl_c_between_passes() -> Iterator[CtrlC]:
    """A `CtrlC` for the block, disarmed at its end whatever happens."""
    ctrl_c = CtrlC()
    try:
        yield ctrl_c
    finally:
        ctrl_c.disarm()
