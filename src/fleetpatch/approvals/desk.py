"""`ApprovalDesk`: requests, approvals, rejections, cancels and expiries, each one conditional
journal write; and `authorize`, the gate every rollout, promote and rollback passes.

Every decision re-reads the request from the journal and commits with
`JournalStore.transition` against the state it read, so a double click, a Slack retry or a
repeated Lambda invocation changes the request once: the second caller finds the state moved
and re-reads (an approver who already approved is told so; an approved request that a run
already started is not started again).

    desk = ApprovalDesk(journal, config, now=clock)
    request = desk.request("rollout", the_plan, alice)            # PENDING, journaled
    desk.approve(request.id, bob)                                  # APPROVED (1 of 1)
    desk.authorize("rollout", the_plan, alice, rollout_id)        # STARTED, once
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from fleetpatch.approvals.principals import Principal
from fleetpatch.approvals.requests import (
    ChangeRequest,
    Decision,
    RequestState,
    cas_state,
    plan_fingerprint,
    requests_from,
    state_key,
)
from fleetpatch.config import Action, ApprovalPolicy, Config
from fleetpatch.core.images import short_digest
from fleetpatch.errors import UserError
from fleetpatch.journal import EntryKind, JournalStore, NewEntry
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.rollout.plan import Plan

# Who the journal names for what fleetpatch notices by itself (an expiry).
SYSTEM_ACTOR = "fleetpatch"
# A transition lost to a concurrent one is re-read and tried again this many times.
_ATTEMPTS = 5


class Refused(UserError):
    """Not allowed, and journaled as `refused`: the message says why and what to do."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class ApprovalRequired(Refused):
    """The run needs approvals it doesn't have (yet): nothing was changed."""


@dataclass(frozen=True)
class Authorization:
    """What allowed a run: nothing (no approvals needed) or a request approved for its plan."""

    request: ChangeRequest | None = None
    resumed: bool = False  # a rerun of a run the request already started


@dataclass(frozen=True)
class ApprovalOutcome:
    """What one approval call did: `counted` it (else it was a repeat or came late), and
    `completed` the approvals the request needs (this call moved it PENDING -> APPROVED)."""

    request: ChangeRequest
    counted: bool = False
    completed: bool = False


class ApprovalDesk:
    def __init__(
        self, journal: JournalStore, config: Config, now: Callable[[], datetime] = utc_now
    ) -> None:
        self._journal = journal
        self._config = config
        self._now = now

    # --- reading ------------------------------------------------------------------------------

    def policy(self, environment: str) -> ApprovalPolicy:
        return self._config.environment(environment).approvals

    def get(self, request_id: str) -> ChangeRequest:
        """The request as it stands now (an open one past its expiry is expired first)."""
        request = requests_from(self._journal.entries()).get(request_id)
        if request is None:
            raise UserError(f"no request {request_id}: `fleetpatch requests` lists them")
        return self._expire_if_due(request)

    def requests(self, environment: str | None = None) -> list[ChangeRequest]:
        found = requests_from(self._journal.entries(environment=environment)).values()
        return [self._expire_if_due(r) for r in found]

    # --- deciding -----------------------------------------------------------------------------

    def request(
        self, action: Action, the_plan: Plan, requester: Principal, *, source: str | None = None
    ) -> ChangeRequest:
        """Ask for `action` of `the_plan`; journaled PENDING. Refused for who may not ask."""
        environment = the_plan.environment
        policy = self.policy(environment)
        self._may_request(requester, environment, action)
        request_id = f"r-{uuid.uuid4().hex[:10]}"
        expires_at = self._now() + timedelta(hours=policy.expiry_hours)
        fingerprint = plan_fingerprint(action, the_plan, source)
        summary: dict[str, Any] = {
            "sidecar": the_plan.sidecar,
            "mode": the_plan.mode,
            "source": source,
            "waves": [[s.key for s in w.services] for w in the_plan.waves],
        }
        entry = NewEntry(
            kind=EntryKind.REQUEST,
            environment=environment,
            actor=requester.actor,
            sidecar=the_plan.sidecar,
            target_digest=the_plan.target.digest,
            details={
                "request_id": request_id,
                "action": action,
                "requester_name": requester.name,
                "target_label": the_plan.target.label,
                "plan_fingerprint": fingerprint,
                "approvals_required": policy.needed(action),
                "expires_at": expires_at.isoformat(),
                "services": [s.key for s in the_plan.services],
                "summary": summary,
            },
        )
        if self._journal.transition(state_key(request_id), {""}, "pending/0", entry) is None:
            raise RuntimeError(f"request id {request_id} already in use")  # uuid collision
        return self.get(request_id)

    def open_request(
        self, action: Action, the_plan: Plan, requester: Principal, *, source: str | None = None
    ) -> tuple[ChangeRequest, bool]:
        """The open request for exactly this plan, else a new one (requester: `requester`);
        and whether it is new, so that a repeated ask (a Slack retry, a redelivered event)
        neither duplicates the request nor posts it twice."""
        fingerprint = plan_fingerprint(action, the_plan, source)
        for request in reversed(self.requests(the_plan.environment)):
            if request.is_open and request.action == action and request.fingerprint == fingerprint:
                return request, False
        return self.request(action, the_plan, requester, source=source), True

    def approve(
        self, request_id: str, approver: Principal, *, current_target: str | None = None
    ) -> ChangeRequest:
        """One approver's yes. `current_target`: the digest the environment's target resolves
        to now; an approval of another digest is refused. Approving twice is a no-op."""
        return self.give_approval(request_id, approver, current_target=current_target).request

    def give_approval(
        self, request_id: str, approver: Principal, *, current_target: str | None = None
    ) -> ApprovalOutcome:
        """`approve`, also saying whether this very call completed the approvals (PENDING ->
        APPROVED): of any number of concurrent or repeated calls exactly one does, so the one
        that did is the one to start the run (the Slack app)."""
        for _ in range(_ATTEMPTS):
            request = self._open(request_id, approver, "approve")
            if not request.is_open:
                return ApprovalOutcome(request)  # a late click: approved and started already
            self._may_decide(request, approver, "approve")
            if approver.actor in request.approved_by:
                return ApprovalOutcome(request)  # a double click or a redelivery: counted
            if current_target is not None and current_target != request.target_digest:
                self._refuse(
                    approver,
                    request.environment,
                    request.id,
                    "approve",
                    f"{request.id} is for {short_digest(request.target_digest)}, but the target "
                    f"is now {short_digest(current_target)}: request the new plan",
                )
            after = replace(request, approvals=(*request.approvals, _decision(approver)))
            if len(after.approvals) >= request.required:
                after = replace(after, state=RequestState.APPROVED)
            entry = NewEntry(
                kind=EntryKind.APPROVAL,
                environment=request.environment,
                actor=approver.actor,
                target_digest=request.target_digest,
                details={
                    "request_id": request.id,
                    "name": approver.name,
                    "action": request.action,
                    "plan_fingerprint": request.fingerprint,
                    "approvals": f"{len(after.approvals)} of {request.required}",
                },
            )
            if self._commit(request, after, entry):
                completed = (
                    request.state is RequestState.PENDING and after.state is RequestState.APPROVED
                )
                return ApprovalOutcome(self.get(request_id), counted=True, completed=completed)
        raise _busy(request_id)

    def reject(self, request_id: str, approver: Principal, reason: str = "") -> ChangeRequest:
        for _ in range(_ATTEMPTS):
            request = self._open(request_id, approver, "reject")
            self._may_decide(request, approver, "reject")
            after = replace(request, state=RequestState.REJECTED)
            if self._commit(
                request, after, self._closing(EntryKind.REJECTED, request, approver, reason)
            ):
                return self.get(request_id)
        raise _busy(request_id)

    def cancel(self, request_id: str, who: Principal, reason: str = "") -> ChangeRequest:
        """Withdrawn by its requester or by an approver of its environment."""
        for _ in range(_ATTEMPTS):
            request = self._open(request_id, who, "cancel")
            policy = self.policy(request.environment)
            if who.actor != request.requester and not who.covered_by_any(policy.approvers):
                self._refuse(
                    who,
                    request.environment,
                    request.id,
                    "cancel",
                    f"only its requester or an approver of {request.environment} may cancel "
                    f"{request.id}",
                )
            after = replace(request, state=RequestState.CANCELLED)
            if self._commit(
                request, after, self._closing(EntryKind.CANCELLED, request, who, reason)
            ):
                return self.get(request_id)
        raise _busy(request_id)

    # --- the gate -----------------------------------------------------------------------------

    def authorize(
        self,
        action: Action,
        the_plan: Plan,
        who: Principal,
        rollout_id: str,
        *,
        request_id: str | None = None,
        source: str | None = None,
        ask: bool = True,
    ) -> Authorization:
        """May `who` run `the_plan` now? Returns what allows it (starting an approved request,
        once) or raises ApprovalRequired, after asking for approval when `ask` and nothing is
        pending for this plan yet."""
        environment = the_plan.environment
        needed = self.policy(environment).needed(action)
        if needed == 0 or not the_plan.waves:
            return Authorization()
        self._may_request(who, environment, action)
        fingerprint = plan_fingerprint(action, the_plan, source)
        for _ in range(_ATTEMPTS):
            candidates = [
                r
                for r in self.requests(environment)
                if r.action == action and (request_id is None or r.id == request_id)
            ]
            if request_id is not None and not candidates:
                raise UserError(f"no {action} request {request_id} for {environment}")
            approved = [
                r
                for r in candidates
                if r.state is RequestState.APPROVED and r.fingerprint == fingerprint
            ]
            if approved:
                started = self._start(approved[-1], who, rollout_id, resumed=False)
                if started is not None:
                    return Authorization(started)
                continue  # someone started it first: look again
            resumable = [r for r in candidates if self._resumes(r, the_plan)]
            if resumable:
                started = self._start(resumable[-1], who, rollout_id, resumed=True)
                if started is not None:
                    return Authorization(started, resumed=True)
                continue
            raise self._approval_required(
                action, the_plan, who, candidates, fingerprint, source, ask, needed
            )
        raise _busy(request_id or environment)

    # --- internals ----------------------------------------------------------------------------

    def _approval_required(
        self,
        action: Action,
        the_plan: Plan,
        who: Principal,
        candidates: list[ChangeRequest],
        fingerprint: str,
        source: str | None,
        ask: bool,
        needed: int,
    ) -> ApprovalRequired:
        environment = the_plan.environment
        pending = [
            r
            for r in candidates
            if r.state is RequestState.PENDING and r.fingerprint == fingerprint
        ]
        if pending:
            waiting = pending[-1]
            return ApprovalRequired(
                f"{action} of {environment} waits for approval: {waiting.id} has "
                f"{len(waiting.approvals)} of {waiting.required} (expires "
                f"{_minute(waiting.expires_at)}); an approver runs `fleetpatch approve "
                f"{waiting.id}`, then run this again",
                waiting.id,
            )
        stale = [r for r in candidates if r.is_open and r.fingerprint != fingerprint]
        changed = f" (the plan changed since {stale[-1].id} was requested)" if stale else ""
        if not ask:
            return ApprovalRequired(
                f"{action} of {environment} needs {needed} approval(s) of this plan{changed}"
            )
        request = self.request(action, the_plan, who, source=source)
        return ApprovalRequired(
            f"{action} of {environment} needs {needed} approval(s){changed}: requested as "
            f"{request.id} (expires {_minute(request.expires_at)}); an approver runs "
            f"`fleetpatch approve {request.id}`, then run this again",
            request.id,
        )

    def _start(
        self, request: ChangeRequest, who: Principal, rollout_id: str, *, resumed: bool
    ) -> ChangeRequest | None:
        entry = NewEntry(
            kind=EntryKind.REQUEST_STARTED,
            environment=request.environment,
            actor=who.actor,
            target_digest=request.target_digest,
            rollout_id=rollout_id,
            details={
                "request_id": request.id,
                "name": who.name,
                "resumed": resumed,
                "approved_by": list(request.approved_by),
            },
        )
        after = replace(request, state=RequestState.STARTED)
        if not self._commit(request, after, entry):
            return None
        return self.get(request.id)

    def _resumes(self, request: ChangeRequest, the_plan: Plan) -> bool:
        """A rerun of the run this request started (interrupted, or services left failed):
        before its expiry, same target and mode, only services the approved plan moves, and
        no other run in the environment since (a rollback, say, then this digest again
        needs a new approval)."""
        if request.state is not RequestState.STARTED or self._now() >= request.expires_at:
            return False
        if request.target_digest != the_plan.target.digest:
            return False
        if request.summary.get("mode") != the_plan.mode:
            return False
        if not {s.key for s in the_plan.services} <= set(request.services):
            return False
        plans = self._journal.entries(environment=request.environment, kind=EntryKind.PLAN)
        last_run = next((e.rollout_id for e in reversed(plans) if e.rollout_id), None)
        return last_run is None or last_run in request.rollout_ids

    def _open(self, request_id: str, who: Principal, attempted: str) -> ChangeRequest:
        """The request, if it can still be decided; else refused (and journaled) saying why."""
        request = self.get(request_id)
        if request.is_open:
            return request
        what = {
            RequestState.STARTED: f"was approved and its {request.action} has started",
            RequestState.REJECTED: "was rejected",
            RequestState.CANCELLED: "was cancelled",
            RequestState.EXPIRED: f"expired at {_minute(request.expires_at)}",
        }[request.state]
        if request.state is RequestState.STARTED and attempted == "approve":
            return request  # a late click on a request already approved and started
        self._refuse(who, request.environment, request.id, attempted, f"{request.id} {what}")
        raise AssertionError("unreachable")

    def _may_request(self, who: Principal, environment: str, action: str) -> None:
        requesters = self.policy(environment).requesters
        if requesters and not who.covered_by_any(requesters):
            self._refuse(
                who,
                environment,
                None,
                action,
                f"{who.display} may not request or start changes of {environment}: ask "
                "someone listed in its approvals.requesters",
            )

    def _may_decide(self, request: ChangeRequest, who: Principal, attempted: str) -> None:
        if not request.is_open:
            return
        if who.actor == request.requester:
            self._refuse(
                who,
                request.environment,
                request.id,
                attempted,
                f"{who.display} requested {request.id}: someone else must {attempted} it "
                "(four eyes)",
            )
        if not who.covered_by_any(self.policy(request.environment).approvers):
            self._refuse(
                who,
                request.environment,
                request.id,
                attempted,
                f"{who.display} may not {attempted} changes of {request.environment}: "
                "not in its approvals.approvers",
            )

    def _closing(
        self, kind: EntryKind, request: ChangeRequest, who: Principal, reason: str
    ) -> NewEntry:
        return NewEntry(
            kind=kind,
            environment=request.environment,
            actor=who.actor,
            target_digest=request.target_digest,
            details={"request_id": request.id, "name": who.name, "reason": reason},
        )

    def _commit(self, before: ChangeRequest, after: ChangeRequest, entry: NewEntry) -> bool:
        key = state_key(before.id)
        return (
            self._journal.transition(key, {cas_state(before)}, cas_state(after), entry) is not None
        )

    def _expire_if_due(self, request: ChangeRequest) -> ChangeRequest:
        if not request.expired_at(self._now()):
            return request
        entry = NewEntry(
            kind=EntryKind.EXPIRED,
            environment=request.environment,
            actor=SYSTEM_ACTOR,
            target_digest=request.target_digest,
            details={
                "request_id": request.id,
                "reason": f"not started by {_minute(request.expires_at)}",
            },
        )
        after = replace(request, state=RequestState.EXPIRED)
        self._commit(request, after, entry)  # lost to a concurrent expiry: same outcome
        return replace(after, closed_by=None, reason=str(entry.details["reason"]))

    def _refuse(
        self,
        who: Principal,
        environment: str,
        request_id: str | None,
        attempted: str,
        message: str,
    ) -> None:
        details: dict[str, Any] = {"attempted": attempted, "reason": message, "name": who.name}
        if request_id is not None:
            details["request_id"] = request_id
        self._journal.append(
            NewEntry(
                kind=EntryKind.REFUSED, environment=environment, actor=who.actor, details=details
            )
        )
        raise Refused(message, request_id)


def _decision(who: Principal) -> Decision:
    # Its time is the journal entry's, read back by `get`; only the count matters here.
    return Decision(who.actor, who.name, datetime.min)


def _busy(what: str) -> UserError:
    return UserError(f"{what} is being decided by someone else right now: try again")


def _minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
