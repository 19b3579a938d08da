"""The scenario file: what the simulated AWS holds when it starts (docs/scenario.md).

A scenario is history, replayed in time order when the simulator starts: images are pushed at
their `pushed_at` (a tag given to a newer image leaves the older one, as in ECR), services are
deployed at their `deployed_at` (so they resolve their tags to the digests of that moment, as
ECS's software version consistency does), and the clock then stands at `now`.

`now` defaults to the moment the simulator starts, as AWS's clock is the real one; any time in
the scenario may be written relative to it (`now-7d`, `now-2h30m`), so that a scenario tells
the same story on any day (sim/relative_times.py).
"""

from __future__ import annotations

import difflib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Finding(_Model):
    """A vulnerability that ECR's scan reports for an image."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    severity: Severity
    package: str
    installed: str
    fixed: str | None = None
    published: datetime | None = None
    description: str = ""

    @field_validator("severity", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class Image(_Model):
    """One image pushed to a repository. Its digest is the sha256 of the manifest the simulator
    builds from `tags[0]`, `platforms` and `seed`, so it is stable across runs."""

    tags: list[str] = Field(min_length=1)
    pushed_at: datetime
    platforms: list[str] = ["linux/amd64", "linux/arm64"]
    seed: str = ""
    findings: list[Finding] = []
    # New tasks running this image stop with this reason (a broken build).
    fails: str | None = None
    # Moved to ECR's archive storage class: DescribeImages says imageStatus ARCHIVED, and a
    # task can't pull it (CannotPullContainerError) until it is restored.
    archived: bool = False

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, value: list[str]) -> list[str]:
        for platform in value:
            if platform.count("/") != 1:
                raise ValueError(f"platform {platform!r} must look like 'linux/amd64'")
        return value


class Repository(_Model):
    name: str = Field(pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
    scan: Literal["basic", "enhanced"] = "basic"
    tag_mutability: Literal[
        "MUTABLE", "IMMUTABLE", "MUTABLE_WITH_EXCLUSION", "IMMUTABLE_WITH_EXCLUSION"
    ] = "MUTABLE"
    # imageTagMutabilityExclusionFilters (WILDCARD) for the *_WITH_EXCLUSION settings.
    tag_mutability_exclusions: list[str] = []
    # ECR lifecycle policy document (the JSON ECR takes, written as YAML/TOML).
    lifecycle_policy: dict[str, Any] | None = None
    # The repository policy (SetRepositoryPolicy's document): what other accounts may do.
    policy: dict[str, Any] | None = None
    images: list[Image] = []


class Container(_Model):
    """A container definition. `image` may use {registry}, {account}, {region}, {service}."""

    name: str
    image: str
    essential: bool = True
    firelens: Literal["fluentbit", "fluentd"] | None = None
    version_consistency: Literal["enabled", "disabled"] | None = None


class LinearConfiguration(_Model):
    step_percent: float = Field(default=10.0, ge=3.0, le=100.0)
    step_bake_time_in_minutes: int = Field(default=6, ge=0, le=1440)


class CanaryConfiguration(_Model):
    canary_percent: float = Field(default=5.0, ge=0.1, le=100.0)
    canary_bake_time_in_minutes: int = Field(default=10, ge=0, le=1440)


HookStage = Literal[
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
]


class LifecycleHook(_Model):
    """A DeploymentLifecycleHook; ECS checks the rest (a Lambda hook needs hook_target_arn)."""

    target_type: Literal["AWS_LAMBDA", "PAUSE"] = "AWS_LAMBDA"
    hook_target_arn: str | None = None
    role_arn: str | None = None
    lifecycle_stages: list[HookStage] = Field(min_length=1)
    timeout_in_minutes: int = Field(default=1440, ge=1, le=20160)
    timeout_action: Literal["CONTINUE", "ROLLBACK"] = "ROLLBACK"

    def request(self) -> dict[str, Any]:
        hook: dict[str, Any] = {
            "targetType": self.target_type,
            "lifecycleStages": list(self.lifecycle_stages),
            "timeoutConfiguration": {
                "timeoutInMinutes": self.timeout_in_minutes,
                "action": self.timeout_action,
            },
        }
        if self.hook_target_arn:
            hook["hookTargetArn"] = self.hook_target_arn
        if self.role_arn:
            hook["roleArn"] = self.role_arn
        return hook


class Service(_Model):
    name: str
    desired_count: int = Field(default=2, ge=0)
    deployed_at: datetime | None = None
    containers: list[Container] | None = None
    circuit_breaker: bool = True
    rollback: bool = True
    minimum_healthy_percent: int = Field(default=100, ge=0, le=100)
    maximum_percent: int = Field(default=200, ge=100, le=400)
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    # Every new task of this service stops with this reason.
    fails: str | None = None
    # ECS's native deployment strategies (deploymentConfiguration.strategy and friends).
    strategy: Literal["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"] = "ROLLING"
    bake_time_in_minutes: int | None = Field(default=None, ge=0, le=1440)
    linear_configuration: LinearConfiguration | None = None
    canary_configuration: CanaryConfiguration | None = None
    lifecycle_hooks: list[LifecycleHook] = []
    # Kinds of service (docs/scenario.md "Kinds of service"). DAEMON runs one task per
    # container instance of its cluster, on EC2; EXTERNAL has no task definition.
    scheduling_strategy: Literal["REPLICA", "DAEMON"] = "REPLICA"
    deployment_controller: Literal["ECS", "CODE_DEPLOY", "EXTERNAL"] = "ECS"
    launch_type: Literal["FARGATE", "EC2"] | None = None  # FARGATE, DAEMON: EC2

    @model_validator(mode="after")
    def _kind_fits(self) -> Service:
        given = self.model_fields_set
        if self.scheduling_strategy == "DAEMON":
            if "desired_count" in given:
                raise ValueError(
                    "desired_count: a DAEMON service runs one task per container instance "
                    "(the cluster's container_instances); leave desired_count out"
                )
            if self.launch_type == "FARGATE":
                raise ValueError("launch_type: ECS runs no DAEMON service on FARGATE; use EC2")
            if self.deployment_controller != "ECS":
                raise ValueError(
                    "scheduling_strategy: DAEMON needs deployment_controller ECS (as in ECS)"
                )
        if self.deployment_controller == "EXTERNAL" and self.containers is not None:
            raise ValueError(
                "containers: an EXTERNAL service has no task definition (its controller's "
                "task sets have them); leave containers out"
            )
        if self.deployment_controller != "ECS" and (
            self.strategy != "ROLLING" or self.lifecycle_hooks
        ):
            raise ValueError(
                "strategy, lifecycle_hooks: ECS's deployment strategies need "
                "deployment_controller ECS"
            )
        return self

    @model_validator(mode="after")
    def _strategy_settings_fit(self) -> Service:
        if self.linear_configuration is not None and self.strategy != "LINEAR":
            raise ValueError("linear_configuration is only valid with strategy LINEAR")
        if self.canary_configuration is not None and self.strategy != "CANARY":
            raise ValueError("canary_configuration is only valid with strategy CANARY")
        if self.strategy == "BLUE_GREEN" and self.bake_time_in_minutes is None:
            raise ValueError("strategy BLUE_GREEN needs bake_time_in_minutes (as ECS does)")
        return self

    def deployment_configuration(self) -> dict[str, Any]:
        """The CreateService deploymentConfiguration this service's keys describe. A DAEMON
        service takes ECS's DAEMON defaults (100/0) unless the keys are given; the circuit
        breaker is the ECS controller's only."""
        config: dict[str, Any] = {}
        daemon = self.scheduling_strategy == "DAEMON"
        if not daemon or "minimum_healthy_percent" in self.model_fields_set:
            config["minimumHealthyPercent"] = self.minimum_healthy_percent
        if not daemon or "maximum_percent" in self.model_fields_set:
            config["maximumPercent"] = self.maximum_percent
        if self.deployment_controller == "ECS":
            config["deploymentCircuitBreaker"] = {
                "enable": self.circuit_breaker,
                "rollback": self.rollback,
            }
        if self.strategy == "ROLLING" and not self.lifecycle_hooks:
            return config
        config["strategy"] = self.strategy
        if self.bake_time_in_minutes is not None:
            config["bakeTimeInMinutes"] = self.bake_time_in_minutes
        if self.linear_configuration is not None:
            config["linearConfiguration"] = {
                "stepPercent": self.linear_configuration.step_percent,
                "stepBakeTimeInMinutes": self.linear_configuration.step_bake_time_in_minutes,
            }
        if self.canary_configuration is not None:
            config["canaryConfiguration"] = {
                "canaryPercent": self.canary_configuration.canary_percent,
                "canaryBakeTimeInMinutes": self.canary_configuration.canary_bake_time_in_minutes,
            }
        if self.lifecycle_hooks:
            config["lifecycleHooks"] = [hook.request() for hook in self.lifecycle_hooks]
        return config


class Cluster(_Model):
    name: str
    # The task layout every service of this cluster uses unless it names its own.
    containers: list[Container] = []
    # When this cluster's services were deployed, unless a service says otherwise.
    deployed_at: datetime | None = None
    # EC2 container instances registered to the cluster (where DAEMON services run a task each).
    container_instances: int = Field(default=0, ge=0, le=1000)
    services: list[Service] = []

    @field_validator("services", mode="before")
    @classmethod
    def _names_are_services(cls, value: object) -> object:
        # A bare name is a service with the cluster's defaults: keeps a 12-service list short.
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _every_service_has_containers(self) -> Cluster:
        for service in self.services:
            if service.deployment_controller == "EXTERNAL":
                continue
            if not (service.containers or self.containers):
                raise ValueError(
                    f"service {service.name!r} has no containers: give the cluster or the "
                    "service a 'containers' list"
                )
        return self


class Secret(_Model):
    """A Secrets Manager secret of the environment's account and Region. `value` is its
    SecretString: a string as given, or an object stored as JSON. `policy` is its resource
    policy (evaluated as sim/secrets.py says)."""

    # Secrets Manager's name rule: 1-512 of letters, digits and /_+=.@-
    name: str = Field(pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$")
    value: str | dict[str, Any]
    policy: dict[str, Any] | None = None

    def secret_string(self) -> str:
        return self.value if isinstance(self.value, str) else json.dumps(self.value)


class Environment(_Model):
    name: str
    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    repositories: list[Repository] = []
    clusters: list[Cluster] = []
    secrets: list[Secret] = []

    @property
    def registry(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"


DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


class ExternalRepository(_Model):
    """A repository of a registry outside ECR; Docker Hub names without a `/` get `library/`."""

    name: str = Field(pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
    images: list[Image] = []


class ExternalRegistry(_Model):
    """ECR Public, Docker Hub or any OCI registry, served under /_oci/<host>/ (sim/oci.py)."""

    host: str = Field(pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$")
    repositories: list[ExternalRepository] = []

    @field_validator("host")
    @classmethod
    def _not_ecr(cls, value: str) -> str:
        if re.match(r"^\d{12}\.dkr\.ecr\.", value):
            raise ValueError(
                "an ECR registry is an environment's 'repositories' (an environment without "
                "clusters for a registry account): not a 'registries' entry"
            )
        return "docker.io" if value in DOCKER_HUB_HOSTS else value

    @model_validator(mode="before")
    @classmethod
    def _docker_hub_names(cls, data: object) -> object:
        # Docker Hub's official images live under library/: `fluent-bit` is library/fluent-bit.
        if not isinstance(data, dict) or data.get("host") not in DOCKER_HUB_HOSTS:
            return data
        repositories = [
            {**r, "name": f"library/{r['name']}"}
            if isinstance(r, dict) and isinstance(r.get("name"), str) and "/" not in r["name"]
            else r
            for r in data.get("repositories") or []
        ]
        return {**data, "repositories": repositories}


class RateLimit(_Model):
    burst: int = Field(ge=1)
    rate: float = Field(gt=0)


class Faults(_Model):
    """Fault injection for ECS and ECR calls (STS is spared so that setup never flakes).

    AWS's documented rate limits (sim/limits.py) are on unless `rate_limits: off`; a
    `rate_limits` mapping (operation -> burst, rate) overrides single operations on top.
    """

    throttle_rate: float = Field(default=0.0, ge=0, le=1)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    latency_ms: float = Field(default=0.0, ge=0)
    # The most dangerous failure of a deploy tool: the change is applied, then its answer is
    # lost (HTTP 500 ServerException instead of the answer). Drawn for every call that
    # changes state (sim/faults.py STATE_CHANGING).
    lost_answer_rate: float = Field(default=0.0, ge=0, le=1)
    rate_limits: dict[str, RateLimit] = {}
    # False when the scenario says `rate_limits: off` (set by _limits_off, not a key).
    aws_limits: bool = True
    seed: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _limits_off(cls, data: object) -> object:
        # YAML reads `off` as False and `on` as True; "off"/"aws" are accepted as words too.
        if not isinstance(data, dict) or "rate_limits" not in data:
            return data
        value = data["rate_limits"]
        if value is False or value == "off":
            return {**data, "rate_limits": {}, "aws_limits": False}
        if value is True or value == "aws" or value is None:
            return {**data, "rate_limits": {}, "aws_limits": True}
        if not isinstance(value, dict):
            raise ValueError(
                f"rate_limits: {value!r}: write off (no limits), aws (AWS's, the default) or "
                "a mapping of operation -> {burst, rate} overriding AWS's"
            )
        return data

    @field_validator("rate_limits")
    @classmethod
    def _known_operations(cls, value: dict[str, RateLimit]) -> dict[str, RateLimit]:
        from fleetpatch.sim.limits import known_operations

        known = known_operations()
        for name in value:
            if name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ValueError(f"{name!r} is not an ECS or ECR operation{hint}")
        return value


class Scenario(_Model):
    # Set by scenario_from_data: the scenario's `now`, or the real time when it has none.
    now: datetime = Field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    time_scale: float = Field(default=1.0, ge=0)
    task_start_seconds: float = Field(default=30.0, ge=0)
    task_stop_seconds: float = Field(default=10.0, ge=0)
    # Accounts are reached by assuming this role name in each (as with real cross-account setups).
    role_name: str = "fleetpatch"
    environments: list[Environment] = []
    # Registries outside ECR (ECR Public, Docker Hub ...) and their images.
    registries: list[ExternalRegistry] = []
    faults: Faults = Faults()

    @model_validator(mode="before")
    @classmethod
    def _drop_extension_keys(cls, data: object) -> object:
        # Top-level keys starting with "x-" hold YAML anchors to reuse (as in docker compose).
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not str(k).startswith("x-")}
        return data

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        names = [env.name for env in self.environments]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"environment names must be unique, repeated: {sorted(duplicates)}")
        places = [(env.account, env.region) for env in self.environments]
        if len(set(places)) != len(places):
            raise ValueError("two environments share one account and region: give each its own")
        hosts = [registry.host for registry in self.registries]
        if len(set(hosts)) != len(hosts):
            raise ValueError("two 'registries' entries share one host: merge them")
        return self

    def default_deployed_at(self) -> datetime:
        """Services without `deployed_at` were deployed a week before `now`."""
        return self.now - timedelta(days=7)
