"""Least privilege in deploy/*.yaml: every role is allowed exactly the actions its code makes
(the tables below name the code behind each), no action has a wildcard, and every resource is
scoped, except for actions AWS authorizes on no resource at all.

The tables are written by hand, as the template's statements are: `fleetpatch iam-policy`
(fleetpatch.iam.policy_document) computes the same from a config, and once it is on main these
tables can be replaced by it (the template's hub and target statements = its "hub" and
"target" documents)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.cfn import actions_of, as_list, deployed, load, resources_of, role_statements

TEMPLATE = deployed(load("template.yaml"), {"HasSlackSecret": True, "HasEventSources": True})
TARGET = deployed(load("target-role.yaml"), {"HasExternalId": True, "ForwardsEvents": True})

LOGS = {
    "logs:CreateLogStream": "the Lambda runtime: the function's stdout/stderr to its log group",
    "logs:PutLogEvents": "the Lambda runtime: the function's log lines (JsonLinesSink, logging)",
}
JOURNAL = {
    "dynamodb:DescribeTable": "fleetpatch.journal (DynamoDB store): the start-time table check",
    "dynamodb:GetItem": "journal: the chain head, the lock, a request",
    "dynamodb:Query": "journal: entries, history, requests, answer caches",
    "dynamodb:PutItem": "journal: an append (inside TransactWriteItems), a cache entry",
    "dynamodb:UpdateItem": "journal: the lock, approval transitions (TransactWriteItems)",
    "dynamodb:DeleteItem": "journal: releasing the lock",
    "dynamodb:ConditionCheckItem": "journal: TransactWriteItems' check of the chain head",
    "s3:ListBucket": "journal: ListObjectsV2 of the anchors (journal verify)",
    "s3:GetBucketObjectLockConfiguration": "journal: the start-time Object Lock check",
    "s3:GetObject": "journal: reading an anchor",
    "s3:PutObject": "journal: writing an anchor",
    "s3:PutObjectRetention": "journal: PutObject with ObjectLockMode=COMPLIANCE",
    "sts:AssumeRole": "fleetpatch.aws.session._assume_role_fetcher: each environment's role",
}
SLACK_SECRET = {
    "secretsmanager:GetSecretValue": "fleetpatch.secrets._secretsmanager (FLEETPATCH_SLACK_SECRET)"
}
SELF_INVOKE = {
    "lambda:InvokeFunction": "slack.aws_lambda.LambdaJobLauncher, Bolt's lazy listener runner, "
    "chatbot.launcher.LambdaLauncher: a job in an async invocation of the same function",
}
HAND_OFF = {
    "states:StartExecution": "fleetpatch.workflow.handoff: an authorized run's waves, one "
    "execution named by the rollout id",
}
STATES_LOGS = {
    action: "Step Functions' execution logs (Logging in the template)"
    for action in (
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    )
}

HUB_ROLES: dict[str, dict[str, str]] = {
    "StepsRole": {**LOGS, **JOURNAL, **SLACK_SECRET},
    "SlackRole": {**LOGS, **JOURNAL, **SLACK_SECRET, **SELF_INVOKE, **HAND_OFF},
    "ChatbotRole": {**LOGS, **JOURNAL, **SLACK_SECRET, **SELF_INVOKE, **HAND_OFF},
    "EventsRole": {
        **LOGS,
        **JOURNAL,
        **SLACK_SECRET,
        "states:StartExecution": "fleetpatch.events.act: StartExecution named by the rollout id",
        "sqs:SendMessage": "Lambda's OnFailure destination (EventInvokeConfig): failed events",
    },
    "InventoryRole": {
        **LOGS,
        **JOURNAL,
        "s3:GetObject": "fleetpatch.workflow.snapshots: get (merge, a shard's snapshot)",
        "s3:PutObject": "fleetpatch.workflow.snapshots: put (inventory_shard, merge)",
        "s3:ListBucket": "snapshots.get: a missing snapshot is NoSuchKey only with ListBucket",
    },
    "RolloutStateMachineRole": {
        **STATES_LOGS,
        "lambda:InvokeFunction": "rollout.asl.json Plan, Finish (${StepsFunctionArn})",
        "states:StartExecution": "rollout.asl.json RunWave (startExecution.sync:2)",
        "states:DescribeExecution": "RunWave's .sync: following the wave's execution",
        "states:StopExecution": "RunWave's .sync: stopping the wave with the rollout",
        "events:PutTargets": "RunWave's .sync: Step Functions' managed completion rule",
        "events:PutRule": "RunWave's .sync: Step Functions' managed completion rule",
        "events:DescribeRule": "RunWave's .sync: Step Functions' managed completion rule",
    },
    "WaveStateMachineRole": {
        **STATES_LOGS,
        "lambda:InvokeFunction": "wave.asl.json StartWave, Judge, Poll, Halt",
    },
    "InventoryStateMachineRole": {
        **STATES_LOGS,
        "lambda:InvokeFunction": "inventory.asl.json Shards, InventoryShard, Merge",
    },
}

TARGET_ACTIONS = {
    "ecs:ListClusters": "inventory.fleet: clusters = ['*'] lists them",
    "ecs:ListServices": "inventory.fleet: a cluster's services",
    "ecs:DescribeServices": "inventory.fleet, rollout.ecs: services, deployments",
    "ecs:ListTasks": "inventory.fleet, rollout.verify: running tasks",
    "ecs:DescribeTasks": "inventory.fleet, rollout.verify: the digests tasks run",
    "ecs:DescribeTaskDefinition": "inventory.fleet, rollout.act: the sidecar's image",
    "ecs:ListTaskDefinitions": "rollout.act._registered_earlier: a revision registered before",
    "ecs:RegisterTaskDefinition": "rollout.act._pinned_revision: the pinned revision",
    "ecs:TagResource": "rollout.act: RegisterTaskDefinition with tags (the rollout id)",
    "iam:PassRole": "rollout.act: the new revision's task and execution roles",
    "ecs:UpdateService": "rollout.act: the service to the pinned revision",
    "ecs:ListServiceDeployments": "rollout.ecs: a service's deployments",
    "ecs:DescribeServiceDeployments": "rollout.ecs: a deployment's state and rollback",
    "ecs:StopServiceDeployment": "rollout.act: halting a wave rolls back in-flight deployments",
    "ecs:DescribeServiceRevisions": "inventory.fleet: the images a revision resolved",
    "ecr:DescribeRepositories": "inventory.registry: the repository",
    "ecr:DescribeImages": "inventory.registry: tags and digests",
    "ecr:BatchGetImage": "inventory.registry, rollout.retag: manifests",
    "ecr:GetDownloadUrlForLayer": "inventory.registry: an image's config (its version label)",
    "ecr:GetLifecyclePolicy": "inventory.registry: lifecycle-policy traps (status)",
    "ecr:DescribeImageScanFindings": "compliance.ecr: basic scan findings",
    "ecr:PutImage": "rollout.retag (rollback), inventory.hold: tags",
    "ecr:BatchDeleteImage": "inventory.hold: removing a hold tag",
    "inspector2:ListFindings": "compliance.inspector: enhanced scan findings",
}
FORWARDING = {"events:PutEvents": "the ForwardToHub rule's target: the hub's event bus"}

# Actions the Service Authorization Reference lists with no resource type: their statements
# must say Resource "*" (and are narrowed by conditions where the action has any).
UNSCOPED = {
    "ecs:ListClusters",
    "ecs:ListServices",  # the cluster is a condition key (ecs:cluster), not a resource
    "ecs:ListTasks",  # likewise
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ecs:RegisterTaskDefinition",
    "inspector2:ListFindings",
    *STATES_LOGS,
}


def _roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of(template, "AWS::IAM::Role")


def _allowed(template: dict[str, Any], role: str) -> set[str]:
    return {
        action
        for statement in role_statements(template, role)
        if statement["Effect"] == "Allow"
        for action in actions_of(statement)
    }


def test_every_hub_role_is_in_the_table() -> None:
    assert set(_roles(TEMPLATE)) == set(HUB_ROLES)


@pytest.mark.parametrize("role", sorted(HUB_ROLES))
def test_each_hub_role_allows_exactly_what_its_code_calls(role: str) -> None:
    assert _allowed(TEMPLATE, role) == set(HUB_ROLES[role])


def test_the_target_role_allows_exactly_what_fleetpatch_calls_in_an_environment() -> None:
    assert _allowed(TARGET, "TargetRole") == set(TARGET_ACTIONS)
    assert _allowed(TARGET, "ForwardingRole") == set(FORWARDING)


def _all_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(role, s) for role in _roles(template) for s in role_statements(template, role)]
    for name, policy in resources_of(template, "AWS::IAM::ManagedPolicy").items():
        found.extend(
            (name, s) for s in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
        )
    return found


@pytest.mark.parametrize("template", [TEMPLATE, TARGET], ids=["hub", "target"])
def test_no_allowed_action_has_a_wildcard(template: dict[str, Any]) -> None:
    for where, statement in _all_statements(template):
        if statement["Effect"] == "Allow":
            for action in actions_of(statement):
                assert "*" not in action, f"{where}: {action}"
                assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), f"{where}: {action}"


def _resources(statement: dict[str, Any]) -> list[Any]:
    return as_list(statement["Resource"])


@pytest.mark.parametrize("template", [TEMPLATE, TARGET], ids=["hub", "target"])
def test_every_resource_is_scoped_unless_aws_scopes_none(template: dict[str, Any]) -> None:
    for where, statement in _all_statements(template):
        if statement["Effect"] != "Allow":
            continue
        actions = set(actions_of(statement))
        if "*" in _resources(statement):
            assert _resources(statement) == ["*"]
            assert actions <= UNSCOPED, f"{where} {statement.get('Sid')}: {actions - UNSCOPED}"
        else:
            assert not actions & UNSCOPED, f"{where}: {actions & UNSCOPED} with a resource"
            for resource in _resources(statement):
                # A reference to this template's resource or parameter, or an ARN naming one.
                assert resource != "*", where


def test_target_arns_with_wildcard_accounts_are_pinned_to_this_account() -> None:
    """ARNs built from the name lists carry * for partition, Region and account
    (Fn::Join's delimiter is literal); aws:ResourceAccount makes them this account's only."""
    for where, statement in _all_statements(TARGET):
        built = [r for r in _resources(statement) if isinstance(r, dict) and "Fn::Split" in r]
        if built:
            condition = statement["Condition"]["StringEquals"]
            assert condition["aws:ResourceAccount"] == {"Ref": "AWS::AccountId"}, where
            assert condition["aws:RequestedRegion"] == {"Ref": "AWS::Region"}, where


def test_the_list_actions_are_narrowed_to_the_named_clusters() -> None:
    for _, statement in _all_statements(TARGET):
        if set(actions_of(statement)) & {"ecs:ListServices", "ecs:ListTasks"}:
            assert "ecs:cluster" in statement["Condition"]["ArnLike"]


def test_passrole_only_to_ecs_tasks_and_tagging_only_on_create() -> None:
    for _, statement in _all_statements(TARGET):
        actions = set(actions_of(statement))
        if "iam:PassRole" in actions:
            assert statement["Condition"] == {
                "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
            }
            assert statement["Resource"] == {"Ref": "PassRoleArns"}
        if "ecs:TagResource" in actions:
            condition = statement["Condition"]["StringEquals"]
            assert condition["ecs:CreateAction"] == "RegisterTaskDefinition"


def test_the_target_role_trusts_only_the_hubs_function_roles() -> None:
    trust = TARGET["Resources"]["TargetRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"]["ArnLike"] == {
        "aws:PrincipalArn": {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${HubAccountId}:role"
            "/fleetpatch/${HubStackName}/*"
        }
    }
    assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": {"Ref": "ExternalId"}}
    # The hub's function roles live under exactly that path, its state machines' elsewhere.
    for name, role in _roles(TEMPLATE).items():
        path = role["Properties"]["Path"]["Fn::Sub"]
        assumes = "sts:AssumeRole" in _allowed(TEMPLATE, name)
        assert (path == "/fleetpatch/${AWS::StackName}/") == assumes, name
    without = deployed(load("target-role.yaml"), {"HasExternalId": False, "ForwardsEvents": False})
    (bare,) = without["Resources"]["TargetRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    assert "StringEquals" not in bare["Condition"]
    assert "ForwardToHub" not in without["Resources"]


def test_every_task_a_definition_names_is_a_function_its_role_may_invoke() -> None:
    machines = resources_of(TEMPLATE, "AWS::Serverless::StateMachine")
    for name, machine in machines.items():
        properties = machine["Properties"]
        role = properties["Role"]["Fn::GetAtt"][0]
        allowed = [
            r
            for s in role_statements(TEMPLATE, role)
            if "lambda:InvokeFunction" in actions_of(s)
            for r in _resources(s)
        ]
        for placeholder, value in properties["DefinitionSubstitutions"].items():
            if placeholder.endswith("FunctionArn"):
                function = value["Fn::GetAtt"][0]
                assert {"Fn::GetAtt": [function, "Arn"]} in allowed, name


def test_the_target_role_is_what_fleetpatch_iam_policy_generates() -> None:
    # The template and `fleetpatch iam-policy --role target` are one policy: the target role
    # allows every action the operation table gives an environment's credentials, and the
    # document generated for the talk's config (every feature on) asks for no other.
    from fleetpatch.config import load_config
    from fleetpatch.iam import OPERATIONS, policy_document

    table = {
        grant.action for op in OPERATIONS.values() if op.role == "target" for grant in op.grants
    }
    template = _allowed(TARGET, "TargetRole")
    assert template == table
    config = load_config(Path(__file__).parents[2] / "examples" / "talk" / "fleetpatch.toml")
    generated = {
        action
        for statement in policy_document(config, "target")["Statement"]
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    }
    assert generated <= template, generated - template


def test_the_hub_roles_cover_what_fleetpatch_iam_policy_generates_for_the_hub() -> None:
    # `fleetpatch iam-policy --role hub` is one document for wherever fleetpatch runs; the
    # template splits it by function. Every action it asks for is some function's.
    from fleetpatch.config import load_config
    from fleetpatch.iam import Hub, policy_document

    config = load_config(Path(__file__).parents[2] / "examples" / "talk" / "fleetpatch.toml")
    hub = Hub(
        account_id="999999999999",
        region="ap-northeast-1",
        table="fleetpatch-journal",
        anchor="s3://fleetpatch-anchors",
        state_machine_arn="arn:aws:states:ap-northeast-1:999999999999:stateMachine:fleetpatch-rollout",
        snapshot_bucket="fleetpatch-snapshots",
        slack_secret="arn:aws:secretsmanager:ap-northeast-1:999999999999:secret:fleetpatch/slack",
    )
    generated = {
        action
        for statement in policy_document(config, "hub", hub=hub)["Statement"]
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    }
    template = set().union(*(_allowed(TEMPLATE, role) for role in HUB_ROLES))
    assert generated <= template, generated - template
