"""`[[environments]]`: the AWS accounts and regions to reach, and how (credentials, endpoint)."""

from __future__ import annotations

import fnmatch
from typing import Annotated

from pydantic import Field, Strict, field_validator, model_validator

from fleetpatch.config.approvals import ApprovalPolicy
from fleetpatch.config.automation import Flag
from fleetpatch.config.values import ConfigValueError, Expect, Globs, Name, StrictModel, is_http_url
from fleetpatch.core.images import ecr_host

_ACCOUNT_RE = r"^[0-9]{12}$"
# Covers commercial, GovCloud, China and ISO partitions: eu-west-1, us-gov-west-1, cn-north-1.
_REGION_RE = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
_ROLE_ARN_RE = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
_SESSION_NAME_RE = r"^[A-Za-z0-9+=,.@_-]{2,64}$"


class Credentials(StrictModel):
    """How to reach an environment; absent keys mean the standard boto3 credential chain."""

    profile: Annotated[str, Strict(), Field(min_length=1), Expect("an AWS profile name")] | None = (
        None
    )
    role_arn: (
        Annotated[
            str,
            Strict(),
            Field(pattern=_ROLE_ARN_RE),
            Expect("an IAM role ARN like 'arn:aws:iam::111111111111:role/fleetpatch'"),
        ]
        | None
    ) = None
    external_id: Annotated[str, Strict(), Field(min_length=2, max_length=1224)] | None = None
    session_name: Annotated[
        str,
        Strict(),
        Field(pattern=_SESSION_NAME_RE),
        Expect("a role session name of 2-64 characters [A-Za-z0-9+=,.@_-]"),
    ] = "fleetpatch"

    @model_validator(mode="after")
    def _role_options_need_a_role(self) -> Credentials:
        if self.external_id is not None and self.role_arn is None:
            raise ConfigValueError(["external_id"], "needs role_arn: set role_arn or remove it")
        return self


class Environment(StrictModel):
    """One account + region holding ECS clusters, e.g. dev, stg, prod."""

    name: Name
    account_id: Annotated[
        str,
        Strict(),
        Field(pattern=_ACCOUNT_RE),
        Expect('a 12-digit account id in quotes, e.g. "111111111111"'),
    ]
    region: Annotated[
        str, Strict(), Field(pattern=_REGION_RE), Expect("an AWS region like 'eu-west-1'")
    ]
    clusters: Globs = ("*",)
    services: Globs = ("*",)
    exclude_services: Globs = ()
    requires: Annotated[tuple[Name, ...], Expect("a list of environment names")] = ()
    endpoint_url: (
        Annotated[str, Strict(), Expect("an http(s) URL like 'http://127.0.0.1:4566'")] | None
    ) = None
    credentials: Credentials = Credentials()
    approvals: ApprovalPolicy = ApprovalPolicy()
    # A push of a sidecar's moving tag starts a rollout here (or asks for approval, when
    # rollouts need it): fleetpatch.events, docs/automation.md.
    auto: Flag = False

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str | None) -> str | None:
        if value is not None and not is_http_url(value):
            raise ValueError("expected an http(s) URL like 'http://127.0.0.1:4566'")
        return value

    @property
    def registry(self) -> str:
        """This environment's own ECR registry host."""
        return ecr_host(self.account_id, self.region)

    def matches_cluster(self, cluster_name: str) -> bool:
        return any(fnmatch.fnmatchcase(cluster_name, g) for g in self.clusters)

    def matches_service(self, service_name: str) -> bool:
        """Included by `services` and not removed by `exclude_services`."""
        if any(fnmatch.fnmatchcase(service_name, g) for g in self.exclude_services):
            return False
        return any(fnmatch.fnmatchcase(service_name, g) for g in self.services)
