"""Print policy files in one canonical layout (``safeguard fmt``).

The formatter reads the file with a second Lark parser that keeps every token
(keywords, brackets, commas), so nothing the author wrote is lost. Comments
are found in the gaps between tokens, because the grammar ignores only
whitespace and ``#`` comments and a gap contains nothing else. The tokens are
then printed again:

- one clause per line, two spaces of indentation per level;
- one space around binary operators and after commas and colons, none inside
  brackets or before a call's parenthesis;
- the author's line breaks are kept where a break is allowed and removed
  elsewhere. A break is allowed after an opening bracket, before a closing
  one, after a comma, before a binary operator, around ``where``, ``for``,
  ``then`` and ``else``, after ``=`` and after a quantifier's ``:``. A break
  after a binary operator moves before it. Long lines are not wrapped;
- a comma-separated list that spans lines gets its brackets on lines of their
  own and a trailing comma, and a one-line list loses its trailing comma;
- indentation follows the structure: a continuation line sits one level
  deeper than the line that opened its clause, bracket or sub-expression,
  and ``else if`` chains stay flat;
- at most one blank line in a row, one after the package line and one before
  each policy block. Comments stay where they were, on their own line or at
  the end of a line.

Every result is parsed again and compared with the original AST, positions
aside. A difference raises FormatterError instead of returning the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Tree

from engine.diagnostics import DiagnosticSink, Position, render
from engine.errors import PolicyError, SafeguardError
from engine.language import ast
from engine.language.parser import parse_module

__all__ = ["FormatterError", "format_source", "ast_key", "INDENT"]

INDENT = "  "

_COMMENT = re.compile(r"#[^\n]*")

# AST fields that record where something was written rather than what it means.
_POSITION_FIELDS = frozenset({"pos", "start", "end", "source", "file", "field_pos", "for_pos"})

_BINARY_RULES = frozenset(
    {
        "or_op",
        "and_op",
        "compare",
        "in_op",
        "not_in_op",
        "is_op",
        "is_not_op",
        "coalesce_op",
        "union_op",
        "intersect_op",
        "add_op",
        "sub_op",
        "mul_op",
        "div_op",
        "mod_op",
    }
)
# Item kinds that take no space before them, and kinds that take none after them.
_TIGHT_BEFORE = frozenset({"comma", "colon", "close", "dot", "call_open", "index_open", "type_open", "type_close"})
_TIGHT_AFTER = frozenset({"open", "call_open", "index_open", "dot", "unary", "type_open"})
_OPENERS = frozenset({"open", "call_open", "index_open", "block_open"})
_TOKEN_KINDS = {".": "dot", ":": "colon", ",": "comma"}


class FormatterError(SafeguardError):
    """The formatter produced text that parses differently from its input: a bug in safeguard."""


@dataclass(eq=False)
class _Context:
    """A clause, bracket or sub-expression whose continuation lines share one indentation.

    Continuation lines are indented one level deeper than the output line that
    contains the introducer item (the clause keyword, the opening bracket, the
    ``=``, ``where``, ``then``, ``else`` or ``:``).
    """

    introducer: int


@dataclass(eq=False)
class _Item:
    """One token or comment of the output, in source order."""

    text: str
    kind: str
    line: int
    end_line: int
    start_pos: int = 0
    end_pos: int = 0
    context: _Context | None = None
    bracket: _Context | None = None
    closes: _Context | None = None
    fixed_indent: int | None = None
    comment_indent: int | None = None
    break_before: bool = False
    break_after: bool = False
    no_break: bool = False
    force_blank: bool = False
    is_comment: bool = False
    group_end: _Item | None = None
    gap: int = 0


@dataclass
class _CommaList:
    context: _Context
    open_item: _Item
    close_item: _Item


@cache
def _parser() -> Lark:
    grammar = resources.files("engine.language").joinpath("grammar.lark").read_text(encoding="utf-8")

    return Lark(grammar, parser="lalr", lexer="contextual", start="start", keep_all_tokens=True, maybe_placeholders=False)


class _Walker:
    """Turns the full-token tree into items with their context, bracket and break rules."""

    def __init__(self) -> None:
        self.items: list[_Item] = []
        self.lists: list[_CommaList] = []
        self.bracket: _Context | None = None

    def emit(self, token: Token, context: _Context | None, kind: str = "word", **flags: Any) -> _Item:
        item = _Item(
            text=str(token),
            kind=kind,
            line=token.line,
            end_line=token.end_line,
            start_pos=token.start_pos,
            end_pos=token.end_pos,
            context=context,
            bracket=self.bracket,
            **flags,
        )
        self.items.append(item)

        return item

    def introduce(self, item: _Item) -> _Context:
        """Open a context introduced by ``item``, which must be the item emitted last."""
        return _Context(introducer=len(self.items) - 1)

    def start(self, tree: Tree) -> None:
        for child in tree.children:
            self.top_level(child)

    def top_level(self, tree: Tree) -> None:
        children = list(tree.children)
        first = self.emit(children[0], None, fixed_indent=0)
        context = self.introduce(first)
        if tree.data == "policy_decl":
            self.policy(children[1:], context)
            return
        self.declaration(tree.data, children[1:], context)

    def declaration(self, rule: str, children: list, context: _Context) -> None:
        for index, child in enumerate(children):
            if isinstance(child, Token) and str(child) == "=" and rule in ("param_decl", "let_decl", "func_decl", "let_clause"):
                equals = self.emit(child, context, break_after=True)
                self.walk_each(children[index + 1 :], self.introduce(equals))
                return
            if isinstance(child, Tree) and child.data == "func_params":
                for token in child.children:
                    self.emit(token, context, "comma" if str(token) == "," else "word", no_break=True)
                continue
            if isinstance(child, Token) and rule == "func_decl" and str(child) in ("(", ")"):
                self.emit(child, context, "call_open" if str(child) == "(" else "close", no_break=True)
                continue
            self.walk(child, context)

    def policy(self, children: list, context: _Context) -> None:
        self.emit(children[0], context, "word")
        self.emit(children[1], context, "block_open")
        for child in children[2:-1]:
            self.clause(child)
        self.emit(children[-1], context, "close", fixed_indent=0, comment_indent=1)

    def clause(self, tree: Tree) -> None:
        children = list(tree.children)
        keyword = self.emit(children[0], None, fixed_indent=1)
        context = self.introduce(keyword)
        rest = children[1:]
        if tree.data == "let_clause":
            self.declaration("let_clause", rest, context)
        elif tree.data == "for_clause":
            self.with_where(rest, context)
        elif tree.data == "controls_clause":
            self.bracketed(rest, context, "open", comma_list=True)
        elif tree.data == "evidence_clause":
            self.bracketed(rest, context, "open", comma_list=True)
        elif tree.data == "remediate_clause":
            self.walk(rest[0], context)
            self.bracketed(rest[1:], context, "call_open", comma_list=True)
        else:
            self.walk_each(rest, context)

    def with_where(self, children: list, context: _Context) -> None:
        """Walk ``... where CONDITION``: the condition gets its own context."""
        for index, child in enumerate(children):
            if isinstance(child, Token) and str(child) == "where":
                where = self.emit(child, context, break_before=True)
                self.walk_each(children[index + 1 :], self.introduce(where))
                return
            self.walk(child, context)

    def bracketed(self, children: list, context: _Context, open_kind: str, comma_list: bool) -> _Context:
        """Walk ``OPEN ... CLOSE``; returns the context of the bracket's contents."""
        opening = self.emit(children[0], context, open_kind, break_after=True)
        inner = self.introduce(opening)
        outer_bracket = self.bracket
        self.bracket = inner
        self.walk_inside(children[1:-1], inner)
        closing = self.emit(children[-1], context, "close", closes=inner, break_before=True)
        self.bracket = outer_bracket
        if comma_list:
            self.lists.append(_CommaList(inner, opening, closing))

        return inner

    def walk_inside(self, children: list, context: _Context) -> None:
        for child in children:
            if isinstance(child, Token) and str(child) == ",":
                self.emit(child, context, "comma", break_after=True)
            else:
                self.walk(child, context)

    def walk_each(self, children: list, context: _Context) -> None:
        for child in children:
            self.walk(child, context)

    def walk(self, node: Tree | Token, context: _Context) -> None:
        if isinstance(node, Token):
            self.emit(node, context, _TOKEN_KINDS.get(str(node), "word"))
            return
        rule = node.data
        children = list(node.children)
        if rule in _BINARY_RULES:
            self.binary(children, context)
        elif rule == "conditional":
            self.conditional(children, context)
        elif rule == "neg_op":
            self.emit(children[0], context, "unary")
            self.walk(children[1], context)
        elif rule == "attr":
            self.walk(children[0], context)
            self.emit(children[1], context, "dot")
            self.emit(children[2], context)
        elif rule == "call":
            self.walk(children[0], context)
            self.bracketed(children[1:], context, "call_open", comma_list=True)
        elif rule == "index":
            self.walk(children[0], context)
            self.bracketed(children[1:], context, "index_open", comma_list=False)
        elif rule == "atom":
            self.bracketed(children, context, "open", comma_list=False)
        elif rule == "list_literal":
            self.bracketed(children, context, "open", comma_list=True)
        elif rule in ("list_comprehension", "set_comprehension"):
            self.comprehension(children, context)
        elif rule == "quantifier":
            self.quantifier(children, context)
        elif rule == "generic_type":
            self.emit(children[0], context)
            self.emit(children[1], context, "type_open", no_break=True)
            self.walk(children[2], context)
            self.emit(children[3], context, "type_close", no_break=True)
        elif rule == "evidence_item" or rule == "named_arg":
            self.walk(children[0], context)
            self.emit(children[1], context, "colon")
            self.walk_each(children[2:], context)
        else:
            self.walk_each(children, context)

    def binary(self, children: list, context: _Context) -> None:
        self.walk(children[0], context)
        operator = children[1:-1]
        first = len(self.items)
        for position, token in enumerate(operator):
            self.emit(token, context, "binop" if position == 0 else "word", break_before=position == 0)
        self.items[first].group_end = self.items[-1]
        self.walk(children[-1], context)

    def conditional(self, children: list, context: _Context) -> None:
        if_token, condition, then_token, then_value, else_token, else_value = children
        keyword = self.emit(if_token, context)
        self.walk(condition, self.introduce(keyword))
        then_item = self.emit(then_token, context, break_before=True, break_after=True)
        self.walk(then_value, self.introduce(then_item))
        else_item = self.emit(else_token, context, break_before=True, break_after=True)
        if isinstance(else_value, Tree) and else_value.data == "conditional":
            # An else-if chain stays at one level instead of stepping right.
            self.walk(else_value, context)
        else:
            self.walk(else_value, self.introduce(else_item))

    def comprehension(self, children: list, context: _Context) -> None:
        opening = self.emit(children[0], context, "open", break_after=True)
        inner = self.introduce(opening)
        outer_bracket = self.bracket
        self.bracket = inner
        self.walk(children[1], inner)
        self.emit(children[2], inner, break_before=True)
        self.with_where(children[3:-1], inner)
        self.emit(children[-1], context, "close", closes=inner, break_before=True)
        self.bracket = outer_bracket

    def quantifier(self, children: list, context: _Context) -> None:
        self.emit(children[0], context)
        opening = self.emit(children[1], context, "call_open", break_after=True)
        inner = self.introduce(opening)
        outer_bracket = self.bracket
        self.bracket = inner
        body = children[2:-1]
        colon = next((index for index, child in enumerate(body) if isinstance(child, Token) and str(child) == ":"), None)
        self.with_where(body if colon is None else body[:colon], inner)
        if colon is not None:
            colon_item = self.emit(body[colon], inner, "colon", break_after=True)
            self.walk_each(body[colon + 1 :], self.introduce(colon_item))
        self.emit(children[-1], context, "close", closes=inner, break_before=True)
        self.bracket = outer_bracket


def _insert_comments(source: str, items: list[_Item]) -> list[_Item]:
    """Merge the comments found between tokens into the item list, in source order."""
    merged: list[_Item] = []
    previous_end = 0
    for item in items:
        merged.extend(_comments_in(source, previous_end, item.start_pos, item))
        merged.append(item)
        previous_end = item.end_pos
    merged.extend(_comments_in(source, previous_end, len(source), None))

    return merged


def _comments_in(source: str, start: int, end: int, following: _Item | None) -> list[_Item]:
    # A comment belongs to the bracket level of the token after it; a closing
    # bracket counts as inside its own brackets.
    bracket = None
    if following is not None:
        bracket = following.closes or following.bracket
    comments = []
    for match in _COMMENT.finditer(source, start, end):
        line = source.count("\n", 0, match.start()) + 1
        comments.append(_Item(text=match.group().rstrip(), kind="comment", line=line, end_line=line, bracket=bracket, is_comment=True))

    return comments


def _set_gaps(items: list[_Item]) -> None:
    """Record on each item how many line breaks separate it from the item before it in the source."""
    for index, item in enumerate(items):
        item.gap = item.line - items[index - 1].end_line if index else 0


def _break_allowed(items: list[_Item], index: int) -> bool:
    item = items[index]
    previous = items[index - 1]
    if item.no_break or (previous.no_break and previous.kind != "close"):
        return False

    return item.break_before or previous.break_after


def _move_operator_breaks(items: list[_Item]) -> None:
    """Turn ``a and⏎b`` into ``a⏎and b``: operators lead continuation lines."""
    positions = {id(item): index for index, item in enumerate(items)}
    for index, item in enumerate(items):
        if item.kind != "binop" or item.group_end is None or item.gap:
            continue
        after = positions[id(item.group_end)] + 1
        if after >= len(items) or any(candidate.is_comment for candidate in items[index : after + 1]):
            continue
        if items[after].gap:
            item.gap = items[after].gap
            items[after].gap = 0


def _apply_list_layout(items: list[_Item], lists: list[_CommaList]) -> list[_Item]:
    """Give multi-line comma lists their own bracket lines and a trailing comma; strip it from one-line lists."""
    remove: set[int] = set()
    insert_after: dict[int, _Item] = {}
    for comma_list in lists:
        opening = items.index(comma_list.open_item)
        closing = items.index(comma_list.close_item)
        own_level = [
            index for index in range(opening + 1, closing + 1) if items[index].bracket is comma_list.context or index == closing
        ]
        multi_line = any(
            items[index].is_comment or (items[index].gap > 0 and _break_allowed(items, index)) for index in own_level
        )
        last_token = next((index for index in range(closing - 1, opening, -1) if not items[index].is_comment), opening)
        if last_token == opening:
            continue
        if not multi_line:
            if items[last_token].kind == "comma":
                remove.add(last_token)
            continue
        first = items[opening + 1]
        if not (first.is_comment and first.gap == 0):
            first.gap = max(first.gap, 1)
        comma_list.close_item.gap = max(comma_list.close_item.gap, 1)
        if items[last_token].kind != "comma":
            line = items[last_token].end_line
            insert_after[last_token] = _Item(
                text=",",
                kind="comma",
                line=line,
                end_line=line,
                context=comma_list.context,
                bracket=comma_list.context,
                break_after=True,
            )

    result = []
    for index, item in enumerate(items):
        if index not in remove:
            result.append(item)
        if index in insert_after:
            result.append(insert_after[index])

    return result


def _mark_blank_lines(items: list[_Item]) -> None:
    """Mark one blank line after the package declaration and one before each policy, above its comments."""
    for index, item in enumerate(items):
        if item.fixed_indent != 0 or item.kind == "close":
            continue
        if item.text == "package":
            following = next((later for later in items[index + 1 :] if later.fixed_indent == 0 or (later.is_comment and later.gap > 0)), None)
            if following is not None:
                following.force_blank = True
        if item.text != "policy" or index == 0:
            continue
        target = index
        while target > 0 and items[target - 1].is_comment and items[target - 1].gap > 0 and items[target].gap == 1:
            target -= 1
        if target > 0:
            items[target].force_blank = True


class _Printer:
    """Lays items out in lines and computes each line's indentation."""

    def __init__(self, items: list[_Item]) -> None:
        self.items = items
        self.lines: list[tuple[int, list[str]]] = []
        self.line_of: dict[int, int] = {}

    def indent_of(self, context: _Context | None) -> int:
        if context is None:
            return 0
        introducer_line = self.line_of[context.introducer]

        return self.lines[introducer_line][0]

    def token_indent(self, item: _Item, for_comment: bool = False) -> int:
        if item.fixed_indent is not None:
            if for_comment and item.comment_indent is not None:
                return item.comment_indent
            return item.fixed_indent
        if item.closes is not None:
            base = self.indent_of(item.closes)
            return base + 1 if for_comment else base

        return self.indent_of(item.context) + 1

    def next_token(self, index: int) -> _Item | None:
        return next((item for item in self.items[index + 1 :] if not item.is_comment), None)

    def starts_line(self, index: int) -> bool:
        item = self.items[index]
        if index == 0:
            return True
        previous = self.items[index - 1]
        if item.is_comment:
            return item.gap > 0
        if previous.is_comment or item.fixed_indent is not None:
            return True

        return item.gap > 0 and _break_allowed(self.items, index)

    def blank_before(self, index: int) -> bool:
        item = self.items[index]
        if index == 0:
            return False
        previous = self.items[index - 1]
        if previous.kind in _OPENERS or item.kind == "close":
            return False
        # Inside an expression a blank line is kept only between list items.
        if item.fixed_indent is None and not item.is_comment and previous.kind != "comma":
            return False

        return item.force_blank or item.gap >= 2

    def print(self) -> str:
        for index, item in enumerate(self.items):
            if not self.starts_line(index):
                previous = self.items[index - 1]
                self.lines[-1][1].append(_space(previous, item) + item.text)
                self._record(index)
                continue
            if self.blank_before(index):
                self.lines.append((0, []))
            if item.is_comment:
                following = self.next_token(index)
                indent = self.token_indent(following, for_comment=True) if following is not None else 0
            else:
                indent = self.token_indent(item)
            self.lines.append((indent, [item.text]))
            self._record(index)

        rendered = [INDENT * indent + "".join(parts) if parts else "" for indent, parts in self.lines]

        return "\n".join(rendered).rstrip("\n") + "\n"

    def _record(self, index: int) -> None:
        self.line_of[index] = len(self.lines) - 1


def _space(previous: _Item, item: _Item) -> str:
    if item.is_comment:
        return "  "
    if item.kind in _TIGHT_BEFORE or previous.kind in _TIGHT_AFTER:
        return ""

    return " "


def _layout(source: str) -> str:
    tree = _parser().parse(source)
    walker = _Walker()
    walker.start(tree)
    items = _insert_comments(source, walker.items)
    _set_gaps(items)
    _move_operator_breaks(items)
    items = _apply_list_layout(items, walker.lists)
    _mark_blank_lines(items)
    # Contexts point at their introducer by index; indexes changed when comments and commas went in.
    positions = {id(item): index for index, item in enumerate(items)}
    introducers = {id(context): context for item in items for context in (item.context, item.closes) if context}
    original = walker.items
    for context in introducers.values():
        context.introducer = positions[id(original[context.introducer])]

    return _Printer(items).print()


def _parse(source: str, file: str) -> ast.Module:
    sink = DiagnosticSink()
    module = parse_module(source, file, sink)
    if module is None:
        raise PolicyError(sink.sorted(), render(sink.sorted(), {file: source}))

    return module


def ast_key(node: Any) -> Any:
    """Return a comparable value of an AST that ignores positions, spans and file names."""
    if isinstance(node, ast.Node):
        values = tuple((item.name, ast_key(getattr(node, item.name))) for item in fields(node) if item.name not in _POSITION_FIELDS)
        return (type(node).__name__, values)
    if isinstance(node, (list, tuple)):
        return tuple(ast_key(element) for element in node)
    if isinstance(node, Position):
        return None

    return node


def format_source(source: str, file: str = "<policy>") -> str:
    """Return the canonical layout of one policy file's text.

    Raises PolicyError when the text does not parse, and FormatterError when
    the formatted text would parse to a different AST.
    """
    before = _parse(source, file)
    formatted = _layout(source)
    try:
        after = _parse(formatted, file)
    except PolicyError as error:
        message = f"{file}: formatting produced text that does not parse; the file was left unchanged:\n{error}"
        raise FormatterError(message) from None
    if ast_key(before) != ast_key(after):
        message = f"{file}: formatting would change the meaning of the file; the file was left unchanged"
        raise FormatterError(message)

    return formatted
