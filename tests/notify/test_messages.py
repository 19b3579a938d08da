"""The pure part: which events a team hears about, and messages Slack always accepts."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetpatch.notify import Message, RolloutStory, RunContext
from fleetpatch.notify.blocks import (
    BLOCKS_MAX,
    CONTEXT_MAX,
    FIELD_MAX,
    FIELDS_MAX,
    HEADER_MAX,
    SECTION_MAX,
)
from fleetpatch.rollout.events import Event

BEFORE = "sha256:" + "a" * 64
TARGET = "sha256:" + "b" * 64
RUN = RunContext("r-123", "prod", "alice")


def plan(waves: list[list[str]], chosen_by: str = "tag latest", **more: Any) -> Event:
    return Event(
        "plan",
        {
            "environment": "prod",
            "sidecar": "fluent-bit",
            "mode": "tag",
            "target": {"digest": TARGET, "label": "1.1-bbbbbbb", "chosen_by": chosen_by},
            "failure_budget": 0,
            "waves": [
                {
                    "wave": i,
                    "canary": i == 1,
                    "services": [{"service": k, "digest_before": BEFORE} for k in keys],
                }
                for i, keys in enumerate(waves, start=1)
            ],
            "done": more.get("done", []),
            "skipped": more.get("skipped", []),
        },
    )


def tell_all(story: RolloutStory, events: list[Event]) -> list[Message]:
    return [m for e in events for m in story.tell(e)]


def test_start_each_wave_and_end_nothing_else() -> None:
    events = [
        plan([["main/api"], ["main/web", "main/worker"]]),
        Event("wave_started", {"wave": 1, "canary": True, "services": ["main/api"]}),
        Event("deployment_started", {"service": "main/api", "deployment_id": "ecs-svc/1"}),
        Event("deployment_progress", {"service": "main/api", "running": 1, "desired": 2}),
        Event("verified", {"service": "main/api", "digest": TARGET, "tasks": 2}),
        Event("wave_finished", {"wave": 1, "failed": []}),
        Event("wave_started", {"wave": 2, "canary": False, "services": ["main/web"]}),
        Event("verified", {"service": "main/web", "digest": TARGET, "tasks": 2}),
        Event("verified", {"service": "main/worker", "digest": TARGET, "tasks": 2}),
        Event("wave_finished", {"wave": 2, "failed": []}),
        Event("finished", {"verified": 3, "failed": 0, "skipped": 0, "halted": False}),
    ]
    messages = tell_all(RolloutStory(RUN), events)
    assert [m.kind for m in messages] == ["start", "wave", "wave", "end"]
    start, wave_1, wave_2, end = messages
    assert "started by alice" in start.text and TARGET in start.text
    assert "3 services in 2 waves" in start.text
    assert "Wave 1 (canary) of 2 done: 1 verified, 0 failed" in wave_1.text
    assert "Wave 2 of 2 done: 2 verified, 0 failed" in wave_2.text
    assert "finished: 3 verified, 0 failed, 0 skipped" in end.text
    assert "on 3 (target)" in json.dumps(end.blocks)


def test_a_plan_that_deploys_nothing_says_nothing() -> None:
    story = RolloutStory(RUN)
    done = [{"service": "main/api", "digest_before": TARGET}]
    events = [
        plan([], done=done),
        Event("verified", {"service": "main/api", "digest": TARGET, "tasks": 2}),
        Event("finished", {"verified": 1, "failed": 0, "skipped": 0, "halted": False}),
    ]
    assert tell_all(story, events) == []
    assert story.stopped("interrupted") == []


def test_the_halt_waits_for_what_its_stops_did_then_the_end() -> None:
    failure = {
        "service": "main/api",
        "reason": "deployment ecs-svc/1 failed: circuit breaker; ECS rolled the service back",
        "stopped_reasons": ["CannotPullContainerError: not found (x3)", "Essential exited"],
        "events": ["(service api) has started 1 tasks"],
        "rolled_back": True,
    }
    events = [
        plan([["main/api", "main/worker"], ["main/web"]]),
        Event("failed", failure),
        Event("wave_finished", {"wave": 1, "failed": ["main/api"]}),
        Event(
            "halted",
            {
                "reason": "wave 1: 1 service(s) failed, more than the failure budget of 0",
                "wave": 1,
                "failed": ["main/api"],
                "rolling_back": {"main/worker": "ecs-svc/2"},
            },
        ),
    ]
    story = RolloutStory(RUN)
    assert [m.kind for m in tell_all(story, events)] == ["start", "wave"]
    stop = {
        "service": "main/worker",
        "reason": "the rollout halted in wave 1 while deployment ecs-svc/2 was in flight: "
        "ECS rolls it back to the previous revision",
        "wave": 1,
        "halt_rollback": True,
        "stopped": True,
    }
    assert story.tell(Event("failed", stop)) == []
    halt, end = story.tell(Event("finished", {"halted": True}))
    shown = json.dumps(halt.blocks)
    assert "halted in wave 1: 1 service(s) failed" in halt.text
    assert "CannotPullContainerError: not found (x3)" in shown and "Essential exited" in shown
    assert "ECS rolled it back: yes" in shown
    assert "Stopped by the halt" in shown and "main/worker" in shown
    assert "halted in wave 1: 0 verified, 2 failed, 0 skipped" in end.text
    # main/web never started: it still runs the digest it ran before.
    assert "on 3" in json.dumps(end.blocks) and "main/web" in json.dumps(end.blocks)


def test_a_run_that_stops_before_its_end_says_so() -> None:
    story = RolloutStory(RUN)
    tell_all(story, [plan([["main/api"]])])
    (stopped,) = story.stopped("LockLost: the lock was taken over")
    assert stopped.kind == "stopped" and "LockLost" in stopped.text and "resume" in stopped.text
    assert story.tell(Event("finished", {})) == []  # said once


def test_promote_and_rollback_say_what_they_are() -> None:
    (start,) = RolloutStory(RUN).tell(plan([["main/api"]], chosen_by="promoted from stg"))
    assert start.text.startswith("Promote r-123 of prod")
    (start,) = RolloutStory(RUN).tell(plan([["main/api"]], chosen_by="rollback (journal)"))
    assert start.text.startswith("Rollback r-123 of prod")


def test_an_unexpected_event_shape_is_not_the_rollouts_problem() -> None:
    from fleetpatch.notify import Notifier

    posted: list[Message] = []

    class Keep:
        def post(self, message: Message) -> None:
            posted.append(message)

    notifier = Notifier(RUN, Keep())
    notifier.emit(plan([["main/api"]]))
    notifier.emit(Event("verified", {}))  # no service: the story can't place it
    notifier.emit(Event("wave_finished", {"wave": "one"}))
    notifier.close()
    assert [m.kind for m in posted] == ["start"]


# --- Slack accepts every message: limits, escaping ---------------------------------------------

names = st.text(alphabet="ab<>&*_`~-/", min_size=1, max_size=40)
reasons = st.text(min_size=0, max_size=400)


@st.composite
def runs(draw: st.DrawFn) -> list[Event]:
    keys = draw(st.lists(names, min_size=1, max_size=400, unique=True))
    size = draw(st.integers(1, 40))
    waves = [keys[i : i + size] for i in range(0, len(keys), size)]
    events = [plan(waves, skipped=[{"service": "x/<skip>", "reason": draw(reasons)}])]
    for index, wave in enumerate(waves, start=1):
        for key in wave:
            if draw(st.booleans()):
                events.append(Event("verified", {"service": key, "digest": TARGET, "tasks": 1}))
            else:
                failure = {
                    "service": key,
                    "reason": draw(reasons),
                    "stopped_reasons": draw(st.lists(reasons, max_size=5)),
                    "events": draw(st.lists(reasons, max_size=5)),
                    "rolled_back": draw(st.booleans()),
                }
                events.append(Event("failed", failure))
        events.append(Event("wave_finished", {"wave": index, "failed": []}))
    if draw(st.booleans()):
        events.append(Event("halted", {"reason": draw(reasons), "wave": len(waves)}))
    events.append(Event("finished", {}))
    return events


def _texts(block: dict[str, Any]) -> list[str]:
    found = [block["text"]["text"]] if "text" in block else []
    found += [f["text"] for f in block.get("fields", [])]
    found += [e["text"] for e in block.get("elements", [])]
    return found


@settings(max_examples=60, deadline=None)
@given(runs(), names)
def test_every_message_is_within_slacks_limits_and_escaped(events: list[Event], actor: str) -> None:
    story = RolloutStory(RunContext("r-1", "prod<&>", actor))
    messages = tell_all(story, events)
    assert messages[0].kind == "start" and messages[-1].kind == "end"
    for message in messages:
        assert message.text.strip()
        assert 1 <= len(message.blocks) <= BLOCKS_MAX
        for block in message.blocks:
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= HEADER_MAX
                continue
            assert len(block.get("fields", [])) <= FIELDS_MAX
            assert len(block.get("elements", [])) <= CONTEXT_MAX
            assert all(len(f["text"]) <= FIELD_MAX for f in block.get("fields", []))
            for text in _texts(block):
                assert len(text) <= SECTION_MAX
                # Slack's control characters only ever as entities: no link, mention or
                # broken entity comes from a service name or ECS's words.
                assert "<" not in text and ">" not in text.replace("\n> ", "\n")
                assert not re.search(r"&(?!amp;|lt;|gt;)", text)
