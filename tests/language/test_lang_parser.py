"""Parser tests: AST positions, syntax diagnostics, templates, strings and durations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.diagnostics import DiagnosticSink, Position
from engine.language import ast
from engine.language.parser import parse_expression, parse_module

SOURCE = """\
package demo.positions

import ftc.lib.ca
import ftc.lib.ca as helpers

param days_allowed: int = 90

policy "m365.demo.p" {
  title "Demo"
  severity high
  let limit = days_allowed
  for user in m365.users
    where user.accountEnabled
  let upn = user.userPrincipalName
  assert upn != ""
  message "User {user.id} and {{braces}}"
}
"""


def parse(source: str, file: str = "t.sg") -> tuple[ast.Module | None, DiagnosticSink]:
    sink = DiagnosticSink()
    module = parse_module(source, file, sink)

    return module, sink


@pytest.fixture(scope="module")
def module() -> ast.Module:
    """The parsed SOURCE module."""
    parsed, sink = parse(SOURCE, "demo.sg")
    assert [] == sink.diagnostics

    return parsed


# ---------------------------------------------------------------- positions


def test_module_declarations(module):
    """Package, imports with default and explicit alias, and params are collected."""
    assert "demo.positions" == module.package
    assert [("ftc.lib.ca", "ca"), ("ftc.lib.ca", "helpers")] == [(item.package, item.alias) for item in module.imports]
    assert ["days_allowed"] == [param.name for param in module.params]
    assert "int" == str(module.params[0].type)


def test_import_position(module):
    """An import node starts at its keyword."""
    assert Position("demo.sg", 4, 1) == module.imports[1].pos


def test_policy_positions(module):
    """Policy, id, severity and for variable keep their own line and column."""
    policy = module.policies[0]

    assert Position("demo.sg", 8, 1) == policy.pos
    assert Position("demo.sg", 8, 8) == policy.id_pos
    assert Position("demo.sg", 10, 3) == policy.severity_pos
    assert Position("demo.sg", 12, 7) == policy.for_pos


def test_lets_split_at_for(module):
    """A let before 'for' is tenant-level; a let after it is per resource."""
    policy = module.policies[0]

    assert ["limit"] == [let.name for let in policy.lets]
    assert ["upn"] == [let.name for let in policy.item_lets]
    assert Position("demo.sg", 14, 3) == policy.item_lets[0].pos


def test_expression_positions(module):
    """Expression nodes start at their first token; an attribute's field_pos is its name."""
    policy = module.policies[0]
    where = policy.where

    assert isinstance(where, ast.Attr)
    assert Position("demo.sg", 13, 11) == where.pos
    assert Position("demo.sg", 13, 16) == where.field_pos
    assert Position("demo.sg", 15, 10) == policy.assertion.pos
    assert Position("demo.sg", 15, 17) == policy.assertion.right.pos


def test_source_span(module):
    """Nodes keep character offsets that slice the source back out."""
    assertion = module.policies[0].assertion

    assert 'upn != ""' == SOURCE[assertion.start : assertion.end]


def test_template_parts(module):
    """A message splits into text and expressions; doubled braces are literal."""
    parts = module.policies[0].message.parts

    assert ["User ", None, " and {braces}"] == [part.text for part in parts]
    assert isinstance(parts[1].expr, ast.Attr)
    assert Position("demo.sg", 16, 18) == parts[1].expr.pos


# ---------------------------------------------------------------- syntax errors

SYNTAX_CASES = [
    (
        "misspelt clause keyword",
        'package t\npolicy "t.a" {\n  title "x"\n  asert true\n}\n',
        "t.sg:4:3: syntax_error: unexpected 'asert'\n"
        "      asert true\n"
        "      ^\n"
        "    want: 'assert', 'controls', 'description', 'evidence', 'for', 'let', 'message', 'remediate', …\n"
        "    did you mean 'assert'?",
    ),
    (
        "misspelt declaration keyword",
        'package t\npolcy "t.a" {\n}\n',
        "t.sg:2:1: syntax_error: unexpected 'polcy'\n"
        '    polcy "t.a" {\n'
        "    ^\n"
        "    want: 'func', 'import', 'let', 'param', 'policy', end of file, '.'\n"
        "    did you mean 'policy'?",
    ),
    (
        "misspelt where",
        'package t\npolicy "t.a" {\n  for u in m365.users wher u.accountEnabled\n  assert true\n}\n',
        "t.sg:3:23: syntax_error: unexpected 'wher'\n"
        "      for u in m365.users wher u.accountEnabled\n"
        "                          ^\n"
        "    want: 'and', 'assert', 'controls', 'description', 'evidence', 'for', 'in', 'is', …\n"
        "    did you mean 'where'?",
    ),
    (
        "missing operand",
        "package t\nlet x = 1 <\n",
        "t.sg:2:11: syntax_error: unexpected end of file\n"
        "    let x = 1 <\n"
        "              ^\n"
        "    want: 'false', 'null', 'true', a duration such as 90d, a name, a number, a quantifier (any, all, none, count), a string, …",
    ),
    (
        "unexpected character",
        "package t\nlet x = 1 $ 2\n",
        "t.sg:2:11: syntax_error: unexpected character '$'\n"
        "    let x = 1 $ 2\n"
        "              ^\n"
        "    want: 'and', 'func', 'import', 'in', 'is', 'let', 'not', 'or', …",
    ),
    (
        "unterminated string",
        'package t\nlet x = "open\n',
        "t.sg:2:9: syntax_error: unterminated string: a string must end on the line where it starts\n"
        '    let x = "open\n'
        "            ^",
    ),
    (
        "invalid escape",
        'package t\nlet x = "^a\\d$"\n',
        "t.sg:2:9: syntax_error: invalid escape in string\n"
        '    let x = "^a\\d$"\n'
        "            ^\n"
        "    want: JSON escapes only (\\n, \\t, \\\", \\\\, \\uXXXX); write \\\\ for a backslash, as in regular expressions",
    ),
    (
        "quantifier word used as a name",
        "package t\nlet total = 1\nlet y = count > 2\n",
        "t.sg:3:15: syntax_error: unexpected '>'\n"
        "    let y = count > 2\n"
        "                  ^\n"
        "    want: '('\n"
        "    note: 'count' is a quantifier, written count(x in COLLECTION: CONDITION); it cannot name a let or a variable",
    ),
    (
        "chained comparison",
        "package t\nlet y = 1 < 2 < 3\n",
        "t.sg:2:15: syntax_error: unexpected '<'\n"
        "    let y = 1 < 2 < 3\n"
        "                  ^\n"
        "    want: 'and', 'func', 'import', 'let', 'or', 'param', 'policy', end of file, …",
    ),
    (
        "unfinished expression in a template",
        'package t\npolicy "t.a" {\n  assert true\n  message "a {1 +} b"\n}\n',
        "t.sg:4:18: syntax_error: unexpected end of the expression in braces\n"
        '      message "a {1 +} b"\n'
        "                     ^\n"
        "    want: 'false', 'null', 'true', a duration such as 90d, a name, a number, a quantifier (any, all, none, count), a string, …",
    ),
]


@pytest.mark.parametrize(("name", "source", "expected"), SYNTAX_CASES, ids=[case[0] for case in SYNTAX_CASES])
def test_syntax_error_text(diagnostics_of, name, source, expected):
    """Syntax errors name the token, the accepted tokens in plain words and a guess."""
    rendered, _ = diagnostics_of(source)

    assert expected + "\n1 error" == rendered


def test_syntax_error_stops_file():
    """A file with a syntax error yields one diagnostic and no module."""
    module, sink = parse("package t\nlet x = (\nlet y = )\n")

    assert module is None
    assert ["syntax_error"] == [diagnostic.code for diagnostic in sink.diagnostics]


def test_syntax_errors_across_files(diagnostics_of):
    """Each file reports its own first syntax error; output is sorted by file."""
    rendered, error = diagnostics_of(("b.sg", "package b\nlet = 1\n"), ("a.sg", "package a\nlet x = \n"))

    assert ["a.sg", "b.sg"] == [diagnostic.position.file for diagnostic in error.diagnostics]
    assert rendered.endswith("\n2 errors")


PARSER_CODE_CASES = [
    (
        "missing_package",
        'policy "t.a" {\n  assert true\n}\n',
        "t.sg:1:1: missing_package: policy file has no package declaration\n"
        '    policy "t.a" {\n'
        "    ^\n"
        "    want: 'package NAME' on the first line, for example: package ftc.mfa",
    ),
    (
        "duplicate_clause",
        'package t\npolicy "t.a" {\n  title "x"\n  assert true\n  title "y"\n}\n',
        "t.sg:5:3: duplicate_clause: policy 't.a' has a second 'title' clause\n"
        '      title "y"\n'
        "      ^\n"
        "    note: the first one is at line 3, column 3",
    ),
    (
        "clause_order let",
        'package t\npolicy "t.a" {\n  assert true\n  let x = 1\n}\n',
        "t.sg:4:3: clause_order: 'let' must come before 'assert'\n"
        "      let x = 1\n"
        "      ^",
    ),
    (
        "clause_order when",
        'package t\npolicy "t.a" {\n  for u in m365.users\n  when true\n  assert true\n}\n',
        "t.sg:4:3: clause_order: 'when' must come before 'for'\n"
        "      when true\n"
        "      ^",
    ),
    (
        "missing_assert",
        'package t\npolicy "t.a" {\n  title "x"\n}\n',
        "t.sg:2:1: missing_assert: policy 't.a' has no 'assert' clause\n"
        '    policy "t.a" {\n'
        "    ^\n"
        "    want: assert EXPRESSION, the condition every resource (or the tenant) must meet",
    ),
    (
        "missing_predicate",
        "package t\nlet x = all(v in [1]) \n",
        "t.sg:2:9: missing_predicate: 'all' needs a condition after ':'\n"
        "    let x = all(v in [1]) \n"
        "            ^\n"
        "    want: all(x in COLLECTION: CONDITION)",
    ),
    (
        "invalid_template unclosed",
        'package t\npolicy "t.a" {\n  assert true\n  message "a {b"\n}\n',
        "t.sg:4:14: invalid_template: unclosed '{' in message\n"
        '      message "a {b"\n'
        "                 ^\n"
        "    want: '{{' for a literal brace",
    ),
    (
        "invalid_template unmatched",
        'package t\npolicy "t.a" {\n  assert true\n  message "a } b"\n}\n',
        "t.sg:4:14: invalid_template: unmatched '}' in message\n"
        '      message "a } b"\n'
        "                 ^\n"
        "    want: '}}' for a literal brace",
    ),
]


@pytest.mark.parametrize(("name", "source", "expected"), PARSER_CODE_CASES, ids=[case[0] for case in PARSER_CODE_CASES])
def test_parser_code_text(diagnostics_of, name, source, expected):
    """Structural errors found while building the AST have their own codes and text."""
    rendered, _ = diagnostics_of(source)

    assert expected + "\n1 error" == rendered


def test_count_without_predicate():
    """count may leave out the condition; any, all and none may not."""
    node = parse_expression("count(x in [1, 2])")

    assert isinstance(node, ast.Quantifier)
    assert node.predicate is None


# ---------------------------------------------------------------- templates and strings


def test_template_single_quotes_inside(compile_policies):
    """A double-quoted message can hold single-quoted strings in its expressions."""
    source = 'package t\npolicy "t.a" {\n  assert true\n  message "mail: {null ?? \'none\'}"\n}\n'
    module, sink = parse(source)
    parts = module.policies[0].message.parts

    assert [] == sink.diagnostics
    assert "mail: " == parts[0].text
    assert isinstance(parts[1].expr, ast.Binary)
    assert "none" == parts[1].expr.right.value


def test_template_in_single_quotes():
    """A whole message may be single-quoted and contain double quotes."""
    source = "package t\npolicy \"t.a\" {\n  assert true\n  message 'say \"{1 + 1}\"'\n}\n"
    module, _ = parse(source)
    parts = module.policies[0].message.parts

    assert ['say "', None, '"'] == [part.text for part in parts]


def test_template_expression_error_position(diagnostics_of):
    """A checker error inside a template points at the expression's column."""
    source = 'package t\npolicy "t.a" {\n  title "x"\n  severity low\n  assert true\n  message "a {nosuch} b"\n}\n'
    rendered, _ = diagnostics_of(source)

    expected = (
        "t.sg:6:15: unknown_name: unknown name 'nosuch'\n"
        '      message "a {nosuch} b"\n'
        "                  ^\n"
        "1 error"
    )
    assert expected == rendered


STRING_CASES = [
    ('"plain"', "plain"),
    ("'plain'", "plain"),
    ('"a \\"quoted\\" word"', 'a "quoted" word'),
    ("'it\\'s'", "it's"),
    ("'say \"hi\"'", 'say "hi"'),
    ('"tab\\there"', "tab\there"),
    ('"\\u00e9"', "é"),
    ("'\\u00e9'", "é"),
    ('"^a\\\\d$"', "^a\\d$"),
    ('"a\tb"', "a\tb"),
]


@pytest.mark.parametrize(("text", "expected"), STRING_CASES)
def test_string_literals(text, expected):
    """Both quote styles decode JSON escapes to the same value."""
    node = parse_expression(text)

    assert isinstance(node, ast.Literal)
    assert expected == node.value


DURATION_CASES = [
    ("2w", timedelta(weeks=2)),
    ("90d", timedelta(days=90)),
    ("12h", timedelta(hours=12)),
    ("30m", timedelta(minutes=30)),
    ("45s", timedelta(seconds=45)),
    ("1.5d", timedelta(hours=36)),
]


@pytest.mark.parametrize(("text", "expected"), DURATION_CASES)
def test_duration_literals(text, expected):
    """A number with a unit letter is a duration; m is minutes."""
    node = parse_expression(text)

    assert expected == node.value


def test_duration_needs_boundary():
    """A unit followed by more letters is not a duration."""
    with pytest.raises(ValueError) as caught:
        parse_expression("3days")

    assert "syntax_error: unexpected 'days'" == str(caught.value)


def test_number_literals():
    """Integers stay integers and decimals become floats."""
    assert 42 == parse_expression("42").value
    assert int is type(parse_expression("42").value)
    assert 2.5 == parse_expression("2.5").value


def test_negative_number_is_unary():
    """A minus sign is an operator applied to the number."""
    node = parse_expression("-3")

    assert isinstance(node, ast.Unary)
    assert 3 == node.operand.value


def test_comments_ignored():
    """A # comment runs to the end of the line, also inside a policy."""
    source = 'package t # the package\n# a comment line\npolicy "t.a" { # open\n  assert true # the rule\n}\n'
    module, sink = parse(source)

    assert [] == sink.diagnostics
    assert 1 == len(module.policies)


# ---------------------------------------------------------------- precedence

PRECEDENCE_CASES = [
    ("not a == b", ast.Not),
    ("a or b and c", ast.BoolOp),
    ("a ?? b == c", ast.Compare),
    ("a ?? b + c", ast.Binary),
    ("a + b * c", ast.Binary),
    ("if a then b else c", ast.Conditional),
]


@pytest.mark.parametrize(("text", "root"), PRECEDENCE_CASES)
def test_precedence_root(text, root):
    """The loosest operator of an expression is the root of its tree."""
    node = parse_expression(text)

    assert root is type(node)


def test_precedence_details():
    """or is looser than and, ?? looser than +, * tighter than +."""
    assert "or" == parse_expression("a or b and c").op
    assert "and" == parse_expression("a or b and c").right.op
    assert "??" == parse_expression("a ?? b + c").op
    assert "+" == parse_expression("a ?? b + c").right.op
    assert "+" == parse_expression("a + b * c").op
    assert "==" == parse_expression("not a == b").operand.op


def test_is_checks():
    """is and is not take null, absent or empty."""
    checks = [parse_expression(text) for text in ("x is null", "x is not absent", "x is empty")]

    assert [("null", False), ("absent", True), ("empty", False)] == [(node.kind, node.negated) for node in checks]


def test_parse_expression_error():
    """parse_expression raises ValueError carrying the code and message."""
    with pytest.raises(ValueError) as caught:
        parse_expression("1 +")

    assert "syntax_error: unexpected end of file" == str(caught.value)
