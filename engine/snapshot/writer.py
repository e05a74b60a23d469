"""Write a snapshot atomically: a reader sees the old file or the new one, never a partial one."""

from __future__ import annotations

import os
from typing import Any

import orjson
import structlog

from engine.errors import SnapshotError
from engine.files import write_atomic
from engine.snapshot.validation import validate_document

__all__ = ["write_snapshot", "serialize_snapshot"]

log = structlog.get_logger()


def serialize_snapshot(document: dict[str, Any]) -> bytes:
    """Return the deterministic file bytes: indent 2, keys in document order, trailing newline."""
    try:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError as error:
        message = f"cannot serialize snapshot: {error}"
        raise SnapshotError(message) from error


def write_snapshot(document: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Validate ``document`` and write it to ``path`` through a synced temporary file and a rename."""
    source = os.fspath(path)
    validate_document(document, source)
    payload = serialize_snapshot(document)

    write_atomic(source, payload, description="snapshot", error=SnapshotError)
    log.info("snapshot.written", path=source, bytes=len(payload))
