"""Write a snapshot atomically: a reader sees the old file or the new one, never a partial one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
import structlog

from engine.errors import SnapshotError
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


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable. Some platforms and file systems cannot
    # open a directory; the file content is already synced then.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _file_mode(target: Path) -> int:
    """Return the replaced file's mode, or the mode a plain open() would create a new file with.

    NamedTemporaryFile creates its file with mode 0600.
    """
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        pass

    # os.umask is the only portable way to read the umask; it sets it too.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_snapshot(document: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Validate ``document`` and write it to ``path`` through a synced temporary file and a rename."""
    source = os.fspath(path)
    validate_document(document, source)
    payload = serialize_snapshot(document)

    target = Path(source)
    directory = target.parent
    try:
        handle = tempfile.NamedTemporaryFile(
            mode="wb", dir=directory, prefix=f".{target.name}.", suffix=".tmp", delete=False
        )
    except OSError as error:
        message = f"{source}: cannot create a temporary file in {directory}: {error.strerror}"
        raise SnapshotError(message) from error

    temporary = Path(handle.name)
    try:
        with handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _file_mode(target))
        os.replace(temporary, target)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            message = f"{source}: cannot write snapshot: {error.strerror or error}"
            raise SnapshotError(message) from error
        raise

    _fsync_directory(directory)
    log.info("snapshot.written", path=source, bytes=len(payload))
