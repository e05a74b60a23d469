"""A tamper-evident audit log: structlog JSON lines joined by a SHA-256 hash chain.

Every record carries ``seq``, ``prev`` and ``hash``. ``seq`` is 1 for the
first line of the file and one more on each later line. ``prev`` is the
``hash`` of the record before it, or `GENESIS` for the first record. ``hash``
is the SHA-256 of the record's canonical JSON (sorted keys, no spaces)
without the ``hash`` field. Editing a record breaks
its own hash, and removing, inserting or reordering records breaks ``seq``
and ``prev`` where it happened. `verify_audit_log` reports each break with
its line number and record id.

A chain cannot show that records were cut from the end of the file, or that
the whole file was rewritten with new hashes. Keep the head hash that apply
prints (or `AuditLog.head`) somewhere else and pass it to ``safeguard audit
verify --head`` to detect that too.

Records pass through `engine.logging_redact.redact_secrets` before they are
hashed, so no secret or token reaches the file. The logger is a private
structlog logger bound to the file; it does not touch structlog's global
configuration, which belongs to the CLI.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import structlog

from engine.errors import InputError, UserError
from engine.files import drop_partial_line, require_folder
from engine.logging_redact import redact_secrets

__all__ = [
    "GENESIS",
    "AuditLog",
    "AuditLogError",
    "AuditProblem",
    "AuditVerification",
    "parse_head",
    "record_hash",
    "resolve_actor",
    "verify_audit_log",
]

GENESIS = "sha256:" + "0" * 64

_HEX_DIGITS = frozenset("0123456789abcdef")

# Fields every record has; verification reports a record that lacks one.
_CHAIN_FIELDS = ("id", "seq", "prev", "hash")


class AuditLogError(UserError):
    """An audit log that cannot be opened for appending because it is unreadable or fails verification."""


def resolve_actor(environ: Mapping[str, str] | None = None) -> str:
    """Return who runs safeguard: SAFEGUARD_ACTOR, else GITHUB_ACTOR (GitHub Actions), else the OS user."""
    environ = os.environ if environ is None else environ
    for name in ("SAFEGUARD_ACTOR", "GITHUB_ACTOR"):
        value = (environ.get(name) or "").strip()
        if value:
            return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record_hash(record: Mapping[str, Any]) -> str:
    """Return "sha256:<hex>" of a record's canonical JSON without its ``hash`` field."""
    content = {key: value for key, value in record.items() if key != "hash"}

    return "sha256:" + hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def parse_head(value: str) -> str:
    """Return an expected head hash as "sha256:<hex>"; accept 64 hex digits with or without the prefix.

    Raises UserError for anything else, so a mistyped hash is not reported as tampering.
    """
    text = value.strip()
    digest = text[len("sha256:") :] if text[:7].lower() == "sha256:" else text
    digest = digest.lower()
    if len(digest) != 64 or not set(digest) <= _HEX_DIGITS:
        message = (
            f"invalid head hash {value!r}: want 64 hexadecimal digits, optionally prefixed with sha256:, "
            "as apply printed it after 'head'"
        )
        raise UserError(message)

    return "sha256:" + digest


@dataclass(frozen=True)
class AuditProblem:
    """One break in the chain: the line (1-based), the record id when readable, and what is wrong."""

    line: int
    record_id: str | None
    message: str

    def __str__(self) -> str:
        record = f" (record {self.record_id})" if self.record_id else ""

        return f"line {self.line}{record}: {self.message}"


@dataclass(frozen=True)
class AuditVerification:
    """Result of verifying an audit log: record count, hash of the last record, and problems."""

    path: str
    records: int
    head: str
    problems: list[AuditProblem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


def _read_lines(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        message = f"{path}: audit log not found"
        raise InputError(message) from None
    except OSError as error:
        message = f"{path}: cannot read the audit log: {error.strerror}"
        raise InputError(message) from None

    return data.split(b"\n")


def verify_audit_log(path: str | Path, expected_head: str | None = None) -> AuditVerification:
    """Check every record's hash, sequence number and link, and the last hash against ``expected_head``.

    ``expected_head`` is 64 hex digits, with or without the ``sha256:``
    prefix. Raises UserError when it is malformed and InputError when the
    file cannot be read.
    """
    if expected_head is not None:
        expected_head = parse_head(expected_head)
    path = Path(path)
    lines = _read_lines(path)
    complete = lines[-1] == b""
    if complete:
        lines = lines[:-1]

    parsed: list[tuple[int, dict[str, Any] | None]] = []
    for number, line in enumerate(lines, start=1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            record = None
        parsed.append((number, record if isinstance(record, dict) else None))

    all_seqs = [record.get("seq") for _, record in parsed if record is not None]
    problems: list[AuditProblem] = []
    # (line, record) of the last two chained records, newest last.
    chained: list[tuple[int, dict[str, Any]]] = []
    after_damage = False
    for number, record in parsed:
        if record is None:
            message = "not a JSON object: the record was edited or the line was damaged"
            if number == len(parsed) and not complete:
                message = "incomplete last line: the write of this record was interrupted, or the line was cut"
            problems.append(AuditProblem(number, None, message))
            after_damage = True
            continue

        record_id = record.get("id") if isinstance(record.get("id"), str) else None
        missing = [name for name in _CHAIN_FIELDS if name not in record]
        if missing:
            problems.append(AuditProblem(number, record_id, f"lacks {', '.join(missing)}: it is not a record safeguard wrote"))
            continue

        inserted = _inserted_before(record, chained)
        if after_damage:
            # The damaged line already explains the broken link; check only this record's own hash.
            if record["hash"] != record_hash(record):
                problems.append(AuditProblem(number, record_id, "its content does not match its hash: the record was edited"))
        elif inserted is not None:
            line, previous = inserted
            message = f"this record was inserted: line {number} links past it to line {chained[0][0]}"
            problems.append(AuditProblem(line, previous.get("id"), message))
        else:
            previous = chained[-1] if chained else None
            problem = _link_problem(record, previous, all_seqs)
            if problem is not None:
                problems.append(AuditProblem(number, record_id, problem))
            elif previous is not None and record["prev"] != previous[1]["hash"]:
                # Numbered in sequence but not linked: the previous record changed after it was written.
                message = f"its hash does not match the prev of line {number}: the record was edited and its hash recomputed, or it was replaced"
                problems.append(AuditProblem(previous[0], previous[1].get("id"), message))

        # Later records are checked against this one, so one break is reported once.
        chained = [*chained[-1:], (number, record)]
        after_damage = False

    head = chained[-1][1]["hash"] if chained else GENESIS
    if expected_head is not None and head != expected_head and not problems:
        message = f"the last record's hash is {head}, not the expected head {expected_head}: records were removed from the end, or the log was rewritten"
        problems.append(AuditProblem(len(parsed), None, message))

    return AuditVerification(str(path), len(parsed), head, problems)


def _inserted_before(record: dict[str, Any], chained: list[tuple[int, dict[str, Any]]]) -> tuple[int, dict[str, Any]] | None:
    """Return the previous record when ``record`` links to the one before it, so the previous one was inserted."""
    if len(chained) < 2 or record["hash"] != record_hash(record):
        return None

    # An inserted record takes the next number, so the record after it repeats that number.
    (_, before_previous), (line, previous) = chained
    linked_past = record["prev"] != previous["hash"] and record["prev"] == before_previous["hash"]
    if linked_past and record["seq"] == previous["seq"]:
        return line, previous

    return None


def _link_problem(record: dict[str, Any], previous: tuple[int, dict[str, Any]] | None, all_seqs: list[Any]) -> str | None:
    """Describe what is wrong with one record and its link to the one before it, or return None."""
    if record["hash"] != record_hash(record):
        return "its content does not match its hash: the record was edited"

    previous_record = previous[1] if previous is not None else {}
    previous_seq = previous_record.get("seq", 0) if isinstance(previous_record.get("seq", 0), int) else 0
    seq = record["seq"]
    expected = previous_seq + 1
    if not isinstance(seq, int) or isinstance(seq, bool):
        return f"seq {seq!r} is not a whole number: the record was edited"
    if seq != expected:
        if seq <= previous_seq:
            return f"seq {seq} comes after seq {previous_seq}: a record was inserted here, or records were reordered"
        if expected in all_seqs:
            return f"seq {seq} comes where seq {expected} belongs: records were reordered"
        removed = seq - expected
        return f"seq jumps from {previous_seq} to {seq}: {removed} record{'s' if removed != 1 else ''} before this one {'were' if removed != 1 else 'was'} removed"

    if previous is None and record["prev"] != GENESIS:
        return "prev is not the genesis hash although this is the first record: records were removed from the start"

    return None


class _FileSink:
    """The structlog 'logger' at the end of the chain: writes one line and fsyncs it."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def msg(self, message: str) -> None:
        self._handle.write(message.encode("utf-8") + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    info = warning = error = msg


class _HashChain:
    """structlog processor that numbers a record, links it to the previous one and hashes it."""

    def __init__(self, seq: int, prev: str) -> None:
        self.seq = seq
        self.prev = prev

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        record = {key: value for key, value in event_dict.items() if key not in ("seq", "prev", "hash")}
        record["seq"] = self.seq + 1
        record["prev"] = self.prev
        record["hash"] = record_hash(record)
        self.seq = record["seq"]
        self.prev = record["hash"]

        return record


def _render(logger: Any, method_name: str, event_dict: dict[str, Any]) -> str:
    return orjson.dumps(event_dict, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class AuditLog:
    """An audit log opened for appending; each `record` call writes one chained, fsync'd line.

    Opening verifies the existing file and continues its chain. A file that
    fails verification is not appended to: its breaks are evidence to keep.
    A last line cut short by a crash is removed first, because it was never
    part of the chain.
    """

    def __init__(self, path: str | Path, actor: str | None = None, clock: Callable[[], datetime] = _utc_now) -> None:
        self.path = Path(path)
        self.actor = actor or resolve_actor()
        self._clock = clock
        require_folder(self.path)

        self._handle = open(self.path, "a+b")  # noqa: SIM115 - closed by AuditLog.close
        try:
            _drop_partial_line(self._handle, self.path)
            verification = verify_audit_log(self.path)
        except BaseException:
            self._handle.close()
            raise
        if not verification.valid:
            self._handle.close()
            first = verification.problems[0]
            message = (
                f"{self.path}: the audit log fails verification ({first}); keep it as evidence "
                "and pass a new --audit-log file"
            )
            raise AuditLogError(message)

        self._chain = _HashChain(verification.records, verification.head)
        self._logger = structlog.wrap_logger(
            _FileSink(self._handle),
            processors=[self._envelope, redact_secrets, self._chain, _render],
            wrapper_class=structlog.BoundLogger,
            context_class=dict,
            cache_logger_on_first_use=False,
        )

    @property
    def head(self) -> str:
        """Return the hash of the last record, which a later verification can be anchored to."""
        return self._chain.prev

    def record(self, event: str, **fields: Any) -> None:
        """Append one record for ``event`` with ``fields`` (JSON values)."""
        self._logger.info(event, **fields)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _envelope(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        moment = self._clock().astimezone(timezone.utc)
        event_dict["id"] = str(uuid.uuid4())
        event_dict["time"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event_dict.setdefault("actor", self.actor)

        return event_dict


def _drop_partial_line(handle: Any, path: Path) -> None:
    dropped = drop_partial_line(handle)
    if dropped:
        structlog.get_logger().warning("audit.partial_record_dropped", path=str(path), bytes=dropped)
