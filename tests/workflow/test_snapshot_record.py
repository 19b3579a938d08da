"""Property: any snapshot survives `snapshot_record` -> JSON text -> `snapshot_from_record`
whole, every field of every nested record included (what the inventory Map's shards and its
merge hand each other through S3)."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetpatch.core.snapshot import Snapshot
from fleetpatch.core.snapshot_record import snapshot_from_record, snapshot_record

text = st.text(max_size=10)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).flatmap(
    lambda naive: st.sampled_from([UTC, timezone(timedelta(hours=9))]).map(
        lambda zone: naive.replace(tzinfo=zone)
    )
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)


def strategy(hint: Any) -> st.SearchStrategy[Any]:
    """Any value of the model's field type `hint` (nested records, tuples, optionals)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([strategy(arg) for arg in typing.get_args(hint)])
    if hint is type(None):
        return st.none()
    if isinstance(hint, type) and is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return st.builds(hint, **{f.name: strategy(hints[f.name]) for f in fields(hint)})
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy(args[0]), max_size=2).map(tuple)
        return st.tuples(*[strategy(arg) for arg in args])
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(hint))
    if origin is Mapping:
        return st.dictionaries(text, json_values, max_size=3)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: text,
        int: st.integers(min_value=0, max_value=10**6),
        bool: st.booleans(),
        float: st.floats(allow_nan=False, allow_infinity=False),
        datetime: moments,
    }
    return simple[hint]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategy(Snapshot))
def test_any_snapshot_survives_its_record_as_json_text(snapshot: Snapshot) -> None:
    text_form = json.dumps(snapshot_record(snapshot))

    again = snapshot_from_record(json.loads(text_form))

    assert again == snapshot
    assert again.to_json() == snapshot.to_json()


@pytest.mark.parametrize("data", [{}, {"version": 99, "environments": []}])
def test_a_record_of_another_version_is_refused_saying_so(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a fleetpatch snapshot record of version 1"):
        snapshot_from_record(data)
