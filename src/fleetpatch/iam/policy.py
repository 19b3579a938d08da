"""The least-privilege IAM policy a config needs, for the hub or for a target environment.

    policy_document(config, "target", "dev")   # the role fleetpatch assumes in dev's account
    policy_document(config, "hub", None)       # where fleetpatch runs (Lambda, CI, laptop)

Target: ECS and ECR reads and the rollout's writes, scoped to the environment's account and
Region, its cluster and service globs, and each sidecar's repository. Hub: assuming the
target roles, and the hub's own resources (journal table and anchor bucket, the rollout
state machine, the inventory snapshot bucket, the Slack secret) where they are configured.
An environment with no `credentials.role_arn` is reached with the hub's own credentials, so
its target statements join the hub's document.

Every action comes from the operation table (iam/actions.py); `Resource: "*"` appears only
for the actions the Service Authorization Reference lists without a resource type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetpatch.config import Config, Environment
from fleetpatch.core.images import configured_location
from fleetpatch.iam.actions import (
    ECS_CLUSTER_KEY,
    ECS_CREATE_ACTION,
    ECS_TASKS_PRINCIPAL,
    PASSED_TO_SERVICE,
    Role,
)
from fleetpatch.iam.arns import Where, iam_pattern, partition, repository_arn, s3_arn, secret_arn

POLICY_VERSION = "2012-10-17"
ROLES: tuple[Role, ...] = ("hub", "target")

# Where the hub's account or Region is not given: CloudFormation's pseudo parameters, so that
# the document drops into a template through Fn::Sub as it is (docs/iam.md).
HUB_ACCOUNT_PLACEHOLDER = "${AWS::AccountId}"
HUB_REGION_PLACEHOLDER = "${AWS::Region}"
HUB_PARTITION_PLACEHOLDER = "${AWS::Partition}"

# The Lambda environment variables (contracts: deploy/ sets them, the code reads them).
JOURNAL_VAR = "FLEETPATCH_JOURNAL"
ANCHOR_VAR = "FLEETPATCH_JOURNAL_ANCHOR"
STATE_MACHINE_VAR = "FLEETPATCH_STATE_MACHINE_ARN"
SNAPSHOT_BUCKET_VAR = "FLEETPATCH_SNAPSHOT_BUCKET"
SLACK_SECRET_VAR = "FLEETPATCH_SLACK_SECRET"

_DYNAMODB_JOURNAL = re.compile(r"dynamodb:/+([A-Za-z0-9_.-]{3,255})$")
_S3_URL = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?$")


@dataclass(frozen=True)
class Hub:
    """Where fleetpatch runs and the resources it keeps there (None: not used)."""

    account_id: str | None = None  # None: ${AWS::AccountId}
    region: str | None = None  # None: ${AWS::Region}
    table: str | None = None  # the DynamoDB journal table's name
    anchor: str | None = None  # s3://BUCKET[/PREFIX] of the journal's chain-head anchors
    state_machine_arn: str | None = None
    snapshot_bucket: str | None = None
    slack_secret: str | None = None  # a name or an ARN

    @classmethod
    def from_config(
        cls,
        config: Config,
        environ: Mapping[str, str] | None = None,
        *,
        account_id: str | None = None,
        region: str | None = None,
    ) -> Hub:
        """The hub the config and the process environment describe (the same variables the
        Lambda functions read); `environ` defaults to none at all, not os.environ."""
        environ = environ or {}
        journal = str(config.journal) if config.journal is not None else environ.get(JOURNAL_VAR)
        match = _DYNAMODB_JOURNAL.search(journal or "")
        anchor = getattr(config, "journal_anchor", None) or environ.get(ANCHOR_VAR)
        return cls(
            account_id=account_id,
            region=region,
            table=match.group(1) if match else None,
            anchor=str(anchor) if anchor else None,
            state_machine_arn=environ.get(STATE_MACHINE_VAR) or None,
            snapshot_bucket=environ.get(SNAPSHOT_BUCKET_VAR) or None,
            slack_secret=environ.get(SLACK_SECRET_VAR) or None,
        )

    @property
    def where(self) -> Where:
        region = self.region or HUB_REGION_PLACEHOLDER
        part = partition(self.region) if self.region else HUB_PARTITION_PLACEHOLDER
        return Where(self.account_id or HUB_ACCOUNT_PLACEHOLDER, region, part)


def policy_document(
    config: Config, role: Role, environment: str | None = None, *, hub: Hub | None = None
) -> dict[str, Any]:
    """The IAM policy document `role` needs for `environment` (None: every environment).

    `hub`: the hub's account, Region and resources (default: what `config` names, with
    CloudFormation placeholders for the account and Region). UserError for an unknown
    environment or role."""
    environments = config.select_environments([environment] if environment else None)
    if role == "target":
        statements = target_statements(config, environments)
    elif role == "hub":
        statements = hub_statements(environments, hub or Hub.from_config(config))
        direct = [e for e in environments if e.credentials.role_arn is None]
        if direct:
            statements += target_statements(config, direct)
    else:  # a typo in code, not a user's: the CLI offers hub|target only
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return {"Version": POLICY_VERSION, "Statement": statements}


# --- target: what fleetpatch does in an environment's account --------------------------------


def target_statements(config: Config, environments: Sequence[Environment]) -> list[dict[str, Any]]:
    clusters = _unique(_cluster_patterns(e) for e in environments)
    services = _unique(_service_patterns(e, "service") for e in environments)
    deployments = _unique(_service_patterns(e, "service-deployment", "/*") for e in environments)
    revisions = _unique(_service_patterns(e, "service-revision", "/*") for e in environments)
    tasks = _unique(_cluster_patterns(e, "task", "/*") for e in environments)
    families = _unique([_where(e).arn("ecs", "task-definition/*")] for e in environments)
    task_roles = _unique(
        [f"arn:{_where(e).arn_partition}:iam::{e.account_id}:role/*"] for e in environments
    )
    repositories = _unique(_repositories(config, e) for e in environments)
    own_registries = _unique([repository_arn(e.account_id, e.region, "*")] for e in environments)
    excluded = _unique(_service_patterns(e, "service", excluded=True) for e in environments)

    statements = [
        # SAR: ecs:ListClusters has no resource type.
        _allow("EcsListClusters", ["ecs:ListClusters"], "*"),
        # SAR: ListServices and ListTasks have no resource type of their own here; the
        # ecs:cluster condition key keeps them to the configured clusters.
        _allow(
            "EcsListInClusters",
            ["ecs:ListServices", "ecs:ListTasks"],
            "*",
            {"ArnLike": {ECS_CLUSTER_KEY: clusters}},
        ),
        _allow(
            "EcsReadServices",
            [
                "ecs:DescribeServices",
                "ecs:ListServiceDeployments",
                "ecs:DescribeServiceDeployments",
                "ecs:DescribeServiceRevisions",
            ],
            services + deployments + revisions,
        ),
        _allow("EcsReadTasks", ["ecs:DescribeTasks"], tasks),
        # SAR: DescribeTaskDefinition and ListTaskDefinitions have no resource type.
        _allow(
            "EcsReadTaskDefinitions", ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"], "*"
        ),
        _allow(
            "EcsDeploySidecar",
            ["ecs:UpdateService", "ecs:StopServiceDeployment"],
            services + deployments,
        ),
        # Task definition families are the services' own, not named in the config: any
        # family of the environment's account and Region.
        _allow("EcsRegisterRevisions", ["ecs:RegisterTaskDefinition"], families),
        _allow(
            "EcsTagNewRevisions",
            ["ecs:TagResource"],
            families,
            {"StringEquals": {ECS_CREATE_ACTION: "RegisterTaskDefinition"}},
        ),
        # A pinned revision keeps the task and execution roles of the one it copies.
        _allow(
            "PassTaskRoles",
            ["iam:PassRole"],
            task_roles,
            {"StringEquals": {PASSED_TO_SERVICE: ECS_TASKS_PRINCIPAL}},
        ),
    ]
    if repositories:
        statements += [
            _allow(
                "EcrReadImages",
                [
                    "ecr:DescribeRepositories",
                    "ecr:DescribeImages",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:GetLifecyclePolicy",
                    "ecr:DescribeImageScanFindings",
                ],
                repositories,
            ),
            # Re-tagging (promote, rollback) and `hold`'s in-use tags.
            _allow("EcrTagImages", ["ecr:PutImage", "ecr:BatchDeleteImage"], repositories),
        ]
    # Before a forced new deployment, every other container's tag is resolved where it
    # lives, to prove only the sidecar changes (rollout/others.py): the services' own
    # repositories, which the config does not name. Reads of the environment's own ECR;
    # an app image in another account needs that repository added by hand (docs/iam.md).
    statements.append(_allow("EcrResolveOtherTags", ["ecr:BatchGetImage"], own_registries))
    # SAR: inspector2:ListFindings has no resource type.
    statements.append(_allow("InspectorFindings", ["inspector2:ListFindings"], "*"))
    if excluded:
        statements.append(
            {
                "Sid": "EcsKeepOffExcludedServices",
                "Effect": "Deny",
                "Action": ["ecs:UpdateService", "ecs:StopServiceDeployment"],
                "Resource": excluded,
            }
        )
    return statements


def _where(environment: Environment) -> Where:
    return Where(environment.account_id, environment.region)


def _cluster_patterns(env: Environment, kind: str = "cluster", tail: str = "") -> list[str]:
    return [_where(env).arn("ecs", f"{kind}/{iam_pattern(c)}{tail}") for c in env.clusters]


def _service_patterns(
    env: Environment, kind: str, tail: str = "", *, excluded: bool = False
) -> list[str]:
    names = env.exclude_services if excluded else env.services
    return [
        _where(env).arn("ecs", f"{kind}/{iam_pattern(c)}/{iam_pattern(s)}{tail}")
        for c in env.clusters
        for s in names
    ]


def _repositories(config: Config, env: Environment) -> list[str]:
    """Each sidecar's repository where the environment reads it: its own ECR, or the ECR
    the sidecar's `image` names (another account's or Region's); none for other registries,
    which are read over HTTP, not the AWS API."""
    found: list[str] = []
    for sidecar in config.sidecars:
        location = configured_location(sidecar.image, env.account_id, env.region)
        if location.account is None or location.region is None:
            continue
        found.append(repository_arn(location.account, location.region, sidecar.repository))
    return found


# --- hub: where fleetpatch runs ---------------------------------------------------------------


def hub_statements(environments: Sequence[Environment], hub: Hub) -> list[dict[str, Any]]:
    where = hub.where
    statements: list[dict[str, Any]] = []
    roles = _unique([e.credentials.role_arn] for e in environments if e.credentials.role_arn)
    if roles:
        statements.append(_allow("AssumeTargetRoles", ["sts:AssumeRole"], roles))
    if hub.table:
        statements.append(
            _allow(
                "JournalTable",
                [
                    "dynamodb:DescribeTable",
                    "dynamodb:GetItem",
                    "dynamodb:Query",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:ConditionCheckItem",
                ],
                where.arn("dynamodb", f"table/{hub.table}"),
            )
        )
    anchor = _S3_URL.match(hub.anchor or "")
    if anchor:
        bucket, prefix = anchor.group(1), (anchor.group(2) or "").strip("/")
        objects = s3_arn(bucket, f"{prefix}/*" if prefix else "*", partition_name=where.partition)
        statements += [
            # Anchors are written with a COMPLIANCE retention: s3:PutObjectRetention too.
            _allow(
                "JournalAnchor", ["s3:PutObject", "s3:PutObjectRetention", "s3:GetObject"], objects
            ),
            _allow(
                "JournalAnchorBucket",
                ["s3:ListBucket", "s3:GetBucketObjectLockConfiguration"],
                s3_arn(bucket, partition_name=where.partition),
            ),
        ]
    if hub.state_machine_arn:
        statements.append(_allow("StartRollouts", ["states:StartExecution"], hub.state_machine_arn))
    if hub.snapshot_bucket:
        statements.append(
            _allow(
                "InventorySnapshots",
                ["s3:PutObject", "s3:GetObject"],
                s3_arn(hub.snapshot_bucket, "*", partition_name=where.partition),
            )
        )
    if hub.slack_secret:
        statements.append(
            _allow(
                "SlackSecret",
                ["secretsmanager:GetSecretValue"],
                secret_arn(where, hub.slack_secret),
            )
        )
    return statements


# --- helpers ---------------------------------------------------------------------------------


def _allow(
    sid: str,
    actions: Sequence[str],
    resources: str | Sequence[str],
    condition: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": resources if isinstance(resources, str) else list(resources),
    }
    if condition:
        statement["Condition"] = {op: dict(keys) for op, keys in condition.items()}
    return statement


def _unique(groups: Iterable[Iterable[str]]) -> list[str]:
    """The items of `groups` in order, each once."""
    return list(dict.fromkeys(item for group in groups for item in group))
