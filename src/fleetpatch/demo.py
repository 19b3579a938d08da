"""`make demo`: the talk's story on the embedded simulator, with the real CLI.

It starts the simulator in-process with examples/talk/scenario.yaml, writes a copy of
examples/talk/fleetpatch.toml pointed at it, and runs fleetpatch commands exactly as a user
would type them, printing each command before its output.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

# Piped output (CI logs, `make demo | less`) gets Rich's 80 columns, too narrow for the
# fleet tables; a terminal keeps its own width.
if not sys.stdout.isatty():
    os.environ.setdefault("COLUMNS", "120")

from rich.console import Console
from rich.rule import Rule

from fleetpatch.approvals.requests import requests_from
from fleetpatch.aws.session import SIM_ACCESS_KEY, SIM_SECRET_KEY
from fleetpatch.cli.app import run
from fleetpatch.cli.output import print_error
from fleetpatch.errors import UserError
from fleetpatch.journal import SqliteJournal
from fleetpatch.sim_extra import require_simulator

if TYPE_CHECKING:
    from fleetpatch.sim import Simulator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "talk"
# Simulated seconds per real second: a 30-second task start takes 0.1 s.
TIME_SCALE = 300.0

# The simulator runs 300x, so a deployment takes a fraction of a second: poll that often
# (against AWS the default is 5 s, backing off).
FAST_POLL = ["--poll-interval", "0.1"]

console = Console()


def main() -> int:
    try:
        require_simulator()  # an extra: without it, one line says how to install it
    except UserError as exc:
        print_error(str(exc))
        return UserError.exit_code
    from fleetpatch.sim import Simulator

    scenario = EXAMPLE / "scenario.yaml"
    with (
        tempfile.TemporaryDirectory(prefix="fleetpatch-demo-") as workdir,
        Simulator(scenario, time_scale=TIME_SCALE) as sim,
    ):
        _sign_as_the_simulators_user(Path(workdir))
        demo = Demo(sim, Path(workdir))
        return demo.tell()


def _sign_as_the_simulators_user(workdir: Path) -> None:
    """The demo talks to its own simulator only, which (like AWS) refuses keys it never
    issued: real AWS credentials of the machine (environment, ~/.aws) are set aside for this
    process, so fleetpatch signs with the simulator's documented base credential."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ["AWS_ACCESS_KEY_ID"] = SIM_ACCESS_KEY
    os.environ["AWS_SECRET_ACCESS_KEY"] = SIM_SECRET_KEY
    os.environ["AWS_CONFIG_FILE"] = str(workdir / "no-aws-config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(workdir / "no-aws-credentials")


class Demo:
    """The story, step by step; each step is a CLI command a user could type."""

    def __init__(self, sim: Simulator, workdir: Path) -> None:
        self.sim = sim
        self.workdir = workdir
        self.config = _config_for(sim, workdir, "alice")
        self.approver_config = _config_for(sim, workdir, "bob")

    def tell(self) -> int:
        console.print(
            "[bold]fleetpatch demo[/]: the talk's card platform on the local simulator at "
            f"{self.sim.endpoint_url}: 3 accounts x 12 services, fluent-bit 3.0.3 "
            "(CVE-2024-4323, critical) everywhere, 3.0.4 pushed and tagged latest a week ago",
            highlight=False,
        )
        act_one: list[tuple[str, list[str], int]] = [
            (
                "1. What runs where (dev shown; every task's digest is read)",
                ["inventory", "--env", "dev"],
                0,
            ),
            ("2. The one-screen summary, nearest deadline first", ["status"], 0),
            (
                "3. Which findings the running digest has, and whether the target fixes them",
                ["findings", "--env", "prod", "--severity", "critical,high"],
                0,
            ),
            ("4. The plan for dev: a canary first, then waves", ["plan", "--env", "dev"], 0),
            (
                "5. Roll out dev: deploy, wait, verify every task",
                ["rollout", "--env", "dev", "--yes", *FAST_POLL],
                0,
            ),
            (
                "6. Roll out stg (it requires dev to have proven the digest)",
                ["rollout", "--env", "stg", "--yes", *FAST_POLL],
                0,
            ),
        ]
        if not self._act(act_one):
            return 1
        if not self._four_eyes_for_prod():
            return 1
        if not self._step("8. Every service in every environment runs 3.0.4", ["status"], 0):
            return 1

        bad = self.sim.push_image(
            "dev",
            "fluent-bit",
            {"tags": ["3.0.5-badc0de", "latest"], "fails": "fluent-bit exited: SIGSEGV"},
        )
        console.print(
            f"\n[bold]A new build, 3.0.5-badc0de ({bad[:19]}…), is pushed to dev as latest. "
            "Its tasks crash on start.[/]",
            highlight=False,
        )
        act_two: list[tuple[str, list[str], int]] = [
            (
                "9. Roll out dev: the canary fails, the rollout halts, the rest is untouched",
                ["rollout", "--env", "dev", "--yes", *FAST_POLL],
                1,
            ),
            (
                "10. Roll back dev to the previous digest (re-tag, redeploy, verify)",
                ["rollback", "--env", "dev", "--yes", *FAST_POLL],
                0,
            ),
            (
                "11. dev is back on 3.0.4, and latest points at it again",
                ["status", "--env", "dev"],
                0,
            ),
            ("12. The journal is intact", ["journal", "verify"], 0),
        ]
        if not self._act(act_two):
            return 1

        report = self.workdir / "report.html"
        kept = Path.cwd() / "out" / "demo-report.html"
        kept.parent.mkdir(exist_ok=True)
        if not self._step(
            "13. The auditor's evidence: one self-contained HTML file",
            ["report", "--format", "html", "--output", str(report)],
            0,
        ):
            return 1
        kept.write_bytes(report.read_bytes())
        console.print(f"\n[bold green]Report written to {kept}[/]", highlight=False)
        return 0

    def _four_eyes_for_prod(self) -> bool:
        """prod needs one approval from someone other than who asks (docs/approvals.md):
        alice (the demo's user) asks, bob approves, alice promotes."""
        promote = ["promote", "--from", "stg", "--to", "prod", "--yes", *FAST_POLL]
        if not self._step("7. Promote to prod: production needs a second person's yes", promote, 2):
            return False
        with SqliteJournal(self.workdir / "journal.sqlite") as journal:
            pending = [r for r in requests_from(journal.entries()).values() if r.is_open]
        request_id = pending[-1].id
        steps = [
            ("7a. The change request, as the journal holds it", ["requests"], 0, self.config),
            ("7b. alice can't approve her own request", ["approve", request_id], 2, self.config),
            ("7c. bob approves it", ["approve", request_id], 0, self.approver_config),
            ("7d. Promote to prod, approved: only what stg verified", promote, 0, self.config),
        ]
        return all(self._step(title, argv, code, config) for title, argv, code, config in steps)

    def _act(self, steps: list[tuple[str, list[str], int]]) -> bool:
        return all(self._step(title, argv, expected) for title, argv, expected in steps)

    def _step(
        self, title: str, argv: Sequence[str], expected: int, config: Path | None = None
    ) -> bool:
        # fleetpatch reads the simulated world's clock, as it reads AWS's real one: journal,
        # patch clock and report agree with the deployments ECS reports.
        chosen = config or self.config
        code = _step(title, ["--config", str(chosen), *argv], self.sim.clock.now)
        if code == expected:
            return True
        console.print(f"[red]the demo expected exit code {expected}, got {code}[/]")
        return False


def _step(title: str, argv: Sequence[str], now: Callable[[], datetime]) -> int:
    console.print(Rule(title, style="cyan"))
    shown = " ".join(arg for arg in argv if not arg.startswith("/") and arg != "--config")
    console.print(f"[dim]$[/] fleetpatch {shown}", highlight=False)
    return run(argv, now=now)


def _config_for(sim: Simulator, workdir: Path, person: str) -> Path:
    """The example config as `person` sees it: pointed at this simulator's port and a fresh
    journal, each role session named after them, and prod needing bob's approval."""
    text = (EXAMPLE / "fleetpatch.toml").read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:4599", sim.endpoint_url)
    text = f'journal = "{workdir / "journal.sqlite"}"\n\n' + text
    # The story promotes right after stg verified: no soak time to wait out.
    text = text.replace("soak_minutes = 30", "soak_minutes = 0")
    # Each person is their own role session: four eyes tells them apart (docs/approvals.md).
    text = re.sub(r'(role/fleetpatch")( })', rf'\1, session_name = "{person}"\2', text)
    bob = "arn:aws:sts::333333333333:assumed-role/fleetpatch/bob"
    prod = 'credentials = { role_arn = "arn:aws:iam::333333333333:role/fleetpatch"'
    line = next(line for line in text.splitlines() if line.startswith(prod))
    approvals = f'approvals = {{ required = 1, approvers = ["{bob}"] }}'
    text = text.replace(line, f"{line}\n{approvals}")
    path = workdir / f"fleetpatch-{person}.toml"
    path.write_text(text, encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.exit(main())
