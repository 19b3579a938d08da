"""boto3 sessions and clients for the configured environments.

One `AwsEnvironment` per configured environment owns a boto3 session with that
environment's credentials (a profile, the default chain, or a role assumed through STS)
and hands out clients that point at its region and, for the simulator, its endpoint_url.

Clients are created once and shared: botocore clients are thread-safe, but creating them
from one boto3 Session is not, so creation happens under a lock. Every ECS and ECR client
waits on its account and Region's one RateLimiter (aws/pacing.py): AWS's documented token
buckets, shared by all sessions of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

import boto3
import botocore.config
import botocore.credentials
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch import __version__
from fleetpatch.aws.errors import explain
from fleetpatch.aws.identity import AccountMismatch
from fleetpatch.aws.pacing import RateLimiter, rate_limiter
from fleetpatch.config import DEFAULT_CONFIG_NAME, Config, Environment

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_sts import STSClient

# Used only for an environment with an endpoint_url when no credentials exist at all, so
# that a newcomer can run against the local simulator without any AWS set-up. Real AWS
# rejects them, so they can never reach a real account by accident.
SIM_ACCESS_KEY = "fleetpatch-sim"
SIM_SECRET_KEY = "fleetpatch-sim"

# The services whose documented rate limits fleetpatch paces itself to (core/api_limits.py).
PACED_SERVICES = frozenset({"ecs", "ecr"})

# How long an assumed-role session lasts; botocore refreshes it shortly before expiry.
ROLE_SESSION_SECONDS = 3600


def client_config(
    max_attempts: int = 10,
) -> botocore.config.Config:
    """Client settings shared by every AWS call fleetpatch makes.

    Standard retries (exponential backoff with jitter) for throttles and transient errors;
    the pacing itself is the process's RateLimiter per account (aws/pacing.py), not
    botocore's per-client adaptive mode. The pool matches the number of threads that may
    share one client. botocore reads `max_attempts` as retries after the first call
    (10 -> at most 11 calls).
    """
    return botocore.config.Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=50,
        user_agent_extra=f"fleetpatch/{__version__}",
    )


class AwsEnvironment:
    """Clients for one configured environment, created lazily and cached."""

    def __init__(self, environment: Environment, *, max_attempts: int = 10) -> None:
        self.environment = environment
        self._config = client_config(max_attempts)
        # One attempt (the process's RateLimiter still paces it): see client(writes=True).
        self._writes_config = client_config(0)
        self._lock = threading.Lock()
        self._session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}
        # Separate from _lock: asking STS creates a client, which takes _lock.
        self._account_lock = threading.Lock()
        self._identity: tuple[str, str] | None = None  # (Account, Arn)

    @property
    def name(self) -> str:
        return self.environment.name

    def client(self, service_name: str, region: str | None = None, *, writes: bool = False) -> Any:
        """A boto3 client for `service_name` with this environment's credentials and endpoint,
        in its region unless `region` names another (a shared ECR in another region).

        `writes`: a client for calls that are not idempotent (UpdateService,
        RegisterTaskDefinition, PutImage), which botocore must never retry on its own: a 5xx
        or a broken connection may come after AWS applied the change, and a blind retry would
        apply it twice. The caller re-reads instead (rollout/act.py `answer_lost`)."""
        region = region or self.environment.region
        key = f"{service_name}@{region}" + ("/writes" if writes else "")
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None:
                return cached
            client = self._session_locked().client(
                service_name,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=self.environment.endpoint_url,
                config=self._writes_config if writes else self._config,
            )
            if service_name in PACED_SERVICES:
                self.rate_limiter(region).pace(client)
            self._clients[key] = client
            return client

    def rate_limiter(self, region: str | None = None) -> RateLimiter:
        """The one RateLimiter of this environment's account in `region` (default: its own),
        shared with every other session of the process that reaches the same account."""
        return rate_limiter(self.environment.account_id, region or self.environment.region)

    def ecs(self) -> ECSClient:
        return cast("ECSClient", self.client("ecs"))

    def ecs_writes(self) -> ECSClient:
        """ECS for UpdateService and RegisterTaskDefinition: never retried blindly."""
        return cast("ECSClient", self.client("ecs", writes=True))

    def ecr(self, region: str | None = None) -> ECRClient:
        return cast("ECRClient", self.client("ecr", region))

    def sts(self) -> STSClient:
        return cast("STSClient", self.client("sts"))

    def caller_account(self) -> str:
        """The account these credentials actually reach (sts:GetCallerIdentity), asked once:
        the answer cannot change for the life of these credentials."""
        return self._caller_identity()[0]

    def caller_arn(self) -> str:
        """Who these credentials are (sts:GetCallerIdentity's Arn): the CLI's identity for
        approvals. Asked once, with the account."""
        return self._caller_identity()[1]

    def _caller_identity(self) -> tuple[str, str]:
        with self._account_lock:
            if self._identity is None:
                answer = self.sts().get_caller_identity()
                self._identity = (answer["Account"], answer["Arn"])
            return self._identity

    def _session_locked(self) -> boto3.Session:
        if self._session is None:
            self._session = build_session(self.environment)
        return self._session


class AwsSessions:
    """One `AwsEnvironment` per configured environment, shared by all threads."""

    def __init__(self, config: Config, *, max_attempts: int = 10) -> None:
        self._config = config
        self._max_attempts = max_attempts
        self._lock = threading.Lock()
        self._environments: dict[str, AwsEnvironment] = {}

    def get(self, name: str) -> AwsEnvironment:
        """The AwsEnvironment for a configured name (UserError for an unknown one)."""
        environment = self._config.environment(name)
        with self._lock:
            existing = self._environments.get(name)
            if existing is None:
                existing = AwsEnvironment(environment, max_attempts=self._max_attempts)
                self._environments[name] = existing
            return existing

    def confirm_account(self, name: str) -> None:
        """Refuse unless environment `name`'s credentials reach its configured account_id.

        Every command that changes anything calls this (or `confirm_accounts`) for each
        environment it touches, before it takes a lock or writes: a mismatch raises
        AccountMismatch (one line, exit 2); STS failing raises EnvironmentFailure (one line,
        exit 1). One STS call per environment for the life of these sessions.
        """
        aws = self.get(name)
        try:
            actual = aws.caller_account()
        except (ClientError, BotoCoreError) as exc:
            failure = explain(name, exc)
            if failure is None:
                raise
            raise failure from exc
        if actual != aws.environment.account_id:
            source = self._config.source
            raise AccountMismatch(aws.environment, actual, str(source or DEFAULT_CONFIG_NAME))

    def confirm_accounts(self, names: Iterable[str]) -> None:
        """`confirm_account` for each named environment, in order (duplicates asked once)."""
        for name in dict.fromkeys(names):
            self.confirm_account(name)


# --- credentials ---------------------------------------------------------------------------


def build_session(environment: Environment) -> boto3.Session:
    """The boto3 session whose credentials reach `environment`.

    Raises botocore errors (ProfileNotFound, ...) as they are; aws.errors.explain turns
    them into one line.
    """
    base = _base_session(environment)
    role_arn = environment.credentials.role_arn
    if role_arn is None:
        return base
    return _assumed_role_session(base, environment, role_arn)


def _base_session(environment: Environment) -> boto3.Session:
    profile = environment.credentials.profile
    session = boto3.Session(profile_name=profile, region_name=environment.region)
    if profile is not None or environment.endpoint_url is None:
        return session
    if session.get_credentials() is not None:
        return session
    # Simulator convenience: no credentials anywhere, and the endpoint is overridden.
    return boto3.Session(
        aws_access_key_id=SIM_ACCESS_KEY,
        aws_secret_access_key=SIM_SECRET_KEY,
        region_name=environment.region,
    )


def _assumed_role_session(
    base: boto3.Session, environment: Environment, role_arn: str
) -> boto3.Session:
    """A session whose credentials come from sts:AssumeRole and refresh before they expire.

    Deferred: STS is first called on the first API call, not here, so building clients
    stays cheap and errors surface where they can be attributed to an operation.
    """
    credentials = botocore.credentials.DeferredRefreshableCredentials(
        refresh_using=_assume_role_fetcher(base, environment, role_arn),
        method="assume-role",
    )
    botocore_session = botocore.session.Session()
    resolver = botocore.credentials.CredentialResolver(providers=[_Fixed(credentials)])
    botocore_session.register_component("credential_provider", resolver)
    return boto3.Session(botocore_session=botocore_session, region_name=environment.region)


def _assume_role_fetcher(
    base: boto3.Session, environment: Environment, role_arn: str
) -> Callable[[], dict[str, str]]:
    sts = base.client(
        "sts",
        region_name=environment.region,
        endpoint_url=environment.endpoint_url,
        config=client_config(),
    )
    request: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": environment.credentials.session_name,
        "DurationSeconds": ROLE_SESSION_SECONDS,
    }
    if environment.credentials.external_id is not None:
        request["ExternalId"] = environment.credentials.external_id

    def fetch() -> dict[str, str]:
        issued = sts.assume_role(**request)["Credentials"]
        return {
            "access_key": issued["AccessKeyId"],
            "secret_key": issued["SecretAccessKey"],
            "token": issued["SessionToken"],
            "expiry_time": issued["Expiration"].isoformat(),
        }

    return fetch


class _Fixed(botocore.credentials.CredentialProvider):
    """A credential provider that always answers with the credentials it was given."""

    METHOD = "fleetpatch-assume-role"
    CANONICAL_NAME = "fleetpatch-assume-role"

    def __init__(self, credentials: botocore.credentials.Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> botocore.credentials.Credentials:
        return self._credentials
