"""Approvals are bound to a digest, never to a tag.

Keel cached approvals per tag, so a moved `latest` slipped through unapproved (keel #222).
Here an `approval` journal record carries the digest that was approved (`target_digest`, or
`digest_after`); an approval of another digest does not apply, whatever tag pointed where.
The Slack flow that writes these records comes later; this is the rule it will follow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fleetpatch.journal import Entry, EntryKind


@dataclass(frozen=True)
class ApprovalVerdict:
    approved: bool
    by: str | None = None  # who approved the target digest
    # Digests approved in this environment that are not the target: an approval that a moved
    # tag would have carried over in a tag-bound design.
    other_digests: tuple[str, ...] = ()


def approval_for(entries: Iterable[Entry], environment: str, digest: str) -> ApprovalVerdict:
    """Does an approval of exactly `digest` exist for `environment`? Pure."""
    approvals = [
        e for e in entries if e.kind is EntryKind.APPROVAL and e.environment == environment
    ]
    matching = [e for e in approvals if _approved_digest(e) == digest]
    others = tuple(
        dict.fromkeys(d for e in approvals if (d := _approved_digest(e)) and d != digest)
    )
    if matching:
        return ApprovalVerdict(True, matching[-1].actor, others)
    return ApprovalVerdict(False, None, others)


def _approved_digest(entry: Entry) -> str | None:
    return entry.target_digest or entry.digest_after
