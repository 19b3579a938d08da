"""The talk's scenario after dev was patched: ECS really redeployed (the simulator at time
scale 0, advanced by hand, so every time is fixed), and the journal written as the rollout
engine writes it, with an approval. Everything after is deterministic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from fleetpatch.config import Config, load_config
from fleetpatch.journal import EntryKind, NewEntry, SqliteJournal
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from tests.inventory.helpers import render_config

CLUSTER = "card-platform"
ROLLOUT_ID = "r-talk0001"


@dataclass(frozen=True)
class PatchedDev:
    sim: Simulator
    config: Config
    config_path: Path
    today: date
    d3: str  # fluent-bit 3.0.3, CVE-2024-4323
    d4: str  # fluent-bit 3.0.4, the fix
    services: tuple[str, ...]


def config_with_journal(sim: Simulator, tmp: Path) -> Path:
    path = render_config(sim, tmp / "fleetpatch.toml")
    path.write_text(f'journal = "{tmp / "journal.sqlite"}"\n\n' + path.read_text(), "utf-8")
    return path


def digests(sim: Simulator, environment: str = "dev") -> dict[str, str]:
    """version -> digest of the fluent-bit images."""
    ecr = client(sim, "ecr", environment)
    images = ecr.describe_images(repositoryName="fluent-bit")["imageDetails"]
    return {
        tag.split("-")[0]: image["imageDigest"]
        for image in images
        for tag in image.get("imageTags", [])
        if tag != "latest"
    }


def patch_dev(sim: Simulator, tmp: Path) -> PatchedDev:
    """Redeploy dev's 12 services onto `latest` (3.0.4) and journal it as alice, approved by bob."""
    path = config_with_journal(sim, tmp)
    config = load_config(path)
    by_version = digests(sim)
    d3, d4 = by_version["3.0.3"], by_version["3.0.4"]
    ecs = client(sim, "ecs", "dev")
    pages = ecs.get_paginator("list_services").paginate(cluster=CLUSTER)
    arns = [arn for page in pages for arn in page["serviceArns"]]
    names = tuple(sorted(arn.rsplit("/", 1)[1] for arn in arns))

    started = sim.clock.now()
    clock = [started]
    assert config.journal is not None
    with SqliteJournal(config.journal, clock=lambda: clock[0]) as journal:
        common = {"environment": "dev", "sidecar": "fluent-bit", "rollout_id": ROLLOUT_ID}
        journal.append(NewEntry(kind=EntryKind.PLAN, actor="alice", target_digest=d4, **common))
        journal.append(NewEntry(kind=EntryKind.APPROVAL, actor="bob", target_digest=d4, **common))
        for name in names:
            ecs.update_service(cluster=CLUSTER, service=name, forceNewDeployment=True)
            journal.append(
                NewEntry(
                    kind=EntryKind.DEPLOYMENT_STARTED,
                    actor="alice",
                    service=f"{CLUSTER}/{name}",
                    digest_before=d3,
                    target_digest=d4,
                    deployment_id=f"ecs-svc/{name}",
                    **common,
                )
            )
        sim.advance(600)
        clock[0] = started + timedelta(seconds=600)
        for name in names:
            journal.append(
                NewEntry(
                    kind=EntryKind.VERIFIED,
                    actor="alice",
                    service=f"{CLUSTER}/{name}",
                    digest_before=d3,
                    digest_after=d4,
                    target_digest=d4,
                    deployment_id=f"ecs-svc/{name}",
                    details={"wave": 1, "tasks": 2},
                    **common,
                )
            )
    return PatchedDev(sim, config, path, sim.clock.now().date(), d3, d4, names)
