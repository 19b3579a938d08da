"""Placeholder for `fleetpatch sim ...`; the simulator's CLI replaces this module."""

import typer

sim_app = typer.Typer(help="Run the local AWS fleet simulator.", no_args_is_help=True)
