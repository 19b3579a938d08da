"""ECS API actions: validate the request, find the resources, change the model, answer.

Each handler takes the caller's `EcsAccount`, the decoded request (camelCase, as on the wire)
and the current simulated time, and returns the response body. Errors are raised as AwsError
with the codes the ECS API reference names.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fleetpatch.sim.ecs import shapes
from fleetpatch.sim.ecs.deployments import RolloutEngine
from fleetpatch.sim.ecs.models import Cluster, EcsAccount, Service, Task, TaskDefinition
from fleetpatch.sim.protocol import AwsError

Handler = Callable[[EcsAccount, dict[str, Any], float], dict[str, Any]]
T = TypeVar("T")

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def paginate(
    items: list[T], params: dict[str, Any], default: int, maximum: int
) -> tuple[list[T], str | None]:
    """One page of `items` and the token for the next. The token is an opaque offset."""
    size = params.get("maxResults") or default
    if not isinstance(size, int) or not 1 <= size <= maximum:
        raise invalid(f"maxResults must be between 1 and {maximum}.")
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(base64.b64decode(str(token)).decode())
        except (ValueError, binascii.Error) as exc:
            raise invalid("Invalid nextToken.") from exc
    page = items[start : start + size]
    more = start + size < len(items)
    next_token = base64.b64encode(str(start + size).encode()).decode() if more else None
    return page, next_token


def _last_segment(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(region, account, resource) of an ECS ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        raise invalid(f"Invalid ARN: {arn}")
    return parts[3], parts[4], parts[5]


class EcsApi:
    def __init__(self, engine: RolloutEngine, task_start_seconds: float) -> None:
        self.engine = engine
        self.task_start_seconds = task_start_seconds
        self.handlers: dict[str, Handler] = {
            "CreateCluster": self.create_cluster,
            "ListClusters": self.list_clusters,
            "DescribeClusters": self.describe_clusters,
            "RegisterTaskDefinition": self.register_task_definition,
            "DescribeTaskDefinition": self.describe_task_definition,
            "ListTaskDefinitions": self.list_task_definitions,
            "DeregisterTaskDefinition": self.deregister_task_definition,
            "CreateService": self.create_service,
            "UpdateService": self.update_service,
            "DeleteService": self.delete_service,
            "ListServices": self.list_services,
            "DescribeServices": self.describe_services,
            "ListTasks": self.list_tasks,
            "DescribeTasks": self.describe_tasks,
            "StopTask": self.stop_task,
            "ListServiceDeployments": self.list_service_deployments,
            "DescribeServiceDeployments": self.describe_service_deployments,
            "DescribeServiceRevisions": self.describe_service_revisions,
            "StopServiceDeployment": self.stop_service_deployment,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    # --- lookups ----------------------------------------------------------------------------

    def _cluster(self, acct: EcsAccount, ref: str | None) -> Cluster:
        ref = ref or "default"
        if ref.startswith("arn:"):
            region, account, _ = _arn_parts(ref)
            if account != acct.account:
                raise AwsError(
                    "AccessDeniedException", "User is not authorized to access this resource."
                )
            if region != acct.region:
                raise AwsError("ClusterNotFoundException", "Cluster not found.")
        c = acct.clusters.get(_last_segment(ref))
        if c is None or c.status != "ACTIVE":
            raise AwsError("ClusterNotFoundException", "Cluster not found.")
        return c

    def _find_service(self, cluster: Cluster, ref: str) -> Service | None:
        """By name or ARN (`service/{cluster}/{name}`, or the old `service/{name}`)."""
        if ref.startswith("arn:"):
            parts = ref.split(":service/", 1)[-1].split("/")
            if len(parts) == 2 and parts[0] != cluster.name:
                return None
        return cluster.services.get(_last_segment(ref))

    def _service(self, cluster: Cluster, ref: str | None) -> Service:
        if not ref:
            raise invalid("service must be specified.")
        s = self._find_service(cluster, ref)
        if s is None:
            raise AwsError("ServiceNotFoundException", "Service not found.")
        return s

    def _service_of_arn(self, acct: EcsAccount, service_arn: str) -> Service | None:
        """The service of an ARN `...:service/{cluster}/{name}`."""
        _, _, resource = _arn_parts(service_arn)
        parts = resource.split("/")
        if len(parts) < 3:
            return None
        cluster = acct.clusters.get(parts[1])
        return cluster.services.get(parts[2]) if cluster else None

    def _task_definition(self, acct: EcsAccount, ref: str | None) -> TaskDefinition:
        td = acct.find_task_definition(ref) if ref else None
        if td is None:
            raise AwsError("ClientException", "Unable to describe task definition.")
        return td

    def _advance_cluster(self, acct: EcsAccount, cluster: Cluster, now: float) -> None:
        """Bring every busy service of `cluster` up to `now` (idle ones have nothing to do)."""
        for s in list(acct.busy_services.values()):
            if s.cluster_name == cluster.name:
                self.engine.advance(acct, s, now)

    def _tags(
        self, acct: EcsAccount, arn: str, include: Iterable[str] | None
    ) -> dict[str, str] | None:
        return acct.tags.get(arn, {}) if include and "TAGS" in include else None

    def _set_tags(self, acct: EcsAccount, arn: str, tags: list[dict[str, Any]] | None) -> None:
        if tags:
            acct.tags.setdefault(arn, {}).update(
                {str(t["key"]): str(t.get("value", "")) for t in tags}
            )

    # --- clusters ---------------------------------------------------------------------------

    def create_cluster(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        name = p.get("clusterName") or "default"
        if not NAME_RE.match(name):
            raise invalid(
                "Cluster name can only contain letters, numbers, hyphens and underscores."
            )
        c = acct.clusters.get(name)
        if c is None or c.status != "ACTIVE":
            c = Cluster(
                name=name,
                arn=acct.arn(f"cluster/{name}"),
                created_at=now,
                settings=list(p.get("settings") or []),
                configuration=p.get("configuration"),
                capacity_providers=list(p.get("capacityProviders") or []),
            )
            acct.clusters[name] = c
        self._set_tags(acct, c.arn, p.get("tags"))
        return {"cluster": self._cluster_shape(acct, c, ["TAGS"])}

    def _cluster_shape(
        self, acct: EcsAccount, c: Cluster, include: Iterable[str] | None
    ) -> dict[str, Any]:
        running = pending = active = 0
        for s in c.services.values():
            if s.status != "ACTIVE":
                continue
            active += 1
            for d in s.deployments:
                for t in d.tasks.values():
                    running += t.is_running
                    pending += t.is_starting
        shape = shapes.cluster(c, running, pending, active)
        tags = self._tags(acct, c.arn, include)
        if tags is not None:
            shape["tags"] = shapes.tag_list(tags)
        return shape

    def list_clusters(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        arns = [c.arn for c in acct.clusters.values() if c.status == "ACTIVE"]
        page, token = paginate(arns, p, 100, 100)
        return _clean_token({"clusterArns": page}, token)

    def describe_clusters(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        refs: list[str] = p.get("clusters") or ["default"]
        if len(refs) > 100:
            raise invalid("clusters can have at most 100 items.")
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for ref in refs:
            c = acct.clusters.get(_last_segment(ref))
            if c is None:
                failures.append(
                    {"arn": acct.arn(f"cluster/{_last_segment(ref)}"), "reason": "MISSING"}
                )
                continue
            self._advance_cluster(acct, c, now)
            found.append(self._cluster_shape(acct, c, p.get("include")))
        return {"clusters": found, "failures": failures}

    # --- task definitions -------------------------------------------------------------------

    def register_task_definition(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        family = p.get("family") or ""
        if not NAME_RE.match(family):
            raise AwsError("ClientException", "Family contains invalid characters or is empty.")
        containers = p.get("containerDefinitions")
        if not containers:
            raise AwsError("ClientException", "Container list cannot be empty.")
        for cd in containers:
            if not cd.get("name"):
                raise AwsError("ClientException", "Container.name should not be null or empty.")
            if not cd.get("image"):
                raise AwsError("ClientException", "Container.image should not be null or empty.")
        body = copy.deepcopy({k: v for k, v in p.items() if k != "tags"})
        revisions = acct.task_definitions.setdefault(family, [])
        revision = len(revisions) + 1
        td = TaskDefinition(
            family=family,
            revision=revision,
            arn=acct.arn(f"task-definition/{family}:{revision}"),
            body=body,
            registered_at=now,
        )
        revisions.append(td)
        self._set_tags(acct, td.arn, p.get("tags"))
        return {
            "taskDefinition": shapes.task_definition(td),
            "tags": shapes.tag_list(acct.tags.get(td.arn)),
        }

    def describe_task_definition(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        td = self._task_definition(acct, p.get("taskDefinition"))
        answer: dict[str, Any] = {"taskDefinition": shapes.task_definition(td)}
        tags = self._tags(acct, td.arn, p.get("include"))
        if tags is not None:
            answer["tags"] = shapes.tag_list(tags)
        return answer

    def list_task_definitions(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        status = p.get("status") or "ACTIVE"
        prefix = p.get("familyPrefix")
        families = [prefix] if prefix else sorted(acct.task_definitions)
        arns = [
            td.arn
            for family in families
            for td in acct.task_definitions.get(family, [])
            if td.status == status
        ]
        if p.get("sort") == "DESC":
            arns.reverse()
        page, token = paginate(arns, p, 100, 100)
        return _clean_token({"taskDefinitionArns": page}, token)

    def deregister_task_definition(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        ref = p.get("taskDefinition") or ""
        if ":" not in _last_segment(ref):
            raise invalid("A revision must be specified: family:revision or a full ARN.")
        td = self._task_definition(acct, ref)
        if td.status == "ACTIVE":
            td.status = "INACTIVE"
            td.deregistered_at = now
        return {"taskDefinition": shapes.task_definition(td)}

    # --- services ---------------------------------------------------------------------------

    def create_service(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = self._cluster(acct, p.get("cluster"))
        name = p.get("serviceName") or ""
        if not NAME_RE.match(name):
            raise invalid(
                "Service name can only contain letters, numbers, hyphens and underscores."
            )
        existing = cluster.services.get(name)
        if existing is not None and existing.status != "INACTIVE":
            raise invalid("Creation of service was not idempotent.")
        if (p.get("schedulingStrategy") or "REPLICA") != "REPLICA":
            raise invalid("The simulator supports the REPLICA scheduling strategy only.")
        if (p.get("deploymentController") or {}).get("type", "ECS") != "ECS":
            raise invalid("The simulator supports the ECS (rolling) deployment controller only.")
        desired = p.get("desiredCount")
        if desired is None:
            raise invalid("desiredCount is required for the REPLICA scheduling strategy.")
        if not isinstance(desired, int) or desired < 0:
            raise invalid("desiredCount must be a non-negative integer.")
        td = self._active_task_definition(acct, p.get("taskDefinition"))
        launch_type = p.get("launchType") or "EC2"
        service = Service(
            name=name,
            arn=acct.arn(f"service/{cluster.name}/{name}"),
            account=acct.account,
            region=acct.region,
            cluster_name=cluster.name,
            cluster_arn=cluster.arn,
            task_definition_arn=td.arn,
            desired_count=desired,
            launch_type=launch_type,
            deployment_configuration=_deployment_configuration(
                DEFAULT_DEPLOYMENT_CONFIGURATION, p.get("deploymentConfiguration")
            ),
            created_at=now,
            platform_version=p.get("platformVersion")
            or ("LATEST" if launch_type == "FARGATE" else None),
            network_configuration=p.get("networkConfiguration"),
            scheduling_strategy=p.get("schedulingStrategy") or "REPLICA",
            propagate_tags=p.get("propagateTags") or "NONE",
            enable_ecs_managed_tags=bool(p.get("enableECSManagedTags")),
            enable_execute_command=bool(p.get("enableExecuteCommand")),
            load_balancers=list(p.get("loadBalancers") or []),
            advanced_to=now,
        )
        cluster.services[name] = service
        acct.tags.pop(service.arn, None)  # a re-created service starts without the old tags
        self._set_tags(acct, service.arn, p.get("tags"))
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
        cluster = self._cluster(acct, p.get("cluster"))
        service = self._service(cluster, p.get("service"))
        if service.status != "ACTIVE":
            raise AwsError("ServiceNotActiveException", "Service was not ACTIVE.")
        self.engine.advance(acct, service, now)

        td = None
        if p.get("taskDefinition"):
            td = self._active_task_definition(acct, p["taskDefinition"])
        if "desiredCount" in p:
            desired = p["desiredCount"]
            if not isinstance(desired, int) or desired < 0:
                raise invalid("desiredCount must be a non-negative integer.")
            service.desired_count = desired
        if p.get("deploymentConfiguration"):
            service.deployment_configuration = _deployment_configuration(
                service.deployment_configuration, p["deploymentConfiguration"]
            )
        for member, attr in (
            ("enableExecuteCommand", "enable_execute_command"),
            ("enableECSManagedTags", "enable_ecs_managed_tags"),
            ("propagateTags", "propagate_tags"),
            ("loadBalancers", "load_balancers"),
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
            target = td or self._active_task_definition(acct, service.task_definition_arn)
            revision = self.engine.new_revision(acct, service, target, now)
            self.engine.start_deployment(acct, service, revision, now)
        else:
            self.engine.reconcile(acct, service, now)
            self.engine.update_busy(acct, service)
        return {"service": shapes.service(service, None)}

    def delete_service(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = self._cluster(acct, p.get("cluster"))
        service = self._service(cluster, p.get("service"))
        if service.status == "INACTIVE":
            raise AwsError("ServiceNotActiveException", "Service was not ACTIVE.")
        self.engine.advance(acct, service, now)
        if service.desired_count > 0 and not p.get("force"):
            raise invalid("The service cannot be stopped while it is scaled above 0.")
        service.desired_count = 0
        service.status = "DRAINING"
        self.engine.reconcile(acct, service, now)
        self.engine.update_busy(acct, service)
        return {"service": shapes.service(service, None)}

    def list_services(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = self._cluster(acct, p.get("cluster"))
        launch_type = p.get("launchType")
        strategy = p.get("schedulingStrategy")
        arns = [
            s.arn
            for s in cluster.services.values()
            if s.status != "INACTIVE"
            and (launch_type is None or s.launch_type == launch_type)
            and (strategy is None or s.scheduling_strategy == strategy)
        ]
        page, token = paginate(arns, p, 10, 100)
        return _clean_token({"serviceArns": page}, token)

    def describe_services(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = self._cluster(acct, p.get("cluster"))
        refs: list[str] = p.get("services") or []
        if not refs:
            raise invalid("services cannot be empty.")
        if len(refs) > 10:
            raise invalid("services can have at most 10 items.")
        include = p.get("include")
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for ref in refs:
            service = self._find_service(cluster, ref)
            if service is None:
                arn = ref if ref.startswith("arn:") else acct.arn(f"service/{cluster.name}/{ref}")
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            self.engine.advance(acct, service, now)
            found.append(shapes.service(service, self._tags(acct, service.arn, include)))
        return {"services": found, "failures": failures}

    # --- tasks ------------------------------------------------------------------------------

    def list_tasks(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = self._cluster(acct, p.get("cluster"))
        desired_status = p.get("desiredStatus") or "RUNNING"
        family = p.get("family")
        started_by = p.get("startedBy")
        launch_type = p.get("launchType")
        # Start from the narrowest index so a call never walks every task of the cluster
        # unless it asks for all of them.
        candidates: Iterable[str]
        if p.get("serviceName"):
            service = self._service(cluster, p["serviceName"])
            self.engine.advance(acct, service, now)
            candidates = list(service.task_ids)
        else:
            self._advance_cluster(acct, cluster, now)
            if started_by:
                candidates = list(cluster.tasks_by_started_by.get(started_by, {}))
            elif family:
                candidates = list(cluster.tasks_by_family.get(family, {}))
            else:
                candidates = list(cluster.tasks)
        arns: list[str] = []
        for task_id in candidates:
            t = cluster.tasks.get(task_id)
            if t is None or t.desired_status != desired_status:
                continue
            if family and t.family != family:
                continue
            if started_by and t.started_by != started_by:
                continue
            if launch_type and t.launch_type != launch_type:
                continue
            arns.append(t.arn)
        page, token = paginate(arns, p, 100, 100)
        return _clean_token({"taskArns": page}, token)

    def _find_tasks(self, cluster: Cluster, refs: list[str]) -> tuple[list[Task], list[str]]:
        found: list[Task] = []
        missing: list[str] = []
        for ref in refs:
            t = cluster.tasks.get(_last_segment(ref))
            if t is None:
                missing.append(ref)
            else:
                found.append(t)
        return found, missing

    def describe_tasks(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = self._cluster(acct, p.get("cluster"))
        refs: list[str] = p.get("tasks") or []
        if not refs:
            raise invalid("Tasks cannot be empty.")
        if len(refs) > 100:
            raise invalid("Tasks cannot contain more than 100 elements.")
        found, _ = self._find_tasks(cluster, refs)
        for name in {t.service_name for t in found}:
            service = cluster.services.get(name)
            if service is not None:
                self.engine.advance(acct, service, now)
        # Advancing may have forgotten long-stopped tasks: look them up again.
        found, missing = self._find_tasks(cluster, refs)
        include = p.get("include")
        return {
            "tasks": [
                shapes.task(t, now, self.task_start_seconds, self._tags(acct, t.arn, include))
                for t in found
            ],
            "failures": [
                {
                    "arn": ref
                    if ref.startswith("arn:")
                    else acct.arn(f"task/{cluster.name}/{ref}"),
                    "reason": "MISSING",
                }
                for ref in missing
            ],
        }

    def stop_task(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = self._cluster(acct, p.get("cluster"))
        ref = p.get("task") or ""
        t = cluster.tasks.get(_last_segment(ref))
        if t is None:
            raise invalid("The referenced task was not found.")
        service = cluster.services.get(t.service_name)
        if service is None:
            raise invalid("The referenced task was not found.")
        self.engine.advance(acct, service, now)
        reason = p.get("reason") or "Task stopped by user"
        self.engine.stop_task(acct, service, t, now, "UserInitiated", reason)
        # The service scheduler replaces the task right away.
        self.engine.reconcile(acct, service, now)
        self.engine.update_busy(acct, service)
        return {"task": shapes.task(t, now, self.task_start_seconds, None)}

    # --- service deployments and revisions ----------------------------------------------------

    def list_service_deployments(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        cluster = self._cluster(acct, p.get("cluster"))
        service = self._service(cluster, p.get("service"))
        self.engine.advance(acct, service, now)
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
        page, token = paginate(matching, p, 20, 100)
        return _clean_token(
            {"serviceDeployments": [shapes.service_deployment_brief(sd) for sd in page]}, token
        )

    def describe_service_deployments(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        arns: list[str] = p.get("serviceDeploymentArns") or []
        if not arns:
            raise invalid("serviceDeploymentArns cannot be empty.")
        if len(arns) > 20:
            raise invalid("serviceDeploymentArns can have at most 20 items.")
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for arn in arns:
            sd = acct.service_deployments.get(arn)
            if sd is None:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            service = self._service_of_arn(acct, sd.service_arn)
            if service is not None:
                self.engine.advance(acct, service, now)
            found.append(shapes.service_deployment(sd))
        return {"serviceDeployments": found, "failures": failures}

    def describe_service_revisions(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        arns: list[str] = p.get("serviceRevisionArns") or []
        if not arns:
            raise invalid("serviceRevisionArns cannot be empty.")
        if len(arns) > 20:
            raise invalid("serviceRevisionArns can have at most 20 items.")
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
        service = self._service_of_arn(acct, sd.service_arn) if sd else None
        if sd is None or service is None:
            raise AwsError(
                "ServiceDeploymentNotFoundException", "The service deployment does not exist."
            )
        self.engine.advance(acct, service, now)
        self.engine.stop_service_deployment(acct, service, sd, stop_type, now)
        return {"serviceDeploymentArn": sd.arn}

    # --- tags -------------------------------------------------------------------------------

    def _resource_exists(self, acct: EcsAccount, arn: str) -> bool:
        _, account, resource = _arn_parts(arn)
        if account != acct.account:
            return False
        kind, _, rest = resource.partition("/")
        parts = rest.split("/")
        cluster = acct.clusters.get(parts[0])
        if kind == "cluster":
            return cluster is not None
        if kind == "service":
            return cluster is not None and len(parts) == 2 and parts[1] in cluster.services
        if kind == "task":
            return cluster is not None and len(parts) == 2 and parts[1] in cluster.tasks
        if kind == "task-definition":
            return acct.find_task_definition(arn) is not None
        return False

    def tag_resource(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        arn = p.get("resourceArn") or ""
        if not self._resource_exists(acct, arn):
            raise AwsError(
                "ResourceNotFoundException", "The specified resource could not be found."
            )
        self._set_tags(acct, arn, p.get("tags") or [])
        return {}

    def untag_resource(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        arn = p.get("resourceArn") or ""
        if not self._resource_exists(acct, arn):
            raise AwsError(
                "ResourceNotFoundException", "The specified resource could not be found."
            )
        tags = acct.tags.get(arn, {})
        for key in p.get("tagKeys") or []:
            tags.pop(key, None)
        return {}

    def list_tags_for_resource(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        arn = p.get("resourceArn") or ""
        if not self._resource_exists(acct, arn):
            raise invalid("The specified resource could not be found.")
        return {"tags": shapes.tag_list(acct.tags.get(arn))}


def _deployment_configuration(
    current: dict[str, Any], update: dict[str, Any] | None
) -> dict[str, Any]:
    """The current configuration with the members the request gives replaced."""
    merged = copy.deepcopy(current)
    for key, value in (update or {}).items():
        merged[key] = copy.deepcopy(value)
    maximum = merged.get("maximumPercent", 200)
    minimum = merged.get("minimumHealthyPercent", 100)
    if not isinstance(maximum, int) or not isinstance(minimum, int) or minimum < 0 or maximum < 1:
        raise invalid("Invalid deploymentConfiguration percentages.")
    if minimum > maximum:
        raise invalid("minimumHealthyPercent cannot be greater than maximumPercent.")
    return merged


def _clean_token(answer: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token is not None:
        answer["nextToken"] = token
    return answer
