"""Parse policy source text into an AST (text -> tokens -> tree -> nodes).

Syntax errors become diagnostics with the expected tokens named in plain
words. Clause order inside a policy block is checked here too, because it
decides which ``let`` is tenant-level and which is evaluated per resource.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from functools import cache
from importlib import resources

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from engine.diagnostics import Diagnostic, DiagnosticSink, Position, suggest
from engine.language import ast

__all__ = ["parse_module", "parse_expression"]

_DURATION_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}

# Plain-word names for terminals in "expected ..." hints.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "DURATION": "a duration such as 90d",
    "COMPARE_OP": "a comparison operator",
    "QUANTIFIER": "a quantifier (any, all, none, count)",
    "IS_KIND": "null, absent or empty",
    "$END": "end of file",
}


class _Failure(Exception):
    """A diagnostic raised from inside the transformer; unwrapped from VisitError once."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@cache
def _parser() -> Lark:
    grammar = resources.files("engine.language").joinpath("grammar.lark").read_text(encoding="utf-8")

    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        start=["start", "expr"],
        propagate_positions=True,
        maybe_placeholders=True,
        # Reuses the built LALR tables from a file in the temp folder (about 0.1 s a process).
        cache=True,
    )


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        pattern = _parser().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"'{pattern.value}'"

    return name.lower()


def _word_order(word: str) -> tuple[int, str]:
    # Keywords first, then descriptions such as "a name", then punctuation.
    if word.startswith("'") and word.strip("'").isidentifier():
        return (0, word)
    if not word.startswith("'"):
        return (1, word)

    return (2, word)


def _expected_words(expected: set[str], end: str = "end of file") -> str:
    words = sorted({end if name == "$END" else _describe_terminal(name) for name in expected}, key=_word_order)
    if len(words) > 8:
        words = words[:8] + ["…"]

    return ", ".join(words)


class _Builder(Transformer):
    """Turns the Lark tree into ast nodes with positions."""

    def __init__(self, file: str, source: str, line_offset: int = 0, column_offset: int = 0) -> None:
        super().__init__()
        self.file = file
        self.source = source
        self.line_offset = line_offset
        self.column_offset = column_offset

    # Positions -----------------------------------------------------------

    def _pos_of(self, line: int, column: int) -> Position:
        if line == 1:
            column += self.column_offset

        return Position(self.file, line + self.line_offset, column)

    def _meta_kwargs(self, meta) -> dict:
        if getattr(meta, "empty", True):
            return {"pos": Position(self.file, 1 + self.line_offset, 1), "start": 0, "end": 0}

        return {"pos": self._pos_of(meta.line, meta.column), "start": meta.start_pos, "end": meta.end_pos}

    def _token_kwargs(self, token: Token) -> dict:
        return {"pos": self._pos_of(token.line, token.column), "start": token.start_pos, "end": token.end_pos}

    def _fail(self, kwargs: dict, code: str, message: str, *notes: str) -> None:
        raise _Failure(Diagnostic(kwargs["pos"], code, message, tuple(notes)))

    def _text(self, token: Token) -> str:
        try:
            return _string_value(token)
        except json.JSONDecodeError as error:
            problem = "invalid escape in string" if "escape" in error.msg else f"invalid string: {error.msg.lower()}"
            self._fail(
                self._token_kwargs(token),
                "syntax_error",
                problem,
                "want: JSON escapes only (\\n, \\t, \\\", \\\\, \\uXXXX); write \\\\ for a backslash, as in regular expressions",
            )

    # Module level ----------------------------------------------------------

    @v_args(meta=True)
    def start(self, meta, items):
        module = ast.Module(file=self.file, source=self.source, package="", **self._meta_kwargs(meta))
        for item in items:
            if isinstance(item, tuple) and item[0] == "package":
                module.package = item[1]
            elif isinstance(item, ast.Import):
                module.imports.append(item)
            elif isinstance(item, ast.Param):
                module.params.append(item)
            elif isinstance(item, ast.Let):
                module.lets.append(item)
            elif isinstance(item, ast.Func):
                module.funcs.append(item)
            elif isinstance(item, ast.Policy):
                module.policies.append(item)

        return module

    def package_decl(self, items):
        return ("package", items[0][0])

    def dotted_name(self, items):
        return (".".join(str(token) for token in items), items[0])

    @v_args(meta=True)
    def import_decl(self, meta, items):
        package, _ = items[0]
        alias = str(items[1]) if items[1] is not None else package.rsplit(".", 1)[-1]

        return ast.Import(package=package, alias=alias, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def param_decl(self, meta, items):
        name, type_ref, default = items

        return ast.Param(name=str(name), type=type_ref, default=default, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def let_decl(self, meta, items):
        return ast.Let(name=str(items[0]), value=items[1], **self._meta_kwargs(meta))

    @v_args(meta=True)
    def func_decl(self, meta, items):
        name, params, body = items

        return ast.Func(name=str(name), params=params or [], body=body, **self._meta_kwargs(meta))

    def func_params(self, items):
        return [str(token) for token in items]

    @v_args(meta=True)
    def simple_type(self, meta, items):
        return ast.TypeRef(name=str(items[0]), **self._meta_kwargs(meta))

    @v_args(meta=True)
    def generic_type(self, meta, items):
        return ast.TypeRef(name=str(items[0]), argument=items[1], **self._meta_kwargs(meta))

    # Policy blocks ---------------------------------------------------------

    @v_args(meta=True)
    def title_clause(self, meta, items):
        return ("title", self._text(items[0]), self._meta_kwargs(meta))

    @v_args(meta=True)
    def severity_clause(self, meta, items):
        return ("severity", str(items[0]), self._meta_kwargs(meta))

    @v_args(meta=True)
    def controls_clause(self, meta, items):
        return ("controls", [self._text(token) for token in items if token is not None], self._meta_kwargs(meta))

    @v_args(meta=True)
    def description_clause(self, meta, items):
        return ("description", self._text(items[0]), self._meta_kwargs(meta))

    @v_args(meta=True)
    def when_clause(self, meta, items):
        return ("when", items[0], self._meta_kwargs(meta))

    @v_args(meta=True)
    def let_clause(self, meta, items):
        kwargs = self._meta_kwargs(meta)

        return ("let", ast.Let(name=str(items[0]), value=items[1], **kwargs), kwargs)

    @v_args(meta=True)
    def for_clause(self, meta, items):
        var, collection, condition = items

        return ("for", (str(var), self._token_kwargs(var)["pos"], collection, condition), self._meta_kwargs(meta))

    @v_args(meta=True)
    def assert_clause(self, meta, items):
        return ("assert", items[0], self._meta_kwargs(meta))

    @v_args(meta=True)
    def message_clause(self, meta, items):
        return ("message", self._template(items[0]), self._meta_kwargs(meta))

    @v_args(meta=True)
    def evidence_clause(self, meta, items):
        return ("evidence", [item for item in items if item is not None], self._meta_kwargs(meta))

    @v_args(meta=True)
    def evidence_item(self, meta, items):
        label = items[0]
        text = self._text(label) if label.type == "STRING" else str(label)

        return ast.EvidenceItem(label=text, value=items[1], **self._meta_kwargs(meta))

    @v_args(meta=True)
    def remediate_clause(self, meta, items):
        action, _ = items[0]
        args = [item for item in items[1:] if item is not None]

        return ("remediate", ast.Remediate(action=action, args=args, **self._meta_kwargs(meta)), self._meta_kwargs(meta))

    @v_args(meta=True)
    def named_arg(self, meta, items):
        return ast.NamedArg(name=str(items[0]), value=items[1], **self._meta_kwargs(meta))

    @v_args(meta=True)
    def policy_decl(self, meta, items):
        kwargs = self._meta_kwargs(meta)
        policy = ast.Policy(id=self._text(items[0]), id_pos=self._token_kwargs(items[0])["pos"], **kwargs)
        seen: dict[str, dict] = {}
        single = {"title", "severity", "controls", "description", "when", "for", "assert", "message", "evidence"}
        for kind, value, clause_kwargs in items[1:]:
            if kind in single and kind in seen:
                first = seen[kind]["pos"]
                self._fail(
                    clause_kwargs,
                    "duplicate_clause",
                    f"policy {policy.id!r} has a second '{kind}' clause",
                    f"note: the first one is at line {first.line}, column {first.column}",
                )
            seen.setdefault(kind, clause_kwargs)
            if kind == "let":
                if "assert" in seen:
                    self._fail(clause_kwargs, "clause_order", "'let' must come before 'assert'")
                target = policy.item_lets if policy.for_var is not None else policy.lets
                target.append(value)
            elif kind == "for":
                if "assert" in seen:
                    self._fail(clause_kwargs, "clause_order", "'for' must come before 'assert'")
                policy.for_var, policy.for_pos, policy.collection, policy.where = value
            elif kind == "assert":
                policy.assertion = value
            elif kind == "message":
                policy.message = value
            elif kind == "evidence":
                policy.evidence = value
            elif kind == "remediate":
                policy.remediations.append(value)
            elif kind == "severity":
                policy.severity = value
                policy.severity_pos = clause_kwargs["pos"]
            elif kind == "when":
                if "for" in seen:
                    self._fail(clause_kwargs, "clause_order", "'when' must come before 'for'")
                policy.when = value
            else:
                setattr(policy, kind, value)
        if policy.assertion is None:
            self._fail(
                kwargs,
                "missing_assert",
                f"policy {policy.id!r} has no 'assert' clause",
                "want: assert EXPRESSION, the condition every resource (or the tenant) must meet",
            )

        return policy

    # Expressions -----------------------------------------------------------

    def _binary(self, meta, node_type, op, items, **extra):
        left, right = items[0], items[-1]

        return node_type(op=op, left=left, right=right, **extra, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def conditional(self, meta, items):
        condition, then, otherwise = items

        return ast.Conditional(condition=condition, then=then, otherwise=otherwise, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def or_op(self, meta, items):
        return self._binary(meta, ast.BoolOp, "or", items)

    @v_args(meta=True)
    def and_op(self, meta, items):
        return self._binary(meta, ast.BoolOp, "and", items)

    @v_args(meta=True)
    def not_op(self, meta, items):
        return ast.Not(operand=items[0], **self._meta_kwargs(meta))

    @v_args(meta=True)
    def compare(self, meta, items):
        return ast.Compare(op=str(items[1]), left=items[0], right=items[2], **self._meta_kwargs(meta))

    @v_args(meta=True)
    def in_op(self, meta, items):
        return ast.Membership(left=items[0], right=items[1], negated=False, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def not_in_op(self, meta, items):
        return ast.Membership(left=items[0], right=items[1], negated=True, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def is_op(self, meta, items):
        return ast.IsCheck(operand=items[0], kind=str(items[1]), negated=False, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def is_not_op(self, meta, items):
        return ast.IsCheck(operand=items[0], kind=str(items[1]), negated=True, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def coalesce_op(self, meta, items):
        return self._binary(meta, ast.Binary, "??", items)

    @v_args(meta=True)
    def union_op(self, meta, items):
        return self._binary(meta, ast.Binary, "|", items)

    @v_args(meta=True)
    def intersect_op(self, meta, items):
        return self._binary(meta, ast.Binary, "&", items)

    @v_args(meta=True)
    def add_op(self, meta, items):
        return self._binary(meta, ast.Binary, "+", items)

    @v_args(meta=True)
    def sub_op(self, meta, items):
        return self._binary(meta, ast.Binary, "-", items)

    @v_args(meta=True)
    def mul_op(self, meta, items):
        return self._binary(meta, ast.Binary, "*", items)

    @v_args(meta=True)
    def div_op(self, meta, items):
        return self._binary(meta, ast.Binary, "/", items)

    @v_args(meta=True)
    def mod_op(self, meta, items):
        return self._binary(meta, ast.Binary, "%", items)

    @v_args(meta=True)
    def neg_op(self, meta, items):
        return ast.Unary(op="-", operand=items[0], **self._meta_kwargs(meta))

    @v_args(meta=True)
    def attr(self, meta, items):
        node = ast.Attr(value=items[0], attr=str(items[1]), **self._meta_kwargs(meta))
        # Diagnostics about the field point at its name, not at the start of the chain.
        node.field_pos = self._token_kwargs(items[1])["pos"]

        return node

    @v_args(meta=True)
    def index(self, meta, items):
        return ast.Index(value=items[0], key=items[1], **self._meta_kwargs(meta))

    @v_args(meta=True)
    def call(self, meta, items):
        args = [item for item in items[1:] if item is not None]

        return ast.Call(func=items[0], args=args, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def list_literal(self, meta, items):
        return ast.ListLiteral(items=[item for item in items if item is not None], **self._meta_kwargs(meta))

    @v_args(meta=True)
    def list_comprehension(self, meta, items):
        element, var, collection, condition = items

        return ast.Comprehension(
            kind="list", element=element, var=str(var), collection=collection, condition=condition, **self._meta_kwargs(meta)
        )

    @v_args(meta=True)
    def set_comprehension(self, meta, items):
        element, var, collection, condition = items

        return ast.Comprehension(
            kind="set", element=element, var=str(var), collection=collection, condition=condition, **self._meta_kwargs(meta)
        )

    @v_args(meta=True)
    def quantifier(self, meta, items):
        kind, var, collection, condition, predicate = items
        kwargs = self._meta_kwargs(meta)
        if predicate is None and str(kind) != "count":
            self._fail(
                kwargs,
                "missing_predicate",
                f"'{kind}' needs a condition after ':'",
                f"want: {kind}(x in COLLECTION: CONDITION)",
            )

        return ast.Quantifier(
            kind=str(kind), var=str(var), collection=collection, condition=condition, predicate=predicate, **kwargs
        )

    def string(self, items):
        return ast.Literal(value=self._text(items[0]), **self._token_kwargs(items[0]))

    def number(self, items):
        text = str(items[0])
        value = float(text) if "." in text else int(text)

        return ast.Literal(value=value, **self._token_kwargs(items[0]))

    def duration(self, items):
        text = str(items[0])
        amount, unit = float(text[:-1]), text[-1]

        return ast.Literal(value=timedelta(**{_DURATION_UNITS[unit]: amount}), **self._token_kwargs(items[0]))

    @v_args(meta=True)
    def true(self, meta, items):
        return ast.Literal(value=True, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def false(self, meta, items):
        return ast.Literal(value=False, **self._meta_kwargs(meta))

    @v_args(meta=True)
    def null(self, meta, items):
        return ast.Literal(value=None, **self._meta_kwargs(meta))

    def name(self, items):
        return ast.Name(id=str(items[0]), **self._token_kwargs(items[0]))

    # Message templates -----------------------------------------------------

    def _template(self, token: Token) -> ast.Template:
        """Split a message string into text and ``{expression}`` parts.

        ``{{`` and ``}}`` stand for literal braces. Expression positions are
        computed from the raw token, so they are exact unless the string uses
        backslash escapes before the expression.
        """
        text = self._text(token)
        kwargs = self._token_kwargs(token)
        parts: list[ast.TemplatePart] = []
        buffer: list[str] = []
        index = 0
        while index < len(text):
            char = text[index]
            if char in "{}" and text[index : index + 2] == char * 2:
                buffer.append(char)
                index += 2
                continue
            brace = {**kwargs, "pos": Position(self.file, kwargs["pos"].line, kwargs["pos"].column + 1 + index)}
            if char == "}":
                self._fail(brace, "invalid_template", "unmatched '}' in message", "want: '}}' for a literal brace")
            if char != "{":
                buffer.append(char)
                index += 1
                continue
            close = text.find("}", index)
            if close < 0:
                self._fail(brace, "invalid_template", "unclosed '{' in message", "want: '{{' for a literal brace")
            if buffer:
                parts.append(ast.TemplatePart(text="".join(buffer), expr=None, **kwargs))
                buffer = []
            inner = text[index + 1 : close]
            column = kwargs["pos"].column + 1 + index + 1
            expr = _parse_fragment(inner, self.file, kwargs["pos"].line, column)
            parts.append(ast.TemplatePart(text=None, expr=expr, pos=expr.pos, start=expr.start, end=expr.end))
            index = close + 1
        if buffer:
            parts.append(ast.TemplatePart(text="".join(buffer), expr=None, **kwargs))

        return ast.Template(source=text, parts=parts, **kwargs)


def _string_value(token: Token) -> str:
    text = str(token)
    if text.startswith("'"):
        # Same escapes as a double-quoted string: swap the quoting, then decode as JSON.
        inner = text[1:-1].replace("\\'", "'").replace('"', '\\"')
        text = f'"{inner}"'

    # strict=False lets a string contain a tab as typed.
    return json.loads(text, strict=False)


def _accepted(error: UnexpectedInput, fallback) -> set[str]:
    """Return the terminals the parser accepts where it stopped.

    LALR merges states, so the ``expected`` set Lark reports can list tokens
    that are not valid here; the interactive parser tries each one instead.
    """
    interactive = getattr(error, "interactive_parser", None)
    if interactive is not None:
        try:
            return set(interactive.accepts())
        except UnexpectedInput:
            pass

    return set(fallback)


def _previous_token(error: UnexpectedInput) -> Token | None:
    state = getattr(error, "state", None)
    stack = getattr(state, "value_stack", None)
    if not stack or not isinstance(stack[-1], Token):
        return None

    return stack[-1]


def _syntax_diagnostic(
    error: UnexpectedInput, file: str, line_offset: int, column_offset: int, end: str = "end of file"
) -> Diagnostic:
    line = getattr(error, "line", 1) or 1
    column = getattr(error, "column", 1) or 1
    if line == 1:
        column += column_offset
    position = Position(file, line + line_offset, column)
    if isinstance(error, UnexpectedCharacters):
        char = error.char
        if char in "\"'":
            message = "unterminated string: a string must end on the line where it starts"
            return Diagnostic(position, "syntax_error", message)
        expected = _accepted(error, error.allowed)
        return Diagnostic(position, "syntax_error", f"unexpected character {char!r}", (f"want: {_expected_words(expected, end)}",))
    if isinstance(error, UnexpectedEOF):
        return Diagnostic(position, "syntax_error", f"unexpected {end}", (f"want: {_expected_words(set(error.expected), end)}",))
    if isinstance(error, UnexpectedToken):
        token = error.token
        expected = _accepted(error, error.expected)
        found = end if token.type == "$END" else repr(str(token))
        notes = [f"want: {_expected_words(expected, end)}"]
        keywords = [_describe_terminal(name).strip("'") for name in expected if _describe_terminal(name).startswith("'")]
        guess = suggest(str(token), [word for word in keywords if word.isidentifier()])
        if guess is not None and token.type != "$END":
            notes.append(f"did you mean '{guess}'?")
        previous = _previous_token(error)
        if previous is not None and previous.type == "QUANTIFIER":
            notes.append(
                f"note: '{previous}' is a quantifier, written {previous}(x in COLLECTION: CONDITION); "
                "it cannot name a let or a variable"
            )
        return Diagnostic(position, "syntax_error", f"unexpected {found}", tuple(notes))

    return Diagnostic(position, "syntax_error", str(error).splitlines()[0])


def _parse_fragment(text: str, file: str, line: int, column: int) -> ast.Expr:
    """Parse an expression embedded in a message template at (line, column)."""
    try:
        tree = _parser().parse(text, start="expr")
    except UnexpectedInput as error:
        diagnostic = _syntax_diagnostic(error, file, line - 1, column - 1, end="end of the expression in braces")
        if isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END"):
            # Point at the closing brace, not at the last token before it.
            diagnostic = replace(diagnostic, position=Position(file, line, column + len(text)))
        raise _Failure(diagnostic) from None
    builder = _Builder(file, text, line_offset=line - 1, column_offset=column - 1)

    return _transform(builder, tree)


def _transform(builder: _Builder, tree: Tree):
    try:
        return builder.transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, _Failure):
            raise error.orig_exc from None
        raise


def parse_module(source: str, file: str, sink: DiagnosticSink) -> ast.Module | None:
    """Parse one policy file; report problems to ``sink`` and return None on failure."""
    try:
        tree = _parser().parse(source, start="start")
    except UnexpectedInput as error:
        sink.add(_syntax_diagnostic(error, file, 0, 0))
        return None
    try:
        module = _transform(_Builder(file, source), tree)
    except _Failure as failure:
        sink.add(failure.diagnostic)
        return None
    if not module.package:
        sink.error(
            Position(file, 1, 1),
            "missing_package",
            "policy file has no package declaration",
            "want: 'package NAME' on the first line, for example: package ftc.mfa",
        )
        return None

    return module


def parse_expression(source: str, file: str = "<expression>") -> ast.Expr:
    """Parse a single expression; raises ValueError with a rendered diagnostic on failure."""
    try:
        tree = _parser().parse(source, start="expr")
        return _transform(_Builder(file, source), tree)
    except UnexpectedInput as error:
        diagnostic = _syntax_diagnostic(error, file, 0, 0)
    except _Failure as failure:
        diagnostic = failure.diagnostic
    message = f"{diagnostic.code}: {diagnostic.message}"

    raise ValueError(message)
