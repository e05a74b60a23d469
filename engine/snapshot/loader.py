"""Read a snapshot file, validate it, and return a Snapshot."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import structlog

from engine.errors import SnapshotError
from engine.snapshot.model import Snapshot
from engine.snapshot.validation import validate_document

__all__ = ["load_snapshot"]

log = structlog.get_logger()

_BOM = b"\xef\xbb\xbf"


def _read(path: Path, source: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as error:
        message = f"{source}: snapshot not found; create one with `safeguard collect` or `safeguard import`"
        raise SnapshotError(message) from error
    except IsADirectoryError as error:
        message = f"{source}: is a directory, not a snapshot file"
        raise SnapshotError(message) from error
    except OSError as error:
        message = f"{source}: cannot read snapshot: {error.strerror}"
        raise SnapshotError(message) from error


def load_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Read, parse and validate a snapshot file; raise SnapshotError naming the file and JSON path."""
    source = os.fspath(path)
    started = time.perf_counter()

    raw = _read(Path(source), source)
    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]

    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        message = f"{source}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}"
        raise SnapshotError(message) from error
    parsed = time.perf_counter()

    validate_document(document, source)
    snapshot = Snapshot(source, document)

    log.debug(
        "snapshot.loaded",
        path=source,
        provider=snapshot.provider,
        bytes=len(raw),
        parse_ms=round((parsed - started) * 1000),
        validate_ms=round((time.perf_counter() - parsed) * 1000),
    )
    return snapshot
