"""The journal's records: what callers append (`NewEntry`) and what they read back (`Entry`).

Both are frozen: a record, once written, is evidence. `details` is normalised through JSON at
construction, so what a caller passes is exactly what gets hashed, stored and read back (tuples
become lists, int keys become strings, NaN is refused).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from fleetpatch.errors import UserError

# prev_hash of the first record: there is nothing before it.
GENESIS_HASH = "0" * 64


class EntryKind(StrEnum):
    PLAN = "plan"
    # Change requests (fleetpatch.approvals): details.request_id ties them together.
    REQUEST = "request"  # asked for: action, plan fingerprint, approvals needed, expiry
    APPROVAL = "approval"  # one approver's yes, bound to the target digest and the plan
    REJECTED = "rejected"  # an approver's no: the request is closed
    CANCELLED = "cancelled"  # withdrawn by its requester or an approver
    EXPIRED = "expired"  # noticed past its expiry, unused
    REFUSED = "refused"  # an attempt that was not allowed (self-approval, not authorized...)
    REQUEST_STARTED = "request_started"  # the approved run started (once): rollout_id
    # Intent before effect: appended just before UpdateService, so that a deployment ECS
    # created in the window that followed is provably fleetpatch's (rollout/observe.py).
    DEPLOYMENT_REQUESTED = "deployment_requested"
    DEPLOYMENT_STARTED = "deployment_started"
    DEPLOYMENT_COMPLETED = "deployment_completed"
    VERIFIED = "verified"
    FAILED = "failed"
    HALTED = "halted"
    # A service of the plan fleetpatch did not deploy, and why (details.reason): what the
    # report lists as not patched by fleetpatch.
    SKIPPED = "skipped"
    ROLLBACK_STARTED = "rollback_started"
    ROLLBACK_COMPLETED = "rollback_completed"
    PROMOTE = "promote"
    RETAG = "retag"
    HOLD = "hold"
    LOCK = "lock"
    NOTE = "note"


def current_user() -> str:
    """The OS user, the default actor. Containers without a passwd entry still get a name."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid:{os.getuid()}"


def default_lock_owner() -> str:
    """Who holds a lock, as shown to the run that is refused: user, host and process."""
    return f"{current_user()}@{socket.gethostname()} pid {os.getpid()}"


_OWNER = re.compile(r"^.*@(?P<host>[^@\s]+) pid (?P<pid>\d+)$")


def holder_is_dead(owner: str) -> bool:
    """True only when the lock's owner (`user@host pid N`, see `default_lock_owner`) runs on
    this host and process N no longer exists. Another host's process can't be checked from
    here: its lock waits for its ttl, as before."""
    match = _OWNER.match(owner)
    if match is None or match["host"] != socket.gethostname():
        return False
    pid = int(match["pid"])
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence check, sends nothing
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, owned by another user
    return False


def normalize_details(details: Any) -> dict[str, Any]:
    """A JSON round trip: refuses what JSON can't carry, returns a private copy."""
    if not isinstance(details, dict):
        raise TypeError(f"details must be a dict, not {type(details).__name__}")
    try:
        normalized: dict[str, Any] = json.loads(json.dumps(details, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"details must be JSON-serialisable: {exc}") from exc
    return normalized


@dataclass(frozen=True, kw_only=True)
class _Fields:
    """The fields a caller supplies; shared by `NewEntry` and `Entry`."""

    kind: EntryKind
    environment: str
    actor: str = field(default_factory=current_user)
    service: str | None = None
    sidecar: str | None = None
    digest_before: str | None = None
    digest_after: str | None = None
    # The digest this run is rolling out (or back) to; lets a rerun find its own records.
    target_digest: str | None = None
    deployment_id: str | None = None
    # Groups the records of one run (one `fleetpatch rollout` / `rollback` invocation).
    rollout_id: str | None = None
    # hash=False: a dict is unhashable, and equality still compares it.
    details: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Accept plain strings ("verified") from callers; refuse unknown kinds early.
        object.__setattr__(self, "kind", EntryKind(self.kind))
        object.__setattr__(self, "details", normalize_details(self.details))
        if not self.environment:
            raise ValueError("environment must not be empty")


@dataclass(frozen=True, kw_only=True)
class NewEntry(_Fields):
    """A record to append. The store assigns seq, timestamp and the hashes."""


@dataclass(frozen=True, kw_only=True)
class Entry(_Fields):
    """A record as stored: the caller's fields plus its place in the chain."""

    seq: int
    timestamp: datetime  # always timezone-aware UTC
    prev_hash: str
    hash: str


@dataclass(frozen=True, kw_only=True)
class Lock:
    """Proof of holding an environment's rollout lock. `token` tells holders apart."""

    environment: str
    owner: str
    token: str
    acquired_at: datetime
    expires_at: datetime
    ttl: timedelta


def lock_acquisition(
    environment: str,
    owner: str,
    held: tuple[str, datetime] | None,
    now: datetime,
    take_over: str | None,
) -> dict[str, Any]:
    """The rule every journal store applies to take an environment's lock, held by
    `held` = (its owner, when it expires) or free: the lock record's details, or LockHeld.
    Pure but for `holder_is_dead`'s look at this host's processes."""
    details: dict[str, Any] = {"action": "acquired", "owner": owner}
    if held is None:
        return details
    holder, expires_at = held
    if take_over is not None:
        # `abort`: the running holder loses the lock at its next heartbeat and stops.
        details.update(action="taken_over", previous_owner=holder, why=take_over)
        return details
    # A holder known dead (same host, no such pid) need not wait out its ttl.
    dead = holder_is_dead(holder)
    if expires_at > now and not dead:
        raise LockHeld(environment, holder, expires_at)
    # The holder died or hung past its ttl: take over, and say so in the journal.
    details.update(action="taken_over", previous_owner=holder)
    if dead:
        details["why"] = "holder process is dead"
    return details


class LockHeld(UserError):
    """Another run holds the environment's lock.

    A UserError so the CLI prints it as one line: the fix is to wait, or to find the holder.
    """

    def __init__(self, environment: str, holder: str, expires_at: datetime) -> None:
        super().__init__(
            f"environment '{environment}' is locked by {holder} until "
            f"{expires_at.isoformat(timespec='seconds')}: another run is in progress; "
            "wait for it to finish or for the lock to expire"
        )
        self.environment = environment
        self.holder = holder
        self.expires_at = expires_at


class LockLost(Exception):
    """The lock we held was released or taken over (it expired): stop, someone else may run."""

    def __init__(self, lock: Lock, holder: str | None) -> None:
        now_held = f"now held by {holder}" if holder else "no longer held"
        super().__init__(f"lock on environment '{lock.environment}' was lost: {now_held}")
        self.lock = lock
        self.holder = holder


class JournalCorrupt(UserError):
    """The stored journal can't be read or extended safely; `fleetpatch journal verify` says why."""
