"""The rollout engine's questions: what is verified, what is in flight, what ran before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fleetpatch.journal import (
    Entry,
    EntryKind,
    previous_digest,
    started_deployments,
    verified_services,
)

OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64
OTHER = "sha256:" + "c" * 64


def history(*records: tuple[str, dict[str, Any]]) -> list[Entry]:
    """Entries from (kind, fields) pairs; seq in order. Hashes don't matter to queries."""
    return [
        Entry(
            seq=i,
            timestamp=datetime(2026, 11, 27, tzinfo=UTC),
            kind=EntryKind(kind),
            actor="alice",
            prev_hash="",
            hash="",
            **{"environment": "dev", **fields},
        )
        for i, (kind, fields) in enumerate(records, start=1)
    ]


def deploy(service: str, kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    base = {"service": service, "target_digest": NEW, "digest_before": OLD, "rollout_id": "r1"}
    return kind, {**base, **fields}


def test_verified_services_are_those_verified_on_the_target() -> None:
    entries = history(
        deploy("api", "deployment_started", deployment_id="d-api"),
        deploy("api", "verified", digest_after=NEW),
        deploy("web", "deployment_started", deployment_id="d-web"),
        deploy("worker", "verified", target_digest=OTHER),
        deploy("api", "verified", environment="prod"),
    )
    assert verified_services(entries, "dev", NEW) == {"api"}
    assert verified_services(entries, "prod", NEW) == {"api"}
    assert verified_services(entries, "dev", OTHER) == {"worker"}


def test_a_rollback_after_verification_unverifies() -> None:
    entries = history(
        deploy("api", "verified"),
        deploy("web", "verified"),
        ("rollback_started", {"rollout_id": "r2", "target_digest": OLD}),
        deploy("web", "verified", target_digest=OLD, rollout_id="r2"),
    )
    assert verified_services(entries, "dev", NEW) == set()
    assert verified_services(entries, "dev", OLD) == {"web"}


def test_started_deployments_are_in_flight_until_verified_or_failed() -> None:
    entries = history(
        deploy("api", "deployment_started", deployment_id="d-api"),
        deploy("api", "verified"),
        deploy("web", "deployment_started", deployment_id="d-web"),
        deploy("web", "deployment_completed"),  # no id here: the start's id is kept
        deploy("worker", "deployment_started", deployment_id="d-worker"),
        deploy("worker", "failed"),
        deploy("batch", "deployment_started", deployment_id="d-batch"),
        deploy("cron", "deployment_started", deployment_id="d-cron", target_digest=OTHER),
    )
    assert started_deployments(entries, "dev", NEW) == {"web": "d-web", "batch": "d-batch"}
    assert started_deployments(entries, "prod", NEW) == {}


def test_previous_digest_of_a_service_and_of_the_environment() -> None:
    entries = history(
        deploy(
            "api", "deployment_started", digest_before=OTHER, target_digest=OLD, rollout_id="r0"
        ),
        deploy("api", "deployment_started"),
        deploy("web", "deployment_started"),
        deploy("batch", "deployment_started", digest_before=OTHER),  # a straggler
        # The rollback's own deployments don't count as "the last rollout".
        ("rollback_started", {"rollout_id": "r9"}),
        deploy("api", "deployment_started", digest_before=NEW, target_digest=OLD, rollout_id="r9"),
    )
    assert previous_digest(entries, "dev", "api") == OLD
    assert previous_digest(entries, "dev", "batch") == OTHER
    assert previous_digest(entries, "dev", None) == OLD  # the most common one of run r1
    assert previous_digest(entries, "prod", None) is None
    assert previous_digest(entries, "dev", "unknown") is None
