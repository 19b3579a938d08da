"""The simulator's HTTP front: one WSGI app on 127.0.0.1 that speaks AWS's wire protocol.

ECS (awsJson1_1, X-Amz-Target AmazonEC2ContainerServiceV20141113.*) goes to fleetpatch's own
ECS layer; ECR's DescribeImageScanFindings goes to the seeded findings and its
GetDownloadUrlForLayer to layers.py; Secrets Manager to moto behind the secret's resource
policy (secrets.py); everything else (STS, the rest of ECR, S3, DynamoDB ...)
goes to moto's server. An ECR read naming another account's `registryId` is served from that
account's registry (the scenario's registry accounts let every account pull, as a
repository policy granting the organisation does); a write there needs a repository policy
that allows it (policies.py), else it is refused with AccessDeniedException. Faults are
injected here, before any ECS or ECR call is handled. Paths under /_sim/ are the simulator's
own control API, /_oci/ the registries outside ECR (oci.py), /_ecr-layer/ layer downloads.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fleetpatch.sim import secrets
from fleetpatch.sim.credentials import BASE_ACCOUNT, Caller, KnownKeys, refuse, signature
from fleetpatch.sim.faults import LOST_ANSWER
from fleetpatch.sim.layers import PREFIX as LAYER_PREFIX
from fleetpatch.sim.layers import download_url_response, serve_download
from fleetpatch.sim.oci import PREFIX as OCI_PREFIX
from fleetpatch.sim.policies import evaluate
from fleetpatch.sim.protocol import AwsError

if TYPE_CHECKING:
    from fleetpatch.sim.simulator import Simulator

# ECR reads another account may make when the registry's repository policy allows pulls.
CROSS_ACCOUNT_READS = frozenset(
    {
        "BatchCheckLayerAvailability",
        "BatchGetImage",
        "DescribeImageScanFindings",
        "DescribeImages",
        "DescribeRepositories",
        "GetDownloadUrlForLayer",
        "ListImages",
    }
)
ECS_TARGET = "AmazonEC2ContainerServiceV20141113."
ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."
DYNAMODB_TARGET = "DynamoDB_20120810."
JSON_CONTENT = "application/x-amz-json-1.1"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class SimApp:
    """The WSGI application. `moto_app` serves whatever fleetpatch does not override."""

    def __init__(self, simulator: Simulator, moto_app: Callable[..., Iterable[bytes]]) -> None:
        self.sim = simulator
        self.moto_app = moto_app
        self.calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._keys = KnownKeys()
        self._dynamodb_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sim/"):
            return self._control(environ, start_response, path.removeprefix("/_sim/"))
        if path.startswith(OCI_PREFIX):
            return self.sim.registry.oci.handle(environ, start_response)
        if path.startswith(LAYER_PREFIX):
            return serve_download(self.sim.registry, environ, start_response)
        signed = signature(environ)
        if signed is not None:
            caller = self._keys.caller(signed.access_key)
            if caller is None:
                return refuse(environ, signed.service, start_response)
            environ["fleetpatch.caller"] = caller
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(ECS_TARGET):
            return self._ecs(environ, start_response, target.removeprefix(ECS_TARGET))
        if target.startswith(ECR_TARGET):
            return self._ecr(environ, start_response, target.removeprefix(ECR_TARGET))
        if target.startswith(secrets.TARGET):
            return self._secrets(environ, start_response, target.removeprefix(secrets.TARGET))
        if target.startswith(DYNAMODB_TARGET):
            # DynamoDB applies each conditional write and transaction atomically. moto checks,
            # then writes (a transaction on a deep copy of the table, put back on failure), so
            # concurrent requests would interleave and lose writes: one at a time here.
            with self._dynamodb_lock:
                return list(self.moto_app(environ, start_response))
        return self.moto_app(environ, start_response)

    # --- ECS: fleetpatch's own layer ------------------------------------------------------
    def _ecs(
        self, environ: dict[str, Any], start_response: StartResponse, action: str
    ) -> Iterable[bytes]:
        account, region = self._caller(environ)
        self._count(f"ecs:{action}")
        try:
            self.sim.faults.before_call(account, region, "ecs", action)
            params = _json_body(environ)
            caller: Caller | None = environ.get("fleetpatch.caller")
            principal = caller.arn if caller is not None else None
            answer = self.sim.ecs.handle(account, region, action, params, principal)
        except AwsError as error:
            return _error(start_response, error)
        if self.sim.faults.loses_answer("ecs", action):
            return _error(start_response, LOST_ANSWER)
        return _json(start_response, "200 OK", answer)

    # --- ECR: moto, with findings and faults ----------------------------------------------
    def _ecr(
        self, environ: dict[str, Any], start_response: StartResponse, action: str
    ) -> Iterable[bytes]:
        account, region = self._caller(environ)
        self._count(f"ecr:{action}")
        try:
            self.sim.faults.before_call(account, region, "ecr", action)
            params = _json_body(environ)
            # moto reads the body again.
            environ["wsgi.input"].seek(0)
            account = self._registry_account(environ, account, region, action, params)
            if action == "GetDownloadUrlForLayer":
                answer = download_url_response(
                    self.sim.registry, account, region, params, _base_url(environ)
                )
                return _json(start_response, "200 OK", answer)
        except AwsError as error:
            return _error(start_response, error)
        if action == "DescribeImageScanFindings":
            return self._scan_findings(environ, start_response, account, region)
        if self.sim.faults.loses_answer("ecr", action):
            # moto applies it; its answer is dropped (whatever moto said, error or not).
            b"".join(self.moto_app(environ, _discard))
            return _error(start_response, LOST_ANSWER)
        return self.moto_app(environ, start_response)

    def _registry_account(
        self, environ: dict[str, Any], caller: str, region: str, action: str, params: Any
    ) -> str:
        """The account whose registry serves the call: `registryId` when it names another.

        Reads (CROSS_ACCOUNT_READS) are allowed unless the repository policy denies them (the
        scenario's registry accounts let every account pull, as a policy granting the
        organisation does); any other action needs a repository policy statement that allows
        it to the caller, as ECR requires (policies.py)."""
        registry = params.get("registryId") if isinstance(params, dict) else None
        if not registry or registry == caller:
            return caller
        name = str(params.get("repositoryName", "*"))
        policy = self.sim.registry.repository_policy(str(registry), region, name)
        verdict = evaluate(policy, caller, self.sim.scenario.role_name, f"ecr:{action}")
        allowed = verdict == "allow" or (verdict == "none" and action in CROSS_ACCOUNT_READS)
        if not allowed:
            why = (
                "an explicit deny in a resource-based policy"
                if verdict == "deny"
                else f"no resource-based policy allows the ecr:{action} action"
            )
            raise AwsError(
                "AccessDeniedException",
                f"User: arn:aws:sts::{caller}:assumed-role/{self.sim.scenario.role_name} is "
                f"not authorized to perform: ecr:{action} on resource: "
                f"arn:aws:ecr:{region}:{registry}:repository/{name} because {why}",
            )
        # moto serves the account this header names (moto.core.responses.get_current_account).
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = registry
        return str(registry)

    def _scan_findings(
        self, environ: dict[str, Any], start_response: StartResponse, account: str, region: str
    ) -> Iterable[bytes]:
        from fleetpatch.sim.findings import scan_findings_response

        params = _json_body(environ)
        try:
            answer = scan_findings_response(self.sim.registry, account, region, params)
        except AwsError as error:
            return _error(start_response, error)
        return _json(start_response, "200 OK", answer)

    # --- Secrets Manager: moto, behind AWS's access rules ----------------------------------
    def _secrets(
        self, environ: dict[str, Any], start_response: StartResponse, action: str
    ) -> Iterable[bytes]:
        account, region = self._caller(environ)
        self._count(f"secretsmanager:{action}")
        caller: Caller = environ.get("fleetpatch.caller") or Caller(
            account, f"arn:aws:iam::{account}:root"
        )
        try:
            params = _json_body(environ)
            environ["wsgi.input"].seek(0)  # moto reads the body again
            owner = secrets.check_access(caller, region, action, params)
        except AwsError as error:
            return _error(start_response, error)
        if owner != account:
            # moto serves the account this header names (as for ECR's registryId).
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = owner
        return self.moto_app(environ, secrets.with_aws_status(start_response))

    # --- the control API ------------------------------------------------------------------
    def _control(
        self, environ: dict[str, Any], start_response: StartResponse, command: str
    ) -> Iterable[bytes]:
        try:
            body = _json_body(environ)
            answer = self.sim.control(command, body)
        except AwsError as error:
            return _error(start_response, error)
        return _json(start_response, "200 OK", answer)

    # --- helpers ----------------------------------------------------------------------------
    def _caller(self, environ: dict[str, Any]) -> tuple[str, str]:
        """The caller's account (its access key's, checked in __call__) and region."""
        caller: Caller | None = environ.get("fleetpatch.caller")
        signed = signature(environ)
        if caller is None or signed is None:
            return BASE_ACCOUNT, "us-east-1"
        return caller.account, signed.region

    def _count(self, operation: str) -> None:
        with self._calls_lock:
            self.calls[operation] += 1


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        raise AwsError("SerializationException", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise AwsError("SerializationException", "request body must be a JSON object")
    return body


def _base_url(environ: dict[str, Any]) -> str:
    """This server as the client reached it (for URLs it hands out)."""
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _discard(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Any:
    """A WSGI start_response for an answer nobody will read."""
    return lambda data: None


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body, default=_default).encode()
    start_response(
        status,
        [("Content-Type", JSON_CONTENT), ("Content-Length", str(len(payload)))],
    )
    return [payload]


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}


def _error(start_response: StartResponse, error: AwsError) -> list[bytes]:
    status = f"{error.status} {_REASONS.get(error.status, 'Error')}"
    return _json(start_response, status, {"__type": error.code, "message": error.message})
