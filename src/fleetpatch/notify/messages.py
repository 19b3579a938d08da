"""What a team reads about a run: its start, each wave's end, a halt in ECS's words, the end.

Pure: a `RunState` (run.py) -> a `Message`: Block Kit blocks, and the fallback text Slack shows
in notifications, in clients without blocks and to screen readers (so it says the same thing,
shorter). Nothing here knows how a message is sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from fleetpatch.core.images import short_digest
from fleetpatch.notify.blocks import (
    SECTION_MAX,
    Block,
    code,
    context,
    escape,
    fields,
    header,
    lines_within,
    section,
    within_limit,
)
from fleetpatch.notify.run import RunState, ServiceState

MessageKind = Literal["start", "wave", "halt", "end", "stopped"]

# How much of ECS's words a halt shows per failed service (the journal keeps them all).
STOPPED_REASONS_SHOWN = 3
EVENTS_SHOWN = 2
FAILURES_SHOWN = 10


@dataclass(frozen=True)
class Message:
    kind: MessageKind
    text: str  # the fallback: notifications, clients without blocks, screen readers
    blocks: tuple[Block, ...]


def _title(state: RunState) -> str:
    return state.kind.capitalize()


def _services(keys: Iterable[str]) -> str:
    return ", ".join(code(k) for k in keys)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _wave_name(state: RunState, index: int) -> str:
    wave = state.wave(index)
    canary = " (canary)" if wave is not None and wave.canary else ""
    return f"Wave {index}{canary} of {len(state.waves)}"


# --- the start --------------------------------------------------------------------------------


def start_message(state: RunState) -> Message:
    run = state.context
    deploy = state.to_deploy
    done = [s for s in state.services.values() if s.wave == 0 and s.status != "skipped"]
    skipped = state.with_status("skipped")
    waves = [
        f"*Wave {w.index}*{' (canary)' if w.canary else ''}: {_services(w.services)}"
        for w in state.waves
    ]
    before = _digest_counts(state.digests_before())
    title = f"{_title(state)} {run.environment}: {state.sidecar} → {state.target_label}"
    blocks = [
        header(f":rocket: {title}"),
        fields(
            [
                f"*Environment*\n{escape(run.environment)}",
                f"*Started by*\n{escape(run.actor)}",
                f"*Sidecar*\n{escape(state.sidecar)} (mode {escape(state.mode)})",
                f"*Target*\n{escape(state.target_label)}, chosen by {escape(state.chosen_by)}",
                f"*Target digest*\n{code(state.target_digest)}",
                f"*Running now*\n{before}",
            ]
        ),
        section(
            f"*{_count(len(deploy), 'service')} to deploy in {_count(len(state.waves), 'wave')}*"
            f" · {len(done)} already on the target · {len(skipped)} skipped · halts when a wave "
            f"has more than {_count(state.failure_budget, 'failure')}\n"
            + lines_within(waves, SECTION_MAX - 200, "and {n} more wave(s)")
        ),
        context([f"rollout {code(run.rollout_id)} · progress in this thread"]),
    ]
    text = (
        f"{_title(state)} {run.rollout_id} of {run.environment} started by {run.actor}: "
        f"{state.sidecar} -> {state.target_label} ({state.target_digest}), "
        f"{_count(len(deploy), 'service')} in {_count(len(state.waves), 'wave')}"
    )
    return Message("start", text, within_limit(blocks))


def _digest_counts(counts: Counter[str | None]) -> str:
    if not counts:
        return "-"
    parts = [f"{code(short_digest(d))} on {n}" for d, n in counts.most_common(5)]
    if len(counts) > 5:
        parts.append(f"and {len(counts) - 5} more digests")
    return "\n".join(parts)


# --- a wave's end -----------------------------------------------------------------------------


def wave_message(state: RunState, index: int) -> Message:
    services = state.in_wave(index)
    verified = [s for s in services if s.status == "verified"]
    failed = [s for s in services if s.status == "failed"]
    open_ = [s for s in services if s.status == "pending"]
    icon = ":x:" if failed else ":white_check_mark:"
    counts = f"{len(verified)} verified, {len(failed)} failed"
    if open_:
        counts += f", {len(open_)} still deploying"
    lines = [f"{icon} *{_wave_name(state, index)} done*: {counts}"]
    lines += [f"• {code(s.key)}: {escape(s.reason)}" for s in failed[:FAILURES_SHOWN]]
    if len(failed) > FAILURES_SHOWN:
        lines.append(f"and {len(failed) - FAILURES_SHOWN} more failed")
    text = f"{state.context.environment}: {_wave_name(state, index)} done: {counts}"
    return Message("wave", text, (section("\n".join(lines)),))


# --- a halt -----------------------------------------------------------------------------------


def halt_message(state: RunState) -> Message:
    """The halt in ECS's words: each failed service's reason, why its tasks stopped, whether
    ECS rolled it back, and the deployments the halt itself stopped."""
    halt = state.halt
    assert halt is not None, "halt_message needs a halted run"
    env = state.context.environment
    blocks: list[Block] = [
        section(
            f":octagonal_sign: *{_title(state)} of {escape(env)} halted in wave {halt.wave}*: "
            f"{escape(halt.reason)}\nNothing more is started."
        )
    ]
    failed = [s for s in state.in_wave(halt.wave) if s.status == "failed"]
    caused = [s for s in failed if s.key not in halt.stops]
    for service in caused[:FAILURES_SHOWN]:
        blocks.append(section(_failure(service)))
    if len(caused) > FAILURES_SHOWN:
        blocks.append(context([f"and {len(caused) - FAILURES_SHOWN} more failed services"]))
    stops = [f"• {code(key)}: {escape(what)}" for key, what in sorted(halt.stops.items())]
    unanswered = sorted(set(halt.rolling_back) - set(halt.stops))
    stops += [f"• {code(k)}: deployment {code(halt.rolling_back[k])} stopped" for k in unanswered]
    if stops:
        blocks.append(section("*Stopped by the halt (rolled back)*\n" + lines_within(stops, 2800)))
    text = f"{_title(state)} of {env} halted in wave {halt.wave}: {halt.reason}"
    if caused:
        text += f" ({caused[0].key}: {caused[0].reason})"
    return Message("halt", text, within_limit(blocks))


def _failure(service: ServiceState) -> str:
    lines = [f"*{code(service.key)}*: {escape(service.reason)}"]
    for reason in service.stopped_reasons[:STOPPED_REASONS_SHOWN]:
        lines.append(f"> stopped: {escape(reason)}")
    for event in service.events[:EVENTS_SHOWN]:
        lines.append(f"> ECS: {escape(event)}")
    rolled_back = "yes, to the previous revision" if service.rolled_back else "no"
    lines.append(f"ECS rolled it back: {rolled_back}")
    return "\n".join(lines)


# --- a run stopped before its end -----------------------------------------------------------


def stopped_message(state: RunState, why: str) -> Message:
    """The run itself stopped (interrupted, its lock lost, AWS unreachable): without this the
    thread would just go quiet. Posted to the channel too, like an end."""
    env = state.context.environment
    open_ = state.with_status("pending")
    text = (
        f"{_title(state)} {state.context.rollout_id} of {env} stopped before its end: {why}. "
        f"{len(state.with_status('verified'))} verified, {len(open_)} not concluded; "
        "deployments already started go on in ECS: run the command again to resume"
    )
    summary = (
        f":warning: *{_title(state)} of {escape(env)} stopped before its end*: {escape(why)}\n"
        f"{len(state.with_status('verified'))} verified, {len(state.with_status('failed'))} "
        f"failed, {len(open_)} not concluded. Deployments already started go on in ECS: run "
        "the same command again to resume (it waits for them, then goes on)."
    )
    blocks = (section(summary), context([f"rollout {code(state.context.rollout_id)}"]))
    return Message("stopped", text, blocks)


# --- the end ----------------------------------------------------------------------------------


def end_message(state: RunState) -> Message:
    """The outcome and the digests before and after (the end is posted to the channel too)."""
    env = state.context.environment
    verified = state.with_status("verified")
    failed = state.with_status("failed")
    skipped = state.with_status("skipped")
    counts = f"{len(verified)} verified, {len(failed)} failed, {len(skipped)} skipped"
    if state.halt is not None:
        icon, outcome = ":octagonal_sign:", f"halted in wave {state.halt.wave}"
    elif failed:
        icon, outcome = ":warning:", "finished with failures"
    else:
        icon, outcome = ":white_check_mark:", "finished"
    summary = f"{icon} *{_title(state)} of {escape(env)} {outcome}*: {counts}"
    if state.halt is not None:
        summary += f"\nHalted: {escape(state.halt.reason)}"
    blocks: list[Block] = [
        section(summary),
        fields(
            [
                f"*Before*\n{_digest_counts(state.digests_before())}",
                f"*After*\n{_after(state)}",
                f"*Target*\n{escape(state.target_label)}\n{code(state.target_digest)}",
                f"*Started by*\n{escape(state.context.actor)}",
            ]
        ),
    ]
    if failed:
        lines = [f"• {code(s.key)}: {escape(s.reason)}" for s in failed]
        blocks.append(section("*Failed*\n" + lines_within(lines, 2900)))
    if skipped:
        lines = [f"• {code(s.key)}: {escape(s.reason)}" for s in skipped]
        blocks.append(section("*Skipped*\n" + lines_within(lines, 2900)))
    blocks.append(context([f"rollout {code(state.context.rollout_id)}"]))
    before = ", ".join(short_digest(d) for d in state.digests_before()) or "-"
    text = (
        f"{_title(state)} {state.context.rollout_id} of {env} {outcome}: {counts}; "
        f"before {before}, target {state.target_digest}"
    )
    return Message("end", text, within_limit(blocks))


def _after(state: RunState) -> str:
    """Digest -> the services that run it now, the target first; unknown ones last."""
    groups: dict[str | None, list[ServiceState]] = {}
    for service in state.services.values():
        if service.status == "skipped":
            continue
        groups.setdefault(service.digest_after(state.target_digest), []).append(service)
    lines = []
    target = groups.pop(state.target_digest, [])
    if target:
        lines.append(f"{code(short_digest(state.target_digest))} on {len(target)} (target)")
    unknown = groups.pop(None, [])
    for digest, services in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"{code(short_digest(digest))} on {len(services)}: {_names(services)}")
    if unknown:
        lines.append(f"unknown on {len(unknown)} (failed, not rolled back): {_names(unknown)}")
    return "\n".join(lines) or "-"


def _names(services: list[ServiceState], shown: int = 5) -> str:
    names = _services(s.key for s in services[:shown])
    return names + (f" and {len(services) - shown} more" if len(services) > shown else "")
