"""A change request as the journal tells it, and the plan fingerprint approvals are bound to.

Pure: journal entries in, `ChangeRequest`s out. A request moves

    PENDING --approval x N--> APPROVED --run starts--> STARTED
       |  \\--rejected--> REJECTED          |
       \\--cancelled / expired-------------/--> CANCELLED / EXPIRED

and every step is one journal entry (kinds request, approval, rejected, cancelled, expired,
request_started) carrying `details.request_id`. `state_key`/`cas_state` name the store's
compare-and-set cell for it: a pending request's cell counts its approvals, so two approvers
deciding at once can't both count the same state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from fleetpatch.core.times import iso_z
from fleetpatch.journal import Entry, EntryKind
from fleetpatch.rollout.plan import Plan


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    STARTED = "started"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN_STATES = (RequestState.PENDING, RequestState.APPROVED)


@dataclass(frozen=True)
class Decision:
    actor: str
    name: str
    at: datetime


@dataclass(frozen=True)
class ChangeRequest:
    id: str
    environment: str
    action: str  # rollout | promote | rollback
    target_digest: str
    target_label: str
    fingerprint: str
    required: int
    requester: str  # journal actor
    requester_name: str
    requested_at: datetime
    expires_at: datetime
    services: tuple[str, ...]  # cluster/service keys the plan moves
    summary: dict[str, Any]  # what people are shown: mode, sidecar, waves, from ...
    state: RequestState = RequestState.PENDING
    approvals: tuple[Decision, ...] = ()
    closed_by: Decision | None = None  # who rejected / cancelled it
    reason: str = ""
    rollout_ids: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def expired_at(self, now: datetime) -> bool:
        return self.is_open and now >= self.expires_at

    @property
    def approved_by(self) -> tuple[str, ...]:
        return tuple(d.actor for d in self.approvals)

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.id,
            "environment": self.environment,
            "action": self.action,
            "state": self.state.value,
            "target_digest": self.target_digest,
            "target_label": self.target_label,
            "plan_fingerprint": self.fingerprint,
            "requested_by": self.requester,
            "requested_at": iso_z(self.requested_at),
            "expires_at": iso_z(self.expires_at),
            "approvals_required": self.required,
            "approved_by": [
                {"actor": d.actor, "name": d.name, "at": iso_z(d.at)} for d in self.approvals
            ],
            "closed_by": self.closed_by.actor if self.closed_by else None,
            "reason": self.reason or None,
            "rollout_ids": list(self.rollout_ids),
            "services": list(self.services),
            **self.summary,
        }


def state_key(request_id: str) -> str:
    return f"request:{request_id}"


def cas_state(request: ChangeRequest) -> str:
    """The store's state for `request`: pending ones count their approvals."""
    if request.state is RequestState.PENDING:
        return f"pending/{len(request.approvals)}"
    return request.state.value


def plan_fingerprint(action: str, the_plan: Plan, source: str | None = None) -> str:
    """What an approval is given for: the action, the environment, the target digest, the
    mode, and each service to move with the task definition and digest it runs now. Any
    change to these is another plan and needs a new approval."""
    waves = [
        [[s.key, s.task_definition, s.digest_before or ""] for s in wave.services]
        for wave in the_plan.waves
    ]
    material = {
        "action": action,
        "environment": the_plan.environment,
        "source": source,
        "sidecar": the_plan.sidecar,
        "mode": the_plan.mode,
        "target": the_plan.target.digest,
        "waves": waves,
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def requests_from(entries: Iterable[Entry]) -> dict[str, ChangeRequest]:
    """Every request the entries tell of, by id, in the order they were made."""
    found: dict[str, ChangeRequest] = {}
    for entry in entries:
        request_id = entry.details.get("request_id")
        if not isinstance(request_id, str):
            continue
        if entry.kind is EntryKind.REQUEST:
            found[request_id] = _requested(request_id, entry)
            continue
        current = found.get(request_id)
        if current is not None:
            found[request_id] = _apply(current, entry)
    return found


def _requested(request_id: str, entry: Entry) -> ChangeRequest:
    d = entry.details
    return ChangeRequest(
        id=request_id,
        environment=entry.environment,
        action=str(d["action"]),
        target_digest=entry.target_digest or "",
        target_label=str(d.get("target_label", "")),
        fingerprint=str(d["plan_fingerprint"]),
        required=int(d["approvals_required"]),
        requester=entry.actor,
        requester_name=str(d.get("requester_name", "")),
        requested_at=entry.timestamp,
        expires_at=datetime.fromisoformat(str(d["expires_at"])),
        services=tuple(str(s) for s in d.get("services", [])),
        summary=dict(d.get("summary", {})),
    )


def _apply(request: ChangeRequest, entry: Entry) -> ChangeRequest:
    decision = Decision(entry.actor, str(entry.details.get("name", "")), entry.timestamp)
    reason = str(entry.details.get("reason", ""))
    if entry.kind is EntryKind.APPROVAL:
        approvals = (*request.approvals, decision)
        state = RequestState.APPROVED if len(approvals) >= request.required else request.state
        return replace(request, approvals=approvals, state=state)
    if entry.kind is EntryKind.REQUEST_STARTED:
        ids = (*request.rollout_ids, entry.rollout_id) if entry.rollout_id else request.rollout_ids
        return replace(request, state=RequestState.STARTED, rollout_ids=ids)
    closing = {
        EntryKind.REJECTED: RequestState.REJECTED,
        EntryKind.CANCELLED: RequestState.CANCELLED,
        EntryKind.EXPIRED: RequestState.EXPIRED,
    }
    if entry.kind in closing:
        return replace(request, state=closing[entry.kind], closed_by=decision, reason=reason)
    return request  # refused attempts change nothing
