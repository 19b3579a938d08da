"""The in-memory ECS model: plain dataclasses, one object per ECS resource.

Times are epoch seconds (floats), the way the awsJson1_1 protocol sends timestamps, so that
rendering a response never converts anything. Objects that point at each other (a task and its
deployment, a service and its deployments) compare by identity (`eq=False`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

# ECS keeps at most this many events per service, newest first.
MAX_SERVICE_EVENTS = 100

# Stopped tasks stay visible for a while in real ECS (about an hour); we keep the newest ones
# per service so that a deployment that fails forever does not grow memory without bound.
MAX_STOPPED_TASKS_PER_SERVICE = 100
STOPPED_TASK_RETENTION_SECONDS = 3600.0


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """`repo[:tag][@digest]` -> (repo, tag, digest).

    The registry host may carry a port (`127.0.0.1:5000/repo:tag`), so a tag is only a colon
    after the last slash.
    """
    digest: str | None = None
    if "@" in image:
        image, digest = image.split("@", 1)
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :], digest
    return image, None, digest


def image_repo(image: str) -> str:
    return split_image(image)[0]


@dataclass(eq=False)
class ContainerInstance:
    """An EC2 instance registered to a cluster: where EC2 tasks run, one DAEMON task each."""

    arn: str
    ec2_instance_id: str
    registered_at: float
    status: str = "ACTIVE"


@dataclass(eq=False)
class Cluster:
    name: str
    arn: str
    created_at: float
    settings: list[dict[str, Any]] = field(default_factory=list)
    configuration: dict[str, Any] | None = None
    capacity_providers: list[str] = field(default_factory=list)
    status: str = "ACTIVE"
    # Services by name, including INACTIVE ones (DescribeServices still shows them).
    services: dict[str, Service] = field(default_factory=dict)
    # Every task we still remember (live and recently stopped), by task id. Dicts keep
    # insertion order, so listings are stable and paginate well.
    tasks: dict[str, Task] = field(default_factory=dict)
    tasks_by_family: dict[str, dict[str, None]] = field(default_factory=dict)
    tasks_by_started_by: dict[str, dict[str, None]] = field(default_factory=dict)
    # Registered container instances, in registration order.
    container_instances: list[ContainerInstance] = field(default_factory=list)

    @property
    def active_instances(self) -> list[ContainerInstance]:
        return [ci for ci in self.container_instances if ci.status == "ACTIVE"]


@dataclass
class TaskDefinition:
    family: str
    revision: int
    arn: str
    # The registration request as given (minus tags), returned unchanged so a round trip
    # preserves everything (versionConsistency, runtimePlatform, cpu/memory ...).
    body: dict[str, Any]
    registered_at: float
    # The principal that registered it (the ARN sts:GetCallerIdentity tells).
    registered_by: str = ""
    status: str = "ACTIVE"
    deregistered_at: float | None = None

    @property
    def container_definitions(self) -> list[dict[str, Any]]:
        defs: list[dict[str, Any]] = self.body.get("containerDefinitions", [])
        return defs


@dataclass
class ContainerImage:
    """One container of a service revision: the image as written and the digest it resolved to
    when the deployment started."""

    name: str
    image: str
    # None when versionConsistency is disabled (resolved per task instead) or when the
    # image did not resolve at all (then every task fails to pull).
    digest: str | None
    consistent: bool
    essential: bool = True


@dataclass
class ServiceRevision:
    arn: str
    service_arn: str
    cluster_arn: str
    task_definition_arn: str
    launch_type: str
    platform_version: str | None
    network_configuration: dict[str, Any] | None
    container_images: list[ContainerImage]
    created_at: float


@dataclass
class RevisionSummary:
    arn: str
    requested: int
    running: int
    pending: int


@dataclass
class Rollback:
    reason: str
    started_at: float
    service_revision_arn: str


@dataclass
class StrategyStep:
    """One step of a BLUE_GREEN, LINEAR or CANARY deployment (strategies.py runs them in order).

    `action` is "hook" (run the lifecycle hooks of `hook_stage`), "scale_up", "shift_test",
    "shift" (production traffic to `weight` percent), "wait" (`seconds`) or "clean_up"."""

    stage: str
    action: str
    hook_stage: str | None = None
    weight: float = 0.0
    seconds: float = 0.0


@dataclass
class HookRun:
    """One run of a lifecycle hook at one stage (DescribeServiceDeployments'
    lifecycleHookDetails)."""

    hook_id: str
    step_index: int
    target_type: str
    target_arn: str | None
    status: str  # AWAITING_ACTION | IN_PROGRESS | SUCCEEDED | FAILED | TIMED_OUT
    expires_at: float
    timeout_action: str


@dataclass(eq=False)
class ServiceDeployment:
    """The ServiceDeployment of the Oct-2024 deployment APIs. A circuit-breaker or requested
    rollback stays inside the same ServiceDeployment (status ROLLBACK_*)."""

    arn: str
    service_arn: str
    cluster_arn: str
    created_at: float
    target_revision: ServiceRevision
    source_revisions: list[RevisionSummary]
    deployment_configuration: dict[str, Any]
    status: str = "PENDING"
    status_reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    stopped_at: float | None = None
    updated_at: float = 0.0
    circuit_breaker_enabled: bool = False
    circuit_breaker_status: str = "DISABLED"
    failure_count: int = 0
    threshold: int = 0
    rollback: Rollback | None = None
    # deploymentConfiguration.strategy when the deployment started; the steps of a
    # BLUE_GREEN / LINEAR / CANARY deployment and where it stands in them.
    strategy: str = "ROLLING"
    steps: list[StrategyStep] = field(default_factory=list)
    step_index: int = 0
    lifecycle_stage: str | None = None
    # When the current "wait" step ends (None: not waiting).
    wait_until: float | None = None
    hook_runs: list[HookRun] = field(default_factory=list)
    # Percent of production / test traffic the target revision gets.
    production_weight: float = 0.0
    test_weight: float = 0.0
    # The ECS deployment that rolls out the target revision, and the one rolling back.
    deployment: Deployment | None = field(default=None, repr=False)
    rollback_deployment: Deployment | None = field(default=None, repr=False)

    @property
    def in_progress(self) -> bool:
        return self.status in (
            "PENDING",
            "IN_PROGRESS",
            "ROLLBACK_REQUESTED",
            "ROLLBACK_IN_PROGRESS",
        )


@dataclass(eq=False)
class Deployment:
    """One entry of DescribeServices' `deployments[]`."""

    id: str
    revision: ServiceRevision
    service_deployment: ServiceDeployment
    desired_count: int
    created_at: float
    updated_at: float
    status: str = "PRIMARY"  # PRIMARY | ACTIVE | INACTIVE
    rollout_state: str = "IN_PROGRESS"
    rollout_state_reason: str = ""
    failed_tasks: int = 0
    is_rollback: bool = False
    # False once the circuit breaker failed the deployment or a user aborted it: ECS then
    # stops launching tasks for it.
    launching: bool = True
    # ECS throttles a service whose tasks keep failing; no launch before this time.
    next_launch_at: float = 0.0
    # Live tasks (not yet STOPPED) of this deployment, by task id.
    tasks: dict[str, Task] = field(default_factory=dict)
    # A blue revision that a BLUE_GREEN / LINEAR / CANARY deployment keeps at full size until
    # its CLEAN_UP stage (so it still "requests" its tasks).
    kept_until_clean_up: bool = False

    @property
    def task_definition_arn(self) -> str:
        return self.revision.task_definition_arn


@dataclass
class Container:
    arn: str
    name: str
    image: str
    digest: str | None
    consistent: bool
    essential: bool
    last_status: str = "PENDING"
    exit_code: int | None = None
    reason: str | None = None
    # From the container definition: CPU units ("0" when not given) and memory limits.
    cpu: str = "0"
    memory: str | None = None
    memory_reservation: str | None = None
    # The container runtime's id, once the container was created.
    runtime_id: str | None = None


@dataclass(eq=False)
class Task:
    id: str
    arn: str
    cluster_arn: str
    service_name: str
    family: str
    task_definition_arn: str
    started_by: str
    launch_type: str
    cpu: str | None
    memory: str | None
    containers: list[Container]
    created_at: float
    # When the task finishes starting (RUNNING, or STOPPED if it fails to start).
    ready_at: float
    # The deployment whose tasks this one counts among (a rollback adopts the tasks that
    # already run its revision, so this can differ from `started_by`).
    deployment: Deployment | None = field(repr=False)
    desired_status: str = "RUNNING"
    last_status: str = "PROVISIONING"  # PROVISIONING/PENDING are told apart by time
    started_at: float | None = None
    stopping_at: float | None = None
    # When a stopping task reaches STOPPED.
    stop_at: float | None = None
    stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    version: int = 1
    # The container instance an EC2 task runs on (None on Fargate).
    container_instance_arn: str | None = None
    availability_zone: str = ""
    # FARGATE only: the platform version the task runs on ("1.4.0" for LATEST) and its family.
    platform_version: str | None = None
    platform_family: str | None = None
    cpu_architecture: str = "x86_64"
    enable_execute_command: bool = False

    @property
    def is_starting(self) -> bool:
        return self.last_status in ("PROVISIONING", "PENDING") and self.desired_status == "RUNNING"

    @property
    def is_running(self) -> bool:
        return self.last_status == "RUNNING" and self.desired_status == "RUNNING"

    @property
    def is_stopping(self) -> bool:
        return self.desired_status == "STOPPED" and self.last_status != "STOPPED"


@dataclass
class ServiceEvent:
    id: str
    created_at: float
    message: str


@dataclass(eq=False)
class Service:
    name: str
    arn: str
    account: str
    region: str
    cluster_name: str
    cluster_arn: str
    # None for an EXTERNAL-controller service (its task sets name their own).
    task_definition_arn: str | None
    desired_count: int
    launch_type: str
    deployment_configuration: dict[str, Any]
    created_at: float
    # The principal that created it (an assumed role's role ARN, as ECS records it).
    created_by: str = ""
    platform_version: str | None = None
    network_configuration: dict[str, Any] | None = None
    scheduling_strategy: str = "REPLICA"  # REPLICA | DAEMON
    deployment_controller: str = "ECS"  # ECS | CODE_DEPLOY | EXTERNAL
    propagate_tags: str = "NONE"
    enable_ecs_managed_tags: bool = False
    enable_execute_command: bool = False
    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    role_arn: str | None = None
    health_check_grace_period_seconds: int = 0
    availability_zone_rebalancing: str = "ENABLED"
    status: str = "ACTIVE"  # ACTIVE | DRAINING | INACTIVE
    # Active deployments, PRIMARY first; INACTIVE ones are dropped from here.
    deployments: list[Deployment] = field(default_factory=list)
    service_deployments: list[ServiceDeployment] = field(default_factory=list)
    # The last deployment whose rollout COMPLETED: what a rollback returns to.
    last_completed: Deployment | None = None
    events: deque[ServiceEvent] = field(default_factory=lambda: deque(maxlen=MAX_SERVICE_EVENTS))
    # Task ids of this service that we still remember, live and stopped.
    task_ids: dict[str, None] = field(default_factory=dict)
    stopped_task_ids: deque[str] = field(default_factory=deque)
    # State has been computed up to this time.
    advanced_to: float = 0.0

    @property
    def primary(self) -> Deployment | None:
        return self.deployments[0] if self.deployments else None


@dataclass(eq=False)
class EcsAccount:
    """Everything ECS holds for one (account, region)."""

    account: str
    region: str
    clusters: dict[str, Cluster] = field(default_factory=dict)
    # family -> revisions in order (revision n at index n - 1).
    task_definitions: dict[str, list[TaskDefinition]] = field(default_factory=dict)
    service_deployments: dict[str, ServiceDeployment] = field(default_factory=dict)
    service_revisions: dict[str, ServiceRevision] = field(default_factory=dict)
    # Services with something time-driven going on (starting/stopping tasks, rollouts).
    busy_services: dict[str, Service] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)

    def arn(self, resource: str) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account}:{resource}"

    def find_task_definition(self, ref: str) -> TaskDefinition | None:
        """`family` (latest ACTIVE revision), `family:revision` or a task definition ARN."""
        name = ref
        if ref.startswith("arn:"):
            if ":task-definition/" not in ref:
                return None
            name = ref.split(":task-definition/", 1)[1]
        family, _, revision = name.partition(":")
        revisions = self.task_definitions.get(family)
        if not revisions:
            return None
        if not revision:
            active = [td for td in revisions if td.status == "ACTIVE"]
            return active[-1] if active else None
        if not revision.isdigit() or not 1 <= int(revision) <= len(revisions):
            return None
        return revisions[int(revision) - 1]
