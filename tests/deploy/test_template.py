"""deploy/template.yaml read as CloudFormation would deploy it: what each function runs and
is told (contracts: handlers, environment variables), the state machines' definitions and
their substitutions, the stores' protections, and the rules' patterns against the events AWS
documents (tests/fixtures/events/). cfn-lint and asl-validator check the syntax (make
validate); these check that the pieces fit fleetpatch."""

from __future__ import annotations

import copy
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.cfn import DEPLOY, ROOT, deployed, load, resources_of
from tests.deploy.eventpattern import matches

FIXTURES = ROOT / "tests" / "fixtures" / "events"
TEMPLATE = load("template.yaml")
# The full deployment (a Slack secret, environments forwarding their events) and the least.
FULL = deployed(TEMPLATE, {"HasSlackSecret": True, "HasEventSources": True})
BARE = deployed(TEMPLATE, {"HasSlackSecret": False, "HasEventSources": False})
FUNCTIONS = resources_of(FULL, "AWS::Serverless::Function")
GLOBAL_VARIABLES = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]

HANDLERS = {
    "StepsFunction": "fleetpatch.workflow.aws_lambda.handler",
    "SlackFunction": "fleetpatch.slack.aws_lambda.handler",
    "ChatbotFunction": "fleetpatch.chatbot.handler.handler",
    "EventsFunction": "fleetpatch.events.aws_lambda.handler",
    "InventoryFunction": "fleetpatch.workflow.inventory.handler",
}


def variables(function: str) -> dict[str, Any]:
    """A function's environment as Lambda sets it: the Globals', then its own."""
    own = FUNCTIONS[function]["Properties"].get("Environment", {}).get("Variables", {})
    return {**GLOBAL_VARIABLES, **own}


# --- the functions ---------------------------------------------------------------------------


def test_every_function_runs_a_handler_of_the_contract() -> None:
    handlers = {name: f["Properties"]["Handler"] for name, f in FUNCTIONS.items()}
    assert handlers == HANDLERS


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_each_handler_is_importable_and_callable(function: str) -> None:
    module, _, name = HANDLERS[function].rpartition(".")
    handler = getattr(importlib.import_module(module), name)
    assert callable(handler)


def test_the_runtime_is_the_one_the_package_is_built_for() -> None:
    from tests.deploy.test_package import lambda_package

    tool = lambda_package()
    function = TEMPLATE["Globals"]["Function"]
    assert function["Runtime"] == f"python{tool.PYTHON_VERSION}"
    assert function["Architectures"] == ["x86_64"] and tool.PLATFORM.endswith("_x86_64")
    # The artifact `make package` writes, relative to the template.
    assert (DEPLOY / function["CodeUri"]).resolve() == tool.DEFAULT_OUT


def test_every_function_is_told_the_config_and_the_journal_in_aws() -> None:
    for name in FUNCTIONS:
        env = variables(name)
        assert env["FLEETPATCH_CONFIG"] == "/var/task/fleetpatch.toml", name
        assert env["FLEETPATCH_JOURNAL"] == {"Fn::Sub": "dynamodb://${JournalTable}"}, name
        assert env["FLEETPATCH_JOURNAL_ANCHOR"] == {"Fn::Sub": "s3://${AnchorBucket}"}, name


def test_the_functions_that_start_rollouts_are_told_the_rollout_state_machine() -> None:
    # Events starts rollouts on a push; Slack and Chatbot hand an authorized run's waves to
    # it (workflow/handoff.py): a rollout outlasts their invocations.
    for name in ("EventsFunction", "SlackFunction", "ChatbotFunction"):
        assert variables(name)["FLEETPATCH_STATE_MACHINE_ARN"] == {"Ref": "RolloutStateMachine"}, (
            name
        )


def test_the_inventory_function_writes_to_the_snapshot_bucket() -> None:
    assert variables("InventoryFunction")["FLEETPATCH_SNAPSHOT_BUCKET"] == {"Ref": "SnapshotBucket"}


def test_the_functions_that_talk_to_slack_are_told_the_secret_and_only_with_one() -> None:
    talking = {"StepsFunction", "SlackFunction", "ChatbotFunction", "EventsFunction"}
    for name in talking:
        assert variables(name)["FLEETPATCH_SLACK_SECRET"] == {"Ref": "SlackSecretArn"}, name
    assert "FLEETPATCH_SLACK_SECRET" not in variables("InventoryFunction")
    bare = resources_of(BARE, "AWS::Serverless::Function")
    assert "SlackFunction" not in bare  # no secret, no Slack app
    for name, function in bare.items():
        assert "FLEETPATCH_SLACK_SECRET" not in function["Properties"].get("Environment", {}).get(
            "Variables", {}
        ), name


def test_timeouts_stay_well_under_lambdas_15_minutes_and_under_the_tasks_that_wait() -> None:
    for name, function in FUNCTIONS.items():
        assert function["Properties"]["Timeout"] <= 600, name
    # A step the state machine gives up on must already have stopped: a retry never overlaps it.
    steps = FUNCTIONS["StepsFunction"]["Properties"]["Timeout"]
    for definition in ("rollout.asl.json", "wave.asl.json"):
        for state in _task_states(_definition(definition)):
            if state["Resource"] == "${StepsFunctionArn}":
                assert steps < state["TimeoutSeconds"], definition


def test_the_slack_app_is_public_and_says_why() -> None:
    slack = FUNCTIONS["SlackFunction"]["Properties"]
    assert slack["FunctionUrlConfig"] == {"AuthType": "NONE"}
    text = (DEPLOY / "template.yaml").read_text(encoding="utf-8")
    assert "Slack cannot sign AWS requests" in text and "verifies every request" in text
    permission = FULL["Resources"]["SlackUrlInvokePermission"]["Properties"]
    assert permission["InvokedViaFunctionUrl"] is True
    assert permission["FunctionName"] == {"Ref": "SlackFunction"}


def test_events_are_never_retried_forever() -> None:
    events = FUNCTIONS["EventsFunction"]["Properties"]
    config = events["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] <= 2
    assert config["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    assert events["ReservedConcurrentExecutions"] >= 1


# --- the state machines ----------------------------------------------------------------------


def _definition(name: str) -> dict[str, Any]:
    data = json.loads((ROOT / "src" / "fleetpatch" / "workflow" / name).read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def _task_states(definition: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for state in definition["States"].values():
        if state["Type"] == "Task":
            found.append(state)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found.extend(_task_states(processor))
        for branch in state.get("Branches", []):
            found.extend(_task_states(branch))
    return found


MACHINES = resources_of(FULL, "AWS::Serverless::StateMachine")


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_each_definition_exists_and_every_placeholder_is_substituted(machine: str) -> None:
    properties = MACHINES[machine]["Properties"]
    path = (DEPLOY / properties["DefinitionUri"]).resolve()
    text = path.read_text(encoding="utf-8")
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
    assert placeholders == set(properties["DefinitionSubstitutions"]), machine
    assert properties["Type"] == "STANDARD"
    assert properties["Logging"]["Level"] == "ALL"


def test_the_rollout_runs_waves_on_the_wave_machine_and_steps_on_the_steps_function() -> None:
    rollout = MACHINES["RolloutStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert rollout == {
        "StepsFunctionArn": {"Fn::GetAtt": ["StepsFunction", "Arn"]},
        "WaveStateMachineArn": {"Ref": "WaveStateMachine"},
    }
    wave = MACHINES["WaveStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert wave == {"StepsFunctionArn": {"Fn::GetAtt": ["StepsFunction", "Arn"]}}
    inventory = MACHINES["InventoryStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert inventory == {"InventoryFunctionArn": {"Fn::GetAtt": ["InventoryFunction", "Arn"]}}


# --- the stores ------------------------------------------------------------------------------


def test_the_journal_table_has_the_contracts_schema_and_survives_mistakes() -> None:
    table = FULL["Resources"]["JournalTable"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    p = table["Properties"]
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert {(k["AttributeName"], k["KeyType"]) for k in p["KeySchema"]} == {
        ("pk", "HASH"),
        ("sk", "RANGE"),
    }
    assert {(a["AttributeName"], a["AttributeType"]) for a in p["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
    }
    assert p["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["DeletionProtectionEnabled"] is True
    # Named by a parameter: the config can say journal = "dynamodb://..." before the deploy.
    assert p["TableName"] == {"Ref": "JournalTableName"}
    assert FULL["Resources"]["AnchorBucket"]["Properties"]["BucketName"] == {
        "Ref": "AnchorBucketName"
    }


def _tls_only(bucket: str) -> bool:
    policies = resources_of(FULL, "AWS::S3::BucketPolicy").values()
    for policy in policies:
        if policy["Properties"]["Bucket"] != {"Ref": bucket}:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if (
                statement["Effect"] == "Deny"
                and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                and {"Fn::Sub": f"${{{bucket}.Arn}}/*"} in statement["Resource"]
            ):
                return True
    return False


@pytest.mark.parametrize("bucket", ["AnchorBucket", "SnapshotBucket"])
def test_buckets_are_private_tls_only_and_kept(bucket: str) -> None:
    resource = FULL["Resources"][bucket]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    block = resource["Properties"]["PublicAccessBlockConfiguration"]
    assert set(block.values()) == {True} and len(block) == 4
    assert _tls_only(bucket)


def test_the_anchor_bucket_locks_every_object_in_compliance_mode() -> None:
    p = FULL["Resources"]["AnchorBucket"]["Properties"]
    assert p["ObjectLockEnabled"] is True
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    lock = p["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"] == {
        "Mode": "COMPLIANCE",
        "Days": {"Ref": "AnchorRetentionDays"},
    }
    assert TEMPLATE["Parameters"]["AnchorRetentionDays"]["Default"] >= 366


# --- the rules, against the events AWS documents --------------------------------------------

PARAMETERS = {"SidecarRepositories": ["fluent-bit", "envoy"]}


def _resolve(node: Any) -> Any:
    """A pattern with the template's parameters in it, as deployed with PARAMETERS."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return PARAMETERS[node["Ref"]]
        return {k: _resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v) for v in node]
    return node


def rule(name: str) -> dict[str, Any]:
    pattern = FUNCTIONS["EventsFunction"]["Properties"]["Events"][name]["Properties"]["Pattern"]
    resolved = _resolve(pattern)
    assert isinstance(resolved, dict)
    return resolved


def fixture(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def push(**detail: Any) -> dict[str, Any]:
    event = fixture("ecr-image-push.json")
    event["detail"].update({"repository-name": "fluent-bit", **detail})
    return event


def test_a_successful_push_of_a_configured_repository_reaches_the_events_function() -> None:
    assert matches(rule("ImagePushed"), push())
    assert matches(rule("ImagePushed"), push(**{"repository-name": "envoy"}))


@pytest.mark.parametrize(
    "detail",
    [
        {"repository-name": "my-repository-name"},
        {"result": "FAILURE"},
        {"action-type": "DELETE"},
    ],
)
def test_other_pushes_never_reach_it(detail: dict[str, str]) -> None:
    assert not matches(rule("ImagePushed"), push(**detail))


def test_a_completed_scan_of_a_configured_repository_reaches_it() -> None:
    event = fixture("ecr-image-scan.json")
    assert not matches(rule("ImageScanned"), event)  # my-repo: not configured
    event["detail"]["repository-name"] = "fluent-bit"
    assert matches(rule("ImageScanned"), event)
    assert not matches(rule("ImagePushed"), event)
    event["detail"]["scan-status"] = "FAILED"
    assert not matches(rule("ImageScanned"), event)


def test_an_inspector_finding_on_a_configured_repositorys_image_reaches_it() -> None:
    event = fixture("inspector2-finding-ecr.json")
    assert not matches(rule("InspectorFinding"), event)  # amazon/amazon-ecs-sample
    changed = copy.deepcopy(event)
    for resource in changed["detail"]["resources"]:
        resource["details"]["awsEcrContainerImage"]["repositoryName"] = "fluent-bit"
    assert matches(rule("InspectorFinding"), changed)
    closed = copy.deepcopy(changed)
    closed["detail"]["status"] = "CLOSED"
    assert not matches(rule("InspectorFinding"), closed)
    changed["detail"]["resources"][0]["type"] = "AWS_LAMBDA_FUNCTION"
    assert not matches(rule("InspectorFinding"), changed)


def test_an_enhanced_scan_reaches_it_and_the_handler_picks_the_repository() -> None:
    event = fixture("inspector2-scan-ecr.json")
    assert matches(rule("InspectorScan"), event)
    assert not matches(rule("InspectorFinding"), event)


def test_the_schedule_sends_eventbridges_scheduled_event() -> None:
    hourly = FUNCTIONS["EventsFunction"]["Properties"]["Events"]["Hourly"]
    assert hourly["Type"] == "Schedule"
    assert hourly["Properties"]["Schedule"] == {"Ref": "InventorySchedule"}
    assert TEMPLATE["Parameters"]["InventorySchedule"]["Default"] == "rate(1 hour)"
    # No Input: the function gets the documented Scheduled Event, which no other rule takes.
    assert "Input" not in hourly["Properties"]
    scheduled = fixture("scheduled-event.json")
    for name in ("ImagePushed", "ImageScanned", "InspectorFinding", "InspectorScan"):
        assert not matches(rule(name), scheduled), name


def test_environment_accounts_forward_exactly_the_events_the_hub_rules_take() -> None:
    target = load("target-role.yaml")
    forwarded = target["Resources"]["ForwardToHub"]["Properties"]["EventPattern"]
    documented = [
        push(),
        fixture("ecr-image-scan.json"),
        fixture("inspector2-finding-ecr.json"),
        fixture("inspector2-scan-ecr.json"),
    ]
    for event in documented:
        assert matches(forwarded, event), event["detail-type"]
    assert not matches(forwarded, fixture("scheduled-event.json"))
    hub_types = {t for name in ("ImagePushed", "ImageScanned", "InspectorFinding",
                                "InspectorScan") for t in rule(name)["detail-type"]}  # fmt: skip
    assert set(forwarded["detail-type"]) == hub_types


def test_fixtures_are_the_documented_shapes() -> None:
    """The shape every pattern above relies on, as the AWS pages in the README show it."""
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    for path in sorted(Path(FIXTURES).glob("*.json")):
        event = fixture(path.name)
        assert path.name in readme
        assert {"version", "id", "detail-type", "source", "account", "time", "region"} <= set(event)


def test_docs_deploy_names_only_parameters_and_outputs_the_stacks_have() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    target = load("target-role.yaml")
    overrides = set(re.findall(r"^\s+([A-Z][A-Za-z]+)=", text, flags=re.MULTILINE))
    keys = set(re.findall(r'"ParameterKey": "([A-Za-z]+)"', text))
    assert overrides and keys
    assert overrides <= set(TEMPLATE["Parameters"])
    assert keys <= set(target["Parameters"])
    # Every parameter without a default is in the doc's commands.
    required = {n for n, p in TEMPLATE["Parameters"].items() if "Default" not in p}
    assert required <= overrides
    assert {n for n, p in target["Parameters"].items() if "Default" not in p} <= keys
    for output in re.findall(r"`([A-Z][A-Za-z]+(?:Url|Name|Arn))`", text):
        if output in TEMPLATE["Outputs"] or output in target["Outputs"]:
            continue
        assert output in TEMPLATE["Parameters"] or output in target["Parameters"], output
