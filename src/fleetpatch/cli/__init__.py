"""The `fleetpatch` command line: a thin Typer + Rich shell over the core functions."""
