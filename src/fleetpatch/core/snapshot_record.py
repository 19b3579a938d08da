"""A fleet snapshot, whole, as JSON and back: what inventory steps hand each other when they
run apart (fleetpatch.workflow.inventory: one Lambda per account and Region, then a merge).

    record = snapshot_record(snapshot)          # plain JSON types only
    assert snapshot_from_record(json.loads(json.dumps(record))) == snapshot

`Snapshot.to_json` is the documented shape people and `--json` see (docs/json.md) and leaves
out what a person does not read (the repositories' images, the apps' containers); this one
keeps every field, so that status, trace, plan and the report compute the same from a merged
snapshot as from one `collect`. It is derived from the dataclasses' own field types, so a
field added to the model travels without a change here.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from datetime import datetime
from functools import cache
from typing import Any, Union, cast

from fleetpatch.core.snapshot import Snapshot

RECORD_VERSION = 1


def snapshot_record(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot as JSON-ready data (dicts, lists, strings, numbers, booleans, None)."""
    record = cast(dict[str, Any], _encode(snapshot))
    return {"version": RECORD_VERSION, **record}


def snapshot_from_record(data: Mapping[str, Any]) -> Snapshot:
    """The Snapshot a `snapshot_record` describes (ValueError when it is not one)."""
    if not isinstance(data, Mapping) or data.get("version") != RECORD_VERSION:
        version = data.get("version") if isinstance(data, Mapping) else None
        raise ValueError(f"not a fleetpatch snapshot record of version {RECORD_VERSION}: {version}")
    body = {key: value for key, value in data.items() if key != "version"}
    return cast(Snapshot, _decode(Snapshot, body))


def _encode(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _encode(item) for key, item in value.items()}
    return value


def _decode(hint: Any, value: Any) -> Any:
    return _decoder(hint)(value)


Decoder = Callable[[Any], Any]


@cache
def _decoder(hint: Any) -> Decoder:
    """How to read a value of type `hint` from JSON, worked out once per type (resolving
    annotations is what decoding costs most; a merge of 1,000 shards reads millions of
    records)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        (inner,) = [option for option in options if option is not type(None)]
        read_inner = _decoder(inner)
        return lambda value: None if value is None else read_inner(value)
    if isinstance(hint, type) and is_dataclass(hint):
        return _record_decoder(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            read_item = _decoder(args[0])
            return lambda value: tuple(read_item(item) for item in value)
        readers = [_decoder(arg) for arg in args]
        return lambda value: tuple(read(item) for read, item in zip(readers, value, strict=True))
    if hint is datetime:
        return datetime.fromisoformat
    if hint is float:
        return float
    # str, int, bool, Literal[...] and Mapping[str, Any]: JSON holds them as they are.
    return _same


def _record_decoder(record: type) -> Decoder:
    hints = typing.get_type_hints(record)
    readers = {f.name: _decoder(hints[f.name]) for f in fields(record)}

    def read(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValueError(f"{record.__name__}: expected an object, got {value!r}")
        return record(**{k: readers[k](v) for k, v in value.items() if k in readers})

    return read


def _same(value: Any) -> Any:
    return value
