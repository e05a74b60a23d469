"""Static types of the policy language, and the snapshot schema seen as types.

The checker uses these types to reject a field path the snapshot schema does
not declare, to flag obvious mismatches (``startswith`` on a number), and to
know which fields hold timestamps. ``ANY`` switches checking off for values
whose shape the schema leaves open (a Cloud Identity setting value, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from engine.schemas import load_schema

__all__ = [
    "Type",
    "ANY",
    "BOOL",
    "NUMBER",
    "STRING",
    "TIMESTAMP",
    "DURATION",
    "NULL",
    "list_of",
    "set_of",
    "SchemaTypes",
    "snapshot_types",
    "type_from_name",
    "PARAM_TYPE_NAMES",
]


@dataclass(eq=False)
class Type:
    kind: str
    element: Type | None = None
    fields: dict[str, Type] | None = None
    name: str | None = None
    nullable: bool = False
    resource: dict[str, str] | None = field(default=None, repr=False)

    def __str__(self) -> str:
        if self.kind in ("list", "set"):
            text = f"{self.kind}<{self.element}>"
        elif self.kind in ("object", "number") and self.name:
            text = self.name
        else:
            text = self.kind
        if self.nullable:
            text += " or null"

        return text

    def non_null(self) -> Type:
        if not self.nullable:
            return self

        return Type(self.kind, self.element, self.fields, self.name, False, self.resource)

    def with_null(self) -> Type:
        if self.nullable:
            return self

        return Type(self.kind, self.element, self.fields, self.name, True, self.resource)

    def same_as(self, other: Type) -> bool:
        if self.kind != other.kind:
            return False
        if self.kind in ("list", "set"):
            return self.element.same_as(other.element)

        return True


ANY = Type("any")
BOOL = Type("bool")
NUMBER = Type("number")
STRING = Type("string")
TIMESTAMP = Type("timestamp")
DURATION = Type("duration")
# A number that a params file must give as a whole number; in expressions it is a number.
INT = Type("number", name="int")
NULL = Type("null")


def list_of(element: Type) -> Type:
    return Type("list", element=element)


def set_of(element: Type) -> Type:
    return Type("set", element=element)


PARAM_TYPE_NAMES = ("string", "int", "number", "bool", "duration", "timestamp", "any", "list", "set")


def type_from_name(name: str, argument: Type | None = None) -> Type | None:
    """Map a type written in a ``param`` declaration to a Type; None if unknown."""
    simple = {
        "string": STRING,
        "int": INT,
        "number": NUMBER,
        "bool": BOOL,
        "duration": DURATION,
        "timestamp": TIMESTAMP,
        "any": ANY,
    }
    if name in simple and argument is None:
        return simple[name]
    if name == "list" and argument is not None:
        return list_of(argument)
    if name == "set" and argument is not None:
        return set_of(argument)

    return None


class SchemaTypes:
    """Types of the snapshot's data sections, read from its JSON Schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.defs = schema.get("$defs", {})
        self._by_ref: dict[str, Type] = {}
        self.roots: dict[str, Type] = {}
        properties = schema.get("properties", {})
        for provider in ("m365", "gws"):
            node = properties.get(provider, {})
            sections = self.convert(node).fields or {}
            self.roots[provider] = Type("object", fields=sections, name=provider)

    def section_type(self, provider: str, section: str) -> Type | None:
        root = self.roots.get(provider)
        if root is None or root.fields is None:
            return None

        return root.fields.get(section)

    def convert(self, node: dict[str, Any]) -> Type:
        """Convert a schema node into a Type; unsupported combinators become ANY."""
        if not isinstance(node, dict):
            return ANY
        if "$ref" in node:
            return self._ref(node["$ref"])
        for combinator in ("oneOf", "anyOf"):
            if combinator in node:
                options = node[combinator]
                nullable = any(option.get("type") == "null" for option in options)
                rest = [option for option in options if option.get("type") != "null"]
                if len(rest) == 1:
                    converted = self.convert(rest[0])
                    return converted.with_null() if nullable else converted
                return ANY
        kinds = node.get("type")
        if kinds is None:
            if "properties" in node:
                kinds = "object"
            else:
                return ANY
        if isinstance(kinds, str):
            kinds = [kinds]
        nullable = "null" in kinds
        kinds = [kind for kind in kinds if kind != "null"]
        if len(kinds) != 1:
            return ANY.with_null() if nullable else ANY
        kind = kinds[0]
        result: Type
        if kind == "string":
            result = TIMESTAMP if node.get("format") == "date-time" else STRING
        elif kind in ("integer", "number"):
            result = NUMBER
        elif kind == "boolean":
            result = BOOL
        elif kind == "array":
            result = list_of(self.convert(node.get("items", {})))
        elif kind == "object":
            if "properties" not in node:
                result = ANY
            else:
                fields = {name: self.convert(child) for name, child in node["properties"].items()}
                result = Type("object", fields=fields, name=node.get("title"), resource=node.get("x-resource"))
        else:
            result = ANY

        return result.with_null() if nullable else result

    def _ref(self, ref: str) -> Type:
        if ref in self._by_ref:
            return self._by_ref[ref]
        name = ref.rsplit("/", 1)[-1]
        node = self.defs.get(name)
        if node is None:
            return ANY
        # A placeholder first, so recursive definitions terminate.
        placeholder = Type("object", fields={}, name=name, resource=node.get("x-resource"))
        self._by_ref[ref] = placeholder
        converted = self.convert(node)
        if converted.kind == "object" and converted.fields is not None:
            placeholder.fields.update(converted.fields)
            placeholder.nullable = converted.nullable
            return placeholder
        self._by_ref[ref] = converted

        return converted


@cache
def snapshot_types() -> SchemaTypes:
    """Load the snapshot schema shipped with safeguard as types."""
    return SchemaTypes(load_schema("snapshot.schema.json"))
