"""The ECS contract: raw wire answers checked against botocore's service model, and AWS's
documented response examples checked against the simulator's answers.

boto3 parses an answer leniently (an unknown member is dropped, a string where a timestamp
belongs is passed through), so the checks read the raw JSON body that came over HTTP, captured
with botocore's `after-call` event, and walk the operation's output shape in the model:
no member the model does not define, every required member present, enum values from the
model's enums, and JSON types that match the model's types (timestamps as epoch numbers, as
the awsJson1_1 protocol sends them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

FIXTURES = Path(__file__).parent / "fixtures"

# Errors any AWS JSON service may answer besides those an operation models ("Common Errors" of
# the ECS API reference).
COMMON_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "IncompleteSignature",
        "InternalFailure",
        "InvalidAction",
        "InvalidClientTokenId",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "InvalidQueryParameter",
        "MalformedQueryString",
        "MissingAction",
        "MissingAuthenticationToken",
        "MissingParameter",
        "NotAuthorized",
        "OptInRequired",
        "RequestExpired",
        "SerializationException",
        "ServiceUnavailable",
        "ThrottlingException",
        "UnrecognizedClientException",
        "UnknownOperationException",
        "ValidationError",
    }
)


def ecs_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("ecs")


def check_shape(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Every way `value` (decoded JSON) breaks `shape`, one line each."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return _check_structure(shape, value, path)
    if kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        problems: list[str] = []
        for i, item in enumerate(value):
            problems += check_shape(shape.member, item, f"{path}[{i}]")
        return problems
    if kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        problems = []
        for key, item in value.items():
            problems += check_shape(shape.key, key, f"{path}.<key>")
            problems += check_shape(shape.value, item, f"{path}[{key!r}]")
        return problems
    return _check_scalar(shape, value, path)


def _check_structure(shape: StructureShape, value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected a structure {shape.name}, got {type(value).__name__}"]
    problems: list[str] = []
    members = shape.members
    for key, item in value.items():
        if key not in members:
            problems.append(f"{path}.{key}: not a member of {shape.name}")
            continue
        problems += check_shape(members[key], item, f"{path}.{key}")
    for required in shape.required_members:
        if required not in value:
            problems.append(f"{path}.{required}: required member of {shape.name} missing")
    return problems


def _check_scalar(shape: Shape, value: Any, path: str) -> list[str]:
    kind = shape.type_name
    where = f"{path} ({shape.name})"
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {value!r}"]
        enum = shape.enum
        if enum and value not in enum:
            return [f"{where}: {value!r} is not one of {sorted(enum)}"]
        return []
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{where}: expected an integer, got {value!r}"]
        return []
    if kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{where}: expected a number, got {value!r}"]
        return []
    if kind == "boolean":
        if not isinstance(value, bool):
            return [f"{where}: expected a boolean, got {value!r}"]
        return []
    if kind == "timestamp":
        # awsJson1_1 sends timestamps as epoch seconds (a JSON number).
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{where}: expected epoch seconds, got {value!r}"]
        return []
    if kind == "blob":
        if not isinstance(value, str):
            return [f"{where}: expected base64 text, got {value!r}"]
        return []
    return [f"{where}: shape type {kind} not checked"]


def check_answer(operation: OperationModel, status: int, body: bytes) -> list[str]:
    """A raw answer of `operation`: a success against its output shape, an error against the
    errors the operation models (or the common ones)."""
    name = operation.name
    try:
        decoded = json.loads(body) if body else {}
    except json.JSONDecodeError:
        return [f"{name}: answer is not JSON: {body[:80]!r}"]
    if status >= 300:
        code = str(decoded.get("__type", "")).rsplit("#", 1)[-1]
        modeled = {error.name for error in operation.error_shapes}
        problems = []
        if code not in modeled | COMMON_ERRORS:
            problems.append(f"{name}: error {code!r} is neither modeled nor common")
        if not isinstance(decoded.get("message"), str):
            problems.append(f"{name}: error {code!r} carries no message")
        return problems
    output = operation.output_shape
    if output is None:
        return [] if decoded == {} else [f"{name}: answer for an operation with no output"]
    return [f"{name} {problem}" for problem in check_shape(output, decoded)]


@dataclass
class Recorder:
    """Collects every raw answer a boto3 client receives, and what is wrong with each."""

    operations: set[str] = field(default_factory=set)
    # The operations the simulator serves (set by the test that drove it).
    served: set[str] = field(default_factory=set)
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, set[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def attach(self, aws_client: Any) -> Any:
        """Record every answer `aws_client` (ECS or ECR) receives."""
        service = aws_client.meta.service_model.service_id.hyphenize()
        aws_client.meta.events.register(f"after-call.{service}", self._after_call)
        return aws_client

    def _after_call(self, http_response: Any, parsed: Any, model: OperationModel, **_: Any) -> None:
        status = http_response.status_code
        body = http_response.content
        self.operations.add(model.name)
        self.problems += check_answer(model, status, body)
        if status < 300:
            self.answers.setdefault(model.name, []).append(json.loads(body or b"{}"))
        else:
            code = str(json.loads(body).get("__type", "")).rsplit("#", 1)[-1]
            self.errors.setdefault(model.name, set()).add(code)


def missing_members(example: Any, answer: Any, path: str) -> list[str]:
    """Members of an AWS example that the simulator's answer for the same object lacks, as
    dotted paths (key sets, recursively; a list's first item against the answer's first item,
    when both have one: values, and so the length of lists, may differ)."""
    if isinstance(example, dict):
        if not isinstance(answer, dict):
            return [f"{path}: not an object"]
        problems: list[str] = []
        for key, item in example.items():
            if key not in answer:
                problems.append(f"{path}.{key}")
                continue
            problems += missing_members(item, answer[key], f"{path}.{key}")
        return problems
    if isinstance(example, list) and example and isinstance(answer, list) and answer:
        return missing_members(example[0], answer[0], path)
    return []


def fixture(name: str) -> dict[str, Any]:
    """A response example of the ECS API reference (tests/sim/fixtures/ecs/<name>.json)."""
    data: dict[str, Any] = json.loads((FIXTURES / "ecs" / f"{name}.json").read_text())
    return data
