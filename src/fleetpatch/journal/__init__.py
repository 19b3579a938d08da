"""The journal: an append-only, hash-chained record of every fleetpatch action.

See docs/journal.md for what is recorded and how `verify` works.

Rendering (Rich) lives in `fleetpatch.journal.render` and is not imported here.
"""

from fleetpatch.journal.chain import Problem, VerifyResult
from fleetpatch.journal.location import JOURNAL_ENV_VAR, default_journal_path, open_journal
from fleetpatch.journal.model import (
    GENESIS_HASH,
    Entry,
    EntryKind,
    JournalCorrupt,
    Lock,
    LockHeld,
    LockLost,
    NewEntry,
    current_user,
    default_lock_owner,
)
from fleetpatch.journal.queries import (
    failed_services,
    previous_digest,
    started_deployments,
    verified_services,
)
from fleetpatch.journal.sqlite import SqliteJournal
from fleetpatch.journal.store import JournalStore

__all__ = [
    "GENESIS_HASH",
    "JOURNAL_ENV_VAR",
    "Entry",
    "EntryKind",
    "JournalCorrupt",
    "JournalStore",
    "Lock",
    "LockHeld",
    "LockLost",
    "NewEntry",
    "Problem",
    "SqliteJournal",
    "VerifyResult",
    "current_user",
    "default_journal_path",
    "default_lock_owner",
    "failed_services",
    "open_journal",
    "previous_digest",
    "started_deployments",
    "verified_services",
]
