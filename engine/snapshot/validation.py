"""Validate a snapshot document against schema/snapshot.schema.json and the rules it cannot express.

The schema checks shapes and types. Three rules that JSON Schema cannot express
cleanly are checked here: sections belong to the tenant's provider, an ok
section has its data, and a section that is not ok has none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from engine.diagnostics import suggest
from engine.errors import SnapshotError
from engine.schemas import schema_path
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

# From this many list items in the section data on, the compiled check (see
# below) decides whether the document is valid, and jsonschema runs only to
# explain a failure. The check takes about 30 ms to build, once per process,
# so every document takes that path. On a generated 247 MB snapshot of 100,000 users
# (bench/run.py, 2-core VM, Python 3.11), jsonschema took 31 s,
# fastjsonschema 2.2 s plus 0.2 s to compile, the check built from closures
# 0.8 s and the generated check 0.5 s.
FAST_PATH_MIN_ITEMS = 0

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
    source: Any = schema_path("snapshot.schema.json")

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


# The compiled check --------------------------------------------------------
#
# A pass-or-fail check built from the schema into Python closures: it accepts
# exactly the documents jsonschema accepts, and when it fails, jsonschema runs
# to name the JSON path and the problem. It supports the keywords the snapshot
# schema uses; a schema with any other keyword gets no compiled check.

_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description", "examples", "default"})
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
    # bool is a subclass of int, but the exact type() test keeps them apart.
    "number": (int, float),
    "integer": (int,),
}

Check = Callable[[Any], bool]


class _Unsupported(Exception):
    """The schema uses a keyword the compiled check does not implement."""


def _accept(value: Any) -> bool:
    return True


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true does not equal 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_json_equal(a, b) for a, b in zip(left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[key], right[key]) for key in left)
    if type(left) in (int, float) and type(right) in (int, float):
        return left == right

    return type(left) is type(right) and left == right


def _type_check(names: str | list[str]) -> tuple[frozenset[type], bool]:
    """Return the Python types a JSON type list allows and whether it allows integral floats."""
    names = [names] if isinstance(names, str) else names
    allowed: set[type] = set()
    for name in names:
        if name not in _PYTHON_TYPES:
            raise _Unsupported(name)
        allowed.update(_PYTHON_TYPES[name])

    return frozenset(allowed), "integer" in names and "number" not in names


class _CheckBuilder:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.definitions = schema.get("$defs", {})
        self.built: dict[str, Check | None] = {}

    def reference(self, reference: str) -> Check:
        name = reference.removeprefix("#/$defs/")
        if name == reference or name not in self.definitions:
            raise _Unsupported(reference)
        if name not in self.built:
            self.built[name] = None
            self.built[name] = self.build(self.definitions[name])
        check = self.built[name]
        if check is None:
            # A definition that refers to itself: look it up when it runs.
            return lambda value: self.built[name](value)

        return check

    def build(self, node: Any) -> Check:
        if node is True:
            return _accept
        if node is False:
            return lambda value: False
        if not isinstance(node, dict):
            raise _Unsupported(repr(node))

        checks: list[Check] = []
        for keyword in node:
            if keyword in _ANNOTATIONS or keyword in _OBJECT_KEYWORDS or keyword in ("type", "then", "else"):
                continue
            checks.append(self.keyword(keyword, node))
        if any(keyword in node for keyword in _OBJECT_KEYWORDS):
            checks.append(self.object_check(node))

        return _all_of(node.get("type"), checks)

    def keyword(self, keyword: str, node: dict[str, Any]) -> Check:
        value = node[keyword]
        if keyword == "$ref":
            return self.reference(value)
        if keyword in ("enum", "const"):
            options = value if keyword == "enum" else [value]
            if all(type(option) is str for option in options):
                strings = frozenset(options)
                return lambda item: type(item) is str and item in strings
            return lambda item: any(_json_equal(item, option) for option in options)
        if keyword == "minLength":
            return lambda item: type(item) is not str or len(item) >= value
        if keyword == "format":
            # Like the jsonschema validator above, only date-time is checked.
            if value != "date-time":
                return _accept
            return lambda item: type(item) is not str or is_rfc3339(item)
        if keyword == "items":
            return self.items_check(value)
        if keyword in ("oneOf", "anyOf", "allOf"):
            return self.combination(keyword, [self.build(branch) for branch in value], value)
        if keyword == "not":
            negated = self.build(value)
            return lambda item: not negated(item)
        if keyword == "if":
            condition = self.build(value)
            then = self.build(node.get("then", True))
            otherwise = self.build(node.get("else", True))
            return lambda item: then(item) if condition(item) else otherwise(item)

        raise _Unsupported(keyword)

    def combination(self, keyword: str, branches: list[Check], schemas: list[Any]) -> Check:
        if keyword == "allOf":
            return lambda item: all(branch(item) for branch in branches)
        if keyword == "anyOf":
            return lambda item: any(branch(item) for branch in branches)
        if len(branches) == 2 and schemas[0] == {"type": "null"}:
            # A nullable object: null is valid unless the second branch also accepts it, and anything
            # else is valid when the second branch accepts it. The second branch may refer to a
            # definition still being built, so it must not run here.
            other = branches[1]
            return lambda item: not other(item) if item is None else other(item)

        return lambda item: sum(1 for branch in branches if branch(item)) == 1

    def items_check(self, schema: Any) -> Check:
        plain = _plain_types(schema)
        if plain is not None:
            return lambda item: type(item) is not list or all(type(element) in plain for element in item)
        check = self.build(schema)
        return lambda item: type(item) is not list or all(check(element) for element in item)

    def object_check(self, node: dict[str, Any]) -> Check:
        required = tuple(node.get("required", ()))
        plain: dict[str, frozenset[type]] = {}
        other: dict[str, Check] = {}
        for name, schema in node.get("properties", {}).items():
            types = _plain_types(schema)
            if types is not None:
                plain[name] = types
            else:
                other[name] = self.build(schema)
        additional = node.get("additionalProperties", True)
        additional_check = None if additional is True else self.build(additional)
        names_schema = node.get("propertyNames")
        names_check = None if names_schema is None else self.build(names_schema)

        def check(item: Any) -> bool:
            if type(item) is not dict:
                return True
            for name in required:
                if name not in item:
                    return False
            for name, value in item.items():
                allowed = plain.get(name)
                if allowed is not None:
                    if type(value) not in allowed:
                        return False
                    continue
                value_check = other.get(name)
                if value_check is not None:
                    if not value_check(value):
                        return False
                elif additional_check is not None and not additional_check(value):
                    return False
            if names_check is not None:
                return all(names_check(name) for name in item)
            return True

        return check


_OBJECT_KEYWORDS = frozenset({"properties", "required", "additionalProperties", "propertyNames"})


def _plain_types(schema: Any) -> frozenset[type] | None:
    """Return the allowed types of a schema whose only keyword is type, or None."""
    if not isinstance(schema, dict) or "type" not in schema or set(schema) - _ANNOTATIONS - {"type"}:
        return None
    types, integral_floats = _type_check(schema["type"])

    return None if integral_floats else types


def _all_of(type_names: Any, checks: list[Check]) -> Check:
    if type_names is None:
        if len(checks) == 1:
            return checks[0]
        return lambda item: all(check(item) for check in checks)

    types, integral_floats = _type_check(type_names)

    def check(item: Any) -> bool:
        if type(item) not in types and not (integral_floats and type(item) is float and item.is_integer()):
            return False
        for keyword_check in checks:
            if not keyword_check(item):
                return False
        return True

    return check


# The generated check ------------------------------------------------------
#
# The closures above call one function per keyword and per field, which on
# 100,000 users added up to 2.6 million calls. The generator below writes one
# Python function per $def that the schema reaches, with the type, format,
# items and property tests of an object inline. _compiled_validator uses it. A keyword it does not inline (anyOf, allOf, not,
# if/then/else, a oneOf other than "null or one schema", a non-string enum)
# calls the closure the builder made for it, so both checks accept exactly the
# same documents.

# Exactly the common form 2026-12-01T09:30:00Z, ASCII only: every string it
# matches also matches _RFC3339, and datetime.fromisoformat still checks the
# ranges. Any other string goes through is_rfc3339.
_RFC3339_UTC_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


class _SourceWriter:
    """Write the source of one check function per schema definition."""

    def __init__(self, builder: _CheckBuilder) -> None:
        self.builder = builder
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {
            "_date_time_utc": _RFC3339_UTC_SECONDS.fullmatch,
            "_from_iso": datetime.fromisoformat,
            "_is_rfc3339": is_rfc3339,
            "_missing": object(),
        }
        self.function_names: dict[str, str] = {}
        self.counter = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"_{prefix}{self.counter}"

    def constant(self, value: Any, prefix: str = "c") -> str:
        name = self.name(prefix)
        self.constants[name] = value
        return name

    def function_name(self, definition: str) -> str:
        if definition not in self.function_names:
            self.function_names[definition] = self.name("check_")
        return self.function_names[definition]

    def write_function(self, function: str, node: Any) -> None:
        self.lines.append(f"def {function}(value):")
        self.emit(node, "value", 1)
        self.lines.append("    return True")
        self.lines.append("")

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def fallback(self, check: Check, variable: str, depth: int) -> None:
        self.line(depth, f"if not {self.constant(check, 'f')}({variable}):")
        self.line(depth + 1, "return False")

    def emit(self, node: Any, variable: str, depth: int) -> None:
        """Write statements that return False when the value in ``variable`` fails ``node``."""
        if node is True:
            return
        if node is False or not isinstance(node, dict):
            self.fallback(self.builder.build(node), variable, depth)
            return

        type_names = node.get("type")
        if type_names is not None:
            types, integral_floats = _type_check(type_names)
            self.emit_type(types, integral_floats, variable, depth)

        for keyword in node:
            if keyword in _ANNOTATIONS or keyword in _OBJECT_KEYWORDS or keyword in ("type", "then", "else"):
                continue
            self.emit_keyword(keyword, node, variable, depth)

        if any(keyword in node for keyword in _OBJECT_KEYWORDS):
            if type_names == "object":
                self.emit_object(node, variable, depth)
            else:
                self.line(depth, f"if type({variable}) is dict:")
                before = len(self.lines)
                self.emit_object(node, variable, depth + 1)
                if len(self.lines) == before:
                    self.line(depth + 1, "pass")

    def emit_block(self, node: Any, variable: str, depth: int) -> None:
        """Write ``emit`` as the body of an if or for statement, which needs at least one statement."""
        before = len(self.lines)
        self.emit(node, variable, depth)
        if len(self.lines) == before:
            self.line(depth, "pass")

    def emit_type(self, types: frozenset[type], integral_floats: bool, variable: str, depth: int) -> None:
        if len(types) == 1 and not integral_floats:
            (only,) = types
            self.line(depth, f"if type({variable}) is not {self.constant(only, 't')}:")
        else:
            test = f"type({variable}) not in {self.constant(types, 't')}"
            if integral_floats:
                test += f" and not (type({variable}) is float and {variable}.is_integer())"
            self.line(depth, f"if {test}:")
        self.line(depth + 1, "return False")

    def emit_keyword(self, keyword: str, node: dict[str, Any], variable: str, depth: int) -> None:
        value = node[keyword]
        if keyword == "$ref":
            self.builder.reference(value)
            function = self.function_name(value.removeprefix("#/$defs/"))
            self.line(depth, f"if not {function}({variable}):")
            self.line(depth + 1, "return False")
        elif keyword in ("enum", "const") and all(type(option) is str for option in (value if keyword == "enum" else [value])):
            options = frozenset(value if keyword == "enum" else [value])
            self.line(depth, f"if type({variable}) is not str or {variable} not in {self.constant(options)}:")
            self.line(depth + 1, "return False")
        elif keyword == "minLength":
            self.line(depth, f"if type({variable}) is str and len({variable}) < {value!r}:")
            self.line(depth + 1, "return False")
        elif keyword == "format":
            if value == "date-time":
                self.emit_date_time(variable, depth)
        elif keyword == "items":
            element = self.name("e")
            self.line(depth, f"if type({variable}) is list:")
            self.line(depth + 1, f"for {element} in {variable}:")
            self.emit_block(value, element, depth + 2)
        elif keyword == "oneOf" and self.nullable(value):
            self.line(depth, f"if {variable} is not None:")
            self.emit_block(value[1], variable, depth + 1)
        else:
            self.fallback(self.builder.keyword(keyword, node), variable, depth)

    def nullable(self, branches: list[Any]) -> bool:
        """Return whether a oneOf is null or one schema that rejects null, the form the closure also shortcuts."""
        return len(branches) == 2 and branches[0] == {"type": "null"} and not self.builder.build(branches[1])(None)

    def emit_date_time(self, variable: str, depth: int) -> None:
        self.line(depth, f"if type({variable}) is str:")
        self.line(depth + 1, f"if _date_time_utc({variable}) is None:")
        self.line(depth + 2, f"if not _is_rfc3339({variable}):")
        self.line(depth + 3, "return False")
        self.line(depth + 1, "else:")
        self.line(depth + 2, "try:")
        self.line(depth + 3, f"_from_iso({variable})")
        self.line(depth + 2, "except ValueError:")
        self.line(depth + 3, "return False")

    def emit_object(self, node: dict[str, Any], variable: str, depth: int) -> None:
        """Write the tests of an object known to be a dict: required, properties, additionalProperties, propertyNames."""
        required = node.get("required", ())
        if required:
            missing = " or ".join(f"{name!r} not in {variable}" for name in required)
            self.line(depth, f"if {missing}:")
            self.line(depth + 1, "return False")

        properties = node.get("properties", {})
        for name, schema in properties.items():
            if schema is True:
                continue
            field = self.name("v")
            key = repr(name)
            if self.builder.build(schema)(None):
                # The schema accepts null, so a missing field and a null one both pass.
                self.line(depth, f"{field} = {variable}.get({key})")
                self.line(depth, f"if {field} is not None:")
            else:
                self.line(depth, f"{field} = {variable}.get({key}, _missing)")
                self.line(depth, f"if {field} is not _missing:")
            self.emit_block(schema, field, depth + 1)

        additional = node.get("additionalProperties", True)
        if additional is not True:
            key, field = self.name("k"), self.name("v")
            known = self.constant(frozenset(properties))
            self.line(depth, f"for {key}, {field} in {variable}.items():")
            self.line(depth + 1, f"if {key} not in {known}:")
            if additional is False:
                self.line(depth + 2, "return False")
            else:
                self.emit_block(additional, field, depth + 2)

        names = node.get("propertyNames")
        if names is not None:
            key = self.name("k")
            self.line(depth, f"for {key} in {variable}:")
            self.emit_block(names, key, depth + 1)


def _generated_check(schema: dict[str, Any]) -> Check:
    """Build the schema's check as generated Python source; raise _Unsupported like _CheckBuilder."""
    builder = _CheckBuilder(schema)
    builder.build(schema)
    writer = _SourceWriter(builder)
    writer.write_function("check_document", schema)
    # Only the definitions the schema reaches, as in _CheckBuilder: an unused one may hold any keyword.
    written = 0
    while written < len(writer.function_names):
        definition = list(writer.function_names)[written]
        writer.write_function(writer.function_names[definition], builder.definitions[definition])
        written += 1

    namespace = dict(writer.constants)
    exec(compile("\n".join(writer.lines), "<snapshot schema check>", "exec"), namespace)
    return namespace["check_document"]


@cache
def _compiled_validator() -> Check | None:
    """Build the compiled check of the snapshot schema (about 30 ms), or None if the schema is beyond it."""
    try:
        return _generated_check(_schema())
    except _Unsupported:
        return None


def _passes_compiled_validator(document: dict[str, Any]) -> bool:
    check = _compiled_validator()
    return check is not None and check(document)


def _item_count(document: dict[str, Any]) -> int:
    count = 0
    for provider in PROVIDERS:
        data = document.get(provider)
        if isinstance(data, dict):
            count += sum(len(value) for value in data.values() if isinstance(value, list))

    return count


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

    large = _item_count(document) >= FAST_PATH_MIN_ITEMS
    if not (large and _passes_compiled_validator(document)):
        _raise(source, _schema_problems(document))
    _raise(source, _consistency_problems(document))

