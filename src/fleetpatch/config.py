"""The `fleetpatch.toml` model: sidecars to keep patched, environments to reach, rollout policy.

Everything here is pure: no AWS calls, no printing. A mistake in the file becomes a
`UserError` with one line naming the file, the key path and the fix, e.g.

    fleetpatch.toml: environments[1].acount_id: unknown key (did you mean 'account_id'?)

See docs/config.md for the reference of every key.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from fleetpatch.core.images import (
    ECR_HOST_RE,
    ImageRef,
    canonical,
    parse_image,
    valid_registry_host,
)
from fleetpatch.errors import UserError

CONFIG_ENV_VAR = "FLEETPATCH_CONFIG"
DEFAULT_CONFIG_NAME = "fleetpatch.toml"
DOCS_HINT = "see docs/config.md"

Severity = Literal["critical", "high", "medium", "low", "informational"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "informational")


@dataclass(frozen=True)
class Expect:
    """Annotation marker: how an error message describes what a key accepts.

    Pydantic's own wording ("Input should be a valid integer") cannot mention the
    constraint, so each key states it once here, e.g. "an integer >= 1".
    """

    text: str


class ConfigValueError(ValueError):
    """A cross-field check failed at `path`, relative to the model that raised it.

    Pydantic reports a model validator's error at the model itself; carrying the
    path lets the message point at the exact key (``environments[2].requires[0]``).
    """

    def __init__(self, path: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.path = tuple(path)
        self.message = message


# --- value types ---------------------------------------------------------------------------

_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
_ACCOUNT_RE = r"^[0-9]{12}$"
# Covers commercial, GovCloud, China and ISO partitions: eu-west-1, us-gov-west-1, cn-north-1.
_REGION_RE = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
_ROLE_ARN_RE = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
_SESSION_NAME_RE = r"^[A-Za-z0-9+=,.@_-]{2,64}$"
# ECR: "Repository names can contain lowercase letters, numbers, hyphens, underscores,
# periods and forward slashes"; tags up to 128 characters.
_REPOSITORY_RE = r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$"
_TAG_RE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"

Name = Annotated[
    str,
    Strict(),
    Field(pattern=_NAME_RE),
    Expect("a name of letters, digits, '-', '_' or '.' (at most 63 characters)"),
]
Glob = Annotated[str, Strict(), Field(min_length=1), Expect("a non-empty glob string like 'api-*'")]
Globs = Annotated[tuple[Glob, ...], Expect('a list of glob strings, e.g. ["*"]')]


# Strict: TOML booleans, floats and quoted numbers are refused rather than coerced.
PositiveInt = Annotated[int, Strict(), Field(ge=1), Expect("an integer >= 1")]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0), Expect("an integer >= 0")]


def _parse_canary(value: object) -> int | tuple[str, ...]:
    """`canary` is a count of services, or globs naming the canary services."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError("expected an integer >= 0 or a list of service-name globs")


Canary = Annotated[
    int | tuple[str, ...],
    PlainValidator(_parse_canary),
    PlainSerializer(lambda v: v if isinstance(v, int) else list(v)),
]


# --- models --------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sidecar(_Model):
    """A shared image that must run patched everywhere, e.g. the fluent-bit log router.

    `repository` names it in each environment's own ECR. `image` names it anywhere else:
    another account's ECR, ECR Public or any OCI registry, as `host/repository` without a tag
    (`public.ecr.aws/aws-observability/aws-for-fluent-bit`, `fluent/fluent-bit`); then
    `repository` is taken from it.
    """

    name: Name
    repository: Annotated[
        str,
        Strict(),
        Field(pattern=_REPOSITORY_RE),
        Expect("an ECR repository name like 'fluent-bit' or 'platform/fluent-bit'"),
    ]
    image: (
        Annotated[
            str,
            Strict(),
            Expect("an image without a tag, like 'public.ecr.aws/aws-observability/fluent-bit'"),
        ]
        | None
    ) = None
    tag: Annotated[
        str, Strict(), Field(pattern=_TAG_RE), Expect("an image tag like 'latest' or 'stable'")
    ] = "latest"
    container: Glob = "*"

    @model_validator(mode="before")
    @classmethod
    def _repository_from_image(cls, data: object) -> object:
        if not isinstance(data, dict) or not isinstance(data.get("image"), str):
            return data
        ref = _sidecar_image(data["image"])
        given = data.get("repository")
        if given is not None and given != ref.repository:
            raise ConfigValueError(
                ["repository"],
                f"'{given}' contradicts image (repository '{ref.repository}'): drop one of them",
            )
        return {**data, "repository": ref.repository}

    @property
    def registry(self) -> str | None:
        """The registry host `image` names (docker.io for Docker Hub); None: each
        environment's own ECR."""
        return _sidecar_image(self.image).registry if self.image is not None else None

    def matches_container(self, container_name: str) -> bool:
        return fnmatch.fnmatchcase(container_name, self.container)


def _sidecar_image(image: str) -> ImageRef:
    """`host/repository` of a sidecar's `image` key, checked; ConfigValueError says why not."""
    if "@" in image or ":" in image.rsplit("/", 1)[-1]:
        raise ConfigValueError(
            ["image"], f"'{image}' has a tag or digest: write it without, and set 'tag'"
        )
    ref = canonical(parse_image(image))
    if not valid_registry_host(ref.registry):
        raise ConfigValueError(["image"], f"'{ref.registry}' is not a registry host name")
    if re.fullmatch(_REPOSITORY_RE, ref.repository) is None:
        raise ConfigValueError(
            ["image"], f"'{ref.repository}' is not a repository name (a-z, 0-9, '/', '.', '-', '_')"
        )
    return ref


class RegistryEndpoint(_Model):
    """Where to reach an OCI registry host instead of `https://<host>`: a mirror, a proxy,
    or the local simulator's OCI endpoint."""

    host: Annotated[str, Strict(), Expect("a registry host like 'public.ecr.aws' or 'docker.io'")]
    endpoint_url: Annotated[
        str, Strict(), Expect("an http(s) URL like 'http://127.0.0.1:4599/_oci/docker.io'")
    ]

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not valid_registry_host(value):
            raise ValueError("expected a registry host like 'public.ecr.aws' or 'docker.io'")
        if ECR_HOST_RE.match(value):
            raise ValueError(
                "an ECR registry is read through the AWS API with each environment's "
                "credentials and endpoint_url: remove this entry"
            )
        return canonical(ImageRef(value, "x", None, None)).registry

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http(s) URL like 'http://127.0.0.1:4599/_oci/docker.io'")
        return value.rstrip("/")


class Credentials(_Model):
    """How to reach an environment; absent keys mean the standard boto3 credential chain."""

    profile: Annotated[str, Strict(), Field(min_length=1), Expect("an AWS profile name")] | None = (
        None
    )
    role_arn: (
        Annotated[
            str,
            Strict(),
            Field(pattern=_ROLE_ARN_RE),
            Expect("an IAM role ARN like 'arn:aws:iam::111111111111:role/fleetpatch'"),
        ]
        | None
    ) = None
    external_id: Annotated[str, Strict(), Field(min_length=2, max_length=1224)] | None = None
    session_name: Annotated[
        str,
        Strict(),
        Field(pattern=_SESSION_NAME_RE),
        Expect("a role session name of 2-64 characters [A-Za-z0-9+=,.@_-]"),
    ] = "fleetpatch"

    @model_validator(mode="after")
    def _role_options_need_a_role(self) -> Credentials:
        if self.external_id is not None and self.role_arn is None:
            raise ConfigValueError(["external_id"], "needs role_arn: set role_arn or remove it")
        return self


class Environment(_Model):
    """One account + region holding ECS clusters, e.g. dev, stg, prod."""

    name: Name
    account_id: Annotated[
        str,
        Strict(),
        Field(pattern=_ACCOUNT_RE),
        Expect('a 12-digit account id in quotes, e.g. "111111111111"'),
    ]
    region: Annotated[
        str, Strict(), Field(pattern=_REGION_RE), Expect("an AWS region like 'eu-west-1'")
    ]
    clusters: Globs = ("*",)
    services: Globs = ("*",)
    exclude_services: Globs = ()
    requires: Annotated[tuple[Name, ...], Expect("a list of environment names")] = ()
    endpoint_url: (
        Annotated[str, Strict(), Expect("an http(s) URL like 'http://127.0.0.1:4566'")] | None
    ) = None
    credentials: Credentials = Credentials()

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http(s) URL like 'http://127.0.0.1:4566'")
        return value

    @property
    def registry(self) -> str:
        """This environment's own ECR registry host."""
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        return f"{self.account_id}.dkr.ecr.{self.region}.{suffix}"

    def matches_cluster(self, cluster_name: str) -> bool:
        return any(fnmatch.fnmatchcase(cluster_name, g) for g in self.clusters)

    def matches_service(self, service_name: str) -> bool:
        """Included by `services` and not removed by `exclude_services`."""
        if any(fnmatch.fnmatchcase(service_name, g) for g in self.exclude_services):
            return False
        return any(fnmatch.fnmatchcase(service_name, g) for g in self.services)


class SeverityDeadlines(_Model):
    """Per-severity overrides of `policy.deadline_days`."""

    critical: PositiveInt | None = None
    high: PositiveInt | None = None
    medium: PositiveInt | None = None
    low: PositiveInt | None = None
    informational: PositiveInt | None = None


class Policy(_Model):
    """How a rollout proceeds and how long a fix may take."""

    max_parallel: PositiveInt = 5
    canary: Canary = 1
    promotion_order: Annotated[tuple[Name, ...], Expect("a list of environment names")] = ()
    # PCI DSS v4 requirement 6.3.3: critical security patches within one month of release.
    deadline_days: PositiveInt = 30
    severity_deadline_days: SeverityDeadlines = SeverityDeadlines()
    soak_minutes: NonNegativeInt = 60
    failure_budget: NonNegativeInt = 0
    deployment_timeout_minutes: PositiveInt = 30

    def deadline_for(self, severity: Severity) -> int:
        """Days allowed to patch a finding of this severity."""
        override: int | None = getattr(self.severity_deadline_days, severity)
        return self.deadline_days if override is None else override


class Config(_Model):
    """The whole `fleetpatch.toml`."""

    sidecars: Annotated[
        tuple[Sidecar, ...], Field(min_length=1), Expect("at least one [[sidecars]] table")
    ]
    environments: Annotated[
        tuple[Environment, ...],
        Field(min_length=1),
        Expect("at least one [[environments]] table"),
    ]
    policy: Policy = Policy()
    journal: Annotated[Path, Expect("a file path string")] | None = None
    registries: Annotated[
        tuple[RegistryEndpoint, ...], Expect("a list of [[registries]] tables")
    ] = ()

    # Where the config came from, for messages; set by load_config, None when built in code.
    _source: Path | None = PrivateAttr(default=None)

    @field_validator("journal", mode="before")
    @classmethod
    def _journal_is_a_string(cls, value: object) -> object:
        if value is not None and not isinstance(value, str | Path):
            raise ValueError("expected a file path string")
        return value

    @field_validator("journal")
    @classmethod
    def _resolve_journal(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # Relative paths are relative to the config file, not to wherever fleetpatch runs.
        base = (info.context or {}).get("base_dir")
        if value is None or base is None or value.is_absolute():
            return value
        return Path(base) / value

    @model_validator(mode="after")
    def _check_references(self) -> Config:
        _check_unique("sidecars", [s.name for s in self.sidecars], "sidecar")
        names = [e.name for e in self.environments]
        _check_unique("environments", names, "environment")
        for i, env in enumerate(self.environments):
            for j, required in enumerate(env.requires):
                path: list[str | int] = ["environments", i, "requires", j]
                if required == env.name:
                    raise ConfigValueError(path, f"environment '{env.name}' cannot require itself")
                _check_known(path, required, names)
        for j, name in enumerate(self.policy.promotion_order):
            _check_known(["policy", "promotion_order", j], name, names)
        _check_unique(("policy", "promotion_order"), list(self.policy.promotion_order), "entry")
        _check_no_cycle(self.environments)
        hosts = [r.host for r in self.registries]
        for i, host in enumerate(hosts):
            if host in hosts[:i]:
                raise ConfigValueError(["registries", i, "host"], f"duplicate registry '{host}'")
        return self

    # --- lookups ---------------------------------------------------------------------------

    @property
    def source(self) -> Path | None:
        """The file this config was loaded from, if any."""
        return self._source

    def _where(self) -> str:
        return f"{self._source}: " if self._source is not None else ""

    def environment(self, name: str) -> Environment:
        for env in self.environments:
            if env.name == name:
                return env
        raise UserError(self._where() + _unknown("environment", name, self.environment_names))

    def sidecar(self, name: str | None = None) -> Sidecar:
        """The named sidecar; with no name, the only one (an error if there are several)."""
        if name is None:
            if len(self.sidecars) == 1:
                return self.sidecars[0]
            known = ", ".join(s.name for s in self.sidecars)
            raise UserError(f"{self._where()}several sidecars configured: name one of {known}")
        for sidecar in self.sidecars:
            if sidecar.name == name:
                return sidecar
        known_names = [s.name for s in self.sidecars]
        raise UserError(self._where() + _unknown("sidecar", name, known_names))

    def select_environments(self, names: Iterable[str] | None = None) -> tuple[Environment, ...]:
        """The named environments in the order given (duplicates dropped); all when no names."""
        wanted = list(dict.fromkeys(names or ()))
        if not wanted:
            return self.environments
        return tuple(self.environment(name) for name in wanted)

    def registry_endpoints(self) -> dict[str, str]:
        """OCI registry host -> the endpoint_url configured for it."""
        return {r.host: r.endpoint_url for r in self.registries}

    @property
    def environment_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.environments)

    def promotion_order(self) -> tuple[str, ...]:
        """`policy.promotion_order`, or the order environments appear in the file."""
        return self.policy.promotion_order or self.environment_names


def _unknown(kind: str, name: str, known: Sequence[str]) -> str:
    message = f"unknown {kind} '{name}'"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        message += f" (did you mean '{close[0]}'?)"
    return message + f"; known: {', '.join(known)}"


def _check_unique(field: str | tuple[str, ...], names: list[str], kind: str) -> None:
    prefix: list[str | int] = [field] if isinstance(field, str) else list(field)
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            path = [*prefix, i] if kind == "entry" else [*prefix, i, "name"]
            raise ConfigValueError(path, f"duplicate {kind} '{name}': names must be unique")
        seen.add(name)


def _check_known(path: list[str | int], name: str, known: Sequence[str]) -> None:
    if name not in known:
        raise ConfigValueError(path, _unknown("environment", name, known))


def _check_no_cycle(environments: Sequence[Environment]) -> None:
    """`requires` must form a DAG, else no environment could ever be promoted to."""
    requires = {e.name: e.requires for e in environments}
    index = {e.name: i for i, e in enumerate(environments)}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in trail:
            cycle = " -> ".join([*trail[trail.index(name) :], name])
            raise ConfigValueError(
                ["environments", index[name], "requires"], f"requirement cycle {cycle}"
            )
        if name in done:
            return
        for required in requires.get(name, ()):
            visit(required, (*trail, name))
        done.add(name)

    for env in environments:
        visit(env.name, ())


# --- loading -------------------------------------------------------------------------------


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


# --- pydantic errors -> one line -------------------------------------------------------------


def describe_validation_error(exc: ValidationError, source: Path | str, limit: int = 3) -> str:
    """One line for up to `limit` errors, each 'file: key.path: what is wrong'."""
    errors = _without_echoes(exc.errors(include_url=False))
    parts = [_describe(error) for error in errors[:limit]]
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return f"{source}: " + "; ".join(parts)


def _without_echoes(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop errors that only repeat another one, so the first error shown is the real one.

    - a misspelled key ('acount_id') also makes the real key missing: keep the typo's
      "did you mean 'account_id'?", drop "account_id: required key is missing";
    - a list whose invalid items were left out is also "too short".
    """
    typos = [tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]

    def is_typo_echo(loc: tuple[str | int, ...]) -> bool:
        return any(
            typo[:-1] == loc[:-1]
            and difflib.get_close_matches(str(typo[-1]), [str(loc[-1])], n=1, cutoff=0.6)
            for typo in typos
        )

    def has_item_errors(loc: tuple[str | int, ...]) -> bool:
        return any(tuple(e["loc"])[: len(loc)] == loc and len(e["loc"]) > len(loc) for e in errors)

    kept = []
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "missing" and is_typo_echo(loc):
            continue
        if error["type"] == "too_short" and has_item_errors(loc):
            continue
        kept.append(error)
    return kept


def _describe(error: ErrorDetails) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ConfigValueError):
        return _join(_format_path(loc + cause.path), cause.message)
    path = _format_path(loc)
    if kind == "extra_forbidden":
        return _join(path, _unknown_key(loc))
    expect = _expectation(loc)
    if kind == "missing":
        return _join(path, f"required key is missing (expected {expect or 'a value'})")
    if kind == "value_error":
        # Our validators already phrase the message; pydantic prefixes "Value error, ".
        message = str(cause) if cause is not None else error["msg"]
        return _join(path, f"{message}, got {_show(error['input'])}")
    if expect is not None:
        return _join(path, f"expected {expect}, got {_show(error['input'])}")
    return _join(path, f"{error['msg'].lower()}, got {_show(error['input'])}")


def _join(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


def _format_path(loc: Sequence[str | int]) -> str:
    """('environments', 1, 'account_id') -> 'environments[1].account_id'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        # A quoted TOML key may hold anything, newlines included: quote it as TOML would.
        key = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
        text += f".{key}" if text else key
    return text


def _show(value: object) -> str:
    """How the offending value reads in a message: TOML-ish, short, one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value[:60] + ("..." if len(value) > 60 else ""))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return f"a date/time ({value.isoformat()})"
    return type(value).__name__


def _unknown_key(loc: Sequence[str | int]) -> str:
    key = str(loc[-1])
    known = _known_keys(loc[:-1])
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    if known:
        return f"unknown key; allowed keys: {', '.join(known)}"
    return "unknown key"


# Walking the model types along an error's location lets messages name the allowed keys
# and the expected value of exactly the key that failed.


@dataclass(frozen=True)
class _Slot:
    annotation: Any
    metadata: tuple[Any, ...]


def _slot_at(loc: Sequence[str | int]) -> _Slot | None:
    slot: _Slot | None = _Slot(Config, ())
    for part in loc:
        if slot is None:
            return None
        slot = _step(slot.annotation, part)
    return slot


def _step(annotation: Any, part: str | int) -> _Slot | None:
    target = _strip_optional(annotation)
    if isinstance(part, int):
        args = typing.get_args(target)
        if typing.get_origin(target) in (tuple, list) and args:
            return _split_annotated(args[0])
        return None
    if isinstance(target, type) and issubclass(target, BaseModel):
        field = target.model_fields.get(part)
        if field is None:
            return None
        return _Slot(field.annotation, tuple(field.metadata))
    return None


def _split_annotated(annotation: Any) -> _Slot:
    if typing.get_origin(annotation) is Annotated:
        base, *metadata = typing.get_args(annotation)
        return _Slot(base, tuple(metadata))
    return _Slot(annotation, ())


def _strip_optional(annotation: Any) -> Any:
    """`X | None` -> X, also unwrapping `Annotated[X, ...] | None`."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _strip_optional(members[0])
    if typing.get_origin(annotation) is Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def _expectation(loc: Sequence[str | int]) -> str | None:
    slot = _slot_at(loc)
    if slot is None:
        return None
    markers = [m for m in slot.metadata if isinstance(m, Expect)]
    annotation = slot.annotation
    # `Annotated[...] | None`: the marker sits inside the union member.
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for member in typing.get_args(annotation):
            if typing.get_origin(member) is Annotated:
                markers += [m for m in typing.get_args(member)[1:] if isinstance(m, Expect)]
    if markers:
        return markers[0].text
    target = _strip_optional(annotation)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return f"a table ([{_format_path(loc)}])"
    return None


def _known_keys(loc: Sequence[str | int]) -> list[str]:
    slot = _slot_at(loc)
    target = _strip_optional(slot.annotation) if slot else None
    if isinstance(target, type) and issubclass(target, BaseModel):
        return list(target.model_fields)
    return []
