"""The generated policies: what they allow and deny, as IAM would evaluate them."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.config import Config
from fleetpatch.iam import Hub, allows, checks, policy_document
from fleetpatch.iam.actions import OPERATIONS, actions_for, unscoped_actions
from fleetpatch.iam.arns import Where, iam_pattern
from fleetpatch.iam.evaluate import wildcard_match

names = st.from_regex(r"[a-z][a-z0-9-]{0,14}", fullmatch=True)
accounts = st.from_regex(r"[0-9]{12}", fullmatch=True)
regions = st.sampled_from(["eu-west-1", "ap-northeast-1", "us-east-1", "cn-north-1"])


def make_config(environments: list[dict[str, Any]], **extra: Any) -> Config:
    return Config.model_validate(
        {
            "sidecars": [{"name": "fluent-bit", "repository": "fluent-bit"}],
            "environments": environments,
            **extra,
        }
    )


def env(name: str = "dev", account: str = "111111111111", **keys: Any) -> dict[str, Any]:
    return {"name": name, "account_id": account, "region": "eu-west-1", **keys}


def allowed(policy: dict[str, Any], call: str, where: Where, /, **params: Any) -> bool:
    """Whether `policy` allows every authorization of the request `call` ("ecs:UpdateService")."""
    service, operation = call.split(":")
    return all(
        allows(policy, c.action, c.resource, c.context)
        for c in checks(service, operation, params, where)
    )


@given(account=accounts, region=regions, cluster=names, service=names, other=accounts)
def test_a_configured_service_is_deployable_and_the_same_name_elsewhere_is_not(
    account: str, region: str, cluster: str, service: str, other: str
) -> None:
    config = make_config([env(account=account, region=region, clusters=[cluster])])
    policy = policy_document(config, "target", "dev")
    here = Where(account, region)
    for operation in ("UpdateService", "DescribeServices"):
        params = {"cluster": cluster, "service": service, "services": [service]}
        assert allowed(policy, f"ecs:{operation}", here, **params)
        if other != account:
            assert not allowed(policy, f"ecs:{operation}", Where(other, region), **params)
    assert allowed(policy, "ecs:ListServices", here, cluster=cluster)
    assert not allowed(policy, "ecs:ListServices", here, cluster=cluster + "-x")
    assert not allowed(policy, "ecs:UpdateService", here, cluster=cluster + "-x", service=service)
    assert allowed(policy, "ecr:PutImage", here, repositoryName="fluent-bit")
    assert not allowed(policy, "ecr:PutImage", here, repositoryName="payment-api")


@given(cluster=names, service=names, excluded=names)
def test_service_globs_scope_the_writes_and_excluded_services_are_denied(
    cluster: str, service: str, excluded: str
) -> None:
    config = make_config(
        [env(clusters=[f"{cluster}*"], services=["api-*"], exclude_services=[f"api-{excluded}"])]
    )
    policy = policy_document(config, "target", "dev")
    here = Where("111111111111", "eu-west-1")
    inside = {"cluster": f"{cluster}-blue"}
    assert allowed(policy, "ecs:UpdateService", here, service=f"api-{service}x", **inside) == (
        f"api-{service}x" != f"api-{excluded}"
    )
    assert not allowed(policy, "ecs:UpdateService", here, service=f"api-{excluded}", **inside)
    assert not allowed(policy, "ecs:UpdateService", here, service=f"web-{service}", **inside)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["Statement"])


@given(st.lists(st.tuples(names, accounts), min_size=1, max_size=4, unique_by=lambda t: t[0]))
def test_no_statement_has_a_wildcard_action_and_star_resources_only_where_aws_has_none(
    environments: list[tuple[str, str]],
) -> None:
    config = make_config(
        [
            env(name, account, credentials={"role_arn": f"arn:aws:iam::{account}:role/fp"})
            for name, account in environments
        ],
        journal="dynamodb://fleetpatch-journal",
    )
    hub = Hub(table="t", anchor="s3://anchors/heads", slack_secret="fleetpatch/slack")
    for role in ("hub", "target"):
        document = policy_document(config, role, None, hub=hub)  # type: ignore[arg-type]
        sids = [s["Sid"] for s in statements(document)]
        assert len(sids) == len(set(sids))
        for statement in statements(document):
            actions = statement["Action"]
            assert all("*" not in action and "?" not in action for action in actions)
            if statement["Resource"] == "*":
                assert set(actions) <= unscoped_actions(), statement["Sid"]


def test_every_action_a_role_is_given_is_one_the_table_says_it_needs() -> None:
    role = {"role_arn": "arn:aws:iam::222222222222:role/fleetpatch"}
    config = make_config([env(), env("stg", "222222222222", credentials=role)])
    hub = Hub(
        table="t",
        anchor="s3://anchors",
        state_machine_arn="arn:aws:states:eu-west-1:999999999999:stateMachine:rollout",
        snapshot_bucket="snapshots",
        slack_secret="s",
    )
    target = {a for s in statements(policy_document(config, "target")) for a in s["Action"]}
    assert target == actions_for("target")
    hub_actions = {
        a for s in statements(policy_document(config, "hub", hub=hub)) for a in s["Action"]
    }
    # The hub reaches an environment without role_arn with its own credentials.
    assert hub_actions - actions_for("target") <= actions_for("hub")
    assert actions_for("hub") - {"lambda:InvokeFunction"} <= hub_actions


def test_a_pinned_revision_may_pass_its_task_roles_to_ecs_only() -> None:
    policy = policy_document(make_config([env()]), "target", "dev")
    here = Where("111111111111", "eu-west-1")
    request = {
        "family": "api",
        "taskRoleArn": "arn:aws:iam::111111111111:role/api-task",
        "executionRoleArn": "arn:aws:iam::111111111111:role/ecsTaskExecution",
        "tags": [{"key": "fleetpatch:rollout", "value": "r-1"}],
    }
    found = checks("ecs", "RegisterTaskDefinition", request, here)
    assert {c.action for c in found} == {
        "ecs:RegisterTaskDefinition",
        "ecs:TagResource",
        "iam:PassRole",
    }
    assert all(allows(policy, c.action, c.resource, c.context) for c in found)
    # Passing the same role to another service, or a role of another account: denied.
    role = request["taskRoleArn"]
    assert not allows(policy, "iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not allows(
        policy,
        "iam:PassRole",
        "arn:aws:iam::222222222222:role/x",
        {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
    )
    # Tagging an existing resource (not on creation) is not allowed.
    assert not allows(
        policy, "ecs:TagResource", "arn:aws:ecs:eu-west-1:111111111111:task-definition/api:3"
    )


def test_the_hub_reaches_its_table_anchor_and_secret_and_assumes_only_the_target_roles() -> None:
    config = make_config(
        [env(credentials={"role_arn": "arn:aws:iam::111111111111:role/fleetpatch"})],
        journal="dynamodb://fleetpatch-journal",
    )
    hub = Hub.from_config(
        config,
        {
            "FLEETPATCH_JOURNAL_ANCHOR": "s3://fp-anchors/heads",
            "FLEETPATCH_SLACK_SECRET": "fp/slack",
        },
        account_id="999999999999",
        region="eu-west-1",
    )
    policy = policy_document(config, "hub", hub=hub)
    here = Where("999999999999", "eu-west-1")
    assert [s["Sid"] for s in statements(policy)] == [
        "AssumeTargetRoles",
        "JournalTable",
        "JournalAnchor",
        "JournalAnchorBucket",
        "SlackSecret",
    ]
    item = {"TableName": "fleetpatch-journal"}
    assert allowed(policy, "dynamodb:GetItem", here, **item)
    assert not allowed(policy, "dynamodb:GetItem", here, TableName="other")
    transact = {"TransactItems": [{"Put": item}, {"ConditionCheck": item}]}
    assert allowed(policy, "dynamodb:TransactWriteItems", here, **transact)
    locked = {"Bucket": "fp-anchors", "Key": "heads/dev", "ObjectLockMode": "COMPLIANCE"}
    assert allowed(policy, "s3:PutObject", here, **locked)
    assert not allowed(policy, "s3:PutObject", here, **{**locked, "Key": "elsewhere"})
    assert allowed(policy, "s3:GetObjectLockConfiguration", here, Bucket="fp-anchors")
    assert allowed(policy, "secretsmanager:GetSecretValue", here, SecretId="fp/slack")
    assert allowed(
        policy, "sts:AssumeRole", here, RoleArn="arn:aws:iam::111111111111:role/fleetpatch"
    )
    assert not allowed(
        policy, "sts:AssumeRole", here, RoleArn="arn:aws:iam::111111111111:role/admin"
    )
    # No ECS in the hub's own account: every environment is reached through its role.
    assert not any(s["Sid"].startswith("Ecs") for s in statements(policy))


def test_every_row_is_an_operation_botocore_knows() -> None:
    import botocore.session

    session = botocore.session.get_session()
    for service, name in OPERATIONS:
        assert name in session.get_service_model(service).operation_names, (service, name)


# --- the evaluator's wildcards -----------------------------------------------------------------

text = st.text(alphabet="abc-/:*?", max_size=12)
plain = st.text(alphabet="abc-/:", max_size=12)


@given(plain)
def test_a_pattern_without_wildcards_matches_only_itself(value: str) -> None:
    assert wildcard_match(value, value)
    assert not wildcard_match(value, value + "a")
    assert wildcard_match("*", value)


@given(plain, st.data())
def test_question_mark_stands_for_exactly_one_character(value: str, data: st.DataObject) -> None:
    if not value:
        return
    i = data.draw(st.integers(0, len(value) - 1))
    pattern = value[:i] + "?" + value[i + 1 :]
    assert wildcard_match(pattern, value)
    assert not wildcard_match(pattern, value[:i] + value[i + 1 :])


@given(st.from_regex(r"[a-z0-9*?\[\]!-]{1,12}", fullmatch=True), names)
def test_a_glob_as_an_iam_pattern_matches_at_least_what_the_glob_matches(
    glob: str, name: str
) -> None:
    import fnmatch

    if fnmatch.fnmatchcase(name, glob):
        assert wildcard_match(iam_pattern(glob), name)


def test_a_denied_call_can_name_the_statement_that_would_allow_it() -> None:
    from fleetpatch.iam import matching_sids

    config = make_config([env()], journal="dynamodb://fleetpatch-journal")
    hub = Hub(account_id="999999999999", region="eu-west-1", table="fleetpatch-journal")
    policy = policy_document(config, "hub", hub=hub)
    table = "arn:aws:dynamodb:eu-west-1:999999999999:table/fleetpatch-journal"
    assert matching_sids(policy, "dynamodb:DescribeTable", table) == ["JournalTable"]
    assert matching_sids(policy, "dynamodb:DescribeTable", table + "-other") == []
