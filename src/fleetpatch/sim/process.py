"""The simulator in a process of its own, as `fleetpatch sim serve` runs it.

Tests that kill fleetpatch with SIGKILL, and benchmarks whose clients must not share the
simulator's interpreter, start it this way:

    with served(Path("examples/talk/scenario.yaml"), time_scale=600) as sim:
        sim.endpoint_url
        ...
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Return once something accepts connections on the port; raise TimeoutError after
    `timeout` seconds, or RuntimeError as soon as `process` (the would-be server) exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the simulator exited with code {process.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout:g} s")


@dataclass(frozen=True)
class Served:
    endpoint_url: str
    pid: int


@contextmanager
def served(
    scenario: Path,
    *,
    port: int | None = None,
    time_scale: float = 0.0,
    now: datetime | None = None,
) -> Iterator[Served]:
    """Run `fleetpatch sim serve` for the scenario until the block ends."""
    port = port or free_port()
    command = [sys.executable, "-m", "fleetpatch", "sim", "serve", "--scenario", str(scenario)]
    command += ["--port", str(port), "--time-scale", str(time_scale)]
    if now is not None:
        command += ["--now", now.isoformat()]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process=process)
        yield Served(f"http://{HOST}:{port}", process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
