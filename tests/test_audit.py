"""The hash-chained audit log and `safeguard audit verify`."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from engine.audit import GENESIS, AuditLog, AuditLogError, parse_head, record_hash, resolve_actor, verify_audit_log
from engine.cli.audit import audit
from engine.errors import UserError

SCHEMA = Path(__file__).resolve().parents[1] / "schema" / "audit-record.schema.json"

RUN = {
    "run_id": "run-20261201T100000Z-abc123",
    "operation": "apply",
    "tenant": {"id": "7d1f3c2a-4b5e-4c6d-8e9f-0a1b2c3d4e5f", "provider": "m365", "domain": "apply.example", "name": "apply-m365"},
    "plan_digest": "sha256:" + "1" * 64,
}


def fixed_clock() -> datetime:
    return datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def write_log(path: Path, count: int = 5) -> list[dict]:
    """Write a log of a start record, attempt/outcome pairs and a finish record; return the records."""
    with AuditLog(path, actor="tester", clock=fixed_clock) as log:
        log.record("apply.start", actions=2, **RUN)
        for index in range(count - 2):
            kind = "attempt" if index % 2 == 0 else "outcome"
            log.record(f"apply.{kind}", action_id=f"act-{index}", action="m365.disable_user", result="pending" if kind == "attempt" else "done", **RUN)
        log.record("apply.finish", result="finished", counts={"done": 1}, **RUN)

    return read(path)


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, records: list) -> None:
    path.write_text("".join((record if isinstance(record, str) else json.dumps(record, sort_keys=True, separators=(",", ":"))) + "\n" for record in records), encoding="utf-8")


def verify_cli(path: Path, *options: str):
    return CliRunner().invoke(audit, ["verify", str(path), *options])


# Writing.


def test_records_chain_from_genesis(tmp_path):
    """The first record links to the genesis hash and each later one to the hash before it."""
    records = write_log(tmp_path / "audit.jsonl")

    assert GENESIS == records[0]["prev"]
    assert [record["hash"] for record in records[:-1]] == [record["prev"] for record in records[1:]]
    assert [1, 2, 3, 4, 5] == [record["seq"] for record in records]


def test_record_hash_covers_content(tmp_path):
    """Each record's hash is the SHA-256 of its content without the hash field."""
    records = write_log(tmp_path / "audit.jsonl")

    assert [record["hash"] for record in records] == [record_hash(record) for record in records]


def test_records_match_schema(tmp_path):
    """Every record written is valid against schema/audit-record.schema.json."""
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))

    records = write_log(tmp_path / "audit.jsonl")

    assert [[] for _ in records] == [[error.message for error in validator.iter_errors(record)] for record in records]


def test_record_fields(tmp_path):
    """A record carries the event, actor, time, run, tenant and plan digest."""
    record = write_log(tmp_path / "audit.jsonl")[1]

    assert "apply.attempt" == record["event"]
    assert "tester" == record["actor"]
    assert "2026-12-01T10:00:00.000Z" == record["time"]
    assert RUN["run_id"] == record["run_id"]
    assert RUN["tenant"] == record["tenant"]
    assert RUN["plan_digest"] == record["plan_digest"]


def test_secrets_redacted(tmp_path):
    """Secret-looking fields and bearer tokens never reach the file."""
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, actor="tester", clock=fixed_clock) as log:
        log.record("apply.outcome", error="HTTP 401: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl rejected", client_secret="s3cret-value", **RUN)
    text = path.read_text(encoding="utf-8")
    record = read(path)[0]

    assert "s3cret-value" not in text
    assert "eyJhbGciOiJSUzI1NiJ9" not in text
    assert "[redacted]" == record["client_secret"]
    assert "HTTP 401: Bearer [redacted] rejected" == record["error"]
    assert verify_audit_log(path).valid


def test_append_continues_chain(tmp_path):
    """A second writer continues the sequence and the chain of the existing file."""
    path = tmp_path / "audit.jsonl"
    first = write_log(path, 3)

    with AuditLog(path, actor="tester", clock=fixed_clock) as log:
        log.record("apply.start", actions=0, **RUN)
        head = log.head
    records = read(path)

    assert 4 == records[3]["seq"]
    assert first[-1]["hash"] == records[3]["prev"]
    assert records[3]["hash"] == head


def test_append_to_tampered_log_refused(tmp_path):
    """A writer refuses to extend a log that fails verification."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    records[1]["result"] = "done"
    write_lines(path, records)

    with pytest.raises(AuditLogError) as caught:
        AuditLog(path, actor="tester")

    assert "the audit log fails verification (line 2 (record " in str(caught.value)
    assert "keep it as evidence and pass a new --audit-log file" in str(caught.value)


def test_partial_last_line_dropped_on_append(tmp_path):
    """A last line cut by a crash is removed before the next record is chained."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    path.write_bytes(path.read_bytes() + b'{"event":"apply.atte')

    with AuditLog(path, actor="tester", clock=fixed_clock) as log:
        log.record("apply.start", actions=0, **RUN)

    assert [1, 2, 3, 4] == [record["seq"] for record in read(path)]
    assert verify_audit_log(path).valid


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"SAFEGUARD_ACTOR": "alice", "GITHUB_ACTOR": "bob"}, "alice"),
        ({"GITHUB_ACTOR": "bob"}, "bob"),
        ({"SAFEGUARD_ACTOR": "  ", "GITHUB_ACTOR": "bob"}, "bob"),
    ],
)
def test_actor_from_environment(environ, expected):
    """The actor is SAFEGUARD_ACTOR, else GITHUB_ACTOR."""
    assert expected == resolve_actor(environ)


def test_actor_falls_back_to_os_user():
    """Without either variable the actor is the OS user name."""
    import getpass

    assert getpass.getuser() == resolve_actor({})


# Verification.


def test_verify_intact(tmp_path):
    """An untouched log verifies: exit 0, record count and head."""
    records = write_log(tmp_path / "audit.jsonl")

    result = verify_cli(tmp_path / "audit.jsonl")

    assert 0 == result.exit_code
    assert f"{tmp_path / 'audit.jsonl'}: 5 records, chain intact; head {records[-1]['hash']}\n" == result.output


def test_verify_edited_record(tmp_path):
    """An edited field is detected and the record named by line and id."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    records[2]["result"] = "done" if records[2]["result"] != "done" else "failed"
    write_lines(path, records)

    result = verify_cli(path)

    assert 2 == result.exit_code
    assert f"  line 3 (record {records[2]['id']}): its content does not match its hash: the record was edited\n" in result.output


def test_verify_counts_one_problem(tmp_path):
    """One problem is counted in the singular."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    records[2]["result"] = "done" if records[2]["result"] != "done" else "failed"
    write_lines(path, records)

    result = verify_cli(path)

    assert f"{path}: the audit log was tampered with (1 problem):\n" in result.output


def test_verify_counts_one_record(tmp_path):
    """A log of one record is counted in the singular."""
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, actor="tester", clock=fixed_clock) as log:
        log.record("apply.start", actions=0, **RUN)

    result = verify_cli(path)

    assert 0 == result.exit_code
    assert result.output.startswith(f"{path}: 1 record, chain intact; head ")


def test_verify_edited_record_rehashed(tmp_path):
    """An edit whose own hash was recomputed still breaks the next record's link."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    records[1]["result"] = "done"
    records[1]["hash"] = record_hash(records[1])
    write_lines(path, records)

    problems = verify_audit_log(path).problems

    assert [(2, records[1]["id"])] == [(problem.line, problem.record_id) for problem in problems]
    assert "its hash does not match the prev of line 3: the record was edited and its hash recomputed, or it was replaced" == problems[0].message


def test_verify_removed_record(tmp_path):
    """A removed record is detected at the record after the gap."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    write_lines(path, records[:2] + records[3:])

    problems = verify_audit_log(path).problems

    assert [(3, records[3]["id"])] == [(problem.line, problem.record_id) for problem in problems]
    assert "seq jumps from 2 to 4: 1 record before this one was removed" == problems[0].message


def test_verify_removed_first_record(tmp_path):
    """Removing the first record is detected at the new first line."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    write_lines(path, records[1:])

    problems = verify_audit_log(path).problems

    assert [(1, records[1]["id"])] == [(problem.line, problem.record_id) for problem in problems]
    assert "seq jumps from 0 to 2: 1 record before this one was removed" == problems[0].message


def test_verify_inserted_record(tmp_path):
    """A forged record inserted with a valid hash is detected where the chain breaks."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    forged = {**records[1], "id": "forged", "action_id": "act-forged", "seq": 3, "prev": records[1]["hash"]}
    forged["hash"] = record_hash(forged)
    write_lines(path, records[:2] + [forged] + records[2:])

    problems = verify_audit_log(path).problems

    assert [(3, "forged")] == [(problem.line, problem.record_id) for problem in problems]
    assert "this record was inserted: line 4 links past it to line 2" == problems[0].message


def test_verify_reordered_records(tmp_path):
    """Two swapped records are reported as reordered, naming both lines."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    write_lines(path, [records[0], records[2], records[1], *records[3:]])

    problems = verify_audit_log(path).problems

    assert [2, 3] == [problem.line for problem in problems[:2]]
    assert [records[2]["id"], records[1]["id"]] == [problem.record_id for problem in problems[:2]]
    assert "seq 3 comes where seq 2 belongs: records were reordered" == problems[0].message


def test_verify_damaged_line(tmp_path):
    """A line that is no longer JSON is reported as tampered, not as unreadable."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    write_lines(path, [records[0], "{not json", *records[2:]])

    result = verify_cli(path)

    assert 2 == result.exit_code
    assert "  line 2: not a JSON object: the record was edited or the line was damaged\n" in result.output
    assert 2 == len(result.output.splitlines())


def test_verify_truncated_tail_with_head(tmp_path):
    """Records cut from the end pass the chain but fail against the head printed earlier."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    write_lines(path, records[:-1])

    plain = verify_cli(path)
    anchored = verify_cli(path, "--head", records[-1]["hash"])

    assert 0 == plain.exit_code
    assert 2 == anchored.exit_code
    assert "records were removed from the end, or the log was rewritten" in anchored.output


def test_verify_head_without_prefix(tmp_path):
    """--head accepts the bare 64-hex hash, in either case, as well as the sha256: form."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    digest = records[-1]["hash"].removeprefix("sha256:")

    bare = verify_cli(path, "--head", digest)
    upper = verify_cli(path, "--head", digest.upper())
    prefixed = verify_cli(path, "--head", records[-1]["hash"])

    assert 0 == bare.exit_code, bare.output
    assert 0 == upper.exit_code, upper.output
    assert 0 == prefixed.exit_code, prefixed.output


def test_verify_bare_head_detects_truncation(tmp_path):
    """A bare head hash still catches records cut from the end."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    write_lines(path, records[:-1])

    result = verify_cli(path, "--head", records[-1]["hash"].removeprefix("sha256:"))

    assert 2 == result.exit_code
    assert "records were removed from the end, or the log was rewritten" in result.output


@pytest.mark.parametrize("head", ["abc123", "sha256:" + "g" * 64, "0" * 63, "sha1:" + "0" * 64, ""])
def test_verify_malformed_head(tmp_path, head):
    """A --head that is not 64 hex digits is bad input (exit 1), not tampering (exit 2)."""
    path = tmp_path / "audit.jsonl"
    write_log(path)

    result = verify_cli(path, "--head", head)

    assert 1 == result.exit_code
    assert isinstance(result.exception, UserError)
    assert f"invalid head hash {head!r}: want 64 hexadecimal digits, optionally prefixed with sha256:" in str(result.exception)


def test_parse_head_forms():
    """parse_head returns the sha256: form in lower case."""
    digest = "AB" * 32

    assert "sha256:" + "ab" * 32 == parse_head(digest)
    assert "sha256:" + "ab" * 32 == parse_head(f" SHA256:{digest} ")


def test_verify_help_names_head_format():
    """audit verify --help gives the format of a head hash."""
    result = CliRunner().invoke(audit, ["verify", "--help"])

    assert 0 == result.exit_code
    assert "64 hex digits, with or without the sha256: prefix" in " ".join(result.output.split())


def test_verify_missing_file(tmp_path):
    """A missing file cannot be read: exit 1 with the path."""
    result = CliRunner().invoke(audit, ["verify", str(tmp_path / "missing.jsonl")])

    assert 1 == result.exit_code
    assert f"{tmp_path / 'missing.jsonl'}: audit log not found" == str(result.exception)


def test_verify_apply_log(tmp_path, safeguard):
    """The console entry point maps an unreadable log to exit 1 and a tampered one to 2."""
    path = tmp_path / "audit.jsonl"
    records = write_log(path)
    records[0]["actor"] = "mallory"
    write_lines(path, records)

    tampered = safeguard("audit", "verify", path)
    missing = safeguard("audit", "verify", tmp_path / "missing.jsonl")
    malformed = safeguard("audit", "verify", path, "--head", "abc123")

    assert 2 == tampered[0]
    assert 1 == missing[0]
    assert f"error: {tmp_path / 'missing.jsonl'}: audit log not found\n" == missing[2]
    assert 1 == malformed[0]
    assert malformed[2].startswith("error: invalid head hash 'abc123': want 64 hexadecimal digits")
