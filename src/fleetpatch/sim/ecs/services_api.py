"""ECS API actions on services and their deployments: CreateService, UpdateService,
DeleteService, ListServices, DescribeServices and the service deployment / revision APIs."""

from __future__ import annotations

import re
from typing import Any, Protocol

from fleetpatch.sim.ecs import kinds, lookups, shapes
from fleetpatch.sim.ecs.deployments import RolloutEngine
from fleetpatch.sim.ecs.lookups import invalid
from fleetpatch.sim.ecs.models import EcsAccount, Service, TaskDefinition
from fleetpatch.sim.ecs.validation import (
    DEFAULT_DEPLOYMENT_CONFIGURATION,
    HOOK_ACTIONS,
    check_placement,
    deployment_configuration,
)
from fleetpatch.sim.protocol import AwsError

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")


class Caller(Protocol):
    """Who makes the call being answered (EcsApi)."""

    principal: str


class ServicesApi:
    def __init__(self, engine: RolloutEngine, caller: Caller) -> None:
        self.engine = engine
        self.caller = caller

    # --- services ---------------------------------------------------------------------------

    def create_service(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = lookups.cluster(acct, p.get("cluster"))
        name = p.get("serviceName") or ""
        if not NAME_RE.match(name):
            raise invalid(
                "Service name can only contain letters, numbers, hyphens and underscores."
            )
        existing = cluster.services.get(name)
        if existing is not None and existing.status != "INACTIVE":
            raise invalid("Creation of service was not idempotent.")
        strategy, controller = kinds.check_create(p)
        # DAEMON: one task per active container instance; ECS counts them, not the caller.
        daemon = strategy == "DAEMON"
        desired: Any = len(cluster.active_instances) if daemon else p.get("desiredCount")
        if desired is None:
            raise invalid("desiredCount is required for the REPLICA scheduling strategy.")
        defaults = (
            kinds.DAEMON_DEPLOYMENT_CONFIGURATION if daemon else DEFAULT_DEPLOYMENT_CONFIGURATION
        )
        if not isinstance(desired, int) or desired < 0:
            raise invalid("desiredCount must be a non-negative integer.")
        # An EXTERNAL service has no task definition: its task sets (CreateTaskSet) have them.
        td = (
            None
            if controller == "EXTERNAL"
            else self._active_task_definition(acct, p.get("taskDefinition"))
        )
        awsvpc = td is not None and td.body.get("networkMode") == "awsvpc"
        if awsvpc and not p.get("networkConfiguration"):
            raise invalid(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )
        launch_type = p.get("launchType") or "EC2"
        check_placement(p, launch_type)
        lookups.check_tags(p.get("tags"))
        service = Service(
            name=name,
            arn=acct.arn(f"service/{cluster.name}/{name}"),
            account=acct.account,
            region=acct.region,
            cluster_name=cluster.name,
            cluster_arn=cluster.arn,
            task_definition_arn=td.arn if td is not None else None,
            desired_count=desired,
            launch_type=launch_type,
            deployment_configuration=deployment_configuration(
                defaults, p.get("deploymentConfiguration")
            ),
            created_at=now,
            created_by=_identity(self.caller.principal),
            platform_version=p.get("platformVersion")
            or ("LATEST" if launch_type == "FARGATE" else None),
            network_configuration=p.get("networkConfiguration"),
            scheduling_strategy=strategy,
            deployment_controller=controller,
            propagate_tags=p.get("propagateTags") or "NONE",
            enable_ecs_managed_tags=bool(p.get("enableECSManagedTags")),
            enable_execute_command=bool(p.get("enableExecuteCommand")),
            load_balancers=list(p.get("loadBalancers") or []),
            # Without a role, ECS uses its service-linked role.
            role_arn=p.get("role")
            or f"arn:aws:iam::{acct.account}:role/aws-service-role/ecs.amazonaws.com/"
            "AWSServiceRoleForECS",
            health_check_grace_period_seconds=p.get("healthCheckGracePeriodSeconds") or 0,
            # "For create service requests ... Amazon ECS defaults the value to ENABLED"
            # (a DAEMON service does not rebalance: it runs one task per instance).
            availability_zone_rebalancing=p.get("availabilityZoneRebalancing")
            or ("DISABLED" if daemon else "ENABLED"),
            advanced_to=now,
        )
        cluster.services[name] = service
        acct.tags.pop(service.arn, None)  # a re-created service starts without the old tags
        lookups.set_tags(acct, service.arn, p.get("tags"))
        if td is not None:
            # A CODE_DEPLOY service's first task set runs this; an EXTERNAL one has none yet.
            revision = self.engine.new_revision(acct, service, td, now)
            self.engine.start_deployment(acct, service, revision, now)
        return {"service": shapes.service(service, acct.tags.get(service.arn))}

    def _active_task_definition(self, acct: EcsAccount, ref: str | None) -> TaskDefinition:
        td = acct.find_task_definition(ref) if ref else None
        if td is None:
            raise AwsError("ClientException", "TaskDefinition not found.")
        if td.status != "ACTIVE":
            raise AwsError("ClientException", "TaskDefinition is inactive.")
        return td

    def update_service(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = lookups.cluster(acct, p.get("cluster"))
        service = lookups.service(cluster, p.get("service"))
        if service.status != "ACTIVE":
            raise AwsError("ServiceNotActiveException", "Service was not ACTIVE.")
        self.engine.advance(acct, service, now)
        kinds.check_update(service, p)
        check_placement(p, p.get("launchType") or service.launch_type)

        td = None
        if p.get("taskDefinition"):
            td = self._active_task_definition(acct, p["taskDefinition"])
        if "desiredCount" in p:
            desired = p["desiredCount"]
            if not isinstance(desired, int) or desired < 0:
                raise invalid("desiredCount must be a non-negative integer.")
            service.desired_count = desired
        if p.get("deploymentConfiguration"):
            service.deployment_configuration = deployment_configuration(
                service.deployment_configuration, p["deploymentConfiguration"]
            )
        for member, attr in (
            ("enableExecuteCommand", "enable_execute_command"),
            ("enableECSManagedTags", "enable_ecs_managed_tags"),
            ("propagateTags", "propagate_tags"),
            ("loadBalancers", "load_balancers"),
            ("healthCheckGracePeriodSeconds", "health_check_grace_period_seconds"),
            ("availabilityZoneRebalancing", "availability_zone_rebalancing"),
        ):
            if member in p:
                setattr(service, attr, p[member])

        # What makes ECS start a new deployment: another task definition, another network or
        # platform, or an explicit forceNewDeployment. Scaling alone does not.
        new_deployment = bool(p.get("forceNewDeployment"))
        if td is not None and td.arn != service.task_definition_arn:
            new_deployment = True
        for member, attr in (
            ("networkConfiguration", "network_configuration"),
            ("platformVersion", "platform_version"),
        ):
            if member in p and p[member] != getattr(service, attr):
                setattr(service, attr, p[member])
                new_deployment = True

        if new_deployment:
            # (an EXTERNAL service, which has no task definition, never gets here: check_update)
            target = td or self._active_task_definition(acct, service.task_definition_arn)
            revision = self.engine.new_revision(acct, service, target, now)
            self.engine.start_deployment(acct, service, revision, now)
        else:
            self.engine.reconcile(acct, service, now)
            self.engine.update_busy(acct, service)
        return {"service": shapes.service(service, None)}

    def delete_service(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = lookups.cluster(acct, p.get("cluster"))
        service = lookups.service(cluster, p.get("service"))
        if service.status == "INACTIVE":
            raise AwsError("ServiceNotActiveException", "Service was not ACTIVE.")
        self.engine.advance(acct, service, now)
        # A DAEMON service can't be scaled to 0 (it takes no desired count): no force needed.
        daemon = service.scheduling_strategy == "DAEMON"
        if service.desired_count > 0 and not p.get("force") and not daemon:
            raise invalid("The service cannot be stopped while it is scaled above 0.")
        service.desired_count = 0
        service.status = "DRAINING"
        self.engine.reconcile(acct, service, now)
        self.engine.update_busy(acct, service)
        return {"service": shapes.service(service, None)}

    def list_services(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = lookups.cluster(acct, p.get("cluster"))
        launch_type = p.get("launchType")
        strategy = p.get("schedulingStrategy")
        arns = [
            s.arn
            for s in cluster.services.values()
            if s.status != "INACTIVE"
            and (launch_type is None or s.launch_type == launch_type)
            and (strategy is None or s.scheduling_strategy == strategy)
        ]
        page, token = lookups.paginate(arns, p, 10, 100)
        return lookups.clean_token({"serviceArns": page}, token)

    def describe_services(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = lookups.cluster(acct, p.get("cluster"))
        refs: list[str] = p.get("services") or []
        if not refs:
            raise invalid("services cannot be empty.")
        if len(refs) > 10:
            raise invalid("services can have at most 10 items.")
        include = p.get("include")
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for ref in refs:
            service = lookups.find_service(cluster, ref)
            if service is None:
                arn = ref if ref.startswith("arn:") else acct.arn(f"service/{cluster.name}/{ref}")
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            self.engine.advance(acct, service, now)
            found.append(shapes.service(service, lookups.tags_of(acct, service.arn, include)))
        return {"services": found, "failures": failures}

    # --- service deployments and revisions ----------------------------------------------------

    def list_service_deployments(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        cluster = lookups.cluster(acct, p.get("cluster"))
        service = lookups.service(cluster, p.get("service"))
        self.engine.advance(acct, service, now)
        if service.deployment_controller != "ECS":
            # A CODE_DEPLOY or EXTERNAL service's rollouts are its task sets.
            return {"serviceDeployments": []}
        statuses = set(p.get("status") or [])
        created = p.get("createdAt") or {}
        before, after = created.get("before"), created.get("after")
        matching = [
            sd
            for sd in reversed(service.service_deployments)  # newest first
            if (not statuses or sd.status in statuses)
            and (before is None or sd.created_at <= float(before))
            and (after is None or sd.created_at >= float(after))
        ]
        page, token = lookups.paginate(matching, p, 20, 100)
        return lookups.clean_token(
            {"serviceDeployments": [shapes.service_deployment_brief(sd) for sd in page]}, token
        )

    def describe_service_deployments(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        arns = _arns(p, "serviceDeploymentArns")
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for arn in arns:
            sd = acct.service_deployments.get(arn)
            if sd is None:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            service = lookups.service_of_arn(acct, sd.service_arn)
            if service is not None:
                self.engine.advance(acct, service, now)
            found.append(shapes.service_deployment(sd))
        return {"serviceDeployments": found, "failures": failures}

    def describe_service_revisions(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        arns = _arns(p, "serviceRevisionArns")
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for arn in arns:
            revision = acct.service_revisions.get(arn)
            if revision is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(shapes.service_revision(revision))
        return {"serviceRevisions": found, "failures": failures}

    def stop_service_deployment(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        arn = p.get("serviceDeploymentArn") or ""
        stop_type = p.get("stopType") or "ROLLBACK"
        if stop_type not in ("ROLLBACK", "ABORT"):
            raise invalid("stopType must be ROLLBACK or ABORT.")
        sd = acct.service_deployments.get(arn)
        service = lookups.service_of_arn(acct, sd.service_arn) if sd else None
        if sd is None or service is None:
            raise AwsError(
                "ServiceDeploymentNotFoundException", "The service deployment does not exist."
            )
        self.engine.advance(acct, service, now)
        self.engine.stop_service_deployment(acct, service, sd, stop_type, now)
        return {"serviceDeploymentArn": sd.arn}

    def continue_service_deployment(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        arn = p.get("serviceDeploymentArn") or ""
        hook_id = p.get("hookId") or ""
        if not hook_id:
            raise invalid("hookId must be specified.")
        action = p.get("action") or "CONTINUE"
        if action not in HOOK_ACTIONS:
            raise invalid("action must be CONTINUE or ROLLBACK.")
        sd = acct.service_deployments.get(arn)
        service = lookups.service_of_arn(acct, sd.service_arn) if sd else None
        if sd is None or service is None:
            raise AwsError(
                "ServiceDeploymentNotFoundException", "The service deployment does not exist."
            )
        self.engine.advance(acct, service, now)
        self.engine.continue_service_deployment(acct, service, sd, hook_id, action, now)
        return {"serviceDeploymentArn": sd.arn}


def _arns(p: dict[str, Any], member: str) -> list[str]:
    """A Describe* ARN list as ECS validates it: 1 to 20 ARNs."""
    arns: list[str] = p.get(member) or []
    if not arns:
        raise invalid(f"{member} cannot be empty.")
    if len(arns) > 20:
        raise invalid(f"{member} can have at most 20 items.")
    return arns


def _identity(principal: str) -> str:
    """The IAM identity of a caller: an assumed role's role ARN, as ECS records createdBy."""
    match = re.match(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/", principal)
    if match is None:
        return principal
    partition, account, role = match.groups()
    return f"arn:{partition}:iam::{account}:role/{role}"
