"""Tests for the generated schema check of engine/snapshot/validation.py and the large-file parse."""

from __future__ import annotations

import copy
import gc
import random
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from engine.snapshot import load_snapshot, loader, validation

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "m365-snapshot.json"

DATE_TIMES = [
    "2026-12-01T09:30:00Z",
    "2026-12-01t09:30:00z",
    "2026-12-01T09:30:00.123Z",
    "2026-12-01T09:30:00+02:00",
    "2026-12-01T09:30:00-00:00",
    "2026-02-29T00:00:00Z",
    "2024-02-29T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-12-01T24:00:00Z",
    "2026-12-01T09:60:00Z",
    "2026-12-01T09:30:60Z",
    "2026-12-01T09:30:00",
    "2026-12-01 09:30:00Z",
    "2026-12-01T09:30Z",
    "2026-12-01T09:30:00Z\n",
    "2026-12-01T09:30:00ZZ",
    " 2026-12-01T09:30:00Z",
    "20261201T093000Z",
    "2026-12-01",
    "\u0662\u0660\u0662\u0666-12-01T09:30:00Z",
    "2026-12-01T09:30:00\uff3a",
    "",
    "Z",
]

# Keywords and shapes that the snapshot schema does not use today, so the
# generated check reaches them only through its closure fallback.
FALLBACK_SCHEMA = {
    "type": "object",
    "properties": {
        "any": {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 2}]},
        "all": {"allOf": [{"type": "number"}, {"not": {"const": 3}}]},
        "one": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
        "choice": {"enum": [1, "a", None, True]},
        "count": {"type": "integer"},
        "nullable": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/Node"}]},
        "flag": {"if": {"type": "string"}, "then": {"minLength": 3}, "else": {"type": "boolean"}},
        "never": False,
    },
    "required": ["count"],
    "additionalProperties": {"type": "array", "items": {"type": ["string", "null"]}},
    "propertyNames": {"minLength": 3},
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {"child": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/Node"}]}},
            "additionalProperties": False,
        },
    },
}

FALLBACK_INSTANCES = [
    {"count": 1},
    {"count": 1.0},
    {"count": 1.5},
    {"count": True},
    {},
    [],
    {"count": 1, "any": 4},
    {"count": 1, "any": "ab"},
    {"count": 1, "any": "a"},
    {"count": 1, "any": 4.5},
    {"count": 1, "all": 2.5},
    {"count": 1, "all": 3},
    {"count": 1, "all": 3.0},
    {"count": 1, "all": "x"},
    {"count": 1, "one": 1.5},
    {"count": 1, "one": 1},
    {"count": 1, "choice": 1.0},
    {"count": 1, "choice": True},
    {"count": 1, "choice": 2},
    {"count": 1, "choice": None},
    {"count": 1, "nullable": None},
    {"count": 1, "nullable": {"child": {"child": None}}},
    {"count": 1, "nullable": {"child": {"child": {"extra": 1}}}},
    {"count": 1, "nullable": 5},
    {"count": 1, "flag": "abc"},
    {"count": 1, "flag": "ab"},
    {"count": 1, "flag": False},
    {"count": 1, "flag": 7},
    {"count": 1, "never": None},
    {"count": 1, "other": ["a", None]},
    {"count": 1, "other": ["a", 1]},
    {"count": 1, "other": "a"},
    {"count": 1, "ab": []},
]


def reference_validator(schema: dict) -> Draft202012Validator:
    """Return jsonschema configured like validation._validator, date-time checked by is_rfc3339."""
    format_checker = FormatChecker(formats=())
    format_checker.checks("date-time")(validation.is_rfc3339)

    return Draft202012Validator(schema, format_checker=format_checker)


def test_date_time_agrees_with_is_rfc3339():
    """The generated date-time test accepts exactly the strings is_rfc3339 accepts."""
    check = validation._generated_check({"type": "string", "format": "date-time"})

    for text in DATE_TIMES:
        assert validation.is_rfc3339(text) == check(text), repr(text)


def test_date_time_agrees_with_jsonschema():
    """The generated date-time test gives jsonschema's verdict on each string."""
    schema = {"type": "object", "properties": {"at": {"type": ["string", "null"], "format": "date-time"}}}
    check = validation._generated_check(schema)
    reference = reference_validator(schema)

    for text in DATE_TIMES:
        assert reference.is_valid({"at": text}) == check({"at": text}), repr(text)


def test_fallback_keywords_agree_with_jsonschema():
    """Keywords the generator leaves to closures give jsonschema's verdict."""
    check = validation._generated_check(FALLBACK_SCHEMA)
    reference = reference_validator(FALLBACK_SCHEMA)

    for instance in FALLBACK_INSTANCES:
        assert reference.is_valid(instance) == check(instance), instance


def test_unknown_keyword_gives_no_check():
    """A schema with a keyword neither check implements raises _Unsupported."""
    schema = {"type": "object", "properties": {"size": {"type": "integer", "maximum": 3}}}

    with pytest.raises(validation._Unsupported):
        validation._generated_check(schema)


def _leaves(document, path=()):
    """Yield (path, parent, key) for every value in a JSON document."""
    if isinstance(document, dict):
        items = list(document.items())
    elif isinstance(document, list):
        items = list(enumerate(document))
    else:
        return
    for key, child in items:
        yield path + (key,), document, key
        yield from _leaves(child, path + (key,))


def test_generated_agrees_with_closures():
    """On mutations of the example snapshot, the generated check and the closure check agree."""
    base = orjson.loads(EXAMPLE.read_bytes())
    schema = validation._schema()
    closures = validation._CheckBuilder(schema).build(schema)
    generated = validation._generated_check(schema)
    rng = random.Random(20261204)
    replacements = [None, 0, 1.0, 2.5, "", "x", True, [], {}, ["x"], {"id": "x"}, "2026-02-30T00:00:00Z", "2026-01-01T00:00:00Z"]
    places = list(_leaves(base))

    assert closures(base)
    assert generated(base)

    rejected = 0
    for _ in range(400):
        document = copy.deepcopy(base)
        path, _, _ = rng.choice(places)
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and rng.random() < 0.2:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(replacements))
        expected = closures(document)
        rejected += not expected

        assert expected == generated(document), path
    assert rejected > 100


def test_large_file_load_freezes(monkeypatch):
    """A file parsed from a memory map loads the same document and leaves the collector on, with it frozen."""
    monkeypatch.setattr(loader, "_LARGE_FILE_BYTES", 0)
    frozen_before = gc.get_freeze_count()

    try:
        snapshot = load_snapshot(EXAMPLE)
        frozen_after = gc.get_freeze_count()
        enabled = gc.isenabled()
    finally:
        gc.unfreeze()

    assert orjson.loads(EXAMPLE.read_bytes()) == snapshot.document
    assert enabled
    assert frozen_after > frozen_before
