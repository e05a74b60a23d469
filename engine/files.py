"""Durable file writes: atomic replacement, synced directories and append-only logs cut back after a crash."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from engine.errors import InputError, UserError

__all__ = ["require_folder", "write_atomic", "sync_directory", "drop_partial_line"]


def require_folder(path: str | os.PathLike[str]) -> None:
    """Raise InputError when the folder that would hold ``path`` does not exist."""
    target = Path(path)
    if not target.parent.is_dir():
        message = f"{target}: folder {target.parent} does not exist"
        raise InputError(message)


def sync_directory(directory: str | os.PathLike[str]) -> None:
    """Sync a directory with fsync, which makes a rename or a new file in it durable.

    Some platforms and file systems cannot open a directory. The call does
    nothing there, and the file content itself is already synced.
    """
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


def write_atomic(path: str | os.PathLike[str], data: bytes, description: str = "file", error: type[UserError] = InputError) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and a rename.

    A reader sees the old file or the new one, never a partial one. The file
    keeps the mode of the file it replaces, or gets the mode open() gives a new
    file. On any failure the old file is unchanged and no temporary file is
    left. An OSError is raised again as ``error``, with a message naming
    ``path`` and ``description`` (such as "snapshot"). An interruption such
    as KeyboardInterrupt propagates unchanged.
    """
    source = os.fspath(path)
    target = Path(source)
    directory = target.parent
    try:
        handle = tempfile.NamedTemporaryFile(mode="wb", dir=directory, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    except OSError as failure:
        message = f"{source}: cannot create a temporary file in {directory}: {failure.strerror}"
        raise error(message) from failure

    temporary = Path(handle.name)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _file_mode(target))
        os.replace(temporary, target)
    except BaseException as failure:
        temporary.unlink(missing_ok=True)
        if isinstance(failure, OSError):
            message = f"{source}: cannot write {description}: {failure.strerror or failure}"
            raise error(message) from failure
        raise

    sync_directory(directory)


def drop_partial_line(handle: BinaryIO) -> int:
    """Cut a last line that has no newline, which is a record whose write a crash interrupted.

    ``handle`` is a file opened for reading and writing, such as with mode
    ``a+b``. Returns the number of bytes cut.
    """
    handle.seek(0)
    data = handle.read()
    if not data or data.endswith(b"\n"):
        return 0

    keep = data.rfind(b"\n") + 1
    handle.truncate(keep)
    handle.flush()
    os.fsync(handle.fileno())

    return len(data) - keep
