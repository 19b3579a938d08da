"""EventBridge's event pattern matching, the part the deploy/ templates use: a pattern and an
event are both flattened to paths of leaf values (arrays expanded, as EventBridge does: a
pattern field matches if any value at that path does), and every pattern path must match.

Matchers (EventBridge User Guide, "Event patterns" and "Content filtering"): exact values,
{"prefix": s}, {"suffix": s}, {"anything-but": v | [v...]}, {"exists": bool},
{"numeric": [op, n, ...]}. Anything else is refused, so a test can't pass by not knowing it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any

_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _leaves(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for item in node:
            yield from _leaves(item, path)
    else:
        yield path, node


def _pattern_fields(pattern: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[Any]:
    for key, value in pattern.items():
        if isinstance(value, dict):
            yield from _pattern_fields(value, (*path, key))
        else:
            if not isinstance(value, list):
                raise ValueError(f"pattern field {'.'.join((*path, key))} must be a list")
            yield (*path, key), value


def _matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return bool(matcher == value and type(matcher) is type(value))
    (kind, argument), *rest = matcher.items()
    if rest:
        raise ValueError(f"one content filter per object: {matcher}")
    if kind == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    if kind == "suffix":
        return isinstance(value, str) and value.endswith(argument)
    if kind == "anything-but":
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_matches(e, value) for e in excluded)
    if kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        pairs = zip(argument[::2], argument[1::2], strict=True)
        return all(_NUMERIC[op](value, bound) for op, bound in pairs)
    raise ValueError(f"content filter not implemented here: {kind}")


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    values: dict[tuple[str, ...], list[Any]] = {}
    for path, value in _leaves(event):
        values.setdefault(path, []).append(value)
    for path, matchers in _pattern_fields(pattern):
        present = values.get(path, [])
        exists = [m for m in matchers if isinstance(m, dict) and "exists" in m]
        if exists:
            if exists[0]["exists"] != bool(present):
                return False
            continue
        if not any(_matches(m, v) for m in matchers for v in present):
            return False
    return True
