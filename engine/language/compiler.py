"""Compile checked expressions into Python closures.

Each expression becomes a function ``(frame, context) -> value``; ``frame`` is
a list of local slots numbered by the checker. Nothing walks the tree while a
policy runs over records. Logic is three-valued: an ``Unknown`` operand makes
the result unknown unless ``and`` / ``or`` can decide without it.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from engine.language import ast
from engine.language.builtins import BUILTINS
from engine.language.values import ABSENT, EvalError, Unknown, merge_unknown, parse_timestamp, strict_equal, type_name

__all__ = ["Compiler", "Compiled"]

Compiled = Callable[[list, Any], Any]


def _fail(node: ast.Node, message: str) -> EvalError:
    return EvalError(message, node)


def _is_nothing(value: Any) -> bool:
    return value is None or value is ABSENT


def _nothing_message(what: str, value: Any) -> str:
    return f"{what} is {type_name(value)}; handle it with '??' or 'is {type_name(value)}'"


_UNSET = object()

# Snapshot timestamps are nearly all distinct, so for field reads the LRU cache
# of parse_timestamp only adds work: with 300,000 distinct values a cached
# parse took 0.45 us and the plain function 0.14 us.
_parse_field_timestamp = getattr(parse_timestamp, "__wrapped__", parse_timestamp)


def _free_slots(node: Any, bound: frozenset[int] = frozenset()) -> set[int] | None:
    """Return the frame slots an expression reads and does not bind itself, or None if that is unclear."""
    if isinstance(node, ast.Name):
        binding = getattr(node, "binding", None)
        if binding is None:
            return None
        if binding[0] == "local":
            return set() if binding[1] in bound else {binding[1]}
        return set()
    if isinstance(node, (ast.Comprehension, ast.Quantifier)):
        slot = getattr(node, "slot", None)
        if slot is None:
            return None
        inner = bound | {slot}
        found = _free_slots(node.collection, bound)
        for child in (getattr(node, "element", None), node.condition, getattr(node, "predicate", None)):
            if found is None:
                return None
            if child is not None:
                more = _free_slots(child, inner)
                found = None if more is None else found | more
        return found

    found: set[int] = set()
    for item in dataclasses.fields(node):
        # A call's callee is resolved by the checker and never evaluated as a value.
        if isinstance(node, ast.Call) and item.name == "func":
            continue
        value = getattr(node, item.name)
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, ast.Expr):
                more = _free_slots(child, bound)
                if more is None:
                    return None
                found |= more

    return found


def _hoistable(node: ast.Expr) -> bool:
    """Return whether an expression reads no frame slot and costs more than a lookup."""
    if isinstance(node, (ast.Literal, ast.Name)):
        return False
    if isinstance(node, ast.Attr) and (
        getattr(node, "section", None) is not None or getattr(node, "binding", (None,))[0] == "global"
    ):
        return False
    if isinstance(node, ast.ListLiteral) and all(isinstance(item, ast.Literal) for item in node.items):
        return False

    return _free_slots(node) == set()


def _once_per_context(function: Compiled) -> Compiled:
    """Cache the value of a frame-independent expression in the evaluation context."""
    key = object()

    def once(frame, context):
        if context is None:
            return function(frame, context)
        cache = context.cache
        value = cache.get(key, _UNSET)
        if value is _UNSET:
            value = function(frame, context)
            cache[key] = value
        return value

    return once


def _kleene_and(values: list[Any]) -> Any:
    unknown = None
    for value in values:
        if value is False:
            return False
        if type(value) is Unknown:
            unknown = value if unknown is None else merge_unknown(unknown, value)
    if unknown is not None:
        return unknown

    return True


class Compiler:
    """Compiles the expressions of one checked program; functions and lets are compiled once."""

    def __init__(self, program) -> None:
        self.program = program
        self.functions: dict[tuple[str, str], tuple[Compiled, int]] = {}
        self.globals: dict[tuple[str, str], tuple[Compiled, int]] = {}
        self._hoisting = False

    def compile(self, node: ast.Expr) -> Compiled:
        method = getattr(self, f"_compile_{type(node).__name__}")
        if self._hoisting or not _hoistable(node):
            return method(node)

        # An expression that reads no local has one value per evaluation (now() - days(90),
        # m365.securityDefaults.isEnabled == true): compute it once, not once per record.
        self._hoisting = True
        try:
            function = method(node)
        finally:
            self._hoisting = False

        return _once_per_context(function)

    def _compile_apart(self, node: ast.Expr) -> Compiled:
        """Compile a function body or a let, which run in frames of their own."""
        hoisting, self._hoisting = self._hoisting, False
        try:
            return self.compile(node)
        finally:
            self._hoisting = hoisting

    # Leaves --------------------------------------------------------------

    def _compile_Literal(self, node: ast.Literal) -> Compiled:
        value = node.value

        return lambda frame, context: value

    def _compile_Name(self, node: ast.Name) -> Compiled:
        binding = node.binding
        kind = binding[0]
        if kind == "local":
            slot = binding[1]
            return lambda frame, context: frame[slot]
        if kind == "param":
            name = binding[1]
            return lambda frame, context: context.params[name]
        if kind == "global":
            return self._global(binding[1], binding[2])
        if kind == "root":
            provider = binding[1]
            return lambda frame, context: context.root(provider)
        message = f"name '{node.id}' cannot be evaluated"
        raise _fail(node, message)

    def _global(self, package: str, name: str) -> Compiled:
        key = (package, name)
        if key not in self.globals:
            let = self.program.packages[package].lets[name]
            self.globals[key] = (self._compile_apart(let.value), getattr(let, "frame_size", 0))
        function, size = self.globals[key]

        def evaluate(frame, context):
            cache = context.globals
            if key in cache:
                return cache[key]
            value = function([None] * size, context)
            cache[key] = value
            return value

        return evaluate

    # Access --------------------------------------------------------------

    def _compile_Attr(self, node: ast.Attr) -> Compiled:
        section = getattr(node, "section", None)
        if section is not None:
            return lambda frame, context: context.section(section)
        binding = getattr(node, "binding", None)
        if binding is not None and binding[0] == "global":
            return self._global(binding[1], binding[2])

        # A chain such as user.signInActivity.lastSignInDateTime becomes one closure
        # that reads field after field, instead of one closure per field.
        steps = [node]
        base = node.value
        while (
            isinstance(base, ast.Attr)
            and getattr(base, "section", None) is None
            and getattr(base, "binding", (None,))[0] != "global"
        ):
            steps.append(base)
            base = base.value
        steps.reverse()
        chain = [(step, step.attr, getattr(step, "timestamp", False)) for step in steps]
        base_binding = getattr(base, "binding", None) if isinstance(base, ast.Name) else None
        slot = base_binding[1] if base_binding is not None and base_binding[0] == "local" else None
        base_function = self.compile(base) if slot is None else None
        if len(chain) == 1 and not chain[0][2] and slot is not None:
            return _read_one_field(slot, node, node.attr)

        def read(frame, context):
            value = frame[slot] if base_function is None else base_function(frame, context)
            for step, name, timestamp in chain:
                if type(value) is dict:
                    value = value.get(name, ABSENT)
                    if timestamp and type(value) is str:
                        try:
                            value = _parse_field_timestamp(value)
                        except ValueError:
                            message = f"field '{name}' holds {value!r}, which is not an RFC 3339 timestamp"
                            raise _fail(step, message) from None
                elif value is None or value is ABSENT or type(value) is Unknown:
                    return value
                else:
                    message = f"cannot read field '{name}' of a {type_name(value)}"
                    raise _fail(step, message)

            return value

        return read

    def _compile_Index(self, node: ast.Index) -> Compiled:
        value_function = self.compile(node.value)
        key_function = self.compile(node.key)
        timestamp = getattr(node, "timestamp", False)

        def index(frame, context):
            value = value_function(frame, context)
            key = key_function(frame, context)
            if type(value) is Unknown or type(key) is Unknown:
                return merge_unknown(value, key)
            if _is_nothing(value):
                return value
            if type(value) is dict and type(key) is str:
                result = value.get(key, ABSENT)
                if timestamp and type(result) is str:
                    try:
                        return parse_timestamp(result)
                    except ValueError:
                        message = f"field '{key}' holds {result!r}, which is not an RFC 3339 timestamp"
                        raise _fail(node, message) from None
                return result
            if isinstance(value, (list, str)) and type(key) is int:
                if -len(value) <= key < len(value):
                    return value[key]
                return ABSENT
            message = f"cannot index a {type_name(value)} with a {type_name(key)}"
            raise _fail(node, message)

        return index

    # Calls ---------------------------------------------------------------

    def _compile_Call(self, node: ast.Call) -> Compiled:
        binding = node.binding
        argument_functions = [self.compile(arg) for arg in node.args]
        if binding[0] == "builtin":
            return self._builtin_call(node, BUILTINS[binding[1]], argument_functions)
        if binding[0] == "func":
            return self._user_call(node, binding[1], binding[2], argument_functions)
        message = "this call cannot be evaluated"
        raise _fail(node, message)

    def _builtin_call(self, node: ast.Call, builtin, argument_functions: list[Compiled]) -> Compiled:
        function = builtin.function
        name = builtin.name
        handles_unknown = builtin.handles_unknown
        accepts_null = builtin.accepts_null
        if len(argument_functions) == 1 and not handles_unknown:
            return self._builtin_call_one(node, builtin, argument_functions[0])

        def call(frame, context):
            arguments = [argument(frame, context) for argument in argument_functions]
            for position, value in enumerate(arguments, start=1):
                if type(value) is Unknown and not handles_unknown:
                    return merge_unknown(*arguments)
                if not accepts_null and (value is None or value is ABSENT):
                    raise _fail(node, _nothing_message(f"argument {position} of {name}()", value))
            try:
                return function(context, *arguments)
            except EvalError as error:
                if error.node is None:
                    error.node = node
                raise
            except OverflowError:
                raise _fail(node, f"the result of {name}() is out of range") from None

        return call

    def _builtin_call_one(self, node: ast.Call, builtin, argument_function: Compiled) -> Compiled:
        """Compile a call of a one-argument built-in, without building an argument list."""
        function = builtin.function
        name = builtin.name
        accepts_null = builtin.accepts_null

        def call(frame, context):
            value = argument_function(frame, context)
            if type(value) is Unknown:
                return merge_unknown(value)
            if not accepts_null and (value is None or value is ABSENT):
                raise _fail(node, _nothing_message(f"argument 1 of {name}()", value))
            try:
                return function(context, value)
            except EvalError as error:
                if error.node is None:
                    error.node = node
                raise
            except OverflowError:
                raise _fail(node, f"the result of {name}() is out of range") from None

        return call

    def _user_call(self, node: ast.Call, package: str, name: str, argument_functions: list[Compiled]) -> Compiled:
        key = (package, name)
        if key not in self.functions:
            func = self.program.packages[package].funcs[name]
            self.functions[key] = (self._compile_apart(func.body), getattr(func, "frame_size", len(func.params)))
        body, size = self.functions[key]
        count = len(argument_functions)

        def call(frame, context):
            inner = [None] * size
            for position in range(count):
                inner[position] = argument_functions[position](frame, context)
            return body(inner, context)

        return call

    # Operators -----------------------------------------------------------

    def _compile_Unary(self, node: ast.Unary) -> Compiled:
        operand = self.compile(node.operand)

        def negate(frame, context):
            value = operand(frame, context)
            if type(value) is Unknown:
                return value
            if isinstance(value, bool) or not isinstance(value, (int, float, timedelta)):
                message = f"'-' needs a number or duration, got {type_name(value)}"
                raise _fail(node, message)
            return -value

        return negate

    def _compile_Binary(self, node: ast.Binary) -> Compiled:
        left = self.compile(node.left)
        right = self.compile(node.right)
        op = node.op
        if op == "??":

            def coalesce(frame, context):
                value = left(frame, context)
                if value is None or value is ABSENT:
                    return right(frame, context)
                return value

            return coalesce
        if op in ("|", "&"):
            combine = frozenset.union if op == "|" else frozenset.intersection

            def set_operation(frame, context):
                a = left(frame, context)
                b = right(frame, context)
                if type(a) is Unknown or type(b) is Unknown:
                    return merge_unknown(a, b)
                return combine(_as_set(node, a, op), _as_set(node, b, op))

            return set_operation
        arithmetic = _ARITHMETIC[op]
        concatenates = op == "+"

        def apply(frame, context):
            a = left(frame, context)
            b = right(frame, context)
            if concatenates and type(a) is type(b) and (type(a) is str or type(a) is list):
                return a + b
            if type(a) is Unknown or type(b) is Unknown:
                return merge_unknown(a, b)
            if _is_nothing(a):
                raise _fail(node, _nothing_message(f"left operand of '{op}'", a))
            if _is_nothing(b):
                raise _fail(node, _nothing_message(f"right operand of '{op}'", b))
            if op == "-" and isinstance(a, (list, frozenset)) and isinstance(b, (list, frozenset)):
                return _as_set(node, a, op) - _as_set(node, b, op)
            if isinstance(a, bool) or isinstance(b, bool):
                message = f"'{op}' cannot combine {type_name(a)} and {type_name(b)}"
                raise _fail(node, message)
            try:
                return arithmetic(a, b)
            except ZeroDivisionError:
                raise _fail(node, "division by zero") from None
            except OverflowError:
                # Timestamps end at year 9999: now() - 10000 * 365d has no value.
                raise _fail(node, f"the result of '{op}' is out of range") from None
            except TypeError:
                message = f"'{op}' cannot combine {type_name(a)} and {type_name(b)}"
                raise _fail(node, message) from None

        return apply

    def _compile_BoolOp(self, node: ast.BoolOp) -> Compiled:
        left = self.compile(node.left)
        right = self.compile(node.right)
        deciding = node.op == "or"  # the value that decides without the other operand

        def fail(value, side):
            message = f"'{node.op}' needs booleans, but its {side} operand is {type_name(value)}"
            return _fail(node, message)

        def logic(frame, context):
            a = left(frame, context)
            if a is deciding:
                return a
            if a is not (not deciding) and type(a) is not Unknown:
                raise fail(a, "left")
            b = right(frame, context)
            if b is deciding:
                return b
            if b is not (not deciding) and type(b) is not Unknown:
                raise fail(b, "right")
            if type(a) is Unknown or type(b) is Unknown:
                return merge_unknown(a, b)
            return not deciding

        return logic

    def _compile_Not(self, node: ast.Not) -> Compiled:
        operand = self.compile(node.operand)

        def negate(frame, context):
            value = operand(frame, context)
            if value is True:
                return False
            if value is False:
                return True
            if type(value) is Unknown:
                return value
            message = f"'not' needs a boolean, got {type_name(value)}"
            raise _fail(node, message)

        return negate

    def _compile_Compare(self, node: ast.Compare) -> Compiled:
        left = self.compile(node.left)
        right = self.compile(node.right)
        op = node.op
        if op in ("==", "!="):
            negated = op == "!="
            if isinstance(node.right, ast.Literal):
                return _literal_equality(left, node.right.value, negated)

            def equality(frame, context):
                a = left(frame, context)
                b = right(frame, context)
                if type(a) is Unknown or type(b) is Unknown:
                    return merge_unknown(a, b)
                if type(a) is str and type(b) is str:
                    return (a == b) is not negated
                return strict_equal(a, b) is not negated

            return equality
        ordering = _ORDERING[op]

        def compare(frame, context):
            a = left(frame, context)
            b = right(frame, context)
            if type(a) is type(b) and type(a) in _ORDERED_TYPES:
                return ordering(a, b)
            if type(a) is Unknown or type(b) is Unknown:
                return merge_unknown(a, b)
            if _is_nothing(a):
                raise _fail(node, _nothing_message(f"left side of '{op}'", a))
            if _is_nothing(b):
                raise _fail(node, _nothing_message(f"right side of '{op}'", b))
            if isinstance(a, bool) or isinstance(b, bool) or not _comparable(a, b):
                message = f"'{op}' cannot compare {type_name(a)} with {type_name(b)}"
                raise _fail(node, message)
            return ordering(a, b)

        return compare

    def _compile_Membership(self, node: ast.Membership) -> Compiled:
        left = self.compile(node.left)
        right = self.compile(node.right)
        negated = node.negated

        def membership(frame, context):
            item = left(frame, context)
            container = right(frame, context)
            if type(item) is str and (type(container) is frozenset or type(container) is list):
                return (item in container) is not negated
            if type(item) is Unknown or type(container) is Unknown:
                return merge_unknown(item, container)
            if _is_nothing(container):
                raise _fail(node, _nothing_message("the right side of 'in'", container))
            return _contains(node, container, item) is not negated

        return membership

    def _compile_IsCheck(self, node: ast.IsCheck) -> Compiled:
        operand = self.compile(node.operand)
        kind = node.kind
        negated = node.negated

        if kind == "empty":

            def check_empty(frame, context):
                value = operand(frame, context)
                if value is None or value is ABSENT:
                    return not negated
                if type(value) is Unknown:
                    return value
                result = isinstance(value, (str, list, dict, frozenset)) and len(value) == 0
                return result is not negated

            return check_empty

        def check(frame, context):
            value = operand(frame, context)
            if type(value) is Unknown:
                return value
            if kind == "null":
                result = value is None
            else:
                result = value is ABSENT
            return result is not negated

        return check

    def _compile_Conditional(self, node: ast.Conditional) -> Compiled:
        condition = self.compile(node.condition)
        then = self.compile(node.then)
        otherwise = self.compile(node.otherwise)

        def choose(frame, context):
            decided = condition(frame, context)
            if decided is True:
                return then(frame, context)
            if decided is False:
                return otherwise(frame, context)
            if type(decided) is Unknown:
                return decided
            message = f"'if' needs a boolean condition, got {type_name(decided)}"
            raise _fail(node.condition, message)

        return choose

    # Collections ---------------------------------------------------------

    def _compile_ListLiteral(self, node: ast.ListLiteral) -> Compiled:
        items = [self.compile(item) for item in node.items]
        if all(isinstance(item, ast.Literal) for item in node.items):
            constant = [item.value for item in node.items]
            return lambda frame, context: constant

        def build(frame, context):
            values = [item(frame, context) for item in items]
            for value in values:
                if type(value) is Unknown:
                    return merge_unknown(*values)
            return values

        return build

    def _iterable(self, node, collection_function: Compiled):
        def iterable(frame, context):
            return _items_of(node, collection_function(frame, context))

        return iterable

    def _compile_Comprehension(self, node: ast.Comprehension) -> Compiled:
        collection_function = self.compile(node.collection)
        condition = self.compile(node.condition) if node.condition is not None else None
        element = self.compile(node.element)
        slot = node.slot
        as_set = node.kind == "set"

        def comprehend(frame, context):
            items = collection_function(frame, context)
            if type(items) is not list:
                items = _items_of(node, items)
            if type(items) is Unknown:
                return items
            values = []
            for item in items:
                frame[slot] = item
                if condition is not None:
                    keep = condition(frame, context)
                    if keep is False:
                        continue
                    if type(keep) is Unknown:
                        return keep
                    if keep is not True:
                        message = f"'where' needs a boolean, got {type_name(keep)}"
                        raise _fail(node.condition, message)
                value = element(frame, context)
                if type(value) is Unknown:
                    return value
                values.append(value)
            if as_set:
                try:
                    return frozenset(values)
                except TypeError:
                    raise _fail(node, "a set can only hold strings, numbers and booleans") from None
            return values

        return comprehend

    def _compile_Quantifier(self, node: ast.Quantifier) -> Compiled:
        collection_function = self.compile(node.collection)
        condition = self.compile(node.condition) if node.condition is not None else None
        predicate = self.compile(node.predicate) if node.predicate is not None else None
        slot = node.slot
        kind = node.kind

        def truth(function, frame, context, what):
            value = function(frame, context)
            if value is True or value is False or type(value) is Unknown:
                return value
            message = f"{what} needs a boolean, got {type_name(value)}"
            raise _fail(node, message)

        def quantify(frame, context):
            items = collection_function(frame, context)
            if type(items) is not list:
                items = _items_of(node, items)
            if type(items) is Unknown:
                return items
            matched = 0
            unknown = None
            for item in items:
                frame[slot] = item
                holds = True
                if condition is not None:
                    holds = truth(condition, frame, context, "'where'")
                    if holds is False:
                        continue
                if predicate is not None:
                    satisfied = truth(predicate, frame, context, f"'{kind}'")
                    if kind == "all" and holds is not True:
                        # all(x where C: P) needs C implies P: an unknown C decides nothing unless P holds.
                        holds = True if satisfied is True else merge_unknown(holds, satisfied)
                    else:
                        holds = _kleene_and([holds, satisfied])
                if kind == "all":
                    if holds is False:
                        return False
                elif holds is True:
                    if kind == "any":
                        return True
                    if kind == "none":
                        return False
                    matched += 1
                    continue
                if type(holds) is Unknown:
                    unknown = holds if unknown is None else merge_unknown(unknown, holds)
            if unknown is not None:
                return unknown
            if kind == "count":
                return matched
            return kind in ("all", "none")

        return quantify


def _read_one_field(slot: int, node: ast.Attr, name: str) -> Compiled:
    """Return the read closure of _compile_Attr for one field, no timestamp, of a local variable, such as user.id."""

    def read_field(frame, context):
        value = frame[slot]
        if type(value) is dict:
            return value.get(name, ABSENT)
        if value is None or value is ABSENT or type(value) is Unknown:
            return value
        message = f"cannot read field '{name}' of a {type_name(value)}"
        raise _fail(node, message)

    return read_field


def _items_of(node: ast.Node, collection: Any) -> Any:
    """Return the items a comprehension or quantifier iterates over: a list, or an Unknown passed through."""
    if type(collection) is Unknown:
        return collection
    if isinstance(collection, (list, tuple)):
        return collection
    if isinstance(collection, frozenset):
        return sorted(collection, key=repr)
    if _is_nothing(collection):
        raise _fail(node.collection, _nothing_message("the collection", collection))
    message = f"cannot iterate over a {type_name(collection)}"
    raise _fail(node.collection, message)


def _literal_equality(left: Compiled, constant: Any, negated: bool) -> Compiled:
    """Return the equality closure of _compile_Compare for a literal right side."""
    if type(constant) is bool:

        def equality_bool(frame, context):
            a = left(frame, context)
            if type(a) is Unknown:
                return merge_unknown(a)
            # Only a boolean equals a boolean: 1 == true is false.
            return (a is constant) is not negated

        return equality_bool

    def equality(frame, context):
        a = left(frame, context)
        if type(a) is Unknown:
            return merge_unknown(a)
        if type(a) is str and type(constant) is str:
            return (a == constant) is not negated
        return strict_equal(a, constant) is not negated

    return equality


def _as_set(node: ast.Node, value: Any, op: str) -> frozenset:
    if isinstance(value, frozenset):
        return value
    if isinstance(value, (list, tuple)):
        try:
            return frozenset(value)
        except TypeError:
            raise _fail(node, f"'{op}' works on lists of strings, numbers and booleans") from None
    if _is_nothing(value):
        raise _fail(node, _nothing_message(f"an operand of '{op}'", value))
    message = f"'{op}' needs lists or sets, got {type_name(value)}"
    raise _fail(node, message)


def _contains(node: ast.Node, container: Any, item: Any) -> bool:
    if isinstance(container, frozenset):
        if type(item) is str:
            return item in container
        # Python's set lookup finds 1 in {true}; the language keeps booleans and numbers apart.
        return any(strict_equal(item, candidate) for candidate in container)
    if isinstance(container, (list, tuple)):
        if type(item) is str:
            return item in container
        return any(strict_equal(item, candidate) for candidate in container)
    if isinstance(container, str):
        if type(item) is not str:
            message = f"'in' on a string needs a string on the left, got {type_name(item)}"
            raise _fail(node, message)
        return item in container
    if isinstance(container, dict):
        return type(item) is str and item in container
    message = f"the right side of 'in' must be a list, set, string or object, got {type_name(container)}"
    raise _fail(node, message)


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return True
    for kind in (str, datetime, timedelta):
        if isinstance(a, kind) and isinstance(b, kind):
            return True

    return False


_ARITHMETIC = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}

# Operands of one of these types compare directly (bool is not among them).
_ORDERED_TYPES = frozenset({str, int, float, datetime, timedelta})

_ORDERING = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
