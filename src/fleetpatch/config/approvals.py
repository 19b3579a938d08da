"""`[environments.approvals]`: who may ask for a change of an environment and who must approve it.

    [[environments]]
    name = "prod"
    ...
    [environments.approvals]
    required = 1                 # approvals a rollout, promote or rollback needs
    rollback = 0                 # per-action override (rollout, promote, rollback)
    approvers = ["S0SECOPS", "arn:aws:iam::111111111111:role/release-approver"]
    requesters = ["S0PAYMENTS", "U0ALICE"]   # empty: anyone who can reach fleetpatch
    expiry_hours = 24

A principal is written as AWS and Slack name it: a Slack user id (`U…`/`W…`), a Slack user
group id (`S…`, its members), or an IAM ARN for the CLI (a role ARN also covers its
assumed-role sessions; `*` matches any run of characters).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, model_validator

from fleetpatch.config.values import (
    ConfigValueError,
    Expect,
    NonNegativeInt,
    StrictModel,
)

Action = Literal["rollout", "promote", "rollback"]
ACTIONS: tuple[Action, ...] = ("rollout", "promote", "rollback")

PRINCIPAL_PATTERN = (
    r"^([UW][A-Z0-9]{2,20}|S[A-Z0-9]{2,20}"
    r"|arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[A-Za-z0-9+=,.@_/*-]{1,512})$"
)
PrincipalPattern = Annotated[
    str,
    Strict(),
    Field(pattern=PRINCIPAL_PATTERN),
    Expect(
        "a Slack user id (U0123ABCD), a Slack user group id (S0123ABCD) or an IAM ARN "
        "(arn:aws:iam::111111111111:role/approver)"
    ),
]
Principals = Annotated[
    tuple[PrincipalPattern, ...],
    Expect('a list of Slack user/group ids or IAM ARNs, e.g. ["S0SECOPS"]'),
]


class ApprovalPolicy(StrictModel):
    """How many approvals each action needs in this environment, from whom, for how long."""

    required: NonNegativeInt = 0
    rollout: NonNegativeInt | None = None
    promote: NonNegativeInt | None = None
    rollback: NonNegativeInt | None = None
    approvers: Principals = ()
    requesters: Principals = ()
    expiry_hours: Annotated[int, Strict(), Field(ge=1, le=24 * 30), Expect("hours, 1-720")] = 24

    def needed(self, action: Action) -> int:
        """Approvals `action` needs (its override, else `required`)."""
        override: int | None = getattr(self, action)
        return self.required if override is None else override

    @property
    def enforced(self) -> bool:
        return any(self.needed(a) > 0 for a in ACTIONS)

    @model_validator(mode="after")
    def _someone_can_approve(self) -> ApprovalPolicy:
        if self.enforced and not self.approvers:
            key = "required" if self.required else next(a for a in ACTIONS if self.needed(a))
            raise ConfigValueError(
                [key], "approvals are needed but nobody may give them: list `approvers`"
            )
        return self
