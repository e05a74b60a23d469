"""Condition coverage of policies, measured by compiling them with recording closures.

What is measured, per decision point:

- the ``when``, ``where`` and ``assert`` clause of each policy, each operand
  of an ``and`` / ``or`` chain, each ``if`` condition, and the ``where`` and
  ``:`` conditions of quantifiers and comprehensions. For each, whether it
  evaluated to true and whether it evaluated to false, at least once. For an ``if``
  condition, true and false mean the ``then`` and the ``else`` branch ran.
  An operand skipped by short-circuit records nothing; an unknown value
  (data not collected) counts as neither outcome.
- the ``for`` clause of each policy: whether its collection was evaluated
  with at least one item, and with none.

Points in a policy's own clauses count for that policy. Points inside a
``func`` body or a package-level ``let`` count for that function or let, once,
whichever policy reached them. Message templates, evidence, remediation
arguments and param defaults are not instrumented: they do not decide a
status.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

from engine.language import ast
from engine.language.compiler import Compiled, Compiler
from engine.language.policyset import PolicySet
from engine.language.values import Unknown

__all__ = ["CoveragePoint", "CoverageOwner", "CoverageRecorder", "instrument"]

# The two outcomes each kind of point should show.
OUTCOMES = {"for": ("items", "no items")}
_BOOLEAN_OUTCOMES = ("true", "false")


@dataclass
class CoveragePoint:
    """One decision point and the outcomes seen so far."""

    kind: str
    file: str
    line: int
    column: int
    text: str
    seen: set[str] = field(default_factory=set)

    @property
    def outcomes(self) -> tuple[str, str]:
        return OUTCOMES.get(self.kind, _BOOLEAN_OUTCOMES)

    @property
    def missing(self) -> list[str]:
        return [outcome for outcome in self.outcomes if outcome not in self.seen]


@dataclass
class CoverageOwner:
    """A policy, function or package-level let and its decision points in source order."""

    kind: str
    name: str
    file: str
    line: int
    points: list[CoveragePoint] = field(default_factory=list)

    @property
    def covered(self) -> int:
        return sum(len(point.outcomes) - len(point.missing) for point in self.points)

    @property
    def total(self) -> int:
        return sum(len(point.outcomes) for point in self.points)


class CoverageRecorder:
    """Decision points of a program, keyed by AST node identity, and their owners."""

    def __init__(self) -> None:
        self.owners: list[CoverageOwner] = []
        self.points: dict[int, CoveragePoint] = {}
        # Keeps every instrumented node alive, so no id() is reused while the recorder lives.
        self._nodes: list[ast.Node] = []

    def add(self, owner: CoverageOwner, node: ast.Node, kind: str, source: str) -> None:
        if id(node) in self.points:
            return
        text = " ".join(source[node.start : node.end].split())
        if len(text) > 60:
            text = text[:59] + "…"
        point = CoveragePoint(kind=kind, file=node.pos.file, line=node.pos.line, column=node.pos.column, text=text)
        self.points[id(node)] = point
        self._nodes.append(node)
        owner.points.append(point)

    @property
    def covered(self) -> int:
        return sum(owner.covered for owner in self.owners)

    @property
    def total(self) -> int:
        return sum(owner.total for owner in self.owners)


def _operands(node: ast.BoolOp) -> Iterator[ast.Expr]:
    """Yield the operands of a chain of one operator: ``a and b and c`` gives a, b, c."""
    for side in (node.left, node.right):
        if isinstance(side, ast.BoolOp) and side.op == node.op:
            yield from _operands(side)
        else:
            yield side


def _children(node: Any) -> Iterator[ast.Node]:
    for item in fields(node):
        value = getattr(node, item.name)
        values = value if isinstance(value, list) else [value]
        for child in values:
            if isinstance(child, ast.Expr):
                yield child


def _collect(recorder: CoverageRecorder, owner: CoverageOwner, node: ast.Expr | None, source: str) -> None:
    """Register the decision points inside one expression."""
    if node is None:
        return
    if isinstance(node, ast.BoolOp):
        for operand in _operands(node):
            recorder.add(owner, operand, f"{node.op} operand", source)
            _collect(recorder, owner, operand, source)
        return
    if isinstance(node, ast.Conditional):
        recorder.add(owner, node.condition, "if", source)
    elif isinstance(node, (ast.Quantifier, ast.Comprehension)) and node.condition is not None:
        recorder.add(owner, node.condition, "where", source)
    if isinstance(node, ast.Quantifier) and node.predicate is not None:
        recorder.add(owner, node.predicate, f"{node.kind} condition", source)
    for child in _children(node):
        _collect(recorder, owner, child, source)


def _defines(module: ast.Module, definition: ast.Node) -> bool:
    return any(candidate is definition for candidate in [*module.funcs, *module.lets])


def _register_program(recorder: CoverageRecorder, program) -> None:
    for module, policy in program.policies:
        owner = CoverageOwner(kind="policy", name=policy.id, file=module.file, line=policy.pos.line)
        recorder.owners.append(owner)
        source = module.source
        for clause, kind in ((policy.when, "when"), (policy.collection, "for"), (policy.where, "where"), (policy.assertion, "assert")):
            if clause is not None:
                recorder.add(owner, clause, kind, source)
        expressions = [policy.when, *(let.value for let in policy.lets), policy.collection, policy.where]
        expressions += [*(let.value for let in policy.item_lets), policy.assertion]
        for expression in expressions:
            _collect(recorder, owner, expression, source)
    for package_name, package in sorted(program.packages.items()):
        for kind, definitions in (("func", package.funcs), ("let", package.lets)):
            for name, definition in sorted(definitions.items()):
                module = next((module for module in package.modules if _defines(module, definition)), None)
                if module is None:
                    continue
                owner = CoverageOwner(kind=kind, name=f"{package_name}.{name}", file=module.file, line=definition.pos.line)
                body = definition.body if kind == "func" else definition.value
                _collect(recorder, owner, body, module.source)
                if owner.points:
                    recorder.owners.append(owner)


def _recording(function: Compiled, point: CoveragePoint) -> Compiled:
    seen = point.seen
    if point.kind == "for":

        def record_items(frame, context):
            value = function(frame, context)
            if isinstance(value, (list, tuple, frozenset)):
                seen.add("items" if value else "no items")
            return value

        return record_items

    def record(frame, context):
        value = function(frame, context)
        if value is True:
            seen.add("true")
        elif value is False:
            seen.add("false")
        elif type(value) is Unknown:
            seen.add("unknown")
        return value

    return record


class _CoverageCompiler(Compiler):
    """A compiler whose closures for decision points record their outcome before returning it."""

    def __init__(self, program, recorder: CoverageRecorder) -> None:
        super().__init__(program)
        self.recorder = recorder

    def compile(self, node: ast.Expr) -> Compiled:
        function = super().compile(node)
        point = self.recorder.points.get(id(node))
        if point is None:
            return function

        return _recording(function, point)


def instrument(policy_set: PolicySet) -> tuple[PolicySet, CoverageRecorder]:
    """Return a copy of the policy set whose deciding clauses record coverage, and the recorder."""
    recorder = CoverageRecorder()
    program = policy_set.program
    _register_program(recorder, program)
    compiler = _CoverageCompiler(program, recorder)
    by_id = {policy.id: policy for _, policy in program.policies}
    policies = []
    for compiled in policy_set.policies:
        node = by_id[compiled.id]
        policies.append(
            replace(
                compiled,
                when=compiler.compile(node.when) if node.when is not None else None,
                lets=[(let.slot, compiler.compile(let.value)) for let in node.lets],
                collection=compiler.compile(node.collection) if node.collection is not None else None,
                where=compiler.compile(node.where) if node.where is not None else None,
                item_lets=[(let.slot, compiler.compile(let.value)) for let in node.item_lets],
                assertion=compiler.compile(node.assertion),
            )
        )

    return replace(policy_set, policies=policies), recorder
