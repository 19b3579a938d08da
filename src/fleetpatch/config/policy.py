"""`[policy]`: how a rollout proceeds and how long a fix may take."""

from __future__ import annotations

from typing import Annotated

from fleetpatch.config.values import (
    Canary,
    Expect,
    Name,
    NonNegativeInt,
    PositiveInt,
    Severity,
    StrictModel,
)


class SeverityDeadlines(StrictModel):
    """Per-severity overrides of `policy.deadline_days`."""

    critical: PositiveInt | None = None
    high: PositiveInt | None = None
    medium: PositiveInt | None = None
    low: PositiveInt | None = None
    informational: PositiveInt | None = None


class Policy(StrictModel):
    """How a rollout proceeds and how long a fix may take."""

    max_parallel: PositiveInt = 5
    canary: Canary = 1
    promotion_order: Annotated[tuple[Name, ...], Expect("a list of environment names")] = ()
    # PCI DSS v4 requirement 6.3.3: critical security patches within one month of release.
    deadline_days: PositiveInt = 30
    severity_deadline_days: SeverityDeadlines = SeverityDeadlines()
    soak_minutes: NonNegativeInt = 60
    failure_budget: NonNegativeInt = 0
    deployment_timeout_minutes: PositiveInt = 30

    def deadline_for(self, severity: Severity) -> int:
        """Days allowed to patch a finding of this severity."""
        override: int | None = getattr(self.severity_deadline_days, severity)
        return self.deadline_days if override is None else override
