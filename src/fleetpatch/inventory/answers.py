"""Answers AWS never changes, kept on disk so that reading an unchanged fleet again costs only
what changed (a warm inventory).

    answers = SqliteAnswerCache(answer_cache_path(journal_path))
    snapshot = collect(config, answers=answers)

Two kinds of answer qualify, both named by an ARN that AWS never reuses:

- a task definition revision: registered once, never edited (`family:revision` numbers are
  never given out again, even after deregistration) - the container names and images;
- a service revision: ECS's immutable record of what a deployment deploys - its
  `containerImages`, kept only once every image has its digest resolved.

Everything that can change (services, tasks, tags) is read every time. The file sits beside
the journal (`cache.sqlite`); deleting it is always safe, the next read is cold. With the
journal in DynamoDB the answers are kept in its table (inventory/dynamodb_answers.py).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from fleetpatch.errors import UserError

TASK_DEFINITION = "task_definition"
SERVICE_REVISION = "service_revision"

ANSWER_CACHE_FILE = "cache.sqlite"


class AnswerCache(Protocol):
    """Immutable AWS answers by kind and ARN (JSON-serialisable values)."""

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Any]:
        """The cached answers among `keys` (missing keys are left out)."""
        ...

    def put_many(self, kind: str, answers: Mapping[str, Any]) -> None: ...


class NoAnswerCache:
    """Every read is cold (library callers and tests that don't ask for a cache)."""

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Any]:
        return {}

    def put_many(self, kind: str, answers: Mapping[str, Any]) -> None:
        return None


def answer_cache_path(journal_path: Path) -> Path:
    return journal_path.with_name(ANSWER_CACHE_FILE)


class SqliteAnswerCache:
    """AnswerCache in one SQLite file, shared by the threads of one command."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers ("
                " kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
                " PRIMARY KEY (kind, key))"
            )
        except sqlite3.Error as exc:
            raise UserError(
                f"answer cache {path} can't be used ({exc}): delete it; the next read rebuilds it"
            ) from exc

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            # SQLite's default limit of bound parameters is 999: ask in slices.
            for start in range(0, len(unique), 500):
                part = unique[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT key, value FROM answers WHERE kind = ? AND key IN ({marks})",
                    [kind, *part],
                ).fetchall()
                found.update((key, json.loads(value)) for key, value in rows)
        return found

    def put_many(self, kind: str, answers: Mapping[str, Any]) -> None:
        if not answers:
            return
        rows = [(kind, key, json.dumps(value)) for key, value in answers.items()]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteAnswerCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
