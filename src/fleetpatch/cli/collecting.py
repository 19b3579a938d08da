"""A transient status line on stderr while `collect` reads the fleet, for a person waiting.

Shown only when stderr is a terminal: pipes, logs and tests get exactly the output they got
before, with no progress frames mixed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fleetpatch.cli.output import err_console
from fleetpatch.inventory.collect import CollectProgress, ProgressCallback


@contextmanager
def collect_progress() -> Iterator[ProgressCallback | None]:
    """Yield a callback for `collect(progress=...)`, or None when stderr is not a terminal.

    The status is transient: it disappears when the block ends, before results are printed.
    """
    if not _stderr_is_terminal():
        yield None
        return
    with err_console.status(_describe(None)) as status:

        def show(progress: CollectProgress) -> None:
            status.update(_describe(progress))

        yield show


def _stderr_is_terminal() -> bool:
    # Both: Rich's own answer honours TTY_COMPATIBLE=0 and dumb terminals, but FORCE_COLOR
    # makes it say yes for a pipe (CI logs), where a spinner would only add noise.
    isatty = getattr(err_console.file, "isatty", None)
    return err_console.is_terminal and callable(isatty) and bool(isatty())


def _describe(progress: CollectProgress | None) -> str:
    if progress is None:
        return "reading the fleet"
    return (
        f"reading the fleet: {progress.environments_done}/{progress.environments_total} "
        f"environments, {progress.services_read} services"
    )
