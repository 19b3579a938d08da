"""The simulator is an extra: `pip install fleetpatch` installs the tool, and
`pip install 'fleetpatch[sim]'` adds the simulator's dependencies (moto's server, Flask,
Werkzeug, PyYAML for scenario files ...).

Only `fleetpatch.sim` imports them. The commands that start the simulator (`fleetpatch sim
serve`, `make demo`) call `require_simulator()` first, so that a missing extra is one line that
says how to install it, not a traceback; every other command never imports the simulator.
"""

from __future__ import annotations

from fleetpatch.errors import UserError

SIM_EXTRA_MISSING = "fleetpatch sim needs the simulator extra: pip install 'fleetpatch[sim]'"


def require_simulator() -> None:
    """Import `fleetpatch.sim`, or raise the one-line UserError when its extra is missing."""
    try:
        import fleetpatch.sim  # noqa: F401
    except ModuleNotFoundError as exc:
        # A module of fleetpatch's own missing is a bug, not a missing extra.
        if exc.name is None or exc.name.split(".")[0] == "fleetpatch":
            raise
        raise UserError(SIM_EXTRA_MISSING) from None
