"""Identifiers shaped like the ones ECS hands out, from a seedable random source so that a
seeded simulator is reproducible."""

from __future__ import annotations

import base64
import random
import uuid


class IdGenerator:
    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)

    def deployment_id(self) -> str:
        """`ecs-svc/` and 19 digits, like ECS deployment ids."""
        return f"ecs-svc/{self._rng.randrange(10**18, 10**19)}"

    def revision_id(self) -> str:
        return str(self._rng.randrange(10**18, 10**19))

    def service_deployment_id(self) -> str:
        """22 url-safe characters, like the last part of a service deployment ARN."""
        raw = self._rng.getrandbits(128).to_bytes(16, "big")
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def task_id(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
