"""Inventory past one account and one process: the steps of the inventory state machine
(inventory.asl.json), a Step Functions Map over (account, Region) shards.

    shards(config)                 -> [{"account", "region", "environments": [...]}, ...]
    steps.shards({"run_id"})       -> {"run_id", "shards": ["111111111111/eu-west-1", ...]}
    steps.inventory_shard({"run_id", "shard"}) -> {"key", "services", "errors"} (its snapshot in S3)
    steps.merge({"run_id"})        -> where the merged inventory is, and what could not be read

A shard is one account in one Region: every configured environment there (usually one). AWS's
ECS and ECR rate limits are token buckets per account and Region, so shards never share a
bucket and run side by side at full speed; each runs the CLI's own inventory
(`fleetpatch.inventory.collect`) for its environments, assuming their roles as the CLI does,
and writes its snapshot whole (core/snapshot_record.py) to S3 under the run id
(workflow/snapshots.py). The Map's payloads carry only shards and keys.

A shard whose account cannot be read (AccessDenied, a role that cannot be assumed, throttled
past every retry) does not fail the Map: its snapshot records the error in one line in AWS's
words, as `fleetpatch inventory` reports an environment it could not read, and the merge
lists it per shard. The merge writes two objects: the merged snapshot record (every field,
readable back with `snapshot_from_record`) and the inventory as `fleetpatch inventory --json`
prints it (docs/json.md).

`handler` is the Lambda handler (`fleetpatch.workflow.inventory.handler`), dispatching on
{"step": "shards" | "inventory_shard" | "merge", ...}; `make_handler(...)` builds one with
other parts (tests, the bench).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleetpatch.config import Config, load_config
from fleetpatch.core.snapshot import EnvironmentSnapshot, Snapshot
from fleetpatch.core.snapshot_record import snapshot_from_record, snapshot_record
from fleetpatch.errors import UserError
from fleetpatch.inventory.collect import collect
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.workflow.snapshots import SnapshotStore, TransientStoreError, store_from_environment
from fleetpatch.workflow.steps import TransientStepError

Handler = Callable[[Any, Any], Any]
# Step Functions execution names: 1-80 of these. The run id names S3 keys, so nothing else.
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
PREFIX = "inventory"
# The merge's answer is the execution's output (256 KiB at most): past this many failed
# environments it names the first ones and counts the rest (all are in the merged objects).
MAX_FAILED_LISTED = 50
# Shard snapshots the merge reads at once (S3 GetObject is not what binds).
MERGE_READERS = 16


def shards(config: Config) -> list[dict[str, Any]]:
    """One shard per (account, Region) the config names, in the config's order; each lists
    the configured environments there."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for env in config.environments:
        grouped.setdefault((env.account_id, env.region), []).append(env.name)
    return [
        {"account": account, "region": region, "environments": names}
        for (account, region), names in grouped.items()
    ]


def shard_key(run_id: str, account: str, region: str) -> str:
    return f"{PREFIX}/{run_id}/shards/{account}-{region}.json"


def merged_keys(run_id: str) -> tuple[str, str]:
    """(the merged snapshot record, the `inventory --json` document)."""
    return f"{PREFIX}/{run_id}/snapshot.json", f"{PREFIX}/{run_id}/inventory.json"


@dataclass
class InventorySteps:
    config: Config
    store: SnapshotStore
    now: Callable[[], datetime] = utc_now

    def shards(self, event: dict[str, Any]) -> dict[str, Any]:
        """The Map's items: "account/Region", 26 bytes a shard (its environments are the
        config's, looked up again by the shard step), so that the 3,500 shards an inline
        Map's 25,000 history events hold are 90 KiB of the 256 KiB a state's input may be
        (docs/scale.md)."""
        items = [f"{s['account']}/{s['region']}" for s in shards(self.config)]
        return {"run_id": _run_id(event), "shards": items}

    def inventory_shard(self, event: dict[str, Any]) -> dict[str, Any]:
        """Read one shard's environments and write their snapshot; answer its key."""
        run_id = _run_id(event)
        account, region = _shard(event)
        names = self._environments(account, region)
        snapshot = collect(self.config, names, clock=self.now)
        key = shard_key(run_id, account, region)
        self._put(key, snapshot_record(snapshot))
        return {
            "key": key,
            "services": sum(len(env.services) for env in snapshot.environments),
            "errors": len(snapshot.failed),
        }

    def merge(self, event: dict[str, Any]) -> dict[str, Any]:
        """Every shard's snapshot as one, in the config's order of environments; a shard
        with no snapshot (its iteration never finished) is reported per environment."""
        run_id = _run_id(event)
        every = shards(self.config)
        with ThreadPoolExecutor(MERGE_READERS, thread_name_prefix="fp-merge") as pool:
            read = list(pool.map(lambda shard: self._read_shard(run_id, shard), every))
        snapshot = _merged(self.config, read, self.now)
        record_key, json_key = merged_keys(run_id)
        self._put(record_key, snapshot_record(snapshot))
        self._put(json_key, snapshot.to_json())
        failed = [
            {"environment": e.name, "account": e.account, "region": e.region, "error": e.error}
            for e in snapshot.failed
        ]
        return {
            "run_id": run_id,
            "snapshot": self.store.url(record_key),
            "inventory": self.store.url(json_key),
            "shards": len(every),
            "environments": len(snapshot.environments),
            "services": sum(len(env.services) for env in snapshot.environments),
            "api_calls": snapshot.api_calls,
            "failed": failed[:MAX_FAILED_LISTED],
            "failed_count": len(failed),
        }

    # --- parts ---------------------------------------------------------------------------------

    def _environments(self, account: str, region: str) -> list[str]:
        for shard in shards(self.config):
            if (shard["account"], shard["region"]) == (account, region):
                return list(shard["environments"])
        raise UserError(
            f"no configured environment is in account {account} Region {region}: this shard "
            "comes from another config; start a new inventory execution"
        )

    def _read_shard(self, run_id: str, shard: dict[str, Any]) -> Snapshot | EnvironmentsMissing:
        key = shard_key(run_id, shard["account"], shard["region"])
        try:
            data = self.store.get(key)
        except TransientStoreError as exc:
            raise TransientStepError(str(exc)) from exc
        if data is None:
            return EnvironmentsMissing(tuple(shard["environments"]), self.store.url(key))
        return snapshot_from_record(data)

    def _put(self, key: str, data: dict[str, Any]) -> None:
        try:
            self.store.put(key, data)
        except TransientStoreError as exc:
            raise TransientStepError(str(exc)) from exc


@dataclass(frozen=True)
class EnvironmentsMissing:
    """A shard whose snapshot is not in the bucket: its environments were not read."""

    names: tuple[str, ...]
    url: str


def _merged(
    config: Config, read: list[Snapshot | EnvironmentsMissing], now: Callable[[], datetime]
) -> Snapshot:
    by_name: dict[str, EnvironmentSnapshot] = {}
    snapshots = [part for part in read if isinstance(part, Snapshot)]
    for snapshot in snapshots:
        by_name.update((env.name, env) for env in snapshot.environments)
    for missing in read:
        if isinstance(missing, EnvironmentsMissing):
            error = f"not read: no shard snapshot at {missing.url} (its Map iteration failed)"
            for name in missing.names:
                env = config.environment(name)
                by_name[name] = EnvironmentSnapshot(name, env.account_id, env.region, error=error)
    environments = tuple(by_name[env.name] for env in config.environments if env.name in by_name)
    taken = [snapshot.taken_at for snapshot in snapshots]
    return Snapshot(
        environments=environments,
        api_calls=sum(snapshot.api_calls for snapshot in snapshots),
        # When the run began reading: its earliest shard (each took its own moment).
        taken_at=min(taken) if taken else now(),
        sidecar_names=tuple(s.name for s in config.sidecars),
    )


def _run_id(event: dict[str, Any]) -> str:
    run_id = event.get("run_id")
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise UserError(
            f"the inventory step's run_id must be 1-80 of [A-Za-z0-9_-] (an execution name), "
            f"not {run_id!r}"
        )
    return run_id


def _shard(event: dict[str, Any]) -> tuple[str, str]:
    shard = event.get("shard")
    account, _, region = shard.partition("/") if isinstance(shard, str) else ("", "", "")
    if not account or not region:
        raise UserError(
            f"the inventory_shard step needs a shard 'account/Region' (a `shards` item): {shard!r}"
        )
    return account, region


STEPS: dict[str, Callable[[InventorySteps, dict[str, Any]], dict[str, Any]]] = {
    "shards": InventorySteps.shards,
    "inventory_shard": InventorySteps.inventory_shard,
    "merge": InventorySteps.merge,
}


def make_handler(
    *,
    now: Callable[[], datetime] = utc_now,
    config: Callable[[], Config] = load_config,
    store: Callable[[], SnapshotStore] = store_from_environment,
) -> Handler:
    def handle(event: Any, context: Any) -> Any:
        step = event.get("step") if isinstance(event, dict) else None
        run = STEPS.get(step) if isinstance(step, str) else None
        if run is None:
            raise UserError(f"not a fleetpatch inventory step: {step!r}")
        return run(InventorySteps(config(), store(), now), event)

    return handle


handler = make_handler()
