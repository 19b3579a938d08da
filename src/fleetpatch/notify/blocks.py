"""Block Kit pieces, kept within Slack's limits (docs.slack.dev, "Blocks" reference).

Slack refuses a message whose blocks break a limit (`invalid_blocks`), and that would lose the
notification, so every text is clipped here: a header's text at most 150 characters, a
section's text 3000, a section's fields at most 10 of 2000 each, a context at most 10
elements; a message at most 50 blocks. Text is Slack mrkdwn, in which `&`, `<` and `>` must be
escaped (they start links and mentions): `escape` everything that comes from outside
(service names, ECS's reasons, the actor).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Block = dict[str, Any]

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
CONTEXT_MAX = 10
BLOCKS_MAX = 50
ELLIPSIS = "…"


def escape(text: str) -> str:
    """Plain text as mrkdwn that shows it verbatim (Slack's three control characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """`text` in a code span; backticks inside would end it, so they become quotes."""
    return f"`{escape(text).replace('`', chr(39))}`"


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, ending in an ellipsis when cut (never mid-escape:
    a cut `&amp;` would show as a broken entity, so the cut backs off before a `&`)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def lines_within(lines: Sequence[str], limit: int, more: str = "and {n} more") -> str:
    """As many whole lines as fit in `limit` characters, then "and N more" for the rest."""
    kept: list[str] = []
    used = 0  # characters of the kept lines and their newlines
    for i, line in enumerate(lines):
        left_after = len(lines) - i - 1
        reserve = len(more.format(n=left_after)) + 1 if left_after else 0
        if used + len(line) + reserve > limit:
            kept.append(more.format(n=len(lines) - i))
            break
        kept.append(line)
        used += len(line) + 1
    return clip("\n".join(kept), limit)


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": clip(text, HEADER_MAX), "emoji": True},
    }


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_MAX)}}


def fields(items: Iterable[str]) -> Block:
    listed = [{"type": "mrkdwn", "text": clip(t, FIELD_MAX)} for t in items][:FIELDS_MAX]
    return {"type": "section", "fields": listed}


def context(items: Iterable[str]) -> Block:
    listed = [{"type": "mrkdwn", "text": clip(t, SECTION_MAX)} for t in items][:CONTEXT_MAX]
    return {"type": "context", "elements": listed}


def divider() -> Block:
    return {"type": "divider"}


def within_limit(blocks: Sequence[Block]) -> tuple[Block, ...]:
    """At most 50 blocks: the last ones kept are replaced by a note that more was cut."""
    if len(blocks) <= BLOCKS_MAX:
        return tuple(blocks)
    cut = len(blocks) - BLOCKS_MAX + 1
    return (*blocks[: BLOCKS_MAX - 1], context([f"{cut} more block(s) not shown"]))
