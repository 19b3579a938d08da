"""The local AWS fleet simulator: `with Simulator(scenario) as sim:` gives an endpoint URL.

moto keeps its state in module globals, so one Simulator runs per process at a time; starting it
resets that state and replays the scenario's history.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from fleetpatch.aws.session import SIM_ACCESS_KEY as SIM_ACCESS_KEY
from fleetpatch.errors import UserError
from fleetpatch.sim import scenario as sc
from fleetpatch.sim import seeding
from fleetpatch.sim.clock import SimClock
from fleetpatch.sim.ecs import EcsSimulator
from fleetpatch.sim.faults import FaultInjector
from fleetpatch.sim.http import KeepAliveServer
from fleetpatch.sim.loading import load_scenario, scenario_from_data
from fleetpatch.sim.protocol import AwsError, TaskFailure
from fleetpatch.sim.registry import Registry, patch_moto
from fleetpatch.sim.secrets import seed_secret
from fleetpatch.sim.server import SimApp

DEFAULT_PORT = 4599

_running = threading.Lock()


def _check_port_free(host: str, port: int) -> None:
    """Fail with one clear line when the port is taken (werkzeug would print its own lines and
    exit)."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(
                    f"port {port} on {host} is already in use: stop what holds it or pass --port N"
                ) from None
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


class FailureMarks:
    """Digests and services whose new tasks fail (FailureRules for the ECS layer)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.digests: dict[str, str] = {}
        self.services: dict[tuple[str, str, str, str], str] = {}

    def task_failure(
        self, account: str, region: str, cluster: str, service: str, digests: dict[str, str]
    ) -> TaskFailure | None:
        with self._lock:
            reason = self.services.get((account, region, cluster, service))
            if reason:
                return TaskFailure(reason)
            for container, digest in digests.items():
                if digest in self.digests:
                    return TaskFailure(self.digests[digest], container)
        return None

    def mark_digest(self, digest: str, reason: str) -> None:
        with self._lock:
            self.digests[digest] = reason

    def mark_service(self, key: tuple[str, str, str, str], reason: str) -> None:
        with self._lock:
            self.services[key] = reason

    def clear(self) -> None:
        with self._lock:
            self.digests.clear()
            self.services.clear()


class Simulator:
    def __init__(
        self,
        scenario: sc.Scenario | Path | str | dict[str, Any],
        port: int = 0,
        time_scale: float | None = None,
        host: str = "127.0.0.1",
        now: datetime | None = None,
    ) -> None:
        # `now` pins the world's start (tests); else the scenario's `now`, else real time.
        if isinstance(scenario, (str, Path)):
            scenario = load_scenario(Path(scenario), now=now)
        elif isinstance(scenario, dict):
            scenario = scenario_from_data(scenario, now=now)
        elif now is not None:
            scenario = scenario.model_copy(update={"now": now})
        self.scenario = scenario
        self.host = host
        self.port = port
        self.clock = SimClock(start=scenario.now, time_scale=0)
        self._time_scale = time_scale if time_scale is not None else scenario.time_scale
        self.registry = Registry(self.clock.now)
        self.failures = FailureMarks()
        self.faults = FaultInjector(sc.Faults())
        self.ecs = EcsSimulator(
            self.clock,
            self.registry,
            self.failures,
            task_start_seconds=scenario.task_start_seconds,
            task_stop_seconds=scenario.task_stop_seconds,
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: SimApp | None = None
        # digest -> (environment, repository, first tag) for every image the scenario pushed
        self.images: dict[str, tuple[str, str, str]] = {}

    # --- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if not _running.acquire(blocking=False):
            raise RuntimeError("a Simulator is already running in this process (moto is global)")
        try:
            self._reset_moto()
            self._replay_history()
            self.faults.configure(self.scenario.faults)
            self._serve()
        except BaseException:
            _running.release()
            raise

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if _running.locked():
            _running.release()

    def serve_forever(self) -> None:
        """Block until interrupted (for `fleetpatch sim serve`)."""
        assert self._thread is not None
        self._thread.join()

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def registry_url(self, host: str) -> str:
        """Where this simulator serves the registry `host` of the scenario's `registries`
        (the `endpoint_url` of a [[registries]] entry in fleetpatch.toml)."""
        return f"{self.endpoint_url}/_oci/{host}"

    def _reset_moto(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        patch_moto(self.clock.now)

    def _serve(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.app = SimApp(self, DomainDispatcherApplication(create_backend_app))
        _check_port_free(self.host, self.port)
        self._server = KeepAliveServer(self.host, self.port, self.app, clock=self.clock.now)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fleetpatch-sim", daemon=True
        )
        self._thread.start()

    # --- history ----------------------------------------------------------------------------
    def _replay_history(self) -> None:
        """Push images and deploy services in time order, then stand the clock at `now`."""
        scenario = self.scenario
        events: list[tuple[datetime, int, Any]] = []
        for env in scenario.environments:
            for secret in env.secrets:
                seed_secret(
                    env.account, env.region, secret.name, secret.secret_string(), secret.policy
                )
            for repository in env.repositories:
                self.registry.create_repository(env.account, env.region, repository)
                for image in repository.images:
                    events.append((image.pushed_at, 0, (env, repository, image)))
            for cluster in env.clusters:
                self.ecs.handle(
                    env.account, env.region, "CreateCluster", {"clusterName": cluster.name}
                )
                if cluster.container_instances:
                    self.ecs.register_container_instances(
                        env.account, env.region, cluster.name, cluster.container_instances
                    )
                for service in cluster.services:
                    deployed_at = (
                        service.deployed_at or cluster.deployed_at or scenario.default_deployed_at()
                    )
                    events.append((deployed_at, 1, (env, cluster, service)))
        for registry in scenario.registries:
            for external in registry.repositories:
                self.registry.oci.create_repository(registry.host, external.name)
                for image in external.images:
                    events.append((image.pushed_at, 0, (registry, external, image)))
        # At one moment, pushes come before deployments (the sort key's second field).
        events.sort(key=lambda event: (event[0], event[1]))
        for moment, kind, event in events:
            self.clock.jump_to(moment)
            if kind == 0 and isinstance(event[0], sc.ExternalRegistry):
                registry, external, image = event
                self.push_external(registry.host, external.name, image)
            elif kind == 0:
                env, repository, image = event
                self.push_image(env.name, repository.name, image)
            else:
                self._create_service(*event)
                self.ecs.settle()
        self.clock.jump_to(scenario.now)
        self.clock.set_time_scale(self._time_scale)

    def _create_service(self, env: sc.Environment, cluster: sc.Cluster, svc: sc.Service) -> None:
        task_definition_arn = None
        if svc.deployment_controller != "EXTERNAL":
            task_definition_arn = self.ecs.handle(
                env.account,
                env.region,
                "RegisterTaskDefinition",
                seeding.task_definition_request(env, cluster, svc),
            )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.handle(
            env.account,
            env.region,
            "CreateService",
            seeding.create_service_request(cluster, svc, task_definition_arn),
        )
        if svc.fails:
            self.fail_service(env.name, cluster.name, svc.name, svc.fails)

    # --- what tests, the demo and the control API change at run time -----------------------
    def environment(self, name: str) -> sc.Environment:
        for env in self.scenario.environments:
            if env.name == name:
                return env
        raise KeyError(f"no environment {name!r} in the scenario")

    def push_image(
        self, environment: str, repository: str, image: sc.Image | dict[str, Any]
    ) -> str:
        """Push an image now (or at its pushed_at while replaying); returns its digest."""
        if isinstance(image, dict):
            image = sc.Image.model_validate({"pushed_at": self.clock.now(), **image})
        env = self.environment(environment)
        # Tasks that started before this push must have seen the registry as it was.
        self.ecs.advance()
        digest = self.registry.push(env.account, env.region, repository, image)
        self.images.setdefault(digest, (environment, repository, image.tags[0]))
        if image.fails:
            self.fail_digest(digest, image.fails)
        if image.archived:
            self.fail_digest(digest, _archived_pull_error(env, repository, digest))
        return digest

    def push_external(self, host: str, repository: str, image: sc.Image | dict[str, Any]) -> str:
        """Push an image to a registry outside ECR (ECR Public, Docker Hub ...) now; its
        tags move to it. Returns its digest."""
        if isinstance(image, dict):
            image = sc.Image.model_validate({"pushed_at": self.clock.now(), **image})
        self.ecs.advance()
        digest = self.registry.push_external(host, repository, image)
        if image.fails:
            self.fail_digest(digest, image.fails)
        return digest

    def fail_digest(self, digest: str, reason: str) -> None:
        self.ecs.advance()
        self.failures.mark_digest(digest, reason)

    def fail_service(self, environment: str, cluster: str, service: str, reason: str) -> None:
        env = self.environment(environment)
        self.ecs.advance()
        self.failures.mark_service((env.account, env.region, cluster, service), reason)

    def clear_failures(self) -> None:
        self.ecs.advance()
        self.failures.clear()

    def set_faults(self, faults: sc.Faults | None = None, **fields: Any) -> None:
        self.faults.configure(faults or sc.Faults.model_validate(fields))

    def run_lifecycle_policies(self) -> list[tuple[str, str, str, str]]:
        self.ecs.advance()
        return self.registry.run_lifecycle_policies()

    def advance(self, seconds: float) -> datetime:
        return self.clock.advance(seconds)

    @property
    def calls(self) -> Counter[str]:
        return self.app.calls if self.app is not None else Counter()

    def reset_calls(self) -> None:
        if self.app is not None:
            self.app.calls.clear()

    # --- the HTTP control API (/_sim/<command>) ----------------------------------------------
    def control(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._control(command, body)
        except (KeyError, ValueError, TypeError) as exc:
            raise AwsError("InvalidParameterException", f"/_sim/{command}: {exc}") from None

    def _control(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        if command == "time":
            return {"now": self.clock.now().isoformat()}
        if command == "advance":
            return {"now": self.advance(float(body["seconds"])).isoformat()}
        if command == "lifecycle":
            expired = self.run_lifecycle_policies()
            return {"expired": [list(item) for item in expired]}
        if command == "faults":
            self.set_faults(**body)
            return {"faults": self.faults.faults.model_dump()}
        if command == "fail":
            if "digest" in body:
                self.fail_digest(body["digest"], body.get("reason", "exit code 1"))
            else:
                self.fail_service(
                    body["environment"], body["cluster"], body["service"], body["reason"]
                )
            return {}
        if command == "push":
            if "host" in body:
                digest = self.push_external(body["host"], body["repository"], body["image"])
            else:
                digest = self.push_image(body["environment"], body["repository"], body["image"])
            return {"digest": digest}
        if command == "calls":
            return {"calls": dict(self.calls)}
        raise AwsError("UnknownOperationException", f"unknown simulator command {command!r}", 404)


def client(sim: Simulator, service: str, environment: str, config: Any = None) -> Any:
    """A boto3 client for one scenario environment, reached as a user would: static base
    credentials, then sts:AssumeRole into that environment's account."""
    import boto3

    env = sim.environment(environment)
    sts = boto3.client(
        "sts",
        endpoint_url=sim.endpoint_url,
        region_name=env.region,
        aws_access_key_id=SIM_ACCESS_KEY,
        aws_secret_access_key=SIM_ACCESS_KEY,
    )
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{env.account}:role/{sim.scenario.role_name}",
        RoleSessionName="fleetpatch-sim",
    )["Credentials"]
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=sim.endpoint_url,
        region_name=env.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=config,
    )


def _archived_pull_error(env: sc.Environment, repository: str, digest: str) -> str:
    return (
        f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
        f"failed to resolve ref {env.registry}/{repository}@{digest}: image is archived "
        "(restore it with UpdateImageStorageClass)"
    )
