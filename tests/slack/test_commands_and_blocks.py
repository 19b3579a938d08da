"""The slash command's parser and the Block Kit builders, pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.rollout.plan import Plan, ServiceStep, Target, Wave
from fleetpatch.slack.blocks import ACTIONS_BLOCK, decided, plan_table
from fleetpatch.slack.commands import SYNTAX, Command, Usage, parse

ENVS = ["dev", "stg", "prod"]


def test_the_commands() -> None:
    assert parse("rollout prod", ENVS) == Command("rollout", "prod")
    assert parse("  PROMOTE stg prod ", ENVS) == Command("promote", "prod", source="stg")
    assert parse("status", ENVS) == Command("status")
    assert parse("report", ENVS) == Command("report")
    assert parse("report dev", ENVS) == Command("report", "dev")
    unknown = parse("rollout `prdo`", ENVS)
    assert isinstance(unknown, Usage) and "unknown environment `'prdo'`" in unknown.problem
    assert isinstance(parse("promote prod prod", ENVS), Usage)
    assert isinstance(parse("status prod", ENVS), Usage)


@given(st.text(max_size=60))
def test_any_text_is_a_command_or_usage(text: str) -> None:
    parsed = parse(text, ENVS)
    if isinstance(parsed, Usage):
        assert "/fleetpatch rollout ENV" in parsed.help
        return
    assert parsed.verb in SYNTAX
    assert parsed.environment in (None, *ENVS) and parsed.source in (None, *ENVS)


def _plan(count: int) -> Plan:
    steps = tuple(
        ServiceStep("main", f"service-{i}-" + "x" * 40, "log", "fb:latest", "tag", "td:1",
                    "sha256:" + "3" * 64, 2)
        for i in range(count)
    )  # fmt: skip
    target = Target("sha256:" + "4" * 64, "fluent-bit", "tag latest", "1.1", tag="latest")
    return Plan(
        "prod", "fluent-bit", target, "tag", (Wave(1, True, steps[:1]), Wave(2, False, steps[1:]))
    )


def test_the_plan_table_fits_a_section_whatever_the_fleet() -> None:
    table = plan_table(_plan(400))
    assert len(table) <= 3000 and table.startswith("```") and table.endswith("```")
    assert "more service(s)" in table
    first = table.splitlines()[2]
    assert first.startswith("1c") and "…" in first and "3333333" in first


def test_decided_replaces_the_buttons() -> None:
    blocks = [{"type": "header"}, {"type": "actions", "block_id": ACTIONS_BLOCK, "elements": []}]
    done = decided(blocks, "approved")
    assert [b["type"] for b in done] == ["header", "section"]
    waiting = decided((*done, blocks[1]), "1 of 2", keep_buttons=True)
    assert [b.get("block_id") for b in waiting][-2:] == ["fleetpatch_decided", ACTIONS_BLOCK]
