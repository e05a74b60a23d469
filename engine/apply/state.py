"""Normalised target state: the form in which plans fingerprint it and apply compares it.

Graph and Google leave a field out, send it as null or send an empty list
for the same meaning, and send lists in no fixed order. Normalising removes
those differences so that an unchanged target always compares equal to its
precondition: absent, null, empty list and empty object are all dropped, and
list items are sorted by their canonical JSON. An empty string and false stay
values of their own, because both APIs give them a meaning of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["normalize_state", "state_fingerprint", "state_changes", "flatten_state"]


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _normalize(value: Any) -> Any:
    """Return the normalised value, or None when it is empty (absent, null, [] or {})."""
    if isinstance(value, Mapping):
        result = {}
        for key in sorted(value):
            item = _normalize(value[key])
            if item is not None:
                result[str(key)] = item
        return result or None

    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_normalize(item) for item in value]
        kept = [item for item in items if item is not None]
        if not kept:
            return None
        return sorted(kept, key=_canonical)

    return value


def normalize_state(fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``fields`` with empty values dropped and lists sorted; an empty state is {}."""
    return _normalize(fields or {}) or {}


def state_fingerprint(fields: Mapping[str, Any] | None) -> str:
    """Return "sha256:<hex>" of the normalised state's canonical JSON (sorted keys, no spaces)."""
    return "sha256:" + hashlib.sha256(_canonical(normalize_state(fields))).hexdigest()


def flatten_state(fields: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """Return the normalised state as dotted paths to leaf values (a list is one leaf)."""
    flat: dict[str, Any] = {}
    for key, value in normalize_state(fields).items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_state(value, f"{path}."))
        else:
            flat[path] = value

    return flat


def state_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """Return ``(path, before, after)`` for every leaf that differs, sorted by path; None means absent."""
    old = flatten_state(before)
    new = flatten_state(after)
    changes = []
    for path in sorted(set(old) | set(new)):
        if old.get(path) != new.get(path):
            changes.append((path, old.get(path), new.get(path)))

    return changes
