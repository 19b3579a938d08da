"""Properties: any sequence of appends verifies; any single-field edit of any record is caught."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetpatch.journal import EntryKind, NewEntry, SqliteJournal
from fleetpatch.journal.chain import RECORD_FIELDS, canonical_json, entry_to_record
from tests.journal.journal_helpers import tamper

NULLABLE = {
    "service",
    "sidecar",
    "digest_before",
    "digest_after",
    "target_digest",
    "deployment_id",
    "rollout_id",
}

names = st.text(min_size=1, max_size=12)
optional = st.none() | names
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
new_entries = st.builds(
    NewEntry,
    kind=st.sampled_from(EntryKind),
    environment=names,
    actor=names,
    service=optional,
    sidecar=optional,
    digest_before=optional,
    digest_after=optional,
    target_digest=optional,
    deployment_id=optional,
    rollout_id=optional,
    details=st.dictionaries(st.text(max_size=5), json_values, max_size=3),
)

fast = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fresh_journal(directory: str) -> SqliteJournal:
    return SqliteJournal(Path(directory) / "journal.sqlite")


@fast
@given(st.lists(new_entries, max_size=8))
def test_any_sequence_of_appends_verifies(batch: list[NewEntry]) -> None:
    with tempfile.TemporaryDirectory() as directory, fresh_journal(directory) as journal:
        appended = [journal.append(entry) for entry in batch]
        assert journal.entries() == appended
        result = journal.verify()
        assert result.ok, result.reason
        assert result.checked == len(batch)


def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


@fast
@given(st.lists(new_entries, min_size=1, max_size=6), st.data())
def test_any_single_field_edit_is_detected(batch: list[NewEntry], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as directory, fresh_journal(directory) as journal:
        records = [entry_to_record(journal.append(entry)) for entry in batch]
        target = data.draw(st.sampled_from(records), label="record")
        column = data.draw(st.sampled_from(RECORD_FIELDS), label="column")
        old = canonical_json(target[column]) if column == "details" else target[column]
        if column == "seq":
            seqs = {r["seq"] for r in records}
            new: Any = data.draw(st.integers(-50, 50).filter(lambda s: s not in seqs))
        else:
            # SQL text literals hold neither NUL nor lone surrogates (not encodable as UTF-8).
            text = st.text(
                st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=20
            )
            candidates = (st.none() | text) if column in NULLABLE else text
            new = data.draw(candidates.filter(lambda v: v != old), label="new value")
        tamper(
            journal.path,
            f"UPDATE entries SET {column} = {sql_literal(new)} WHERE seq = {target['seq']}",
        )
        result = journal.verify()
        assert not result.ok
        if column != "seq":
            assert result.bad_seq == target["seq"], result.reason
