"""Validate a snapshot document against schema/snapshot.schema.json and the rules it cannot express.

The schema checks shapes and types. Three rules that JSON Schema cannot express
cleanly are checked here: sections belong to the tenant's provider, an ok
section has its data, and a section that is not ok has none.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import datetime
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from engine.diagnostics import suggest
from engine.errors import SnapshotError
from engine.snapshot.model import PROVIDERS, SCHEMA_VERSION, split_section

__all__ = [
    "SCHEMA_PATH",
    "MAX_REPORTED_ERRORS",
    "FAST_PATH_MIN_ITEMS",
    "validate_document",
    "format_json_path",
    "is_rfc3339",
]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema" / "snapshot.schema.json"

# An invalid snapshot often repeats one mistake in every item, so the first
# few errors are enough.
MAX_REPORTED_ERRORS = 5

# Above this many list items in the section data, a compiled validator
# (fastjsonschema) checks the document first and jsonschema runs only to
# explain a failure. On a generated 55 MB snapshot of 100,000 users (2-core
# VM, Python 3.11), jsonschema took 7.4 s. The compiled validator took 0.5 s
# plus 0.3 s to compile, a cost that outweighs the gain below a few thousand
# items.
FAST_PATH_MIN_ITEMS = 5_000

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def is_rfc3339(value: object) -> bool:
    """Return whether value is an RFC 3339 date-time with a UTC offset (non-strings pass)."""
    if not isinstance(value, str):
        return True
    if _RFC3339.match(value) is None:
        return False

    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        return False

    return True


@cache
def _schema() -> dict[str, Any]:
    # A source checkout has schema/ at the top; an installed package carries
    # a copy as package data.
    if SCHEMA_PATH.exists():
        source: Any = SCHEMA_PATH
    else:
        source = resources.files("engine").joinpath("schemas/snapshot.schema.json")

    try:
        return orjson.loads(source.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        message = f"cannot read the snapshot schema {source}: {error}; reinstall safeguard"
        raise SnapshotError(message) from error


@cache
def _validator() -> Draft202012Validator:
    format_checker = FormatChecker(formats=())
    format_checker.checks("date-time")(is_rfc3339)
    return Draft202012Validator(_schema(), format_checker=format_checker)


def _nullable_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of the schema with each ``oneOf: [null, $ref]`` to an object written as one nullable object.

    Both forms accept the same values, because an object schema never matches
    null. fastjsonschema tries every oneOf branch and builds an exception for
    each one that fails, which for an object is always the null branch; a
    nullable object is a single isinstance check.
    """
    schema = copy.deepcopy(schema)
    definitions = schema["$defs"]
    nullable: set[str] = set()

    def rewrite(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                rewrite(item)
            return
        if not isinstance(node, dict):
            return

        branches = node.get("oneOf")
        if len(node) == 1 and isinstance(branches, list) and len(branches) == 2 and branches[0] == {"type": "null"}:
            reference = branches[1].get("$ref") if len(branches[1]) == 1 else None
            name = reference.rsplit("/", 1)[-1] if isinstance(reference, str) else None
            if name is not None and definitions.get(name, {}).get("type") == "object":
                nullable.add(name)
                node.clear()
                node["$ref"] = f"{reference}OrNull"
                return
        for value in node.values():
            rewrite(value)

    rewrite(schema)
    for name in nullable:
        definitions[f"{name}OrNull"] = {**definitions[name], "type": ["object", "null"]}

    return schema


# fastjsonschema names each array item's JSON path with str.format(**locals())
# before it descends into the item. Only pass or fail is used here (jsonschema
# explains a failure), so the generated code gets a constant name instead.
_ITEM_PATH_NAME = re.compile(r'\(name_prefix or "data"\) \+ "[^"\n]*"\.format\(\*\*locals\(\)\)')
_FIRST_FUNCTION = re.compile(r"^def (\w+)\(", re.MULTILINE)


@cache
def _compiled_validator() -> Any:
    # fastjsonschema implements draft-07. The schema uses only keywords that
    # mean the same in draft-07 and 2020-12, and no $ref has sibling keywords
    # (draft-07 would ignore them).
    schema = {**_nullable_refs(_schema()), "$schema": "http://json-schema.org/draft-07/schema#"}
    code = fastjsonschema.compile_to_code(schema, formats={"date-time": is_rfc3339})
    code = _ITEM_PATH_NAME.sub('(name_prefix or "data")', code)

    namespace: dict[str, Any] = {}
    exec(compile(code, "<compiled snapshot schema>", "exec"), namespace)  # noqa: S102 (code generated from our schema)
    entry = _FIRST_FUNCTION.search(code).group(1)
    return partial(namespace[entry], custom_formats={"date-time": is_rfc3339})


def _item_count(document: dict[str, Any]) -> int:
    count = 0
    for provider in PROVIDERS:
        data = document.get(provider)
        if isinstance(data, dict):
            count += sum(len(value) for value in data.values() if isinstance(value, list))

    return count


def _passes_compiled_validator(document: dict[str, Any]) -> bool:
    try:
        _compiled_validator()(document)
    except fastjsonschema.JsonSchemaException:
        return False

    return True


def format_json_path(path: Any) -> str:
    """Render a path of keys and indexes as $.a.b[3]["odd.key"]."""
    parts = ["$"]
    for element in path:
        if isinstance(element, int):
            parts.append(f"[{element}]")
        elif _IDENTIFIER.match(element):
            parts.append(f".{element}")
        else:
            parts.append("[" + orjson.dumps(element).decode() + "]")

    return "".join(parts)


def _describe(value: object) -> str:
    if isinstance(value, (dict, list)):
        return _TYPE_NAMES[type(value)]
    if type(value) not in _TYPE_NAMES:
        # Only an in-memory document passed to write_snapshot can hold these.
        return f"a Python {type(value).__name__}"

    text = orjson.dumps(value).decode()
    if len(text) > 60:
        text = text[:57] + "..."
    return text


def _expected_types(expected: str | list[str]) -> str:
    if isinstance(expected, str):
        return expected
    return " or ".join(expected)


def _quoted(values: list[object]) -> str:
    return ", ".join(orjson.dumps(value).decode() for value in values)


def _leaf(error: ValidationError) -> ValidationError:
    """Descend from a oneOf failure into the branch that matters.

    Nullable objects are written ``oneOf: [null, $ref]``; when the instance is
    not null, the errors of the $ref branch describe the problem.
    """
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return error

    relevant = [
        child
        for child in error.context
        if not (child.validator == "type" and child.validator_value == "null")
    ]
    if not relevant:
        return error

    deepest = max(relevant, key=lambda child: len(child.absolute_path))
    if deepest.validator == "type" and len(deepest.absolute_path) == len(error.absolute_path):
        return error

    return _leaf(deepest)


def _render(error: ValidationError) -> str:
    """Describe a validation error in the message style of the CLI: expected what, got what."""
    validator = error.validator
    instance = error.instance

    if "propertyNames" in error.absolute_schema_path:
        text = f"unknown section {_describe(instance)}"
        hint = suggest(instance, error.validator_value) if isinstance(instance, str) else None
        if hint is not None:
            text += f"; did you mean {orjson.dumps(hint).decode()}?"
        return text
    if validator == "type":
        return f"expected {_expected_types(error.validator_value)}, got {_describe(instance)}"
    if validator in ("oneOf", "anyOf"):
        return f"expected null or object, got {_describe(instance)}"
    if validator == "required":
        missing = [name for name in error.validator_value if name not in instance]
        text = f"missing required field {_quoted(missing[:1])}"
        if "then" in error.relative_schema_path:
            text += " (a section whose status is not ok needs a message)"
        return text
    if validator == "additionalProperties":
        known = error.schema.get("properties", {})
        unknown = [name for name in instance if name not in known]
        text = f"unknown field {_quoted(unknown[:1])}"
        hint = suggest(unknown[0], known) if unknown else None
        if hint is not None:
            text += f"; did you mean {orjson.dumps(hint).decode()}?"
        return text
    if validator == "enum":
        return f"expected one of {_quoted(error.validator_value)}, got {_describe(instance)}"
    if validator == "const":
        return f"expected {_quoted([error.validator_value])}, got {_describe(instance)}"
    if validator == "format":
        return f"expected an RFC 3339 date-time such as 2026-12-01T09:30:00Z, got {_describe(instance)}"
    if validator == "minLength":
        return "expected a non-empty string"

    return error.message


def _schema_problems(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for error in _validator().iter_errors(document):
        leaf = _leaf(error)
        path = list(leaf.absolute_path)
        if "propertyNames" in leaf.absolute_schema_path:
            # jsonschema reports a bad property name at the object that has it.
            path.append(leaf.instance)
        yield format_json_path(path), _render(leaf)


def _consistency_problems(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Check the rules between tenant.provider, sections and section data."""
    provider = document["tenant"]["provider"]
    other = next(name for name in PROVIDERS if name != provider)
    if other in document:
        yield f"$.{other}", f"{other} data in a snapshot whose tenant.provider is {provider}"

    sections = document["sections"]
    data = document.get(provider, {})
    for section, entry in sections.items():
        section_provider, key = split_section(section)
        path = "$.sections" + format_json_path([section])[1:]
        if section_provider != provider:
            yield path, f"section of provider {section_provider} in a snapshot whose tenant.provider is {provider}"
            continue

        data_path = f"$.{provider}.{key}"
        if entry["status"] == "ok" and key not in data:
            yield data_path, f"missing: section {section} has status ok, so its data must be present"
        if entry["status"] != "ok" and key in data:
            yield data_path, f"section {section} has status {entry['status']}, so it must have no data"

    for key in data:
        section = f"{provider}.{key}"
        if section not in sections:
            yield f"$.{provider}.{key}", f"data for section {section}, which $.sections does not list"


def _raise(source: str, problems: Iterator[tuple[str, str]]) -> None:
    lines = []
    for path, text in problems:
        if len(lines) == MAX_REPORTED_ERRORS:
            lines.append(f"{source}: more errors not shown; fix these and validate again")
            break
        lines.append(f"{source}: {path}: {text}")

    if lines:
        raise SnapshotError("\n".join(lines))


def validate_document(document: Any, source: str) -> None:
    """Raise SnapshotError naming ``source`` and the JSON path of the first few problems."""
    if not isinstance(document, dict):
        message = f"{source}: $: expected a JSON object, got {_describe(document)}"
        raise SnapshotError(message)

    version = document.get("schemaVersion")
    if version is None:
        message = f"{source}: $.schemaVersion: missing; a snapshot starts with \"schemaVersion\": \"{SCHEMA_VERSION}\""
        raise SnapshotError(message)
    if version != SCHEMA_VERSION:
        message = (
            f"{source}: $.schemaVersion: unsupported version {_describe(version)}; "
            f"this safeguard reads version {SCHEMA_VERSION}"
        )
        raise SnapshotError(message)

    # Once compiled in this process, the compiled validator is the faster check for any document.
    compiled = _compiled_validator.cache_info().currsize > 0
    large = compiled or _item_count(document) >= FAST_PATH_MIN_ITEMS
    if not (large and _passes_compiled_validator(document)):
        _raise(source, _schema_problems(document))
    _raise(source, _consistency_problems(document))

