"""What the rollout engine asks the journal, as pure functions over entries.

A service's state on one environment is told by its latest *state* record: a deployment
started or completed, a verification, a failure, a rollback. Later records override earlier
ones, so a service verified on a digest and then rolled back no longer counts as verified.

Records are matched to a target by `target_digest` (falling back to `digest_after`): the rollout
engine sets `target_digest` on every record of a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from fleetpatch.journal.model import Entry, EntryKind

_STATE_KINDS = frozenset(
    {
        EntryKind.DEPLOYMENT_REQUESTED,
        EntryKind.DEPLOYMENT_STARTED,
        EntryKind.DEPLOYMENT_COMPLETED,
        EntryKind.VERIFIED,
        EntryKind.FAILED,
        EntryKind.ROLLBACK_STARTED,
        EntryKind.ROLLBACK_COMPLETED,
    }
)
_IN_FLIGHT = frozenset({EntryKind.DEPLOYMENT_STARTED, EntryKind.DEPLOYMENT_COMPLETED})
_ROLLBACK_KINDS = frozenset({EntryKind.ROLLBACK_STARTED, EntryKind.ROLLBACK_COMPLETED})


def verified_services(entries: Iterable[Entry], environment: str, target_digest: str) -> set[str]:
    """Services whose latest state is `verified` on the target: a rerun skips them."""
    latest = _latest_states(entries, environment)
    return {
        service
        for service, entry in latest.items()
        if entry.kind is EntryKind.VERIFIED and _target(entry) == target_digest
    }


def failed_services(entries: Iterable[Entry], environment: str, target_digest: str) -> set[str]:
    """Services whose latest state is `failed` on the target: a rerun leaves them alone unless
    told to retry (so one target never gets a second deployment by accident)."""
    latest = _latest_states(entries, environment)
    return {
        service
        for service, entry in latest.items()
        if entry.kind is EntryKind.FAILED and _target(entry) == target_digest
    }


def started_deployments(
    entries: Iterable[Entry], environment: str, target_digest: str
) -> dict[str, str]:
    """service -> ECS deployment id, for deployments to the target started but not yet verified
    (nor failed): a rerun waits for that deployment instead of starting another."""
    ordered = sorted(entries, key=lambda e: e.seq)
    latest = _latest_states(ordered, environment)
    # A `deployment_completed` record may omit the id: remember the one its start recorded.
    started_ids: dict[str, str] = {}
    for entry in ordered:
        if (
            entry.environment == environment
            and entry.service is not None
            and entry.kind is EntryKind.DEPLOYMENT_STARTED
            and entry.deployment_id
        ):
            started_ids[entry.service] = entry.deployment_id
    in_flight: dict[str, str] = {}
    for service, entry in latest.items():
        if entry.kind in _IN_FLIGHT and _target(entry) == target_digest:
            deployment_id = entry.deployment_id or started_ids.get(service)
            if deployment_id:
                in_flight[service] = deployment_id
    return in_flight


def requested_deployments(
    entries: Iterable[Entry], environment: str, target_digest: str
) -> dict[str, tuple[datetime, bool]]:
    """service -> (when fleetpatch journaled its intent to deploy it to the target, whether
    that time is AWS's own), for services whose latest state is that intent: the run died
    before it journaled what ECS answered."""
    latest = _latest_states(entries, environment)
    found = {}
    for service, entry in latest.items():
        if entry.kind is EntryKind.DEPLOYMENT_REQUESTED and _target(entry) == target_digest:
            aws_time = _aws_time(entry)
            found[service] = (aws_time, True) if aws_time else (entry.timestamp, False)
    return found


def _aws_time(entry: Entry) -> datetime | None:
    """AWS's clock when the intent was journaled (details.aws_time), if the run knew it."""
    text = entry.details.get("aws_time")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def previous_digest(entries: Iterable[Entry], environment: str, service: str | None) -> str | None:
    """The digest that ran before the last forward rollout (of `service`, or of the environment).

    Rollbacks are not rollouts here: after rolling back, the answer is unchanged, so a rollback
    interrupted and run again goes to the same digest. For the whole environment, the services
    of the last run may have started from different digests; the most common one wins (the one
    the moving tag pointed to), the others being stragglers the rollback brings along.
    """
    ordered = sorted(entries, key=lambda e: e.seq)
    rollback_runs = {e.rollout_id for e in ordered if e.kind in _ROLLBACK_KINDS and e.rollout_id}
    forward = [
        e
        for e in ordered
        if e.environment == environment
        and e.kind is EntryKind.DEPLOYMENT_STARTED
        and e.digest_before
        and e.rollout_id not in rollback_runs
        and (service is None or e.service == service)
    ]
    if not forward:
        return None
    last = forward[-1]
    if service is not None or last.rollout_id is None:
        return last.digest_before
    run = [e.digest_before for e in forward if e.rollout_id == last.rollout_id]
    return Counter(run).most_common(1)[0][0]


def _target(entry: Entry) -> str | None:
    return entry.target_digest or entry.digest_after


def _latest_states(entries: Iterable[Entry], environment: str) -> dict[str, Entry]:
    latest: dict[str, Entry] = {}
    for entry in sorted(entries, key=lambda e: e.seq):
        if entry.environment != environment or entry.kind not in _STATE_KINDS:
            continue
        if entry.service is not None:
            latest[entry.service] = entry
        elif entry.kind is EntryKind.ROLLBACK_STARTED:
            # A rollback of the whole environment resets every service's state.
            latest = dict.fromkeys(latest, entry)
    return latest
