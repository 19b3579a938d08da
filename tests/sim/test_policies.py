"""The simulator's repository policy evaluation (sim/policies.py), as IAM evaluates a
resource-based policy: an explicit deny wins, then an allow, else nothing applies."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.sim.policies import evaluate

ME, OTHER = "111111111111", "333333333333"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def statement(effect: str, principal: Any, action: Any, **more: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, **more}


def test_principals_as_iam_names_them() -> None:
    for principal in (
        "*",
        {"AWS": "*"},
        {"AWS": ME},
        {"AWS": f"arn:aws:iam::{ME}:root"},
        {"AWS": [f"arn:aws:iam::{OTHER}:root", f"arn:aws:iam::{ME}:role/fleetpatch"]},
    ):
        text = policy(statement("Allow", principal, "ecr:PutImage"))
        assert evaluate(text, ME, "fleetpatch", "ecr:PutImage") == "allow", principal
    text = policy(statement("Allow", {"AWS": f"arn:aws:iam::{ME}:role/someone"}, "ecr:*"))
    assert evaluate(text, ME, "fleetpatch", "ecr:PutImage") == "none"


def test_actions_match_with_wildcards_and_any_case() -> None:
    text = policy(statement("Allow", {"AWS": ME}, ["ecr:put*", "ecr:BatchGet?mage"]))
    assert evaluate(text, ME, "r", "ecr:PutImage") == "allow"
    assert evaluate(text, ME, "r", "ecr:BatchGetImage") == "allow"
    assert evaluate(text, ME, "r", "ecr:DeleteRepository") == "none"


def test_unevaluated_statements_are_left_out() -> None:
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}
    text = policy(statement("Allow", {"AWS": ME}, "ecr:*", Condition=condition))
    assert evaluate(text, ME, "r", "ecr:PutImage") == "none"
    assert evaluate(None, ME, "r", "ecr:PutImage") == "none"


@given(order=st.permutations([0, 1]))
def test_an_explicit_deny_wins_in_any_order(order: list[int]) -> None:
    both = [
        statement("Allow", {"AWS": ME}, "ecr:*"),
        statement("Deny", "*", "ecr:PutImage"),
    ]
    text = policy(*(both[i] for i in order))
    assert evaluate(text, ME, "r", "ecr:PutImage") == "deny"
    assert evaluate(text, ME, "r", "ecr:BatchGetImage") == "allow"
