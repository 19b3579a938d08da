"""Kinds of service: the scheduling strategy (REPLICA, DAEMON) and the deployment controller
(ECS, CODE_DEPLOY, EXTERNAL), checked in CreateService and UpdateService as ECS checks them.

Sources: the ECS API reference (CreateService: schedulingStrategy, deploymentController,
taskDefinition, desiredCount; UpdateService: what each controller lets you change;
DeploymentConfiguration: the DAEMON defaults) and ECS's error messages as users report them.
Where ECS's exact wording is not published, the message follows the pattern of the ones that
are (docs/scenario.md lists which).
"""

from __future__ import annotations

from typing import Any

from fleetpatch.sim.ecs.lookups import invalid
from fleetpatch.sim.ecs.models import Service

SCHEDULING_STRATEGIES = ("REPLICA", "DAEMON")
DEPLOYMENT_CONTROLLERS = ("ECS", "CODE_DEPLOY", "EXTERNAL")

# DeploymentConfiguration: "The default minimumHealthyPercent value for a service using the
# DAEMON service schedule is 0% for the CLI, the Amazon Web Services SDKs, and the APIs";
# maximumPercent stays at 100 (ECS refuses more).
DAEMON_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    # No CloudWatch alarms watch a deployment unless asked.
    "alarms": {"alarmNames": [], "rollback": False, "enable": False},
    "maximumPercent": 100,
    "minimumHealthyPercent": 0,
}

# UpdateService members that change what a CODE_DEPLOY service runs: CodeDeploy deploys those.
# (member, ECS's wording for it in "Unable to update ... on services with a CODE_DEPLOY ...")
_CODE_DEPLOY_OWNED = (
    ("taskDefinition", "task definition"),
    ("networkConfiguration", "network parameters"),
    ("loadBalancers", "load balancers"),
    ("platformVersion", "platform version"),
)
# The same for an EXTERNAL service: its task sets carry these.
_EXTERNAL_OWNED = (
    ("taskDefinition", "task definition"),
    ("networkConfiguration", "network parameters"),
    ("loadBalancers", "load balancers"),
    ("platformVersion", "platform version"),
    ("launchType", "launch type"),
)


def check_create(p: dict[str, Any]) -> tuple[str, str]:
    """(scheduling strategy, deployment controller) of a CreateService request, refused as
    ECS refuses them."""
    strategy = p.get("schedulingStrategy") or "REPLICA"
    if strategy not in SCHEDULING_STRATEGIES:
        raise invalid(
            f"Invalid scheduling strategy '{strategy}'. Valid values are REPLICA, DAEMON."
        )
    controller = (p.get("deploymentController") or {}).get("type") or "ECS"
    if controller not in DEPLOYMENT_CONTROLLERS:
        raise invalid(
            f"Invalid deployment controller type '{controller}'. "
            "Valid values are ECS, CODE_DEPLOY, EXTERNAL."
        )
    if controller == "EXTERNAL" and p.get("taskDefinition"):
        raise invalid("TaskDefinition must be blank.")
    if controller != "ECS" and (p.get("deploymentConfiguration") or {}).get("strategy"):
        # Native strategies are the ECS controller's (DeploymentController: ECS).
        raise invalid(
            "A deployment strategy can only be specified for services using the ECS "
            "deployment controller."
        )
    if strategy == "DAEMON":
        _check_daemon_create(p, controller)
    return strategy, controller


def _check_daemon_create(p: dict[str, Any], controller: str) -> None:
    """ "Tasks using the Fargate launch type or the CODE_DEPLOY or EXTERNAL deployment controller
    types don't support the DAEMON scheduling strategy." """
    if controller != "ECS":
        raise invalid(
            f"The daemon scheduling strategy does not support the {controller} deployment "
            "controller. Use the ECS deployment controller and try again"
        )
    if p.get("launchType") == "FARGATE":
        raise invalid(
            "The daemon scheduling strategy does not support the FARGATE launch type. "
            "Use the EC2 launch type and try again"
        )
    if p.get("capacityProviderStrategy"):
        raise invalid(
            "Specifying a capacity provider strategy is not supported when you create a "
            "service using the DAEMON scheduling strategy."
        )
    check_daemon_members(p)


def check_daemon_members(p: dict[str, Any]) -> None:
    """What a DAEMON service's CreateService or UpdateService may not give."""
    if p.get("desiredCount") is not None:
        raise invalid(
            "The daemon scheduling strategy does not support a desired count for services. "
            "Remove the desired count value and try again"
        )
    if p.get("placementStrategy"):
        raise invalid(
            "The daemon scheduling strategy does not support placement strategies. "
            "Remove the placement strategy and try again"
        )
    strategy = (p.get("deploymentConfiguration") or {}).get("strategy")
    if strategy not in (None, "ROLLING"):
        # (the simulator's refusal: ECS's answer for this is not documented)
        raise invalid(
            f"The daemon scheduling strategy does not support the {strategy} deployment "
            "strategy. Use ROLLING and try again"
        )
    maximum = (p.get("deploymentConfiguration") or {}).get("maximumPercent")
    if isinstance(maximum, int) and maximum > 100:
        raise invalid(
            "The daemon scheduling strategy does not support values above 100 for "
            "maximumPercent on a deployment configuration. Change the maximumPercent value "
            "to 100, and try again"
        )


def check_update(service: Service, p: dict[str, Any]) -> None:
    """What UpdateService may not change for this kind of service (API reference,
    UpdateService: "For services using the blue/green (CODE_DEPLOY) deployment controller,
    only the desired count, deployment configuration, health check grace period, task
    placement constraints and strategies, enable ECS managed tags option, and propagate tags
    can be updated using this API", and likewise for an external controller)."""
    if service.scheduling_strategy == "DAEMON":
        check_daemon_members(p)
    if service.deployment_controller == "CODE_DEPLOY":
        for member, words in _CODE_DEPLOY_OWNED:
            # ECS refuses the member even when it repeats the current value (CloudFormation
            # stacks that resend the task definition hit this).
            if p.get(member):
                raise _code_deploy(f"update {words}")
        if p.get("forceNewDeployment"):
            raise _code_deploy("force a new deployment")
    if service.deployment_controller == "EXTERNAL":
        for member, words in _EXTERNAL_OWNED:
            if p.get(member):
                raise _external(f"update {words}")
        if p.get("forceNewDeployment"):
            raise _external("force a new deployment")
    strategy = (p.get("deploymentConfiguration") or {}).get("strategy")
    if service.deployment_controller != "ECS" and strategy:
        raise invalid(
            "A deployment strategy can only be specified for services using the ECS "
            "deployment controller."
        )


def _code_deploy(what: str) -> Exception:
    return invalid(
        f"Unable to {what} on services with a CODE_DEPLOY deployment controller. "
        "Use AWS CodeDeploy to trigger a new deployment."
    )


def _external(what: str) -> Exception:
    return invalid(
        f"Unable to {what} on services with a EXTERNAL deployment controller. "
        "Create a new task set with CreateTaskSet instead."
    )
