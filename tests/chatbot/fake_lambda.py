"""A Lambda client that keeps asynchronous invocations and replays them in-process, as
Lambda would run them after the invoking call returned."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:111111111111:function:fleetpatch-chatops"


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of Lambda's context object that the handlers read."""

    invoked_function_arn: str = FUNCTION_ARN
    function_name: str = "fleetpatch-chatops"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@dataclass
class FakeLambda:
    """`invoke` as boto3's Lambda client has it; Event invocations are queued, not run."""

    invocations: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.invocations.append(request)
        if request.get("InvocationType") != "Event":
            raise AssertionError(f"only asynchronous invocations are expected: {request}")
        self.pending.append(request)
        return {"StatusCode": 202}

    def replay(self, handler: Any, context: Any = None) -> list[Any]:
        """Run the queued invocations through `handler`, as Lambda's event queue would."""
        results = []
        while self.pending:
            request = self.pending.pop(0)
            payload = request["Payload"]
            event = json.loads(payload.decode() if isinstance(payload, bytes) else payload)
            results.append(handler(event, context or LambdaContext()))
        return results
