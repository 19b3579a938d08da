"""Hands long work to another invocation of the same function, so that the chat reply never
waits for it: Chatbot gives a command 15 seconds, a rollout takes minutes.

    launcher = LambdaLauncher(boto3.client("lambda"), context.invoked_function_arn)
    launcher.start({"fleetpatch_job": "rollout", ...})    # returns once Lambda queued it

`InvocationType="Event"`: Lambda queues the event and answers 202 at once; it retries a
failed asynchronous invocation (twice by default), which the worker tolerates because a
rollout re-reads the fleet and converges (docs/rollout.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol


class Launcher(Protocol):
    def start(self, job: Mapping[str, Any]) -> None:
        """Start `job` (the worker's payload) without waiting for it."""
        ...


class LambdaLauncher:
    """Invokes `function_name` asynchronously with the job as its payload."""

    def __init__(self, client: Any, function_name: str) -> None:
        self._client = client
        self._function_name = function_name

    def start(self, job: Mapping[str, Any]) -> None:
        self._client.invoke(
            FunctionName=self._function_name,
            InvocationType="Event",
            Payload=json.dumps(dict(job)).encode(),
        )
