"""Every AWS operation fleetpatch calls, and what IAM checks for it.

One row per operation as botocore spells it (service name, operation name): the IAM actions
it needs and the kind of resource each is checked against. Where the Service Authorization
Reference (SAR) lists no resource type for an action, IAM checks it against `*`, and that
is the only place a policy of fleetpatch's says `Resource: "*"`. The SAR pages:
https://docs.aws.amazon.com/service-authorization/latest/reference/list_<service>.html
(list_amazonelasticcontainerservice, list_amazonelasticcontainerregistry,
list_awssecuritytokenservice, list_amazoninspector2, list_awssecretsmanager,
list_awsstepfunctions, list_amazondynamodb, list_amazons3, list_awslambda,
list_awsidentityandaccessmanagementiam).

`checks(service, operation, params, where)` turns one request into the (action, resource
ARN, condition context) triples IAM evaluates for it: what the recorder test and
`evaluate.allows` consume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fleetpatch.iam.arns import (
    Where,
    cluster_arn,
    repository_arn,
    s3_arn,
    secret_arn,
    service_arn,
    service_of,
    task_arn,
    task_definition_arn,
)

ResourceKind = Literal[
    "none",  # the SAR lists no resource type: IAM checks "*"
    "cluster",
    "service",
    "service-deployment",
    "service-revision",
    "task",
    "task-definition",
    "container-instance",
    "repository",
    "table",
    "bucket",
    "object",
    "secret",
    "state-machine",
    "role",
    "function",
]
Role = Literal["hub", "target"]

# ECS: "If tags are specified in the resource-creating action, AWS performs additional
# authorization" of ecs:TagResource with ecs:CreateAction = the creating action (ECS
# developer guide, "Grant permission to tag resources on creation").
ECS_CREATE_ACTION = "ecs:CreateAction"
# iam:PassRole for a task definition's roles is asked with iam:PassedToService = the
# service principal that will assume them.
PASSED_TO_SERVICE = "iam:PassedToService"
ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"
# ListServices and ListTasks have no resource type in the SAR; their ecs:cluster condition
# key is how a policy keeps them to the configured clusters.
ECS_CLUSTER_KEY = "ecs:cluster"


@dataclass(frozen=True)
class Grant:
    """One IAM action an operation needs, checked against one kind of resource."""

    action: str
    resource: ResourceKind
    # Asked only when the request carries this parameter (ecs:TagResource with `tags`).
    only_with: str | None = None
    # Fixed condition context IAM evaluates with it (iam:PassedToService, ...).
    context: Mapping[str, str] = field(default_factory=dict)
    # The ecs:cluster condition key is set to the request's cluster.
    cluster_key: bool = False
    # TransactWriteItems: the kind of item (Put, Update, ConditionCheck, Delete) asked for.
    item: str | None = None


@dataclass(frozen=True)
class Operation:
    service: str  # botocore's service name: "ecs", "ecr", "sts", "dynamodb", ...
    name: str  # botocore's operation name: "UpdateService"
    role: Role  # whose credentials make it: the hub's, or a target environment's
    grants: tuple[Grant, ...]
    note: str = ""


def _op(service: str, name: str, role: Role, *grants: Grant, note: str = "") -> Operation:
    return Operation(service, name, role, grants, note)


def _g(action: str, resource: ResourceKind, **kwargs: Any) -> Grant:
    return Grant(action, resource, **kwargs)


_TAG_ON_CREATE = {ECS_CREATE_ACTION: "RegisterTaskDefinition"}
_PASS_TO_ECS = {PASSED_TO_SERVICE: ECS_TASKS_PRINCIPAL}

_ROWS: tuple[Operation, ...] = (
    # --- ECS, in each environment -------------------------------------------------------
    _op("ecs", "ListClusters", "target", _g("ecs:ListClusters", "none")),
    _op("ecs", "ListServices", "target", _g("ecs:ListServices", "none", cluster_key=True)),
    _op("ecs", "DescribeServices", "target", _g("ecs:DescribeServices", "service")),
    _op("ecs", "ListServiceDeployments", "target", _g("ecs:ListServiceDeployments", "service")),
    _op(
        "ecs",
        "DescribeServiceDeployments",
        "target",
        _g("ecs:DescribeServiceDeployments", "service"),
        _g("ecs:DescribeServiceDeployments", "service-deployment"),
        note="the SAR marks both service* and service-deployment* required",
    ),
    _op(
        "ecs",
        "DescribeServiceRevisions",
        "target",
        _g("ecs:DescribeServiceRevisions", "service"),
        _g("ecs:DescribeServiceRevisions", "service-revision"),
    ),
    _op(
        "ecs",
        "ListTasks",
        "target",
        _g("ecs:ListTasks", "none", cluster_key=True),
        note="the SAR's container-instance resource applies to listing one instance's tasks; "
        "by cluster and service, ListTasks is scoped with ecs:cluster",
    ),
    _op("ecs", "DescribeTasks", "target", _g("ecs:DescribeTasks", "task")),
    _op("ecs", "DescribeTaskDefinition", "target", _g("ecs:DescribeTaskDefinition", "none")),
    _op("ecs", "ListTaskDefinitions", "target", _g("ecs:ListTaskDefinitions", "none")),
    _op(
        "ecs",
        "RegisterTaskDefinition",
        "target",
        _g("ecs:RegisterTaskDefinition", "task-definition"),
        _g("ecs:TagResource", "task-definition", only_with="tags", context=_TAG_ON_CREATE),
        _g("iam:PassRole", "role", context=_PASS_TO_ECS),
        note="pin mode copies the revision, its task and execution roles included: "
        "registering it passes them (iam:PassRole) and tags it (ecs:TagResource)",
    ),
    _op("ecs", "UpdateService", "target", _g("ecs:UpdateService", "service")),
    _op(
        "ecs",
        "StopServiceDeployment",
        "target",
        _g("ecs:StopServiceDeployment", "service"),
        _g("ecs:StopServiceDeployment", "service-deployment"),
    ),
    # --- ECR: the sidecar's repositories ------------------------------------------------
    *(
        _op("ecr", name, "target", _g(f"ecr:{name}", "repository"))
        for name in (
            "DescribeRepositories",
            "DescribeImages",
            "BatchGetImage",
            "GetDownloadUrlForLayer",
            "GetLifecyclePolicy",
            "DescribeImageScanFindings",
            "PutImage",
            "BatchDeleteImage",
        )
    ),
    # --- Inspector: findings of the running digests --------------------------------------
    _op("inspector2", "ListFindings", "target", _g("inspector2:ListFindings", "none")),
    # --- STS ---------------------------------------------------------------------------
    _op(
        "sts",
        "GetCallerIdentity",
        "target",
        note="no permission is required (STS API reference, GetCallerIdentity): an explicit "
        "deny cannot stop it either",
    ),
    _op("sts", "AssumeRole", "hub", _g("sts:AssumeRole", "role")),
    # --- the hub's own resources -------------------------------------------------------
    _op("secretsmanager", "GetSecretValue", "hub", _g("secretsmanager:GetSecretValue", "secret")),
    _op("lambda", "Invoke", "hub", _g("lambda:InvokeFunction", "function")),
    _op("stepfunctions", "StartExecution", "hub", _g("states:StartExecution", "state-machine")),
    *(
        _op("dynamodb", name, "hub", _g(f"dynamodb:{name}", "table"))
        for name in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "DescribeTable")
    ),
    _op(
        "dynamodb",
        "TransactWriteItems",
        "hub",
        _g("dynamodb:PutItem", "table", item="Put"),
        _g("dynamodb:UpdateItem", "table", item="Update"),
        _g("dynamodb:ConditionCheckItem", "table", item="ConditionCheck"),
        _g("dynamodb:DeleteItem", "table", item="Delete"),
        note="IAM has no TransactWriteItems action: each item is authorized as its own write",
    ),
    _op(
        "s3",
        "PutObject",
        "hub",
        _g("s3:PutObject", "object"),
        _g("s3:PutObjectRetention", "object", only_with="ObjectLockMode"),
        note="an Object Lock retention set on upload needs s3:PutObjectRetention too",
    ),
    _op("s3", "GetObject", "hub", _g("s3:GetObject", "object")),
    _op("s3", "HeadObject", "hub", _g("s3:GetObject", "object")),
    _op("s3", "ListObjectsV2", "hub", _g("s3:ListBucket", "bucket")),
    _op(
        "s3",
        "GetObjectLockConfiguration",
        "hub",
        _g("s3:GetBucketObjectLockConfiguration", "bucket"),
    ),
)

OPERATIONS: Mapping[tuple[str, str], Operation] = {(op.service, op.name): op for op in _ROWS}


def operation(service: str, name: str) -> Operation | None:
    """The row for a botocore operation, or None: fleetpatch was not known to call it."""
    return OPERATIONS.get((service, name))


def actions_for(role: Role) -> frozenset[str]:
    """Every IAM action the table grants to `role`."""
    return frozenset(g.action for op in _ROWS if op.role == role for g in op.grants)


def unscoped_actions() -> frozenset[str]:
    """The actions the SAR lists without a resource type: the only ones IAM checks on "*"."""
    return frozenset(g.action for op in _ROWS for g in op.grants if g.resource == "none")


# --- one request -> what IAM checks ----------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One authorization IAM makes for a request."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


def checks(service: str, name: str, params: Mapping[str, Any], where: Where) -> tuple[Check, ...]:
    """The authorizations a request makes (KeyError: the operation has no row)."""
    row = OPERATIONS[(service, name)]
    found: list[Check] = []
    for grant in row.grants:
        if grant.only_with is not None and not params.get(grant.only_with):
            continue
        context = dict(grant.context)
        if grant.cluster_key:
            context[ECS_CLUSTER_KEY] = cluster_arn(where, str(params.get("cluster", "default")))
        for resource in _resources(grant, params, where):
            found.append(Check(grant.action, resource, context))
    return tuple(found)


def _resources(grant: Grant, params: Mapping[str, Any], where: Where) -> Sequence[str]:
    kind = grant.resource
    cluster = str(params.get("cluster", "default"))
    if kind == "none":
        return ["*"]
    if kind == "service":
        if "serviceDeploymentArns" in params or "serviceDeploymentArn" in params:
            return [service_of(arn) for arn in _deployments(params)]
        if "serviceRevisionArns" in params:
            return [service_of(arn) for arn in params["serviceRevisionArns"]]
        names = params.get("services") or [params["service"]]
        return [service_arn(where, cluster, str(name)) for name in names]
    if kind == "service-deployment":
        return _deployments(params)
    if kind == "service-revision":
        return [str(arn) for arn in params["serviceRevisionArns"]]
    if kind == "task":
        return [task_arn(where, cluster, str(task)) for task in params["tasks"]]
    if kind == "task-definition":
        # The revision a registration creates is not known before the call.
        return [task_definition_arn(where, str(params["family"]))]
    if kind == "repository":
        account = str(params.get("registryId") or where.account)
        names = params.get("repositoryNames") or [params["repositoryName"]]
        return [repository_arn(account, where.region, str(name)) for name in names]
    if kind == "role":
        keys = ("RoleArn",) if grant.action == "sts:AssumeRole" else _TASK_ROLES
        return [str(params[key]) for key in keys if params.get(key)]
    if kind == "table":
        return _tables(grant, params, where)
    if kind == "object":
        return [s3_arn(params["Bucket"], params["Key"], partition_name=where.arn_partition)]
    if kind == "bucket":
        return [s3_arn(params["Bucket"], partition_name=where.arn_partition)]
    if kind == "secret":
        return [secret_arn(where, str(params["SecretId"]))]
    if kind == "state-machine":
        return [str(params["stateMachineArn"])]
    if kind == "function":
        name = str(params["FunctionName"])
        return [name if name.startswith("arn:") else where.arn("lambda", f"function:{name}")]
    raise ValueError(f"no ARN builder for resource kind {kind}")


_TASK_ROLES = ("taskRoleArn", "executionRoleArn")


def _deployments(params: Mapping[str, Any]) -> list[str]:
    if "serviceDeploymentArn" in params:
        return [str(params["serviceDeploymentArn"])]
    return [str(arn) for arn in params["serviceDeploymentArns"]]


def _tables(grant: Grant, params: Mapping[str, Any], where: Where) -> list[str]:
    if grant.item is None:
        names = [str(params["TableName"])]
    else:
        names = [
            str(item[grant.item]["TableName"])
            for item in params.get("TransactItems", ())
            if grant.item in item
        ]
    return [
        name if name.startswith("arn:") else where.arn("dynamodb", f"table/{name}")
        for name in names
    ]
