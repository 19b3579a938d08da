"""`make demo`: the talk's story on the embedded simulator, with the real CLI.

It starts the simulator in-process with examples/talk/scenario.yaml, writes a copy of
examples/talk/fleetpatch.toml pointed at it, and runs fleetpatch commands exactly as a user
would type them, printing each command before its output.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

# Piped output (CI logs, `make demo | less`) gets Rich's 80 columns, too narrow for the
# fleet tables; a terminal keeps its own width.
if not sys.stdout.isatty():
    os.environ.setdefault("COLUMNS", "120")

from rich.console import Console
from rich.rule import Rule

from fleetpatch.cli.app import run
from fleetpatch.sim import Simulator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "talk"
# Simulated seconds per real second: a 30-second task start takes 0.1 s.
TIME_SCALE = 300.0

console = Console()


def main() -> int:
    scenario = EXAMPLE / "scenario.yaml"
    with (
        tempfile.TemporaryDirectory(prefix="fleetpatch-demo-") as workdir,
        Simulator(scenario, time_scale=TIME_SCALE) as sim,
    ):
        config = _config_for(sim, Path(workdir))
        console.print(
            f"[bold]fleetpatch demo[/]: the talk's card platform on the local simulator at "
            f"{sim.endpoint_url} (3 accounts x 12 services, fluent-bit 3.0.3 everywhere, "
            "3.0.4 pushed and tagged latest on 2026-11-20)",
            highlight=False,
        )
        steps: list[tuple[str, list[str]]] = [
            (
                "What runs where: every service's fluent-bit digest, read from its tasks",
                ["inventory"],
            ),
            ("The one-screen summary", ["status"]),
        ]
        for title, argv in steps:
            code = _step(title, ["--config", str(config), *argv])
            if code not in (0,):
                console.print(f"[red]step failed with exit code {code}[/]")
                return code
    return 0


def _step(title: str, argv: Sequence[str]) -> int:
    console.print(Rule(title, style="cyan"))
    shown = " ".join(arg for arg in argv if not arg.startswith("/") and arg != "--config")
    console.print(f"[dim]$[/] fleetpatch {shown}", highlight=False)
    return run(argv)


def _config_for(sim: Simulator, workdir: Path) -> Path:
    """The example config, pointed at this simulator's port and a fresh journal."""
    text = (EXAMPLE / "fleetpatch.toml").read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:4599", sim.endpoint_url)
    text = f'journal = "{workdir / "journal.sqlite"}"\n\n' + text
    path = workdir / "fleetpatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.exit(main())
