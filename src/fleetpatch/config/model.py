"""`Config`, the whole `fleetpatch.toml`: its tables, the checks across them, and lookups."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated

from pydantic import (
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fleetpatch.config.automation import Automation
from fleetpatch.config.environments import Environment
from fleetpatch.config.journal import (
    DEFAULT_ANCHOR_RETENTION_DAYS,
    AnchorBucket,
    DynamoDbTable,
    JournalSetting,
    parse_anchor,
    parse_journal,
)
from fleetpatch.config.notifications import Notifications
from fleetpatch.config.policy import Policy
from fleetpatch.config.registries import RegistryEndpoint
from fleetpatch.config.sidecars import Sidecar
from fleetpatch.config.values import ConfigValueError, Expect, PositiveInt, StrictModel
from fleetpatch.errors import UserError


class Config(StrictModel):
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
    # Before `journal`: its validator folds the anchor into a dynamodb:// table (info.data).
    journal_anchor: (
        Annotated[
            AnchorBucket,
            PlainSerializer(str),
            Expect("an S3 URL like 's3://BUCKET' or 's3://BUCKET/PREFIX'"),
        ]
        | None
    ) = None
    journal_anchor_retention_days: PositiveInt = DEFAULT_ANCHOR_RETENTION_DAYS
    journal: (
        Annotated[
            JournalSetting, PlainSerializer(str), Expect("a file path string or 'dynamodb://TABLE'")
        ]
        | None
    ) = None
    registries: Annotated[
        tuple[RegistryEndpoint, ...], Expect("a list of [[registries]] tables")
    ] = ()
    notifications: Notifications = Notifications()
    automation: Automation = Automation()

    # Where the config came from, for messages; set by load_config, None when built in code.
    _source: Path | None = PrivateAttr(default=None)

    @field_validator("journal_anchor", mode="plain")
    @classmethod
    def _parse_anchor(cls, value: object) -> AnchorBucket | None:
        if value is None or isinstance(value, AnchorBucket):
            return value
        if not isinstance(value, str):
            raise ValueError("expected an S3 URL like 's3://BUCKET' or 's3://BUCKET/PREFIX'")
        return parse_anchor(value)

    @field_validator("journal", mode="plain")
    @classmethod
    def _parse_journal(cls, value: object, info: ValidationInfo) -> JournalSetting | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = parse_journal(value)
        if isinstance(value, DynamoDbTable):
            anchor = info.data.get("journal_anchor")
            if anchor is not None and value.anchor is None:
                days = info.data.get("journal_anchor_retention_days", anchor.retention_days)
                value = DynamoDbTable(value.name, replace(anchor, retention_days=days))
            return value
        if not isinstance(value, Path):
            raise ValueError("expected a file path string or 'dynamodb://TABLE'")
        # Relative paths are relative to the config file, not to wherever fleetpatch runs.
        base = (info.context or {}).get("base_dir")
        if base is None or value.is_absolute():
            return value
        return Path(base) / value

    @model_validator(mode="after")
    def _anchor_needs_a_table(self) -> Config:
        if self.journal_anchor is not None and isinstance(self.journal, Path):
            raise ConfigValueError(
                ["journal_anchor"],
                'anchors a DynamoDB journal: set journal = "dynamodb://TABLE" or remove it',
            )
        return self

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

    @model_validator(mode="after")
    def _check_notification_environments(self) -> Config:
        names = [e.name for e in self.environments]
        slack = self.notifications.slack
        for name in slack.channels if slack is not None else ():
            _check_known(["notifications", "slack", "channels", name], name, names)
        return self

    @model_validator(mode="after")
    def _check_automatic_requests(self) -> Config:
        # An automatic approval request is a Slack message with Approve / Reject buttons:
        # without a channel nobody would see it, and it would expire unread.
        for i, env in enumerate(self.environments):
            asks = env.auto and env.approvals.needed("rollout") > 0
            if asks and self.notifications.slack_channel(env.name) is None:
                raise ConfigValueError(
                    ["environments", i, "auto"],
                    f"'{env.name}' needs approval, so auto = true asks for it in Slack, but "
                    "[notifications.slack] names no channel for it: set one, or remove auto",
                )
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
