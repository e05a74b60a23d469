"""Read a snapshot file, validate it, and return a Snapshot."""

from __future__ import annotations

import gc
import mmap
import os
import time
from pathlib import Path

import msgspec
import orjson
import structlog

from engine.errors import SnapshotError
from engine.snapshot.model import PROVIDERS, Snapshot
from engine.snapshot.validation import validate_document

__all__ = ["load_snapshot"]

log = structlog.get_logger()

_BOM = b"\xef\xbb\xbf"

_DECODER = msgspec.json.Decoder()
# Decodes an object one level deep: its values stay undecoded views of the input.
_FIELDS_DECODER = msgspec.json.Decoder(dict[str, msgspec.Raw])

# From this size on, the file is parsed from a memory map, section by section,
# with the cyclic garbage collector paused (see _parse_mapped). Below it, the
# collector costs less during parsing than the full collection that follows a
# pause (measured on a 25 MB snapshot: 17 ms against 27 ms).
_LARGE_FILE_BYTES = 64 * 1024 * 1024

# A document the memory-mapped parse could not decode: the file is read and
# parsed again to report the error with its line and column.
_UNDECODED = object()


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


def _parse(raw: bytes | memoryview) -> object:
    """Parse JSON text: with msgspec, or with orjson to report an error with its line and column.

    msgspec builds the Python objects straight from the bytes, while orjson
    first builds a document of its own about as large again as the file.
    """
    try:
        return _DECODER.decode(raw)
    except msgspec.DecodeError:
        return orjson.loads(raw)


def _release(mapped: mmap.mmap) -> None:
    """Drop the mapped file pages from this process's memory; a later read maps them in again."""
    if hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


def _decode_sections(text: memoryview, mapped: mmap.mmap) -> object:
    """Decode the document one section at a time, releasing the file pages after each."""
    try:
        fields = _FIELDS_DECODER.decode(text)
        _release(mapped)
        document: dict[str, object] = {}
        for key, value in fields.items():
            if key not in PROVIDERS:
                document[key] = _DECODER.decode(value)
                continue
            sections = _FIELDS_DECODER.decode(value)
            data = {}
            for name, section in sections.items():
                data[name] = _DECODER.decode(section)
                _release(mapped)
            document[key] = data
    except msgspec.DecodeError:
        return _UNDECODED

    return document


def _parse_mapped(path: Path) -> tuple[object, int] | None:
    """Parse a large file from a memory map; return None for a small file or one that cannot be mapped.

    Parsing from bytes keeps the whole file and the whole document in memory
    at once: on a 247 MB snapshot of 100,000 users that peaked at 750 MiB.
    Here the file pages of each section leave memory once the section is
    decoded, and the peak was 570 MiB. The collector is paused while millions
    of containers are created, because every collection their allocation
    triggers rescans the young ones. A parsed document has no reference
    cycles, so the pause leaves no garbage. Afterwards gc.freeze() moves every
    tracked object, the document included, to the permanent generation, which
    later collections skip. Reference counting still frees the document when
    the snapshot is dropped. With the collector running, parsing took 3 s
    instead of 0.5 s. A full collection in place of the freeze took 0.35 s,
    and leaving the document in the young generations cost 0.8 s of
    collections in the evaluation that followed (bench/run.py, 2-core VM,
    Python 3.11).
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < _LARGE_FILE_BYTES:
                return None
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        # _read raises the error with the file named.
        return None

    with mapped:
        text = memoryview(mapped)
        if text[: len(_BOM)] == _BOM:
            text = text[len(_BOM):]
        collecting = gc.isenabled()
        if collecting:
            # Garbage that exists now would be frozen with the document and never collected.
            gc.collect()
        gc.disable()
        try:
            document = _decode_sections(text, mapped)
        finally:
            text.release()
            if collecting:
                gc.enable()
        if collecting:
            # NOTE: the collector never frees what is frozen, only reference counting does. So
            # cyclic garbage that other threads create during the parse, and any object with a
            # reference cycle that is alive now and dropped later, stays in memory until the
            # process ends or calls gc.unfreeze().
            gc.freeze()

    return document, size


def load_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Read, parse and validate a snapshot file; raise SnapshotError naming the file and JSON path."""
    source = os.fspath(path)
    started = time.perf_counter()

    mapped = _parse_mapped(Path(source))
    if mapped is not None and mapped[0] is not _UNDECODED:
        document, size = mapped
    else:
        raw = _read(Path(source), source)
        if raw.startswith(_BOM):
            # A view, not a slice: a copy would double the memory of a large file.
            raw = memoryview(raw)[len(_BOM):]
        try:
            document = _parse(raw)
        except orjson.JSONDecodeError as error:
            message = f"{source}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}"
            raise SnapshotError(message) from error
        size = len(raw)
        del raw
    parsed = time.perf_counter()

    validate_document(document, source)
    snapshot = Snapshot(source, document)

    log.debug(
        "snapshot.loaded",
        path=source,
        provider=snapshot.provider,
        bytes=size,
        parse_ms=round((parsed - started) * 1000),
        validate_ms=round((time.perf_counter() - parsed) * 1000),
    )
    return snapshot
