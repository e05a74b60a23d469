"""Helpers shared by the importers: reading exports, key and date conversion, the snapshot envelope."""

from __future__ import annotations

import gzip
import os
import re
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from engine.errors import ImportFormatError, InputError, SnapshotError
from engine.snapshot.model import SCHEMA_VERSION, SECTIONS, split_section
from engine.snapshot.validation import format_json_path, is_rfc3339, validate_document

__all__ = [
    "GZIP_MAGIC",
    "read_export",
    "camel_case",
    "camelize",
    "convert_dotnet_date",
    "format_timestamp",
    "parse_timestamp",
    "as_list",
    "list_items",
    "require",
    "expect",
    "section_ok",
    "section_not_collected",
    "section_error",
    "build_document",
    "check_converted",
]

GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"

# .NET JSON dates: milliseconds since the Unix epoch, UTC, with an optional
# offset that only records the zone the value was displayed in.
_DOTNET_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")
_LEADING_CAPITALS = re.compile(r"^[A-Z]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_JSON_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


def read_export(path: str | os.PathLike[str]) -> Any:
    """Read a JSON export, gunzipping it when it starts with the gzip magic bytes and dropping a BOM."""
    source = os.fspath(path)
    try:
        raw = Path(source).read_bytes()
    except FileNotFoundError as error:
        message = f"{source}: export file not found"
        raise InputError(message) from error
    except OSError as error:
        message = f"{source}: cannot read export: {error.strerror or error}"
        raise InputError(message) from error

    if raw.startswith(GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            message = f"{source}: starts like a gzip file but cannot be decompressed: {error}"
            raise InputError(message) from error

    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]

    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        message = f"{source}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}"
        raise InputError(message) from error


def camel_case(name: str) -> str:
    """Lower-case the leading capitals of a PascalCase name: BuiltInControls -> builtInControls.

    A run of capitals is an acronym and is lowered up to the capital that
    starts the next word: NDREnabled -> ndrEnabled, IPAllowList -> ipAllowList.
    Names that do not start with a capital (@odata.type, roles) are returned
    unchanged.
    """
    match = _LEADING_CAPITALS.match(name)
    if match is None:
        return name

    run = match.end()
    if run == 1 or run == len(name) or not name[run].islower():
        return name[:run].lower() + name[run:]

    return name[: run - 1].lower() + name[run - 1:]


def convert_dotnet_date(value: str, source: str, path: list[Any]) -> str | None:
    """Return /Date(ms)/ as an RFC 3339 UTC timestamp, or None when value is not such a date."""
    match = _DOTNET_DATE.match(value)
    if match is None:
        return None

    try:
        moment = _EPOCH + timedelta(milliseconds=int(match.group(1)))
    except OverflowError as error:
        message = f"{source}: {format_json_path(path)}: date {value} is out of range"
        raise ImportFormatError(message) from error

    return format_timestamp(moment)


def camelize(value: Any, source: str, path: list[Any]) -> Any:
    """Convert PascalCase keys to camelCase and /Date(ms)/ strings to RFC 3339, recursively.

    Keys ending in @odata.context are OData annotations and are dropped.
    ``path`` locates value in the export for error messages.
    """
    if isinstance(value, str):
        converted = convert_dotnet_date(value, source, path)
        return value if converted is None else converted
    if isinstance(value, list):
        return [camelize(item, source, [*path, index]) for index, item in enumerate(value)]
    if not isinstance(value, dict):
        return value

    result: dict[str, Any] = {}
    originals: dict[str, str] = {}
    for key, item in value.items():
        if key.endswith("@odata.context"):
            continue
        name = camel_case(key)
        if name in originals:
            message = f"{source}: {format_json_path(path)}: keys {originals[name]!r} and {key!r} both become {name!r}"
            raise ImportFormatError(message)
        originals[name] = key
        result[name] = camelize(item, source, [*path, key])

    return result


def format_timestamp(moment: datetime) -> str:
    """Format a timezone-aware datetime as RFC 3339 UTC, with milliseconds when it has any."""
    utc = moment.astimezone(timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"

    return text + "Z"


def parse_timestamp(value: Any, label: str) -> datetime:
    """Parse an RFC 3339 timestamp with a UTC offset; raise ValueError naming ``label``, the value's origin."""
    if not isinstance(value, str) or not is_rfc3339(value):
        message = f"{label}: expected an RFC 3339 timestamp such as 2026-12-01T09:30:00Z, got {value!r}"
        raise ValueError(message)

    return datetime.fromisoformat(value.upper())


def as_list(value: Any) -> list[Any]:
    """Return value as a list without null items.

    PowerShell's ConvertTo-Json writes a one-item collection as a bare object
    and an empty command result as [null].
    """
    if value is None:
        return []
    if not isinstance(value, list):
        return [value]

    return [item for item in value if item is not None]


def list_items(value: Any, path: list[Any]) -> list[tuple[list[Any], Any]]:
    """Return (JSON path, item) for each non-null item of a list or of a bare object, as for as_list."""
    if value is None:
        return []
    if not isinstance(value, list):
        return [(path, value)]

    return [([*path, index], item) for index, item in enumerate(value) if item is not None]


def expect(value: Any, kind: type | tuple[type, ...], source: str, path: list[Any], tool: str) -> Any:
    """Return value if it has the expected JSON type; raise ImportFormatError naming the key otherwise."""
    if isinstance(value, kind) and not (isinstance(value, bool) and bool not in _as_tuple(kind)):
        return value

    names = " or ".join(_JSON_NAMES.get(item, item.__name__) for item in _as_tuple(kind))
    message = (
        f"{source}: {format_json_path(path)}: expected {names}, got {_json_name(value)}; "
        f"is this a {tool} export?"
    )
    raise ImportFormatError(message)


def require(
    mapping: dict[str, Any], key: str, kind: type | tuple[type, ...], source: str, path: list[Any], tool: str
) -> Any:
    """Return mapping[key] checked against kind; raise ImportFormatError naming a missing key."""
    if key not in mapping:
        message = f"{source}: {format_json_path([*path, key])}: missing; is this a {tool} export?"
        raise ImportFormatError(message)

    return expect(mapping[key], kind, source, [*path, key], tool)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _json_name(value: Any) -> str:
    if value is None:
        return "null"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def section_ok() -> dict[str, str]:
    return {"status": "ok"}


def section_not_collected(message: str) -> dict[str, str]:
    return {"status": "not_collected", "message": message}


def section_error(message: str) -> dict[str, str]:
    return {"status": "error", "message": message}


def build_document(
    provider: str,
    tenant: dict[str, Any],
    collected_at: datetime,
    collector: dict[str, Any],
    statuses: dict[str, dict[str, str]],
    data: dict[str, Any],
) -> dict[str, Any]:
    """Assemble a snapshot document with sections and data in the order of SECTIONS."""
    sections = {name: statuses[name] for name in SECTIONS[provider]}
    section_data = {}
    for name in SECTIONS[provider]:
        _, key = split_section(name)
        if sections[name]["status"] == "ok":
            section_data[key] = data[name]

    return {
        "schemaVersion": SCHEMA_VERSION,
        "tenant": tenant,
        "collectedAt": format_timestamp(collected_at),
        "collector": collector,
        "sections": sections,
        provider: section_data,
    }


def check_converted(document: dict[str, Any], source: str) -> None:
    """Validate an importer's output; report a failure as an odd export, naming the input file."""
    try:
        validate_document(document, f"{source} (converted)")
    except SnapshotError as error:
        message = f"{source}: the export converts to an invalid snapshot:\n{error}"
        raise ImportFormatError(message) from error
