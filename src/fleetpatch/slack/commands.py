"""`/fleetpatch ...`: the slash command's text, parsed. Pure.

    parse("rollout prod", ["dev", "stg", "prod"])   -> Command("rollout", "prod")
    parse("promote stg prod", envs)                   -> Command("promote", "prod", source="stg")
    parse("rollout prdo", envs)                       -> Usage("unknown environment `prdo` ...")

Environments are checked here, against the config, so that a typo gets usage help at once
and never reaches the worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Verb = Literal["status", "plan", "rollout", "promote", "rollback", "abort", "report"]

# verb -> (arguments, what they are), in the order the help lists them.
SYNTAX: dict[Verb, tuple[tuple[str, ...], str]] = {
    "status": ((), "versions running, drift and the patch deadlines of every environment"),
    "plan": (("ENV",), "what a rollout of ENV would deploy, wave by wave (changes nothing)"),
    "rollout": (("ENV",), "roll the target out to ENV (asks for approval if ENV needs it)"),
    "promote": (("FROM", "TO"), "deploy what FROM runs, proven there, to TO"),
    "rollback": (("ENV",), "return ENV to the digest it ran before"),
    "abort": (("ENV",), "stop ENV's rollout and roll back its in-flight deployments"),
    "report": (("[ENV]",), "this month's patch evidence report, as a file"),
}


@dataclass(frozen=True)
class Command:
    verb: Verb
    environment: str | None = None  # the one changed (promote: TO)
    source: str | None = None  # promote: FROM

    @property
    def text(self) -> str:
        return " ".join(p for p in (self.verb, self.source, self.environment) if p)


@dataclass(frozen=True)
class Usage:
    """Not a command: what to say instead (`problem` empty for `help`)."""

    problem: str
    help: str


def usage_text(command: str = "/fleetpatch") -> str:
    lines = []
    for verb, (arguments, what) in SYNTAX.items():
        shown = " ".join([command, verb, *arguments])
        lines.append(f"`{shown}`: {what}")
    return "\n".join(lines)


def parse(text: str, environments: Sequence[str], command: str = "/fleetpatch") -> Command | Usage:
    words = text.split()
    if not words or words[0].lower() in ("help", "-h", "--help"):
        return Usage("", usage_text(command))
    verb, arguments = words[0].lower(), words[1:]
    if verb not in SYNTAX:
        return Usage(f"unknown command `{_clip(words[0])}`", usage_text(command))
    known: Verb = verb
    wanted, _ = SYNTAX[known]
    required = [w for w in wanted if not w.startswith("[")]
    if not len(required) <= len(arguments) <= len(wanted):
        shown = " ".join([command, known, *wanted])
        return Usage(f"usage: `{shown}`", usage_text(command))
    for name in arguments:
        if name not in environments:
            listed = ", ".join(f"`{e}`" for e in environments)
            return Usage(
                f"unknown environment `{_clip(name)}`: the config has {listed}",
                usage_text(command),
            )
    if known == "promote":
        source, destination = arguments
        if source == destination:
            return Usage("promote needs two different environments: FROM TO", usage_text(command))
        return Command(known, destination, source)
    return Command(known, arguments[0] if arguments else None)


def _clip(word: str) -> str:
    # What the user typed is echoed back: short, and without backticks that end code spans.
    return word.replace("`", "'")[:40]
