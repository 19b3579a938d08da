"""The small interfaces between the simulator's parts: the ECS layer asks the registry and the
failure rules, and answers with AWS-shaped errors."""

from __future__ import annotations

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


class FailureRules(Protocol):
    """Which new tasks fail, as a scenario or a test marked them."""

    def task_failure(
        self, account: str, region: str, cluster: str, service: str, digests: dict[str, str]
    ) -> str | None:
        """The stopped reason for a new task of `service` whose containers run `digests`
        (container name -> digest), or None when the task starts healthy."""
        ...
