"""How a rollback returns the sidecar to the previous digest: re-tag, or pin. Pure.

Re-tagging (moving the moving tag back, then a forced deployment) is the default where
fleetpatch may write: the environment's own ECR, or another account's / region's ECR that the
configured credentials may write (its repository policy allows ecr:PutImage). Whether they may
is known only when ECR answers the PutImage: AccessDeniedException means "may not", and the
rollback pins instead, without a second question (the confirmed plan moved the same services
to the same digest; pinning changes less: no tag, only the sidecar).

Pinning registers, per service, a revision whose sidecar is `repository@<previous digest>` and
whose other containers are pinned to what their tasks run (rollout/pin.py), then deploys it.
That is the path for ECR Public, Docker Hub and any OCI registry (nobody's tag there is
fleetpatch's to move), for ECR that refused the write, and for `--pin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fleetpatch.core.images import RegistryLocation

PathKind = Literal["retag", "pin"]


@dataclass(frozen=True)
class RollbackPath:
    kind: PathKind
    why: str  # one line, for people and the journal

    @property
    def mode(self) -> Literal["tag", "pin"]:
        return "tag" if self.kind == "retag" else "pin"

    def to_json(self) -> dict[str, str]:
        return {"path": self.kind, "why": self.why}


def where(location: RegistryLocation, repository: str) -> str:
    """`ECR repository fluent-bit of this account`, `... of account 2222... (us-east-1)`,
    `public.ecr.aws/aws-observability/aws-for-fluent-bit`."""
    if location.kind == "own":
        return f"ECR repository {repository} of this account"
    if location.kind == "ecr":
        return f"ECR repository {repository} of account {location.account} ({location.region})"
    return f"{location.host}/{repository}"


def choose(location: RegistryLocation, repository: str, tag: str, pin: bool) -> RollbackPath:
    """The path before anything is tried: `pin` is `--pin`."""
    if pin:
        return RollbackPath("pin", "--pin: each service returns to a revision pinned to it")
    if location.kind in ("own", "ecr"):
        return RollbackPath(
            "retag",
            f"re-tag: {tag} moves back in {where(location, repository)}, then every service "
            "redeploys (pins instead if ECR refuses the write)",
        )
    return RollbackPath(
        "pin",
        f"pin: {location.host} is not an ECR registry fleetpatch can write, so each service "
        "gets a revision pinned to the previous digest",
    )


def refused(location: RegistryLocation, repository: str, code: str) -> RollbackPath:
    """After ECR refused the re-tag's PutImage (`code`: AccessDeniedException ...)."""
    return RollbackPath(
        "pin",
        f"pin: {where(location, repository)} refused PutImage ({code}: these credentials may "
        "not write there), so each service gets a revision pinned to the previous digest",
    )
