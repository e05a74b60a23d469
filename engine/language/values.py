"""Runtime values of the policy language and three-valued logic.

Snapshot data is plain JSON (dict, list, str, int, float, bool, None). Three
values are added: ``ABSENT`` for a field the object does not have (Graph
distinguishes it from ``null``), ``Unknown`` for data from a section that was
not collected, timestamps as aware ``datetime`` and durations as ``timedelta``.
Sets are ``frozenset``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

__all__ = [
    "ABSENT",
    "Absent",
    "Unknown",
    "EvalError",
    "is_unknown",
    "merge_unknown",
    "strict_equal",
    "parse_timestamp",
    "format_value",
    "to_json",
    "type_name",
]


class Absent:
    """The single value of a field that is not present in its object."""

    _instance: Absent | None = None

    def __new__(cls) -> Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)

        return cls._instance

    def __repr__(self) -> str:
        return "absent"

    def __bool__(self) -> bool:
        return False


ABSENT = Absent()


class Unknown:
    """A value that depends on sections whose data was not collected."""

    __slots__ = ("sections",)

    def __init__(self, sections: frozenset[str]) -> None:
        self.sections = sections

    def __repr__(self) -> str:
        return f"unknown({', '.join(sorted(self.sections))})"


def is_unknown(value: Any) -> bool:
    return type(value) is Unknown


def merge_unknown(*values: Any) -> Unknown:
    """Combine the sections of every Unknown among ``values`` into one Unknown."""
    sections: set[str] = set()
    for value in values:
        if type(value) is Unknown:
            sections |= value.sections

    return Unknown(frozenset(sections))


class EvalError(Exception):
    """A runtime error in a policy, raised at the position of the failing expression."""

    def __init__(self, message: str, node=None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


def strict_equal(left: Any, right: Any) -> bool:
    """Equality without Python's ``True == 1`` and ``absent == null`` conflations.

    The rule applies inside lists, sets and objects too: ``[true] != [1]``.
    """
    if type(left) is bool or type(right) is bool:
        return type(left) is type(right) and left == right
    if left is ABSENT or right is ABSENT:
        return left is right
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(strict_equal(a, b) for a, b in zip(left, right))
    if isinstance(left, frozenset) and isinstance(right, frozenset):
        return len(left) == len(right) and all(any(strict_equal(a, b) for b in right) for a in left)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(strict_equal(left[key], right[key]) for key in left)

    return left == right


@lru_cache(maxsize=65536)
def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 timestamp; a value without offset is taken as UTC."""
    # RFC 3339 allows a lower-case "t" and "z"; fromisoformat does not.
    value = datetime.fromisoformat(text.upper())
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)

    return value


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if value is ABSENT:
        return "absent"
    if type(value) is Unknown:
        return "unknown"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, timedelta):
        return "duration"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, frozenset):
        return "set"
    if isinstance(value, dict):
        return "object"

    return type(value).__name__


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"

    return f"{seconds}s"


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a Z, to the second or to the precision the value carries."""
    value = value.astimezone(timezone.utc)
    if value.microsecond == 0:
        timespec = "seconds"
    elif value.microsecond % 1000 == 0:
        timespec = "milliseconds"
    else:
        timespec = "microseconds"
    text = value.isoformat(timespec=timespec)
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"

    return text


def to_json(value: Any) -> Any:
    """Convert a runtime value to plain JSON for evidence and reports."""
    if value is ABSENT:
        return "<absent>"
    if type(value) is Unknown:
        return f"<unknown: {', '.join(sorted(value.sections))} not collected>"
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, frozenset):
        return sorted((to_json(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}

    return value


def format_value(value: Any) -> str:
    """Render a value inside a message template."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, frozenset)):
        items = sorted(value, key=str) if isinstance(value, frozenset) else value
        return ", ".join(format_value(item) for item in items)
    converted = to_json(value)
    if isinstance(converted, str):
        return converted

    return json.dumps(converted, sort_keys=True)
