"""`fleetpatch inventory --csv`: one row per environment x service x sidecar x running digest,
every digest in full, for spreadsheets and scripts (the header row names the columns)."""

from __future__ import annotations

import csv
import sys
from datetime import datetime

from fleetpatch.core.snapshot import ServiceSnapshot, SidecarRun, Snapshot
from fleetpatch.core.times import iso_z


def selected_runs(service: ServiceSnapshot, sidecar: str | None) -> tuple[SidecarRun, ...]:
    """The service's sidecar runs, only those of `sidecar` when one is named."""
    return tuple(run for run in service.sidecars if sidecar is None or run.name == sidecar)


def write_csv(snapshot: Snapshot, sidecar: str | None, all_services: bool) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(
        [
            "environment",
            "account",
            "region",
            "cluster",
            "service",
            "task_definition",
            "deployment",
            "sidecar",
            "container",
            "image",
            "reference",
            "digest",
            "tasks",
            "tags",
            "pushed_at",
            "tag_digest",
            "drift",
            "resolvable",
            "reason",
        ]
    )
    for env in snapshot.environments:
        for service in env.services:
            head = [
                env.name,
                env.account,
                env.region,
                service.cluster,
                service.service,
                service.task_definition,
                service.deployment or "",
            ]
            runs = selected_runs(service, sidecar)
            if not runs and all_services:
                writer.writerow(head + [""] * 12)
            for run in runs:
                for digest, tasks, tags, pushed in _csv_digests(run):
                    writer.writerow(
                        [
                            *head,
                            run.name,
                            run.container,
                            run.image,
                            run.reference,
                            digest,
                            tasks,
                            tags,
                            pushed,
                            run.tag_digest or "",
                            str(run.drift).lower(),
                            str(run.resolvable).lower(),
                            run.reason or "",
                        ]
                    )
    sys.stdout.flush()


def _csv_digests(run: SidecarRun) -> list[tuple[str, int, str, str]]:
    if not run.running:
        return [("", 0, "", "")]
    return [(c.digest, c.tasks, " ".join(c.tags), iso_utc(c.pushed_at)) for c in run.running]


def iso_utc(moment: datetime | None) -> str:
    return iso_z(moment) if moment else ""
