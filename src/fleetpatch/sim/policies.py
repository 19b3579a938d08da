"""ECR repository policies, as far as the simulator evaluates them: may another account call
an action on a repository?

AWS evaluates a cross-account ECR request against the caller's identity policy *and* the
repository policy: the repository policy must have a statement that allows the action to the
caller (its account root `arn:aws:iam::<account>:root`, the account id, the caller's role
`arn:aws:iam::<account>:role/<name>`, or `*`), and no statement may deny it (an explicit deny
wins). In the simulator the caller's identity policy allows everything (the assumed role is
an administrator), so the repository policy alone decides. Actions match case-insensitively,
with `*` wildcards (`ecr:*`, `ecr:Put*`), as IAM matches them.

Not evaluated (documented in docs/scenario.md): `Condition` blocks, `NotAction` and
`NotPrincipal`; a statement using any of them is left out of the evaluation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Literal

Verdict = Literal["allow", "deny", "none"]


def evaluate(policy_text: str | None, account: str, role: str, action: str) -> Verdict:
    """What the repository policy says about `action` (`ecr:PutImage`) for the role `role` of
    `account`: an explicit deny, an allow, or nothing (no statement applies)."""
    if not policy_text:
        return "none"
    try:
        document = json.loads(policy_text)
    except ValueError:
        return "none"
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    verdict: Verdict = "none"
    for statement in statements or []:
        if not isinstance(statement, dict) or not _applies(statement, account, role, action):
            continue
        if statement.get("Effect") == "Deny":
            return "deny"
        if statement.get("Effect") == "Allow":
            verdict = "allow"
    return verdict


def _applies(statement: dict[str, Any], account: str, role: str, action: str) -> bool:
    if {"Condition", "NotAction", "NotPrincipal"} & statement.keys():
        return False
    actions = _strings(statement.get("Action"))
    if not any(_wildcard(pattern).fullmatch(action) for pattern in actions):
        return False
    return _principal_matches(statement.get("Principal"), account, role)


def _principal_matches(principal: Any, account: str, role: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    names = {
        "*",
        account,
        f"arn:aws:iam::{account}:root",
        f"arn:aws:iam::{account}:role/{role}",
    }
    return any(name in names for name in _strings(principal.get("AWS")))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value if isinstance(v, str)]
    return []


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(part) for part in pattern.split("*"))
    return re.compile(".*".join(parts).replace(r"\?", "."), re.IGNORECASE)
