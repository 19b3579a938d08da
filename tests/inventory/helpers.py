"""Helpers for inventory tests: a fleetpatch.toml pointing at a running simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.config import Config, load_config
from fleetpatch.sim import Simulator

FLUENT_BIT = {"name": "fluent-bit", "repository": "fluent-bit", "container": "log_router*"}


def render_config(
    sim: Simulator,
    path: Path,
    *,
    sidecars: list[dict[str, str]] | None = None,
    environments: dict[str, dict[str, Any]] | None = None,
    registries: list[str] | None = None,
) -> Path:
    """Write a fleetpatch.toml for every environment of `sim` (reached by assuming the
    scenario's role) and return its path. `environments` overrides keys per environment;
    `registries` (default: the scenario's) are the OCI hosts reached at the simulator."""
    lines: list[str] = []
    for host in registries if registries is not None else [r.host for r in sim.scenario.registries]:
        lines.append("[[registries]]")
        lines.append(f"host = {_toml(host)}")
        lines.append(f"endpoint_url = {_toml(sim.registry_url(host))}")
        lines.append("")
    for sidecar in sidecars or [FLUENT_BIT]:
        lines.append("[[sidecars]]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in sidecar.items())
        lines.append("")
    for env in sim.scenario.environments:
        values: dict[str, Any] = {
            "name": env.name,
            "account_id": env.account,
            "region": env.region,
            "endpoint_url": sim.endpoint_url,
        }
        values.update((environments or {}).get(env.name, {}))
        role = values.pop("role_arn", f"arn:aws:iam::{env.account}:role/{sim.scenario.role_name}")
        credentials = {"role_arn": role}
        if "session_name" in values:  # who the environment's users are, for approvals
            credentials["session_name"] = values.pop("session_name")
        lines.append("[[environments]]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in values.items())
        lines.append(f"credentials = {_toml(credentials)}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def make_config(sim: Simulator, tmp_path: Path, **kwargs: Any) -> Config:
    return load_config(render_config(sim, tmp_path / "fleetpatch.toml", **kwargs))


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value).lower() if isinstance(value, bool) else str(value)


MISSING_PROFILE = "fleetpatch-missing"


def add_prod(scenario: dict[str, Any]) -> dict[str, Any]:
    """`scenario` with a copy of its first environment as `prod` (account 333333333333)."""
    prod = json.loads(json.dumps(scenario["environments"][0]))
    prod.update(name="prod", account="333333333333")
    scenario["environments"].append(prod)
    return scenario


def make_unreadable(config: Path, account: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point `account`'s environment in `config` at an AWS profile that does not exist, the
    commonest way an environment cannot be read (and one that fails without a network)."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config.parent / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config.parent / "no-aws-credentials"))
    role = f'credentials = {{ role_arn = "arn:aws:iam::{account}:role/fleetpatch" }}'
    text = config.read_text(encoding="utf-8")
    assert role in text, f"no role credentials for {account} in {config}"
    config.write_text(text.replace(role, f'credentials = {{ profile = "{MISSING_PROFILE}" }}'))
