"""Choosing the DynamoDB journal (config, environment) and what a user sees when its table,
bucket or permissions are not there: one line naming the resource and the fix."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from fleetpatch.cli.app import run
from fleetpatch.config import parse_config
from fleetpatch.config.journal import AnchorBucket, DynamoDbTable
from fleetpatch.errors import UserError
from fleetpatch.journal import EntryKind, NewEntry, open_journal
from fleetpatch.journal.aws_errors import explain_client_error, table_resource
from fleetpatch.journal.dynamodb import DynamoDbJournal
from tests.journal.aws_journal import BUCKET, REGION, TABLE, AwsJournalWorld
from tests.journal.journal_helpers import FakeClock

CONFIG = {
    "sidecars": [{"name": "fluent-bit", "repository": "fluent-bit"}],
    "environments": [{"name": "dev", "account_id": "111111111111", "region": REGION}],
}


def one_line_error(table: DynamoDbTable, clock: FakeClock) -> str:
    with pytest.raises(UserError) as info:
        open_journal(table, clock=clock)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_missing_table_is_one_line(aws_world: AwsJournalWorld, clock: FakeClock) -> None:
    message = one_line_error(DynamoDbTable("nope", AnchorBucket(BUCKET)), clock)
    assert message == (
        f"journal table nope not found in {REGION}: deploy deploy/template.yaml or fix `journal`"
    )


def test_a_bucket_without_object_lock_is_one_line(
    aws_world: AwsJournalWorld, clock: FakeClock
) -> None:
    aws_world.create_bucket("plain-anchors", object_lock=False)
    message = one_line_error(DynamoDbTable(TABLE, AnchorBucket("plain-anchors")), clock)
    assert message.startswith("journal anchor bucket plain-anchors has no Object Lock")
    assert "`journal_anchor`" in message


def test_a_missing_bucket_is_one_line(aws_world: AwsJournalWorld, clock: FakeClock) -> None:
    message = one_line_error(DynamoDbTable(TABLE, AnchorBucket("no-such-anchors")), clock)
    assert message == (
        "journal anchor bucket no-such-anchors not found: deploy deploy/template.yaml "
        "or fix `journal_anchor`"
    )


def test_a_table_with_other_keys_is_one_line(aws_world: AwsJournalWorld, clock: FakeClock) -> None:
    aws_world.dynamodb.create_table(
        TableName="other",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    message = one_line_error(DynamoDbTable("other", AnchorBucket(BUCKET)), clock)
    assert "not pk (partition) and sk (sort)" in message


def test_credentials_the_account_never_issued_are_one_line(
    aws_world: AwsJournalWorld, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE12")
    message = one_line_error(DynamoDbTable(TABLE, AnchorBucket(BUCKET)), clock)
    assert message.startswith(
        f"AWS refused the credentials used for the journal table {TABLE} in {REGION} "
        "(UnrecognizedClientException"
    )


def test_access_denied_names_the_action_resource_and_statement() -> None:
    # AWS's AccessDeniedException for a call the role's policy does not allow.
    arn = f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}"
    denied = ClientError(
        {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": "User: arn:aws:sts::123456789012:assumed-role/hub/x is not "
                f"authorized to perform: dynamodb:PutItem on resource: {arn} because no "
                "identity-based policy allows the dynamodb:PutItem action",
            }
        },
        "TransactWriteItems",
    )
    message = explain_client_error(table_resource(TABLE, REGION), denied)
    assert message == (
        f"not allowed dynamodb:PutItem on {arn}: add the JournalTable statement of "
        "`fleetpatch iam-policy` to the role fleetpatch runs as"
    )


def test_a_dynamodb_journal_needs_an_anchor(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.delenv("FLEETPATCH_JOURNAL_ANCHOR", raising=False)
    message = one_line_error(DynamoDbTable(TABLE), clock)
    assert "journal_anchor" in message and "FLEETPATCH_JOURNAL_ANCHOR" in message


def test_the_environment_chooses_the_dynamodb_journal(
    aws_world: AwsJournalWorld, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the SAM template configures the Lambda functions.
    monkeypatch.setenv("FLEETPATCH_JOURNAL", f"dynamodb://{TABLE}")
    monkeypatch.setenv("FLEETPATCH_JOURNAL_ANCHOR", f"s3://{BUCKET}/prod/")
    with open_journal(None, clock=clock) as journal:
        assert isinstance(journal, DynamoDbJournal)
        journal.append(NewEntry(kind=EntryKind.NOTE, environment="dev"))
    assert aws_world.anchor_keys()[0].startswith(f"prod/{TABLE}/head/")


def test_a_bad_environment_value_is_one_line(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setenv("FLEETPATCH_JOURNAL", f"dynamodb://{TABLE}")
    monkeypatch.setenv("FLEETPATCH_JOURNAL_ANCHOR", "fleetpatch-journal-anchors")
    message = one_line_error(DynamoDbTable(TABLE), clock)
    assert message.startswith("FLEETPATCH_JOURNAL_ANCHOR: expected 's3://")


def test_the_config_chooses_the_table_the_anchor_and_its_retention(
    aws_world: AwsJournalWorld, clock: FakeClock
) -> None:
    data = {
        **CONFIG,
        "journal": f"dynamodb://{TABLE}",
        "journal_anchor": f"s3://{BUCKET}/audit",
        "journal_anchor_retention_days": 30,
    }
    config = parse_config(data, Path("fleetpatch.toml"))
    assert config.journal == DynamoDbTable(TABLE, AnchorBucket(BUCKET, "audit/", 30))
    with open_journal(config.journal, clock=clock) as journal:
        journal.append(NewEntry(kind=EntryKind.NOTE, environment="dev"))
    key = aws_world.anchor_keys()[0]
    assert key.startswith(f"audit/{TABLE}/head/")
    retained = aws_world.s3.head_object(Bucket=BUCKET, Key=key)["ObjectLockRetainUntilDate"]
    assert retained == clock.now + timedelta(days=30)


def test_an_anchor_beside_a_file_journal_is_refused() -> None:
    data = {**CONFIG, "journal": "journal.sqlite", "journal_anchor": f"s3://{BUCKET}"}
    with pytest.raises(UserError, match="journal_anchor: anchors a DynamoDB journal"):
        parse_config(data, Path("fleetpatch.toml"))


def test_journal_verify_on_the_command_line_names_the_cut(
    aws_world: AwsJournalWorld,
    clock: FakeClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "fleetpatch.toml"
    path.write_text(
        f'journal = "dynamodb://{TABLE}"\njournal_anchor = "s3://{BUCKET}"\n\n'
        '[[sidecars]]\nname = "fluent-bit"\nrepository = "fluent-bit"\n\n'
        f'[[environments]]\nname = "dev"\naccount_id = "111111111111"\nregion = "{REGION}"\n'
    )
    with aws_world.open(clock) as journal:
        for _ in range(3):
            journal.append(NewEntry(kind=EntryKind.NOTE, environment="dev"))
        second = journal.entries()[1]
    verify = ["--config", str(path), "journal", "verify", "--json"]
    assert run(verify, now=lambda: clock.now) == 0
    assert json.loads(capsys.readouterr().out)["anchored_seq"] == 3

    aws_world.delete_entry(3)
    aws_world.set_head(2, second.hash)

    assert run(verify, now=lambda: clock.now) == 1
    answer = json.loads(capsys.readouterr().out)
    assert (answer["bad_seq"], answer["problem"]) == (3, "anchor_mismatch")
    assert "record 3 was deleted" in answer["reason"]
