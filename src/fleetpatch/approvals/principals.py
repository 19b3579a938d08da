"""Who is asking, and whether a configured principal covers them. Pure.

A Slack user is known by their user id and the user groups they are in (the Slack app asks
Slack: usergroups.users.list); a CLI user by the IAM identity their credentials reach
(sts:GetCallerIdentity's Arn). The journal's `actor` names them `slack:U0ALICE` or
`iam:arn:aws:sts::111111111111:assumed-role/approver/alice`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

_ROLE = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>[0-9]{12}):role/(?P<path>.+)$")


@dataclass(frozen=True)
class Principal:
    kind: Literal["slack", "iam"]
    id: str  # Slack user id, or the caller's ARN
    name: str = ""  # for people: the Slack user name; empty for IAM
    groups: frozenset[str] = frozenset()  # Slack user group ids the user is in

    @property
    def actor(self) -> str:
        """How the journal names them."""
        return f"{self.kind}:{self.id}"

    @property
    def display(self) -> str:
        if self.kind == "slack":
            return f"@{self.name}" if self.name else f"<@{self.id}>"
        return self.id

    def covered_by(self, pattern: str) -> bool:
        """Does the configured principal `pattern` (config/approvals.py) include them?"""
        if pattern.startswith("arn:"):
            return self.kind == "iam" and _arn_matches(self.id, pattern)
        if self.kind != "slack":
            return False
        if pattern.startswith("S"):
            return pattern in self.groups
        return self.id == pattern

    def covered_by_any(self, patterns: Iterable[str]) -> bool:
        return any(self.covered_by(p) for p in patterns)


def slack_principal(user_id: str, name: str = "", groups: Iterable[str] = ()) -> Principal:
    return Principal("slack", user_id, name, frozenset(groups))


def iam_principal(arn: str) -> Principal:
    return Principal("iam", arn)


def _arn_matches(arn: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(arn, pattern):
        return True
    # A role ARN covers the role's sessions: arn:aws:iam::1:role/path/name is assumed as
    # arn:aws:sts::1:assumed-role/name/<session> (the path is not part of the session ARN).
    role = _ROLE.match(pattern)
    if role is None:
        return False
    name = role["path"].rsplit("/", 1)[-1]
    sessions = f"arn:{role['partition']}:sts::{role['account']}:assumed-role/{name}/*"
    return fnmatch.fnmatchcase(arn, sessions)
