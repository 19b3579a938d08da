"""Record every AWS call fleetpatch makes, as botocore is about to serialize it.

Two hooks, neither of which changes what fleetpatch does:
- botocore's client factory (`botocore.session.Session.create_client`) is wrapped so that each
  client fleetpatch creates gets a handler on its own event system. The handler listens to
  `before-parameter-build.*.*`, the event botocore emits once per API call (each page of a
  paginator included) with the parameters as the caller passed them; `before-call` carries
  the serialized HTTP request instead, which no longer names the resources plainly.
- `AwsEnvironment.client` is wrapped to learn which environment each client belongs to:
  those calls are the target role's, every other call of fleetpatch's is the hub's.

Clients created by the simulator or by the tests themselves (the first frame outside boto3
and botocore is not fleetpatch's, or is fleetpatch.sim's) are not fleetpatch's calls and are
left alone.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.session
import pytest

from fleetpatch.aws.session import AwsEnvironment


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name
    operation: str
    params: dict[str, Any]
    region: str
    environment: str | None  # None: a hub call (not through an environment's session)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        # id(client) -> (environment name, client): the client is kept so its id stays unique.
        self._owners: dict[int, tuple[str, Any]] = {}

    def own(self, client: Any, environment: str) -> None:
        with self._lock:
            self._owners[id(client)] = (environment, client)

    def attach(self, client: Any) -> None:
        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            with self._lock:
                owner = self._owners.get(id(client))
                self.calls.append(
                    Call(
                        service=model.service_model.service_name,
                        operation=model.name,
                        params=dict(params),
                        region=client.meta.region_name,
                        environment=owner[0] if owner else None,
                    )
                )

        client.meta.events.register("before-parameter-build.*.*", record)


def _created_by_fleetpatch() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith(("botocore", "boto3", __name__)):
            return module.startswith("fleetpatch.") and not module.startswith("fleetpatch.sim")
        frame = frame.f_back  # type: ignore[assignment]
    return False


@contextmanager
def recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    recorder = Recorder()
    create_client = botocore.session.Session.create_client
    environment_client = AwsEnvironment.client

    def recorded_create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        if _created_by_fleetpatch():
            recorder.attach(client)
        return client

    def recorded_environment_client(
        self: AwsEnvironment, service_name: str, region: str | None = None, *, writes: bool = False
    ) -> Any:
        client = environment_client(self, service_name, region, writes=writes)
        recorder.own(client, self.name)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", recorded_create_client)
    monkeypatch.setattr(AwsEnvironment, "client", recorded_environment_client)
    yield recorder
