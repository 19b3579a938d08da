"""ECS API actions: validate the request, find the resources, change the model, answer.

This module holds clusters, task definitions, tasks and tags; services_api.py holds services
and their deployments. Each handler takes the caller's `EcsAccount`, the decoded request
(camelCase, as on the wire) and the current simulated time, and returns the response body.
Errors are raised as AwsError with the codes the ECS API reference names.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from fleetpatch.sim.ecs import lookups, shapes, task_shapes
from fleetpatch.sim.ecs.deployments import RolloutEngine
from fleetpatch.sim.ecs.lookups import invalid
from fleetpatch.sim.ecs.models import Cluster, EcsAccount, Task, TaskDefinition
from fleetpatch.sim.ecs.services_api import NAME_RE, ServicesApi
from fleetpatch.sim.protocol import AwsError

Handler = Callable[[EcsAccount, dict[str, Any], float], dict[str, Any]]


class EcsApi:
    def __init__(self, engine: RolloutEngine, task_start_seconds: float) -> None:
        self.engine = engine
        self.task_start_seconds = task_start_seconds
        # The caller of the call being answered (EcsSimulator.handle sets it, under its lock).
        self.principal = ""
        services = ServicesApi(engine, self)
        self.handlers: dict[str, Handler] = {
            "CreateCluster": self.create_cluster,
            "ListClusters": self.list_clusters,
            "DescribeClusters": self.describe_clusters,
            "RegisterTaskDefinition": self.register_task_definition,
            "DescribeTaskDefinition": self.describe_task_definition,
            "ListTaskDefinitions": self.list_task_definitions,
            "DeregisterTaskDefinition": self.deregister_task_definition,
            "CreateService": services.create_service,
            "UpdateService": services.update_service,
            "DeleteService": services.delete_service,
            "ListServices": services.list_services,
            "DescribeServices": services.describe_services,
            "ListTasks": self.list_tasks,
            "DescribeTasks": self.describe_tasks,
            "StopTask": self.stop_task,
            "ListServiceDeployments": services.list_service_deployments,
            "DescribeServiceDeployments": services.describe_service_deployments,
            "DescribeServiceRevisions": services.describe_service_revisions,
            "StopServiceDeployment": services.stop_service_deployment,
            "ContinueServiceDeployment": services.continue_service_deployment,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    def _advance_cluster(self, acct: EcsAccount, cluster: Cluster, now: float) -> None:
        """Bring every busy service of `cluster` up to `now` (idle ones have nothing to do)."""
        for s in list(acct.busy_services.values()):
            if s.cluster_name == cluster.name:
                self.engine.advance(acct, s, now)

    # --- clusters ---------------------------------------------------------------------------

    def create_cluster(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        name = p.get("clusterName") or "default"
        if not NAME_RE.match(name):
            raise invalid(
                "Cluster name can only contain letters, numbers, hyphens and underscores."
            )
        lookups.check_tags(p.get("tags"))
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
        lookups.set_tags(acct, c.arn, p.get("tags"))
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
        tags = lookups.tags_of(acct, c.arn, include)
        if tags is not None:
            shape["tags"] = shapes.tag_list(tags)
        return shape

    def list_clusters(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        arns = [c.arn for c in acct.clusters.values() if c.status == "ACTIVE"]
        page, token = lookups.paginate(arns, p, 100, 100)
        return lookups.clean_token({"clusterArns": page}, token)

    def describe_clusters(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        refs: list[str] = p.get("clusters") or ["default"]
        if len(refs) > 100:
            raise invalid("clusters can have at most 100 items.")
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for ref in refs:
            c = acct.clusters.get(lookups.last_segment(ref))
            if c is None:
                failures.append(
                    {"arn": acct.arn(f"cluster/{lookups.last_segment(ref)}"), "reason": "MISSING"}
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
        lookups.check_tags(p.get("tags"))
        body = copy.deepcopy({k: v for k, v in p.items() if k != "tags"})
        revisions = acct.task_definitions.setdefault(family, [])
        revision = len(revisions) + 1
        td = TaskDefinition(
            family=family,
            revision=revision,
            arn=acct.arn(f"task-definition/{family}:{revision}"),
            body=body,
            registered_at=now,
            registered_by=self.principal,
        )
        revisions.append(td)
        lookups.set_tags(acct, td.arn, p.get("tags"))
        return {
            "taskDefinition": task_shapes.task_definition(td),
            "tags": shapes.tag_list(acct.tags.get(td.arn)),
        }

    def describe_task_definition(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        td = lookups.task_definition(acct, p.get("taskDefinition"))
        answer: dict[str, Any] = {"taskDefinition": task_shapes.task_definition(td)}
        tags = lookups.tags_of(acct, td.arn, p.get("include"))
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
        page, token = lookups.paginate(arns, p, 100, 100)
        return lookups.clean_token({"taskDefinitionArns": page}, token)

    def deregister_task_definition(
        self, acct: EcsAccount, p: dict[str, Any], now: float
    ) -> dict[str, Any]:
        ref = p.get("taskDefinition") or ""
        if ":" not in lookups.last_segment(ref):
            raise invalid("A revision must be specified: family:revision or a full ARN.")
        td = lookups.task_definition(acct, ref)
        if td.status == "ACTIVE":
            td.status = "INACTIVE"
            td.deregistered_at = now
        return {"taskDefinition": task_shapes.task_definition(td)}

    # --- tasks ------------------------------------------------------------------------------

    def list_tasks(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = lookups.cluster(acct, p.get("cluster"))
        desired_status = p.get("desiredStatus") or "RUNNING"
        family = p.get("family")
        started_by = p.get("startedBy")
        launch_type = p.get("launchType")
        # Start from the narrowest index so a call never walks every task of the cluster
        # unless it asks for all of them.
        candidates: Iterable[str]
        if p.get("serviceName"):
            service = lookups.service(cluster, p["serviceName"])
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
        page, token = lookups.paginate(arns, p, 100, 100)
        return lookups.clean_token({"taskArns": page}, token)

    def _find_tasks(self, cluster: Cluster, refs: list[str]) -> tuple[list[Task], list[str]]:
        found: list[Task] = []
        missing: list[str] = []
        for ref in refs:
            t = cluster.tasks.get(lookups.last_segment(ref))
            if t is None:
                missing.append(ref)
            else:
                found.append(t)
        return found, missing

    def describe_tasks(self, acct: EcsAccount, p: dict[str, Any], now: float) -> dict[str, Any]:
        cluster = lookups.cluster(acct, p.get("cluster"))
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
                task_shapes.task(
                    t, now, self.task_start_seconds, lookups.tags_of(acct, t.arn, include)
                )
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
        cluster = lookups.cluster(acct, p.get("cluster"))
        ref = p.get("task") or ""
        t = cluster.tasks.get(lookups.last_segment(ref))
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
        return {"task": task_shapes.task(t, now, self.task_start_seconds, None)}

    # --- tags -------------------------------------------------------------------------------

    def _resource_exists(self, acct: EcsAccount, arn: str) -> bool:
        _, account, resource = lookups.arn_parts(arn)
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
        lookups.check_tags(p.get("tags"), acct.tags.get(arn))
        lookups.set_tags(acct, arn, p.get("tags") or [])
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
