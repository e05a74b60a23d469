"""Abstract syntax tree of policy files.

Every node carries the position of its first token, so the checker and the
evaluator can point at the exact line and column. Nodes also keep the source
span (``start``/``end`` character offsets) so evidence can quote the text of an
expression as the author wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.diagnostics import Position

__all__ = [
    "Node",
    "Expr",
    "Literal",
    "Name",
    "Attr",
    "Index",
    "Call",
    "Unary",
    "Binary",
    "BoolOp",
    "Not",
    "Compare",
    "Membership",
    "IsCheck",
    "Conditional",
    "ListLiteral",
    "Comprehension",
    "Quantifier",
    "TypeRef",
    "Import",
    "Param",
    "Let",
    "Func",
    "TemplatePart",
    "Template",
    "NamedArg",
    "Remediate",
    "EvidenceItem",
    "Policy",
    "Module",
]


@dataclass(eq=False)
class Node:
    pos: Position
    start: int = field(default=0, kw_only=True)
    end: int = field(default=0, kw_only=True)


@dataclass(eq=False)
class Expr(Node):
    pass


@dataclass(eq=False)
class Literal(Expr):
    """A constant: string, number, boolean, null or duration (a timedelta)."""

    value: Any


@dataclass(eq=False)
class Name(Expr):
    id: str


@dataclass(eq=False)
class Attr(Expr):
    value: Expr
    attr: str


@dataclass(eq=False)
class Index(Expr):
    value: Expr
    key: Expr


@dataclass(eq=False)
class Call(Expr):
    func: Expr
    args: list[Expr]


@dataclass(eq=False)
class Unary(Expr):
    op: str
    operand: Expr


@dataclass(eq=False)
class Binary(Expr):
    """Arithmetic, set and coalescing operators: + - * / % | & ??."""

    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class BoolOp(Expr):
    op: str  # "and" or "or"
    left: Expr
    right: Expr


@dataclass(eq=False)
class Not(Expr):
    operand: Expr


@dataclass(eq=False)
class Compare(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class Membership(Expr):
    left: Expr
    right: Expr
    negated: bool


@dataclass(eq=False)
class IsCheck(Expr):
    """``x is null``, ``x is absent``, ``x is empty`` and their negations."""

    operand: Expr
    kind: str
    negated: bool


@dataclass(eq=False)
class Conditional(Expr):
    condition: Expr
    then: Expr
    otherwise: Expr


@dataclass(eq=False)
class ListLiteral(Expr):
    items: list[Expr]


@dataclass(eq=False)
class Comprehension(Expr):
    kind: str  # "list" or "set"
    element: Expr
    var: str
    collection: Expr
    condition: Expr | None


@dataclass(eq=False)
class Quantifier(Expr):
    kind: str  # "any", "all", "none" or "count"
    var: str
    collection: Expr
    condition: Expr | None
    predicate: Expr | None


@dataclass(eq=False)
class TypeRef(Node):
    name: str
    argument: TypeRef | None = None

    def __str__(self) -> str:
        if self.argument is None:
            return self.name

        return f"{self.name}<{self.argument}>"


@dataclass(eq=False)
class Import(Node):
    package: str
    alias: str


@dataclass(eq=False)
class Param(Node):
    name: str
    type: TypeRef
    default: Expr | None


@dataclass(eq=False)
class Let(Node):
    name: str
    value: Expr


@dataclass(eq=False)
class Func(Node):
    name: str
    params: list[str]
    body: Expr


@dataclass(eq=False)
class TemplatePart(Node):
    """A piece of a message template: literal text, or an expression in braces."""

    text: str | None
    expr: Expr | None


@dataclass(eq=False)
class Template(Node):
    source: str
    parts: list[TemplatePart]


@dataclass(eq=False)
class NamedArg(Node):
    name: str
    value: Expr


@dataclass(eq=False)
class Remediate(Node):
    action: str
    args: list[NamedArg]


@dataclass(eq=False)
class EvidenceItem(Node):
    label: str
    value: Expr


@dataclass(eq=False)
class Policy(Node):
    """A policy block; ``for_var`` is None for a tenant-level assertion."""

    id: str
    id_pos: Position | None = None
    title: str | None = None
    severity: str | None = None
    severity_pos: Position | None = None
    controls: list[str] = field(default_factory=list)
    description: str | None = None
    when: Expr | None = None
    lets: list[Let] = field(default_factory=list)
    for_var: str | None = None
    for_pos: Position | None = None
    collection: Expr | None = None
    where: Expr | None = None
    item_lets: list[Let] = field(default_factory=list)
    assertion: Expr | None = None
    message: Template | None = None
    evidence: list[EvidenceItem] = field(default_factory=list)
    remediations: list[Remediate] = field(default_factory=list)


@dataclass(eq=False)
class Module(Node):
    """One parsed policy file."""

    file: str
    source: str
    package: str
    imports: list[Import] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    lets: list[Let] = field(default_factory=list)
    funcs: list[Func] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
