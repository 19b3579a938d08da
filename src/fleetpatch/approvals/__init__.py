"""Change requests and four-eyes approvals, enforced for rollout, promote and rollback.

- principals.py: who someone is (a Slack user with their groups, or an IAM identity) and
  whether a configured principal covers them. Pure.
- requests.py: a change request as the journal tells it (requested, approved by whom, started,
  rejected, cancelled, expired), and the plan fingerprint an approval is bound to. Pure.
- desk.py: `ApprovalDesk`, every transition of a request as one conditional journal write,
  and `authorize`, the gate every run passes.

See docs/approvals.md.
"""

from fleetpatch.approvals.desk import (
    ApprovalDesk,
    ApprovalOutcome,
    ApprovalRequired,
    Authorization,
    Refused,
)
from fleetpatch.approvals.principals import Principal, iam_principal, slack_principal
from fleetpatch.approvals.requests import ChangeRequest, RequestState, plan_fingerprint

__all__ = [
    "ApprovalDesk",
    "ApprovalOutcome",
    "ApprovalRequired",
    "Authorization",
    "ChangeRequest",
    "Principal",
    "Refused",
    "RequestState",
    "iam_principal",
    "plan_fingerprint",
    "slack_principal",
]
