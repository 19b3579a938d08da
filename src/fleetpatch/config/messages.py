"""Pydantic's validation errors -> one line: 'file: key.path: what is wrong (expected ...)'."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from fleetpatch.config.model import Config
from fleetpatch.config.values import ConfigValueError, Expect


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
    if typing.get_origin(target) is dict:
        # A table of name = value (notifications.slack.channels): every key holds a value.
        return _split_annotated(typing.get_args(target)[1])
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
