"""The apply journal: a JSON-lines file that makes an interrupted apply or rollback resumable.

The first line is a header tying the journal to one plan (its digest) and one
tenant. Every run appends a ``run`` line, then one ``action`` line per step
of each action: ``pending`` just before its write, and ``done``, ``failed`` or
``stale`` after it. Each line is flushed and fsync'd before the next step
starts, so after a crash the journal shows every write that may have happened:
an action whose last line is ``pending`` was interrupted around its write.

Records are described by schema/journal.schema.json. A line cut short by a
crash (no final newline) is dropped when the journal is opened for writing.
An exclusive lock stops two runs from appending to one journal at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from engine.errors import UserError
from engine.files import drop_partial_line, require_folder, sync_directory
from engine.schemas import load_schema

__all__ = [
    "JOURNAL_SCHEMA_VERSION",
    "STATUSES",
    "ActionHistory",
    "Journal",
    "JournalError",
]

log = structlog.get_logger()

JOURNAL_SCHEMA_VERSION = "1.0"

STATUSES = ("pending", "done", "failed", "stale")


class JournalError(UserError):
    """A journal that cannot be read, is damaged, belongs to another plan, or is in use."""


@dataclass(frozen=True)
class ActionHistory:
    """The journal entries of one action that decide what a run does with it.

    ``applied`` is the last ``done`` apply entry not followed by a ``done``
    rollback entry, or None. ``interrupted`` is the action's last entry when
    that entry is ``pending``, or None.
    """

    applied: Mapping[str, Any] | None
    interrupted: Mapping[str, Any] | None


class Journal:
    """An opened journal: its header and records, appending when opened for writing."""

    def __init__(self, path: Path, records: list[dict[str, Any]], handle: Any = None) -> None:
        self.path = path
        self.records = records
        self._handle = handle

    # Opening.

    @classmethod
    def read(cls, path: str | Path) -> Journal:
        """Read a journal without opening it for writing; raise JournalError when it is missing or damaged."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            message = f"{path}: journal not found; it is written by `safeguard apply`"
            raise JournalError(message) from None
        except OSError as error:
            message = f"{path}: cannot read the journal: {error.strerror}"
            raise JournalError(message) from None

        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]

        return cls(path, _parse(path, data))

    @classmethod
    def open(cls, path: str | Path, plan_digest: str, tenant: Mapping[str, Any], created_at: str, plan_path: str | None = None) -> Journal:
        """Open a journal for appending, creating it with a header when it does not exist.

        Raises JournalError when the journal belongs to another plan or
        tenant, or another run has it locked.
        """
        path = Path(path)
        require_folder(path)

        created = not path.exists()
        handle = open(path, "a+b")  # noqa: SIM115 - closed by Journal.close
        try:
            _lock(handle, path)
            _drop_partial_line(handle, path)
            handle.seek(0)
            records = _parse(path, handle.read())
            journal = cls(path, records, handle)
            if not records:
                header = {
                    "type": "header",
                    "schemaVersion": JOURNAL_SCHEMA_VERSION,
                    "planDigest": plan_digest,
                    "plan": plan_path,
                    "tenant": dict(tenant),
                    "createdAt": created_at,
                }
                journal.append(header)
                if created:
                    sync_directory(path.parent)
            else:
                journal._check_header(plan_digest, tenant)
        except BaseException:
            handle.close()
            raise

        return journal

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Contents.

    @property
    def header(self) -> dict[str, Any]:
        return self.records[0]

    def entries(self) -> list[dict[str, Any]]:
        """Return the action records, oldest first."""
        return [record for record in self.records if record.get("type") == "action"]

    def history(self, action_id: str) -> ActionHistory:
        applied = None
        last = None
        for record in self.entries():
            if record["actionId"] != action_id:
                continue
            last = record
            if record["status"] != "done":
                continue
            applied = record if record["operation"] == "apply" else None

        interrupted = last if last is not None and last["status"] == "pending" else None

        return ActionHistory(applied=applied, interrupted=interrupted)

    def applied_entries(self) -> list[dict[str, Any]]:
        """Return the ``done`` apply entries not rolled back since, in the order they were written."""
        applied = {}
        for record in self.entries():
            action_id = record["actionId"]
            if action_id not in applied:
                applied[action_id] = self.history(action_id).applied

        return [record for record in self.entries() if applied.get(record["actionId"]) is record]

    # Writing.

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one record and fsync it before returning."""
        if self._handle is None:
            message = f"{self.path}: the journal was opened read-only"
            raise JournalError(message)

        line = orjson.dumps(dict(record), option=orjson.OPT_SORT_KEYS) + b"\n"
        self._handle.seek(0, os.SEEK_END)
        self._handle.write(line)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.records.append(orjson.loads(line))

    def _check_header(self, plan_digest: str, tenant: Mapping[str, Any]) -> None:
        header = self.header
        if header.get("planDigest") != plan_digest:
            message = (
                f"{self.path}: this journal belongs to the plan with digest {header.get('planDigest')}, "
                f"not {plan_digest}; pass another --journal for a new plan"
            )
            raise JournalError(message)
        recorded = str((header.get("tenant") or {}).get("id", "")).lower()
        if recorded != str(tenant.get("id", "")).lower():
            message = f"{self.path}: this journal is for tenant {recorded}, not {tenant.get('id')}"
            raise JournalError(message)


def _lock(handle: Any, path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no advisory locks on this platform
        return

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        message = f"{path}: another safeguard run is using this journal; wait for it to finish"
        raise JournalError(message) from None


def _drop_partial_line(handle: Any, path: Path) -> None:
    dropped = drop_partial_line(handle)
    if dropped:
        log.warning("journal.partial_record_dropped", path=str(path), bytes=dropped)


def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema("journal.schema.json"))


def _parse(path: Path, data: bytes) -> list[dict[str, Any]]:
    validator = _validator()
    records = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            message = f"{path}:{number}: the journal line is not valid JSON ({error.msg}); the journal is damaged"
            raise JournalError(message) from None
        error = next(iter(validator.iter_errors(record)), None)
        if error is not None:
            where = ".".join(str(part) for part in error.absolute_path) or "record"
            message = f"{path}:{number}: invalid journal record: {where}: {error.message}"
            raise JournalError(message)
        records.append(record)

    if records and records[0].get("type") != "header":
        message = f"{path}:1: the journal does not start with a header record"
        raise JournalError(message)
    if any(record.get("type") == "header" for record in records[1:]):
        message = f"{path}: the journal has more than one header; two journals were joined"
        raise JournalError(message)

    return records
