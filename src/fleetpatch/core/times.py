"""How fleetpatch writes a moment for machines: ISO 8601 in UTC with a `Z`, as AWS does."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_z(moment: datetime) -> str:
    """`2026-12-02T09:00:00Z` (microseconds kept when present); naive times are UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
