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
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import datetime
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
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _decode(inner, value)
    if isinstance(hint, type) and is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ValueError(f"{hint.__name__}: expected an object, got {value!r}")
        hints = typing.get_type_hints(hint)
        known = {f.name for f in fields(hint)}
        return hint(**{k: _decode(hints[k], v) for k, v in value.items() if k in known})
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], item) for item in value)
        return tuple(_decode(arg, item) for arg, item in zip(args, value, strict=True))
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is float:
        return float(value)
    # str, int, bool, Literal[...] and Mapping[str, Any]: JSON holds them as they are.
    return value
