"""`make package CONFIG=path/to/fleetpatch.toml`: the Lambda artifact of deploy/template.yaml.

    python tools/lambda_package.py --config fleetpatch.toml [--out build/fleetpatch-lambda.zip]

One zip for every function: fleetpatch (as `pip install fleetpatch` installs it), its runtime
dependencies (deploy/lambda-requirements.txt, built for the functions' runtime and
architecture whatever machine builds it), and the config as fleetpatch.toml at the root
(FLEETPATCH_CONFIG=/var/task/fleetpatch.toml in the template). Never the simulator extra:
a distribution of it in the package fails the build. Then Lambda's deployment package
quotas, checked here rather than discovered at deploy time: 50 MB zipped for a direct upload,
250 MB unzipped (code and layers). The sizes are printed either way.

The zip is reproducible: sorted entries, fixed timestamps and modes, no bytecode (pip's
would be compiled by the building interpreter, not the runtime's).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "deploy" / "lambda-requirements.txt"
DEFAULT_OUT = ROOT / "build" / "fleetpatch-lambda.zip"

# Lambda quotas (Lambda developer guide, "Lambda quotas": deployment package size).
ZIPPED_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024

# The runtime the template names, and its architecture (template.yaml: Runtime, Architectures).
PYTHON_VERSION = "3.12"
PLATFORM = "manylinux2014_x86_64"

# The simulator extra (pyproject.toml [project.optional-dependencies] sim) and what moto's
# server brings with it: none may be in the artifact.
SIMULATOR_ONLY = frozenset(
    {"moto", "pyyaml", "flask", "flask-cors", "werkzeug", "jinja2", "responses", "xmltodict"}
)

# Installed by pip but never imported in Lambda: console scripts (their shebang names the
# building interpreter), bytecode.
_LEFT_OUT = re.compile(r"(^bin/)|(/__pycache__/)|(^__pycache__/)|(\.pyc$)")

# 1980-01-01, the earliest time a zip entry can carry: the same inputs give the same bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackageError(Exception):
    """The artifact can't be built as asked: one line saying why and what to do."""


@dataclass(frozen=True)
class Sizes:
    zipped: int
    unzipped: int

    def problems(self) -> list[str]:
        found = []
        if self.zipped > ZIPPED_LIMIT:
            found.append(
                f"zipped {_mb(self.zipped)} is over Lambda's {_mb(ZIPPED_LIMIT)} "
                "direct-upload limit"
            )
        if self.unzipped > UNZIPPED_LIMIT:
            found.append(
                f"unzipped {_mb(self.unzipped)} is over Lambda's {_mb(UNZIPPED_LIMIT)} limit"
            )
        return found

    def line(self) -> str:
        return (
            f"zipped {_mb(self.zipped)} (limit {_mb(ZIPPED_LIMIT)}), "
            f"unzipped {_mb(self.unzipped)} (limit {_mb(UNZIPPED_LIMIT)})"
        )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them: PyYAML == pyyaml, slack_bolt == slack-bolt."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(lines: Iterable[str]) -> list[str]:
    """The distribution names a requirements file pins, normalized."""
    names = []
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match is None:
            raise PackageError(f"not a requirement line: {raw.strip()!r}")
        names.append(normalize(match.group(0)))
    return names


def simulator_dependencies(names: Iterable[str]) -> list[str]:
    return sorted({normalize(n) for n in names} & SIMULATOR_ONLY)


def distributions(tree: Path) -> list[str]:
    """The distributions installed in `tree` (pip --target), from their METADATA's Name."""
    found = []
    for metadata in sorted(tree.glob("*.dist-info/METADATA")):
        for line in metadata.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Name:"):
                found.append(normalize(line.split(":", 1)[1].strip()))
                break
    return found


def selected(relative: str) -> bool:
    """Whether a file pip installed (path relative to the tree, '/'-separated) is packaged."""
    return _LEFT_OUT.search(relative) is None


def entries(tree: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(tree.rglob("*")):
        relative = path.relative_to(tree).as_posix()
        if path.is_file() and selected(relative):
            yield relative, path


def write_zip(tree: Path, out: Path) -> Sizes:
    out.parent.mkdir(parents=True, exist_ok=True)
    unzipped = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative, path in entries(tree):
            info = zipfile.ZipInfo(relative, date_time=_EPOCH)
            info.external_attr = 0o644 << 16  # readable by the runtime's user
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data)
    return Sizes(zipped=out.stat().st_size, unzipped=unzipped)


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        last = errors[-1] if errors else f"see pip install {' '.join(args)}"
        raise PackageError(f"pip install failed: {last}")


def _check_config(config: Path) -> None:
    from fleetpatch.config import load_config
    from fleetpatch.errors import UserError

    if not config.is_file():
        raise PackageError(f"no config at {config}: make package CONFIG=path/to/fleetpatch.toml")
    try:
        load_config(config)
    except UserError as exc:
        raise PackageError(f"{config}: {exc}") from None
    # /var/task is read-only and every invocation may run elsewhere: a file journal can't work.
    journal = tomllib.loads(config.read_text(encoding="utf-8")).get("journal")
    if isinstance(journal, str) and not journal.startswith("dynamodb://"):
        raise PackageError(
            f'{config}: journal = "{journal}" is a file, which Lambda cannot keep: set journal '
            '= "dynamodb://TABLE" (the stack\'s JournalTableName), or remove it (the stack sets '
            "FLEETPATCH_JOURNAL)"
        )


def build(config: Path, out: Path, requirements: Path = REQUIREMENTS) -> Sizes:
    _check_config(config)
    pinned = requirement_names(requirements.read_text(encoding="utf-8").splitlines())
    if simulator_dependencies(pinned):
        raise PackageError(
            f"{requirements} names the simulator's {', '.join(simulator_dependencies(pinned))}"
        )
    with tempfile.TemporaryDirectory(prefix="fleetpatch-lambda-") as scratch:
        tree = Path(scratch) / "package"
        _pip(
            "--target", str(tree),
            "--platform", PLATFORM,
            "--python-version", PYTHON_VERSION,
            "--implementation", "cp",
            "--only-binary=:all:",
            "-r", str(requirements),
        )  # fmt: skip
        # fleetpatch itself is pure Python: built from this tree as its wheel would install,
        # without dependencies (they are above, built for the runtime's platform).
        _pip("--target", str(tree), "--no-deps", str(ROOT))
        inside = distributions(tree)
        if simulator_dependencies(inside):
            raise PackageError(
                f"the package would hold {', '.join(simulator_dependencies(inside))}: "
                f"a dependency of {requirements.name} pulls in the simulator's"
            )
        shutil.copyfile(config, tree / "fleetpatch.toml")
        sizes = write_zip(tree, out)
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS)
    args = parser.parse_args(argv)
    try:
        sizes = build(args.config, args.out, args.requirements)
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {sizes.line()}")
    problems = sizes.problems()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
