"""The small interfaces between the simulator's parts: the ECS layer asks the registry and the
failure rules, and answers with AWS-shaped errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class AwsError(Exception):
    """An error answered on the wire the way AWS does: HTTP status, error code, message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class ImageLookup(Protocol):
    """What ECS needs from the registry."""

    def digest_for(self, image: str) -> str | None:
        """The digest that `image` (`repo:tag`, `repo@sha256:...` or a bare name) points to now,
        or None when the registry has no such image (so a pull would fail)."""
        ...


@dataclass(frozen=True)
class TaskFailure:
    """Why a new task fails. A reason ECS gives before the containers start (for example
    `CannotPullContainerError: ...`) stops the task as TaskFailedToStart with that reason;
    any other reason is the exit of `container` (the first essential one when None): the task
    stops with "Essential container in task exited" and the container carries the reason."""

    reason: str
    container: str | None = None


class FailureRules(Protocol):
    """Which new tasks fail, as a scenario or a test marked them."""

    def task_failure(
        self, account: str, region: str, cluster: str, service: str, digests: dict[str, str]
    ) -> TaskFailure | None:
        """Why a new task of `service` whose containers run `digests` (container name ->
        digest) fails, or None when the task starts healthy."""
        ...
