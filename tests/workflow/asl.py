"""A small Amazon States Language interpreter for the tests: it runs fleetpatch's state
machine definitions (src/fleetpatch/workflow/*.asl.json) state by state, as Step Functions
would, calling the steps' Lambda handler in-process with the input each state passes.

Only what the definitions use is implemented, each after the ASL specification
(https://states-language.net/spec.html): Task (a Lambda function ARN, and
`arn:aws:states:::states:startExecution.sync:2` for a child execution), Choice, Wait, Pass,
Succeed, Fail, Map (inline: ItemsPath, ItemSelector, MaxConcurrency, ItemProcessor);
Parameters with `.$` paths, the context object (`$$.Execution.*`, `$$.Map.Item.*`), the
intrinsics States.Format and States.MathAdd; InputPath, ResultSelector, ResultPath,
OutputPath; Retry. An unknown construct raises, so a definition can't quietly use something
this interpreter would get wrong.

Wait states don't sleep: they call `wait(seconds)` (the tests advance the simulator's clock).
A Map runs its iterations one after another, in item order: each Lambda invocation is a
process of its own on AWS, so running them side by side here would test sharing memory that
Step Functions never shares; the results are in item order either way, as the spec says.
A failed execution can be redriven (RedriveExecution): it starts again at the state that
failed, with that state's input, `$$.Execution.RedriveCount` one higher.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fleetpatch.workflow

DEFINITIONS = Path(fleetpatch.workflow.__file__).parent
SYNC_START = "arn:aws:states:::states:startExecution.sync:2"
# The definitions' DefinitionSubstitutions, as deploy/template.yaml gives them.
STEPS_FUNCTION = "arn:aws:lambda:eu-west-1:111111111111:function:fleetpatch-steps"
INVENTORY_FUNCTION = "arn:aws:lambda:eu-west-1:111111111111:function:fleetpatch-inventory"
SUBSTITUTIONS = {
    "StepsFunctionArn": STEPS_FUNCTION,
    "InventoryFunctionArn": INVENTORY_FUNCTION,
    "WaveStateMachineArn": "arn:aws:states:eu-west-1:111111111111:stateMachine:wave",
}
# History events each state adds (Step Functions' GetExecutionHistory): entered + exited,
# and a Task's scheduled, started, succeeded in between; a Map's entered, started, succeeded,
# exited, and each iteration's started and succeeded around its own states' events.
EVENTS = {"Task": 5, "Choice": 2, "Wait": 2, "Pass": 2, "Succeed": 2, "Fail": 1, "Map": 4}
MAP_ITERATION_EVENTS = 2
# An inline Map runs at most 40 iterations at once (Step Functions' "Inline mode").
INLINE_MAX_CONCURRENCY = 40
MAX_HISTORY = 25_000
MAX_PAYLOAD = 256 * 1024


class StatesError(Exception):
    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass
class Call:
    machine: str
    state: str
    payload: dict[str, Any]


@dataclass
class Execution:
    machine: str
    name: str
    input: dict[str, Any]
    status: str = "RUNNING"
    output: Any = None
    error: StatesError | None = None
    history_events: int = 0
    redrive_count: int = 0
    failed_state: str | None = None
    failed_input: Any = None
    # The Map item whose ItemSelector is being filled: `$$.Map.Item.{Index,Value}`.
    map_item: tuple[int, Any] | None = None


@dataclass
class Interpreter:
    """`lambda_handler(payload)` runs a step; `wait(seconds)` lets time pass."""

    lambda_handler: Callable[[dict[str, Any]], Any]
    wait: Callable[[float], None]
    # Raised before a Task's Lambda runs, by state name: a crash, a timeout (tests set it).
    fault: Callable[[str, dict[str, Any]], None] = lambda state, payload: None
    calls: list[Call] = field(default_factory=list)
    executions: dict[str, Execution] = field(default_factory=dict)
    largest_payload: int = 0
    # The Lambda function `lambda_handler` is: a Task naming another one is a mistake.
    function: str = STEPS_FUNCTION

    def definition(self, machine: str) -> dict[str, Any]:
        text = (DEFINITIONS / f"{machine}.asl.json").read_text()
        for name, value in SUBSTITUTIONS.items():
            text = text.replace("${" + name + "}", value)
        assert "${" not in text, f"{machine}: a substitution the template does not give"
        data = json.loads(text)
        assert isinstance(data, dict)
        return data

    def start(self, machine: str, name: str, payload: dict[str, Any]) -> Execution:
        if name in self.executions:
            raise StatesError("StepFunctions.ExecutionAlreadyExistsException", name)
        execution = Execution(machine, name, payload)
        self.executions[name] = execution
        definition = self.definition(machine)
        self._run(execution, definition, definition["StartAt"], copy.deepcopy(payload))
        return execution

    def redrive(self, name: str) -> Execution:
        execution = self.executions[name]
        assert execution.status == "FAILED" and execution.failed_state is not None
        execution.status, execution.error = "RUNNING", None
        execution.redrive_count += 1
        definition = self.definition(execution.machine)
        self._run(execution, definition, execution.failed_state, execution.failed_input)
        return execution

    # --- running states -------------------------------------------------------------------

    def _run(self, execution: Execution, definition: dict[str, Any], at: str, data: Any) -> None:
        states = definition["States"]
        while True:
            state = states[at]
            kind = state["Type"]
            execution.history_events += EVENTS[kind]
            try:
                nxt, data = self._state(execution, at, state, data)
            except StatesError as error:
                execution.status, execution.error = "FAILED", error
                execution.failed_state, execution.failed_input = at, data
                return
            if nxt is None:
                execution.status, execution.output = "SUCCEEDED", data
                return

            at = nxt

    def _state(
        self, execution: Execution, name: str, state: dict[str, Any], data: Any
    ) -> tuple[str | None, Any]:
        kind = state["Type"]
        known = {
            "Type", "Next", "End", "Comment", "Parameters", "ResultPath", "ResultSelector",
            "InputPath", "OutputPath", "Resource", "Retry", "TimeoutSeconds", "Choices",
            "Default", "Seconds", "SecondsPath", "Error", "Cause", "CausePath",
            "ItemsPath", "ItemSelector", "MaxConcurrency", "ItemProcessor",
        }  # fmt: skip
        unknown = set(state) - known
        assert not unknown, f"{name}: the test interpreter does not know {unknown}"
        if kind == "Fail":
            cause = state.get("Cause") or _path(data, state["CausePath"], execution)
            raise StatesError(state["Error"], str(cause))
        if kind == "Succeed":
            return None, _path(data, state.get("OutputPath", "$"), execution)
        if kind == "Choice":
            for rule in state["Choices"]:
                if _matches(rule, data, execution):
                    return rule["Next"], data
            if "Default" not in state:
                raise StatesError("States.NoChoiceMatched", name)
            return state["Default"], data
        if kind == "Wait":
            seconds = state.get("Seconds")
            if seconds is None:
                seconds = _path(data, state["SecondsPath"], execution)
            self.wait(float(seconds))
            return self._next(state), data
        effective = _path(data, state.get("InputPath", "$"), execution)
        if "Parameters" in state:
            effective = _fill(state["Parameters"], effective, execution)
        if kind == "Pass":
            result = effective
        elif kind == "Map":
            result = self._map(execution, name, state, effective)
        elif kind == "Task":
            result = self._task(execution, name, state, effective)
            if "ResultSelector" in state:
                result = _fill(state["ResultSelector"], result, execution)
        else:
            raise AssertionError(f"{name}: state type {kind} not implemented")
        data = _put(data, state.get("ResultPath", "$"), result)
        data = _path(data, state.get("OutputPath", "$"), execution)
        self.largest_payload = max(self.largest_payload, len(json.dumps(data)))
        return self._next(state), data

    def _map(self, execution: Execution, name: str, state: dict[str, Any], data: Any) -> Any:
        items = _path(data, state.get("ItemsPath", "$"), execution)
        if not isinstance(items, list):
            raise StatesError("States.Runtime", f"{name}: ItemsPath does not name an array")
        concurrency = state.get("MaxConcurrency", 0)
        assert isinstance(concurrency, int) and 0 <= concurrency <= INLINE_MAX_CONCURRENCY, name
        processor = state["ItemProcessor"]
        mode = processor.get("ProcessorConfig", {}).get("Mode", "INLINE")
        assert mode == "INLINE", f"{name}: only inline Maps are implemented"
        results = []
        for index, item in enumerate(items):
            execution.history_events += MAP_ITERATION_EVENTS
            value = item
            if "ItemSelector" in state:
                execution.map_item = (index, item)
                try:
                    value = _fill(state["ItemSelector"], data, execution)
                finally:
                    execution.map_item = None
            results.append(self._iteration(execution, processor, value))
        return results

    def _iteration(self, execution: Execution, processor: dict[str, Any], data: Any) -> Any:
        """One Map iteration through its own states; a failure fails the Map state."""
        at = processor["StartAt"]
        while True:
            state = processor["States"][at]
            execution.history_events += EVENTS[state["Type"]]
            nxt, data = self._state(execution, at, state, data)
            if nxt is None:
                return data
            at = nxt

    def _next(self, state: dict[str, Any]) -> str | None:
        return None if state.get("End") else str(state["Next"])

    def _task(self, execution: Execution, name: str, state: dict[str, Any], payload: Any) -> Any:
        attempts: dict[int, int] = {}
        while True:
            try:
                return self._invoke(execution, name, state["Resource"], payload)
            except StatesError as error:
                retry = _retrier(state.get("Retry", []), error.error)
                if retry is None:
                    raise
                index, rule = retry
                attempts[index] = attempts.get(index, 0) + 1
                if attempts[index] > rule.get("MaxAttempts", 3):
                    raise
                execution.history_events += 3  # failed, scheduled, started again
                self.wait(float(rule.get("IntervalSeconds", 1)))

    def _invoke(self, execution: Execution, name: str, resource: str, payload: Any) -> Any:
        if resource == SYNC_START:
            child_machine = payload["StateMachineArn"].rsplit(":", 1)[-1]
            child = self.start(child_machine, payload["Name"], payload["Input"])
            if child.status != "SUCCEEDED":
                assert child.error is not None
                raise StatesError("States.TaskFailed", f"{child.error.error}: {child.error.cause}")
            return {"Output": child.output, "Status": "SUCCEEDED", "Name": child.name}
        assert resource == self.function, resource
        self.calls.append(Call(execution.machine, name, copy.deepcopy(payload)))
        try:
            self.fault(name, payload)
            # Lambda's answer is JSON: what the step returned, serialised and read back.
            return json.loads(json.dumps(self.lambda_handler(payload)))
        except StatesError:
            raise
        except Exception as exc:
            # Lambda reports an unhandled exception as errorType = its class name.
            raise StatesError(type(exc).__name__, str(exc)) from exc


def _retrier(rules: list[dict[str, Any]], error: str) -> tuple[int, dict[str, Any]] | None:
    for index, rule in enumerate(rules):
        names = rule["ErrorEquals"]
        if error in names or "States.ALL" in names:
            return index, rule
        if "States.TaskFailed" in names and not error.startswith("States."):
            return index, rule
    return None


# --- paths and parameters ---------------------------------------------------------------------


def _context(execution: Execution) -> dict[str, Any]:
    context: dict[str, Any] = {
        "Execution": {
            "Id": f"arn:aws:states:eu-west-1:111111111111:execution:{execution.machine}:"
            f"{execution.name}",
            "Name": execution.name,
            "Input": execution.input,
            "RedriveCount": execution.redrive_count,
        }
    }
    if execution.map_item is not None:
        index, value = execution.map_item
        context["Map"] = {"Item": {"Index": index, "Value": value}}
    return context


def _path(data: Any, path: str, execution: Execution) -> Any:
    if path.startswith("$$."):
        data, path = _context(execution), "$" + path[2:]
    assert path == "$" or path.startswith("$."), path
    for part in [p for p in path[2:].split(".") if p]:
        if not isinstance(data, dict) or part not in data:
            raise StatesError("States.Runtime", f"the path {path} matches nothing")
        data = data[part]
    return data


def _put(data: Any, path: str | None, result: Any) -> Any:
    if path is None:
        return data
    if path == "$":
        return result
    data = copy.deepcopy(data)
    target = data
    parts = path[2:].split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = result
    return data


def _fill(template: Any, data: Any, execution: Execution) -> Any:
    if isinstance(template, list):
        return [_fill(item, data, execution) for item in template]
    if not isinstance(template, dict):
        return template
    filled: dict[str, Any] = {}
    for key, value in template.items():
        if key.endswith(".$"):
            filled[key[:-2]] = _value(value, data, execution)
        else:
            filled[key] = _fill(value, data, execution)
    return filled


_INTRINSIC = re.compile(r"^(States\.\w+)\((.*)\)$")


def _value(expression: str, data: Any, execution: Execution) -> Any:
    match = _INTRINSIC.match(expression)
    if match is None:
        return _path(data, expression, execution)
    function, raw = match.groups()
    args = [_argument(a.strip(), data, execution) for a in _split(raw)]
    if function == "States.Format":
        template, *values = args
        for value in values:
            template = template.replace("{}", str(value), 1)
        return template
    if function == "States.MathAdd":
        return int(args[0]) + int(args[1])
    raise AssertionError(f"intrinsic {function} not implemented")


def _argument(raw: str, data: Any, execution: Execution) -> Any:
    if raw.startswith("'"):
        return raw[1:-1]
    if raw.startswith("$"):
        return _path(data, raw, execution)
    return int(raw)


def _split(raw: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in raw:
        if char == "'":
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _matches(rule: dict[str, Any], data: Any, execution: Execution) -> bool:
    try:
        value = _path(data, rule["Variable"], execution)
    except StatesError:
        return False
    if "StringEquals" in rule:
        return bool(value == rule["StringEquals"])
    if "BooleanEquals" in rule:
        return bool(value is rule["BooleanEquals"])
    if "IsString" in rule:
        return isinstance(value, str) is rule["IsString"]
    if "NumericLessThanEqualsPath" in rule:
        return bool(value <= _path(data, rule["NumericLessThanEqualsPath"], execution))
    raise AssertionError(f"choice rule {rule} not implemented")
