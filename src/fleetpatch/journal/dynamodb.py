"""`DynamoDbJournal`: the journal, the environment locks and the approvals' state machines in
one DynamoDB table, with the chain's head anchored in an S3 Object Lock bucket.

    journal = "dynamodb://fleetpatch-journal"          # fleetpatch.toml (or FLEETPATCH_JOURNAL)
    journal_anchor = "s3://fleetpatch-journal-anchors"  # (or FLEETPATCH_JOURNAL_ANCHOR)

Why: on a Lambda or an ephemeral CI runner a local file is gone after the run, and two runners
can't see each other's lock. The table's layout is in dynamodb_items.py, the appends in
dynamodb_chain.py, the locks in dynamodb_lock.py and the anchors in anchor.py. The records,
their hashes and `verify`'s verdicts are exactly the SQLite store's (chain.py); `verify` also
checks the chain against the anchors, which nobody can delete or rewrite.

Opening checks, once: the table exists with keys pk/sk (DescribeTable), the bucket has Object
Lock (GetObjectLockConfiguration), and the newest anchor against the head: a head that links
to it but was never anchored (a writer crashed between its append and its anchor) is anchored
now; an anchor past the head means the table lost records, and appending is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from fleetpatch.config.journal import AnchorBucket, DynamoDbTable
from fleetpatch.errors import UserError
from fleetpatch.journal.anchor import ChainAnchors, check_against_anchors
from fleetpatch.journal.aws_errors import TEMPLATE, explained, table_resource
from fleetpatch.journal.chain import (
    Head,
    VerifyResult,
    format_timestamp,
    record_hash,
    record_to_entry,
    verify_records,
)
from fleetpatch.journal.dynamodb_chain import ChainWriter, ConditionFailed
from fleetpatch.journal.dynamodb_items import (
    ENTRY_PREFIX,
    JOURNAL_PK,
    STATE_PK,
    Item,
    attribute,
    entry_sk,
    item_to_record,
    key,
    plain,
)
from fleetpatch.journal.dynamodb_lock import DynamoDbLocks
from fleetpatch.journal.model import (
    GENESIS_HASH,
    Entry,
    EntryKind,
    JournalCorrupt,
    Lock,
    NewEntry,
)

_KEYS = {("pk", "HASH"), ("sk", "RANGE")}


class DynamoDbJournal:
    """A `JournalStore` in DynamoDB. Safe to share between threads, processes and hosts."""

    def __init__(
        self,
        dynamodb: Any,
        s3: Any,
        table: str,
        anchor: AnchorBucket,
        *,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = table
        self.anchor = anchor
        self._dynamodb = dynamodb
        self._resource = table_resource(table, dynamodb.meta.region_name)
        self.anchors = ChainAnchors(s3, anchor, table, clock)
        self._writer = ChainWriter(dynamodb, table, self._resource, self.anchors, clock, sleep)
        self._locks = DynamoDbLocks(self._writer)
        self._check_table()
        self.anchors.check_object_lock()
        self._catch_up_anchor()

    def __str__(self) -> str:
        return f"{DynamoDbTable(self.table)} (anchored in {self.anchor})"

    # --- lifecycle (botocore clients need no closing) --------------------------------------

    def close(self) -> None:
        return None

    def __enter__(self) -> DynamoDbJournal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- records ---------------------------------------------------------------------------

    def append(self, entry: NewEntry) -> Entry:
        return self._writer.commit(entry)

    def entries(
        self,
        environment: str | None = None,
        since: datetime | None = None,
        kind: str | None = None,
    ) -> list[Entry]:
        where: list[str] = []
        values: dict[str, Item] = {}
        names: dict[str, str] = {}
        if environment is not None:
            where.append("#env = :env")
            names["#env"], values[":env"] = "environment", attribute(environment)
        if since is not None:
            # Stored timestamps are fixed-width UTC strings: string order is time order.
            where.append("#ts >= :since")
            names["#ts"], values[":since"] = "timestamp", attribute(format_timestamp(since))
        if kind is not None:
            where.append("#kind = :kind")
            names["#kind"], values[":kind"] = "kind", attribute(_parse_kind(kind).value)
        filters: dict[str, Any] = {}
        if where:
            filters = {
                "FilterExpression": " AND ".join(where),
                "ExpressionAttributeNames": names,
            }
        return [self._parse(item) for item in self._query(filters, values)]

    def verify(self) -> VerifyResult:
        # Read the head before the records and the anchors, and again after: what concurrent
        # writers appended and anchored meanwhile (past the first head, up to the last) is not
        # part of this snapshot. Anything else past the head was added behind the journal's
        # back, and an anchor past it means records were deleted.
        before = self._writer.head()
        records = [item_to_record(item) for item in self._query({}, {})]
        anchors = self.anchors.all()
        after = self._writer.head()
        low, high = (before[0] if before else 0), (after[0] if after else 0)
        records = [r for r in records if not _between(r["seq"], low, high)]
        anchors = [a for a in anchors if not _between(a.seq, low, high)]
        result = verify_records(records, Head(*before) if before is not None else None)
        if not result.ok:
            return result
        hashes = {r["seq"]: r["hash"] for r in records}
        return check_against_anchors(result, hashes, anchors, self.anchors.where)

    # --- state machines --------------------------------------------------------------------

    def transition(
        self, key_: str, expected: Collection[str], state: str, entry: NewEntry
    ) -> Entry | None:
        wanted = sorted(set(expected))
        if not wanted:
            return None
        clauses = ["attribute_not_exists(pk)"] if "" in wanted else []
        values = {f":s{i}": attribute(s) for i, s in enumerate(w for w in wanted if w)}
        if values:
            clauses.append(f"#state IN ({', '.join(values)})")
        condition: dict[str, Any] = {"ConditionExpression": " OR ".join(clauses)}
        if values:
            condition["ExpressionAttributeNames"] = {"#state": "state"}
            condition["ExpressionAttributeValues"] = values

        def put_state(appended: Entry) -> list[Item]:
            item = {
                **key(STATE_PK, key_),
                "state": attribute(state),
                "seq": attribute(appended.seq),
            }
            return [{"Put": {"TableName": self.table, "Item": item, **condition}}]

        try:
            return self._writer.commit(entry, put_state)
        except ConditionFailed:
            return None  # not in an expected state (another caller won): nothing appended

    def state(self, key_: str) -> str:
        item = self._writer.get(STATE_PK, key_)
        return str(plain(item.get("state"))) if item is not None else ""

    # --- locks -----------------------------------------------------------------------------

    def acquire_lock(
        self, environment: str, owner: str, ttl: timedelta, *, take_over: str | None = None
    ) -> Lock:
        return self._locks.acquire(environment, owner, ttl, take_over=take_over)

    def release_lock(self, lock: Lock) -> None:
        self._locks.release(lock)

    def refresh_lock(self, lock: Lock) -> Lock:
        return self._locks.refresh(lock)

    # --- internals -------------------------------------------------------------------------

    def _check_table(self) -> None:
        with explained(self._resource):
            table = self._dynamodb.describe_table(TableName=self.table)["Table"]
        keys = {(k["AttributeName"], k["KeyType"]) for k in table.get("KeySchema", [])}
        if keys != _KEYS:
            raise UserError(
                f"{self._resource.description} has keys {sorted(keys)}, not pk (partition) "
                f"and sk (sort): create it from {TEMPLATE} or fix `journal`"
            )

    def _query(
        self,
        filters: dict[str, Any],
        values: dict[str, Item],
        between: tuple[int, int] | None = None,
    ) -> list[Item]:
        """The records in seq order (all, or seqs `between` first and last), filtered."""
        if between is None:
            condition = "pk = :pk AND begins_with(sk, :first)"
            bounds = {":first": attribute(ENTRY_PREFIX)}
        else:
            condition = "pk = :pk AND sk BETWEEN :first AND :last"
            bounds = {
                ":first": attribute(entry_sk(between[0])),
                ":last": attribute(entry_sk(between[1])),
            }
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":pk": attribute(JOURNAL_PK), **bounds, **values},
            "ConsistentRead": True,
            **filters,
        }
        items: list[Item] = []
        with explained(self._resource):
            while True:
                answer = self._dynamodb.query(**request)
                items.extend(answer.get("Items", []))
                if "LastEvaluatedKey" not in answer:
                    return items
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _catch_up_anchor(self) -> None:
        head = self._writer.head()
        newest = self.anchors.newest()
        anchored = newest.seq if newest is not None else 0
        ends = head[0] if head is not None else 0
        if ends < anchored:
            self._writer.refusal = (
                f"journal table {self.table} ends at seq {ends} but its anchor says seq "
                f"{anchored}: records were deleted; run `fleetpatch journal verify` and keep "
                "the table as evidence"
            )
            return
        if head is None or ends == anchored:
            return
        # Anchor the head only if the records since the newest anchor link to it, else
        # `verify` reports them: never vouch for records nobody has checked.
        records = [item_to_record(i) for i in self._query({}, {}, (max(anchored, 1), ends))]
        if _links(records, newest.hash if newest is not None else None, max(anchored, 1), head):
            self.anchors.write(*head)

    def _parse(self, item: Item) -> Entry:
        record = item_to_record(item)
        try:
            return record_to_entry(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise JournalCorrupt(
                f"journal table {self.table}: record {record['seq']} is unreadable ({exc}); "
                "run `fleetpatch journal verify`"
            ) from exc


def _links(
    records: list[dict[str, Any]], anchored: str | None, first: int, head: tuple[int, str]
) -> bool:
    """Records `first`..head, each intact and linked to the one before; the first one is the
    anchored record itself (or, with no anchor yet, the chain's first record)."""
    previous = GENESIS_HASH
    for offset, record in enumerate(records):
        try:
            intact = record["seq"] == first + offset and record_hash(record) == record["hash"]
        except (TypeError, ValueError):
            intact = False
        if offset == 0 and anchored is not None:
            intact = intact and record["hash"] == anchored
        elif intact:
            intact = record["prev_hash"] == previous
        if not intact:
            return False
        previous = record["hash"]
    return len(records) == head[0] - first + 1 and previous == head[1]


def _between(seq: Any, low: int, high: int) -> bool:
    return isinstance(seq, int) and low < seq <= high


def _parse_kind(kind: str) -> EntryKind:
    try:
        return EntryKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in EntryKind)
        raise UserError(f"unknown journal entry kind '{kind}'; use one of: {known}") from None


def connect(table: DynamoDbTable, *, clock: Callable[[], datetime]) -> DynamoDbJournal:
    """The journal in `table`, reached with the standard AWS credential chain and Region (on
    Lambda: the function's role and Region; AWS_ENDPOINT_URL points it at the simulator)."""
    if table.anchor is None:
        raise UserError(f"journal {table} needs `journal_anchor` (an S3 Object Lock bucket)")
    dynamodb, s3 = journal_clients(table)
    return DynamoDbJournal(dynamodb, s3, table.name, table.anchor, clock=clock)


def journal_clients(table: DynamoDbTable) -> tuple[Any, Any]:
    """DynamoDB and S3 clients for the journal's table and anchor bucket."""
    import boto3

    from fleetpatch.aws.session import client_config

    session = boto3.Session()
    if session.region_name is None:
        raise UserError(
            f"no AWS region for the journal table {table.name}: set AWS_REGION "
            "(or region in the AWS profile)"
        )
    resource = table_resource(table.name, session.region_name)
    with explained(resource):
        dynamodb = session.client("dynamodb", config=client_config())
        s3 = session.client("s3", config=client_config())
    return dynamodb, s3
