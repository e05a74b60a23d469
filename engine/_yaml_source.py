"""Read YAML input files with positions, for messages that point at a line and column.

Shared by the policy test, exceptions, inventory and attestations loaders.
Timestamps and dates stay strings by default, where PyYAML would turn
``2027-03-31`` into a date object. Snapshot fragments thus keep the RFC 3339
text the snapshot schema expects. An impossible date such as ``2026-02-30``
reaches the caller's checks instead of raising ValueError inside PyYAML.
`parse_yaml` rejects a key given twice in one mapping instead of silently
keeping the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from engine.diagnostics import Diagnostic, DiagnosticSink, Position, render, suggest
from engine.errors import InputError

__all__ = ["YamlDocument", "compose_yaml", "load_yaml", "parse_yaml", "read_source", "schema_diagnostics", "raise_diagnostics"]


class _Loader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver: dates and times stay strings."""


_Loader.yaml_implicit_resolvers = {
    first: [resolver for resolver in resolvers if resolver[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class YamlDocument:
    """A parsed YAML file and the node tree that gives each value's position."""

    path: str
    document: Any
    root: yaml.Node | None

    def position(self, path: tuple | list) -> Position:
        """Return the position of the value at a JSON path, or of its deepest existing parent."""
        return self._position(self._find(path)[1])

    def key_position(self, path: tuple | list) -> Position:
        """Return the position of the mapping key that leads to the value at a JSON path.

        A path that ends in a list index has no key, so that value's own position is returned.
        """
        key_node, value_node = self._find(path)

        return self._position(key_node or value_node)

    def duplicate_keys(self) -> list[Diagnostic]:
        """Return a ``duplicate_key`` diagnostic, at the second key, for each key given twice in one mapping."""
        diagnostics = []
        stack = [self.root] if self.root is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key, value in node.value:
                    if key.value in seen:
                        diagnostics.append(Diagnostic(self._position(key), "duplicate_key", f"key {key.value!r} appears twice in the same mapping"))
                    seen.add(key.value)
                    stack.append(value)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)

        return diagnostics

    def _find(self, path: tuple | list) -> tuple[yaml.Node | None, yaml.Node | None]:
        """Return (key node, value node) of the deepest node on ``path``."""
        key_node = None
        node = self.root
        for part in path:
            if isinstance(node, yaml.MappingNode):
                match = next(((key, value) for key, value in node.value if key.value == part), None)
                if match is None:
                    break
                key_node, node = match
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                key_node, node = None, node.value[part]
            else:
                break

        return key_node, node

    def _position(self, node: yaml.Node | None) -> Position:
        if node is None:
            return Position(self.path, 1, 1)
        mark = node.start_mark

        return Position(self.path, mark.line + 1, mark.column + 1)


def compose_yaml(text: str, path: str, loader: type[yaml.SafeLoader] = _Loader) -> YamlDocument:
    """Parse YAML text without further checks; raise InputError naming ``path``, the line and the column on a syntax error."""
    try:
        root = yaml.compose(text, Loader=loader)
        document = yaml.load(text, Loader=loader)  # noqa: S506 - loader is a SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = getattr(error, "problem", None) or str(error)
        message = f"{path}:{line}:{column}: invalid_yaml: {problem}"
        raise InputError(message) from None

    return YamlDocument(path=path, document=document, root=root)


def parse_yaml(text: str, path: str) -> YamlDocument:
    """Parse YAML text; raise InputError naming ``path``, the line and the column on a syntax error or a duplicate key."""
    source = compose_yaml(text, path)
    sink = DiagnosticSink()
    for diagnostic in source.duplicate_keys():
        sink.add(diagnostic)
    raise_diagnostics(sink, {path: text})

    return source


def read_source(path: str | Path, what: str) -> str:
    """Read a UTF-8 text file; ``what`` names the kind of file in messages."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = f"{path}: {what} not found"
        raise InputError(message) from None
    except (OSError, UnicodeDecodeError) as error:
        message = f"{path}: cannot read {what}: {error}"
        raise InputError(message) from None


def load_yaml(path: str | Path, what: str) -> YamlDocument:
    """Read and parse a YAML file; ``what`` names the kind of file in messages."""
    return parse_yaml(read_source(path, what), str(Path(path)))


def _json_path(parts: tuple) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)

    return text or "document"


def _leaf_errors(errors: Iterator[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    for error in errors:
        if error.context and error.validator in ("oneOf", "anyOf"):
            # The branch whose errors go deepest is the one the author meant.
            deepest = max(error.context, key=lambda child: len(child.absolute_path))
            if len(deepest.absolute_path) > len(error.absolute_path):
                yield from _leaf_errors(iter([deepest]))
                continue
        yield error


def _unknown_fields(error: jsonschema.ValidationError) -> list[str]:
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    known = error.schema.get("properties", {})

    return [name for name in error.instance if name not in known]


def _describe(error: jsonschema.ValidationError) -> str:
    unknown = _unknown_fields(error)
    if unknown:
        known = sorted(error.schema.get("properties", {}))
        guess = suggest(str(unknown[0]), known)
        hint = f"; did you mean {guess!r}?" if guess else f"; allowed: {', '.join(known)}"
        return f"unknown field {unknown[0]!r}{hint}"
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            return f"missing required field {missing[0]!r}"

    return error.message


def schema_diagnostics(source: YamlDocument, schema: dict[str, Any], code: str) -> list[Diagnostic]:
    """Validate the document against a JSON Schema; one diagnostic per error, at the value's position."""
    validator = jsonschema.Draft202012Validator(schema)
    diagnostics = []
    for error in _leaf_errors(validator.iter_errors(source.document)):
        where = tuple(error.absolute_path)
        message = f"{_json_path(where)}: {_describe(error)}"
        position = source.position(where)
        unknown = _unknown_fields(error)
        if unknown:
            # Point at the unknown field, so a missing-field error on the same object keeps its own position.
            position = source.position((*where, unknown[0]))
        diagnostics.append(Diagnostic(position, code, message))

    return diagnostics


def raise_diagnostics(sink: DiagnosticSink, sources: dict[str, str] | None = None) -> None:
    """Raise InputError with every diagnostic of ``sink``, if it has any."""
    if not sink:
        return
    message = render(sink.sorted(), sources or {})
    if sink.truncated:
        message += "\n(further errors not shown)"

    raise InputError(message)
