"""The real console entry, in a subprocess: user mistakes are one line, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetpatch import __version__
from fleetpatch.cli import app as cli_app
from fleetpatch.cli import context as cli_context

CONFIG = """\
[[sidecars]]
name = "fluent-bit"
repository = "fluent-bit"

[[environments]]
name = "dev"
account_id = "111111111111"
region = "eu-west-1"

[[environments]]
name = "prod"
account_id = "333333333333"
region = "eu-west-1"
"""


def fleetpatch(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "FLEETPATCH_CONFIG"}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "fleetpatch", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_version(tmp_path: Path) -> None:
    result = fleetpatch(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"fleetpatch {__version__}"


def test_help_lists_the_global_option_and_commands(tmp_path: Path) -> None:
    result = fleetpatch(tmp_path, "--help")
    assert result.returncode == 0
    for word in ("--config", "FLEETPATCH_CONFIG", "--version", "config"):
        assert word in result.stdout


def test_missing_config(tmp_path: Path) -> None:
    result = fleetpatch(tmp_path, "config", "check")
    assert_user_error(result, "no config found", "--config FILE", "FLEETPATCH_CONFIG")


def test_missing_file_named_by_the_environment_variable(tmp_path: Path) -> None:
    result = fleetpatch(tmp_path, "config", "check", env={"FLEETPATCH_CONFIG": "x.toml"})
    assert_user_error(result, "x.toml: config file not found (from FLEETPATCH_CONFIG)")


def test_unknown_key(tmp_path: Path) -> None:
    (tmp_path / "fleetpatch.toml").write_text(
        CONFIG.replace('account_id = "333333333333"', 'acount_id = "333333333333"')
    )
    result = fleetpatch(tmp_path, "config", "check")
    assert_user_error(
        result,
        "fleetpatch.toml: environments[1].acount_id: unknown key (did you mean 'account_id'?)",
    )


def test_wrong_type(tmp_path: Path) -> None:
    path = tmp_path / "conf.toml"
    path.write_text(CONFIG + '\n[policy]\nmax_parallel = "five"\n')
    result = fleetpatch(tmp_path, "--config", str(path), "config", "check")
    assert_user_error(result, f'{path}: policy.max_parallel: expected an integer >= 1, got "five"')


def test_toml_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "fleetpatch.toml").write_text(CONFIG + "\n[policy\n")
    result = fleetpatch(tmp_path, "config", "check")
    assert_user_error(result, "fleetpatch.toml: line 15, column 8: invalid TOML: expected ']'")


def test_unknown_environment(tmp_path: Path) -> None:
    (tmp_path / "fleetpatch.toml").write_text(CONFIG)
    result = fleetpatch(tmp_path, "config", "check", "--env", "prd")
    assert_user_error(
        result,
        "fleetpatch.toml: unknown environment 'prd' (did you mean 'prod'?); known: dev, prod",
    )


def test_config_check_summarises_a_valid_config(tmp_path: Path) -> None:
    (tmp_path / "fleetpatch.toml").write_text(CONFIG)
    result = fleetpatch(tmp_path, "config", "check", "--env", "prod", "--json")
    assert result.returncode == 0, result.stderr
    assert '"name": "prod"' in result.stdout
    assert '"name": "dev"' not in result.stdout


def test_usage_errors_keep_clicks_exit_code(tmp_path: Path) -> None:
    result = fleetpatch(tmp_path, "config", "check", "--no-such-option")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--no-such-option" in result.stderr


def test_ctrl_c_is_one_line_and_exit_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(_path: Path | None) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_context, "load_config", interrupted)
    assert cli_app.run(["config", "check"]) == 130
    assert capsys.readouterr().err.strip() == "error: interrupted"
