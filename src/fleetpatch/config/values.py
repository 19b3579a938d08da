"""Value types shared by the config models: what each key accepts, and how it says so.

Each annotated type carries an `Expect` marker, the wording an error message uses for what
the key accepts (config/messages.py reads it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, Strict

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


_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"

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


class StrictModel(BaseModel):
    """Every config table: frozen, and an unknown key is an error (typos are caught)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def is_http_url(value: str) -> bool:
    """An endpoint override must be an http(s) URL with a host."""
    return re.match(r"^https?://[^/\s]+", value) is not None
