"""`make package`: the Lambda artifact (tools/lambda_package.py). One real build (~15 s:
pip installs deploy/lambda-requirements.txt for the functions' runtime), then what is inside
it and its sizes; the pure parts (names, selection, limits, a reproducible zip) on their own."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
import zipfile
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent.parent
TOOL = ROOT / "tools" / "lambda_package.py"
CONFIG = ROOT / "examples" / "talk" / "fleetpatch.toml"


@cache
def lambda_package() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lambda_package", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lambda_package"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _names(requirements: list[str]) -> set[str]:
    tool = lambda_package()
    return {tool.normalize(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in requirements}


def test_the_requirements_are_the_tools_dependencies_and_never_the_simulators() -> None:
    tool = lambda_package()
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    pinned = set(tool.requirement_names(tool.REQUIREMENTS.read_text("utf-8").splitlines()))
    assert _names(project["dependencies"]) <= pinned
    simulator = _names(project["optional-dependencies"]["sim"])
    assert simulator <= tool.SIMULATOR_ONLY
    assert not pinned & tool.SIMULATOR_ONLY
    # Every line is pinned: the artifact is the one the suite ran with.
    lines = [
        line.split("#", 1)[0].strip() for line in tool.REQUIREMENTS.read_text("utf-8").splitlines()
    ]
    assert all("==" in line for line in lines if line)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("package") / "fleetpatch-lambda.zip"
    done = subprocess.run(
        [sys.executable, str(TOOL), "--config", str(CONFIG), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def test_the_package_holds_fleetpatch_its_dependencies_and_the_config(
    built: tuple[Path, str],
) -> None:
    out, _ = built
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert archive.read("fleetpatch.toml") == CONFIG.read_bytes()
    top = {name.split("/", 1)[0] for name in names}
    for module in ("fleetpatch", "boto3", "botocore", "pydantic", "pydantic_core", "slack_bolt"):
        assert module in top, module
    assert "fleetpatch/workflow/aws_lambda.py" in names
    assert "fleetpatch/workflow/rollout.asl.json" in names  # package data
    # Built for the runtime (CPython 3.12 on x86_64 Linux), not for this interpreter.
    assert any(
        re.fullmatch(r"pydantic_core/_pydantic_core\.cpython-312-x86_64-linux-gnu\.so", n)
        for n in names
    )
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("bin/")]


def test_the_package_holds_no_simulator_dependency(built: tuple[Path, str]) -> None:
    tool = lambda_package()
    out, _ = built
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
    top = {name.split("/", 1)[0].lower() for name in names}
    for module in ("moto", "yaml", "flask", "werkzeug", "jinja2", "responses", "xmltodict"):
        assert module not in top, module
    distributions = {
        tool.normalize(re.sub(r"-[^-]+\.dist-info$", "", n.split("/", 1)[0]))
        for n in names
        if n.split("/", 1)[0].endswith(".dist-info")
    }
    pinned = set(tool.requirement_names(tool.REQUIREMENTS.read_text("utf-8").splitlines()))
    assert distributions == pinned | {"fleetpatch"}


def test_the_sizes_are_printed_and_under_lambdas_limits(built: tuple[Path, str]) -> None:
    tool = lambda_package()
    out, stdout = built
    match = re.search(r"zipped ([\d.]+) MB \(limit 50\.0 MB\), unzipped ([\d.]+) MB", stdout)
    assert match, stdout
    with zipfile.ZipFile(out) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    assert out.stat().st_size < tool.ZIPPED_LIMIT
    assert unzipped < tool.UNZIPPED_LIMIT
    assert float(match.group(1)) == pytest.approx(out.stat().st_size / 2**20, abs=0.06)
    assert float(match.group(2)) == pytest.approx(unzipped / 2**20, abs=0.06)


def test_over_a_limit_the_build_says_which_and_by_how_much() -> None:
    tool = lambda_package()
    assert tool.Sizes(zipped=10, unzipped=10).problems() == []
    problems = tool.Sizes(zipped=60 * 2**20, unzipped=300 * 2**20).problems()
    assert problems == [
        "zipped 60.0 MB is over Lambda's 50.0 MB direct-upload limit",
        "unzipped 300.0 MB is over Lambda's 250.0 MB limit",
    ]


def test_a_missing_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(TOOL), "--config", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: no config at {tmp_path / 'nope.toml'}: make package CONFIG=path/to/fleetpatch.toml"
    ]


def test_requirements_naming_the_simulator_are_refused(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("boto3==1.44.8\nPyYAML==6.0.4  # scenarios\n", encoding="utf-8")
    tool = lambda_package()
    with pytest.raises(tool.PackageError, match="names the simulator's pyyaml"):
        tool.build(CONFIG, tmp_path / "out.zip", requirements)


def test_the_zip_is_reproducible(tmp_path: Path) -> None:
    tool = lambda_package()
    tree = tmp_path / "tree"
    (tree / "pkg" / "__pycache__").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("x = 1\n")
    (tree / "pkg" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0")
    (tree / "bin").mkdir()
    (tree / "bin" / "tool").write_text("#!/usr/bin/python\n")
    first = tool.write_zip(tree, tmp_path / "a.zip")
    (tree / "pkg" / "__init__.py").touch()  # a newer mtime changes nothing
    second = tool.write_zip(tree, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.namelist() == ["pkg/__init__.py"]


@given(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True))
def test_names_compare_as_pip_compares_them(name: str) -> None:
    tool = lambda_package()
    line = f"{name}==1.0  # why"
    assert tool.requirement_names([line, "", "# comment"]) == [tool.normalize(name)]
    assert tool.normalize(name.upper().replace("-", "_")) == tool.normalize(name)


def test_a_config_with_a_file_journal_is_refused_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "fleetpatch.toml"
    config.write_text('journal = "journal.sqlite"\n' + CONFIG.read_text("utf-8"), "utf-8")
    done = subprocess.run(
        [sys.executable, str(TOOL), "--config", str(config), "--out", str(tmp_path / "x.zip")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert 'journal = "journal.sqlite" is a file, which Lambda cannot keep' in line
    assert not (tmp_path / "x.zip").exists()
