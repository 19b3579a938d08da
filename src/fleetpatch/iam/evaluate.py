"""A small IAM policy evaluator: enough of IAM's logic to check fleetpatch's own policies.

    allows(policy, "ecs:UpdateService", "arn:aws:ecs:eu-west-1:111111111111:service/main/api")

What it implements (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements"):
an explicit Deny wins, else an Allow must match; Action / NotAction match case-insensitively
with `*` and `?`; Resource / NotResource match case-sensitively, an ARN component by
component (a wildcard does not cross the colons of the first five); Condition operators
StringEquals, StringLike, ArnEquals, ArnLike (and their Not forms): every operator and key
of a block must hold, any one value of a key may match, and a key missing from the request's
context fails a positive operator. Nothing else of IAM (principals, permission boundaries,
SCPs, variables) is modelled: these are identity policies fleetpatch generates itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any


def allows(
    policy: Mapping[str, Any],
    action: str,
    resource_arn: str,
    context: Mapping[str, str] | None = None,
) -> bool:
    """Whether `policy` allows `action` on `resource_arn` with the request `context`."""
    context = context or {}
    allowed = False
    for statement in _statements(policy):
        if not _applies(statement, action, resource_arn, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def matching_sids(policy: Mapping[str, Any], action: str, resource_arn: str) -> list[str]:
    """The Sids of the Allow statements that name `action` and `resource_arn` (conditions
    aside): what a message names as "the statement that would allow it"."""
    return [
        str(s.get("Sid", "?"))
        for s in _statements(policy)
        if s.get("Effect") == "Allow"
        and _action_matches(s, action)
        and _resource_matches(s, resource_arn)
    ]


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*` (any run of characters, none included) and `?` (exactly one character)."""
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, arn: str) -> bool:
    """ArnLike / Resource matching: the six colon-delimited parts of an ARN are matched one by
    one, so that a wildcard in the service or account part cannot reach into another part."""
    if pattern == "*":
        return True
    p_parts, a_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(p_parts) != 6 or len(a_parts) != 6:
        return wildcard_match(pattern, arn)
    return all(wildcard_match(p, a) for p, a in zip(p_parts, a_parts, strict=True))


def _statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = policy.get("Statement", [])
    return [found] if isinstance(found, Mapping) else list(found)


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _applies(
    statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    return (
        _action_matches(statement, action)
        and _resource_matches(statement, resource)
        and _conditions_hold(statement.get("Condition", {}), context)
    )


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not _any(_listed(statement["NotAction"]), action, ignore_case=True)
    return _any(_listed(statement.get("Action")), action, ignore_case=True)


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(arn_match(p, resource) for p in _listed(statement["NotResource"]))
    return any(arn_match(p, resource) for p in _listed(statement.get("Resource")))


def _any(patterns: Iterable[str], value: str, *, ignore_case: bool) -> bool:
    return any(wildcard_match(p, value, ignore_case=ignore_case) for p in patterns)


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, keys in conditions.items():
        negated = operator.startswith(("StringNot", "ArnNot"))
        base = operator.replace("Not", "", 1) if negated else operator
        test = _OPERATORS.get(base)
        if test is None:
            return False  # an operator this evaluator doesn't know never grants anything
        for key, values in keys.items():
            actual = context.get(key)
            if actual is None:
                if not negated:
                    return False
                continue
            matched = any(test(expected, actual) for expected in _listed(values))
            if matched == negated:
                return False
    return True


def _string_equals(expected: str, actual: str) -> bool:
    return expected == actual


# IAM: ArnEquals and ArnLike behave alike (both take wildcards).
_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _string_equals,
    "StringLike": wildcard_match,
    "ArnEquals": arn_match,
    "ArnLike": arn_match,
}


@lru_cache(maxsize=4096)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))
