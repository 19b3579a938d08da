"""Least-privilege IAM for fleetpatch: the operations it calls, the policy a config needs,
and a small evaluator to check one against the other (docs/iam.md)."""

from fleetpatch.iam.actions import OPERATIONS, Check, Operation, checks, operation
from fleetpatch.iam.evaluate import allows, matching_sids
from fleetpatch.iam.policy import ROLES, Hub, policy_document

__all__ = [
    "OPERATIONS",
    "ROLES",
    "Check",
    "Hub",
    "Operation",
    "allows",
    "checks",
    "matching_sids",
    "operation",
    "policy_document",
]
