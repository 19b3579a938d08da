"""Finding, reading and validating `fleetpatch.toml`; any mistake is a one-line `UserError`."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fleetpatch.config.messages import describe_validation_error
from fleetpatch.config.model import Config
from fleetpatch.errors import UserError

CONFIG_ENV_VAR = "FLEETPATCH_CONFIG"
DEFAULT_CONFIG_NAME = "fleetpatch.toml"
DOCS_HINT = "see docs/config.md"


def find_config(path: Path | None = None) -> Path:
    """Which file to load: explicit path > $FLEETPATCH_CONFIG > ./fleetpatch.toml."""
    if path is not None:
        return _existing(path, "from --config")
    from_env = os.environ.get(CONFIG_ENV_VAR, "").strip()
    if from_env:
        return _existing(Path(from_env), f"from {CONFIG_ENV_VAR}")
    default = Path(DEFAULT_CONFIG_NAME)
    if default.is_file():
        return default
    raise UserError(
        f"no config found: pass --config FILE, set {CONFIG_ENV_VAR}, "
        f"or create ./{DEFAULT_CONFIG_NAME} ({DOCS_HINT})"
    )


def _existing(path: Path, origin: str) -> Path:
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a {DEFAULT_CONFIG_NAME} file ({origin})")
    if not path.exists():
        raise UserError(f"{path}: config file not found ({origin}); check the path")
    return path


def load_config(path: Path | None = None) -> Config:
    """Find, read, parse and validate the config; any mistake is a one-line UserError."""
    source = find_config(path)
    return parse_config(_read_toml(source), source)


def _read_toml(source: Path) -> dict[str, Any]:
    try:
        text = source.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UserError(f"{source}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{source}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{source}: {_toml_error(exc)}") from None


def _toml_error(exc: tomllib.TOMLDecodeError) -> str:
    """'Expected ... (at line 3, column 5)' -> 'line 3, column 5: invalid TOML: expected ...'."""
    text = str(exc)
    match = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", text)
    if match is None:
        return f"invalid TOML: {text}"
    reason, line, column = match.groups()
    return f"line {line}, column {column}: invalid TOML: {reason[:1].lower()}{reason[1:]}"


def parse_config(data: Mapping[str, Any], source: Path) -> Config:
    """Validate an already parsed TOML document read from `source`."""
    try:
        base_dir = source.absolute().parent
        config = Config.model_validate(dict(data), context={"base_dir": base_dir})
    except ValidationError as exc:
        raise UserError(describe_validation_error(exc, source)) from None
    config._source = source  # private attribute: allowed on a frozen model
    return config
