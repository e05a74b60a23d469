"""Tests for the policy formatter (engine/language/formatter.py) and `safeguard fmt`."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from lark import Token

from engine.diagnostics import DiagnosticSink
from engine.errors import PolicyError
from engine.language import formatter
from engine.language.formatter import FormatterError, ast_key, format_source
from engine.language.parser import parse_module

REPO = Path(__file__).resolve().parents[1]
PACK_FILES = sorted((REPO / "policies").rglob("*.sg"))


def _ast(text: str):
    sink = DiagnosticSink()
    module = parse_module(text, "test.sg", sink)
    assert not sink, sink.diagnostics

    return ast_key(module)


def _pieces(text: str) -> list[tuple[str, str]]:
    """Split policy text into ("token", text) and ("comment", text) pieces in source order."""
    tree = formatter._parser().parse(text)
    tokens = sorted(tree.scan_values(lambda value: isinstance(value, Token)), key=lambda token: token.start_pos)
    pieces = []
    end = 0
    for token in tokens:
        pieces.extend(("comment", match.group()) for match in re.finditer(r"#[^\n]*", text[end : token.start_pos]))
        pieces.append(("token", str(token)))
        end = token.end_pos
    pieces.extend(("comment", match.group()) for match in re.finditer(r"#[^\n]*", text[end:]))

    return pieces


def _scramble(text: str, seed: int) -> str:
    """Rewrite policy text with random whitespace between tokens, keeping every comment."""
    chooser = random.Random(seed)
    parts = []
    for kind, piece in _pieces(text):
        if kind == "comment":
            parts.append(chooser.choice([" ", "\n", "\n\n    "]) + piece + "\n")
        else:
            parts.append(chooser.choice([" ", " ", " ", "\n", "  ", "\n\n\n   ", "\t"]) + piece)

    return "".join(parts)


def _comments(text: str) -> list[str]:
    return [piece.rstrip() for kind, piece in _pieces(text) if kind == "comment"]


# The shipped pack


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda path: path.name)
def test_pack_is_canonical(path):
    """Every file of the shipped pack is already in the canonical layout."""
    text = path.read_text(encoding="utf-8")

    assert text == format_source(text, str(path))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("path", PACK_FILES, ids=lambda path: path.name)
def test_scrambled_pack_idempotent(path, seed):
    """Formatting a scrambled pack file twice gives the same text as once."""
    scrambled = _scramble(path.read_text(encoding="utf-8"), seed)
    once = format_source(scrambled, str(path))

    assert once == format_source(once, str(path))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("path", PACK_FILES, ids=lambda path: path.name)
def test_scrambled_pack_same_ast(path, seed):
    """A formatted scrambled pack file parses to the same AST as the original."""
    original = path.read_text(encoding="utf-8")
    formatted = format_source(_scramble(original, seed), str(path))

    assert _ast(original) == _ast(formatted)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("path", PACK_FILES, ids=lambda path: path.name)
def test_scrambled_pack_keeps_comments(path, seed):
    """Every comment of a scrambled pack file survives formatting, in order."""
    original = path.read_text(encoding="utf-8")
    formatted = format_source(_scramble(original, seed), str(path))

    assert _comments(original) == _comments(formatted)


# Layout rules


def test_spacing_normalised():
    """Operators get one space on each side; brackets, calls, dots and types get none."""
    source = 'package t\nparam x : set < string > = [ "a" , "b" ]\nlet y = f ( x ) . z [ 0 ]+- 1\n'
    expected = 'package t\n\nparam x: set<string> = ["a", "b"]\nlet y = f(x).z[0] + -1\n'

    assert expected == format_source(source)


def test_one_clause_per_line():
    """Clauses written on one line are split, one per line, indented one level."""
    source = 'package t\npolicy "t.a" { title "A" severity high for u in m365.users where u.accountEnabled assert u.id != "" }\n'
    expected = (
        "package t\n\n"
        'policy "t.a" {\n'
        '  title "A"\n'
        "  severity high\n"
        "  for u in m365.users where u.accountEnabled\n"
        '  assert u.id != ""\n'
        "}\n"
    )

    assert expected == format_source(source)


def test_multiline_list_gets_trailing_comma():
    """A list spread over lines gets its brackets on their own lines and a trailing comma."""
    source = 'package t\nlet xs = ["a",\n        "b"]\n'
    expected = 'package t\n\nlet xs = [\n  "a",\n  "b",\n]\n'

    assert expected == format_source(source)


def test_single_line_list_loses_trailing_comma():
    """A list on one line loses its trailing comma."""
    source = 'package t\nlet xs = ["a", "b",]\n'

    assert 'package t\n\nlet xs = ["a", "b"]\n' == format_source(source)


def test_operator_leads_continuation():
    """A line break after a binary operator moves before it."""
    source = "package t\nfunc f(a, b) = a and\n      b or\n  not a\n"
    expected = "package t\n\nfunc f(a, b) = a\n  and b\n  or not a\n"

    assert expected == format_source(source)


def test_break_inside_name_removed():
    """A line break where none may stand (inside a dotted path) is removed."""
    source = "package t\nlet x = m365\n.users\n"

    assert "package t\n\nlet x = m365.users\n" == format_source(source)


def test_indentation_follows_structure():
    """Continuation lines are indented by structure, not by the author's spaces."""
    source = (
        "package t\n"
        "func g(p) =\n"
        "        p is not empty\n"
        "             and any(\n"
        "  x in p.items:\n"
        "                x > 1\n"
        "      and x < 5\n"
        "   )\n"
    )
    expected = (
        "package t\n\n"
        "func g(p) =\n"
        "  p is not empty\n"
        "  and any(\n"
        "    x in p.items:\n"
        "      x > 1\n"
        "      and x < 5\n"
        "  )\n"
    )

    assert expected == format_source(source)


def test_else_if_chain_stays_flat():
    """An else-if chain keeps every else at the level of the first if."""
    source = 'package t\nfunc h(x) =\n  if x == 1 then "one"\n      else if x == 2 then\n "two"\n          else "many"\n'
    expected = 'package t\n\nfunc h(x) =\n  if x == 1 then "one"\n  else if x == 2 then\n    "two"\n  else "many"\n'

    assert expected == format_source(source)


def test_comments_kept_in_place():
    """Own-line and end-of-line comments stay where they were, re-indented."""
    source = (
        "# header\n"
        "package t  # the package\n"
        "let xs = [\n"
        '      "a",   # first\n'
        "   # before b\n"
        '  "b"\n'
        "]\n"
        "# trailing comment\n"
    )
    expected = (
        "# header\n"
        "package t  # the package\n\n"
        "let xs = [\n"
        '  "a",  # first\n'
        "  # before b\n"
        '  "b",\n'
        "]\n"
        "# trailing comment\n"
    )

    assert expected == format_source(source)


def test_blank_line_before_policy_comment():
    """A policy gets one blank line above it, above its leading comments."""
    source = 'package t\nlet a = 1\n# About the policy.\npolicy "t.a" {\n  assert a == 1\n}\n'
    expected = 'package t\n\nlet a = 1\n\n# About the policy.\npolicy "t.a" {\n  assert a == 1\n}\n'

    assert expected == format_source(source)


def test_blank_lines_collapsed():
    """Several blank lines between items become one; blank lines inside an expression go."""
    source = "package t\n\n\n\nlet a = 1\n\n\n\nlet b = a\n\n\n  + 1\n"
    expected = "package t\n\nlet a = 1\n\nlet b = a\n  + 1\n"

    assert expected == format_source(source)


def test_strings_kept_verbatim():
    """String literals keep their quotes and escapes."""
    source = "package t\nlet s = 'it\\'s'   +   \"a\\tb\"\n"

    assert "package t\n\nlet s = 'it\\'s' + \"a\\tb\"\n" == format_source(source)


# Safety


def test_syntax_error_raises():
    """Text that does not parse raises PolicyError with the position."""
    with pytest.raises(PolicyError) as caught:
        format_source('package t\npolicy "t.a" { assert 1 == }\n', "bad.sg")

    assert "bad.sg:2:" in str(caught.value)


def test_meaning_change_refused(monkeypatch):
    """A layout that would change the AST raises FormatterError instead of returning text."""
    monkeypatch.setattr(formatter, "_layout", lambda source: source.replace("1", "2"))

    with pytest.raises(FormatterError) as caught:
        format_source("package t\nlet a = 1\n", "t.sg")

    assert "would change the meaning" in str(caught.value)


def test_ast_key_sees_operand_order():
    """ast_key differs for two texts whose operands are swapped."""
    assert _ast("package t\nlet a = x and y\n") != _ast("package t\nlet a = y and x\n")


def test_ast_key_ignores_layout():
    """ast_key is the same for two layouts of one program."""
    assert _ast("package t\nlet a = x and y\n") == _ast("package t\n\n\nlet a =\n  x\n  and y\n")


# Command line


UNFORMATTED = 'package t\npolicy "t.a" { title "A"\nassert 1==1 }\n'
FORMATTED = 'package t\n\npolicy "t.a" {\n  title "A"\n  assert 1 == 1\n}\n'


def test_cli_check_clean(tmp_path, safeguard):
    """fmt --check on canonical files exits 0 and prints how many files are formatted."""
    path = tmp_path / "ok.sg"
    path.write_text(FORMATTED, encoding="utf-8")

    code, out, _ = safeguard("fmt", "--check", tmp_path)

    assert 0 == code
    assert "1 file already formatted\n" == out


def test_cli_check_clean_plural(tmp_path, safeguard):
    """fmt --check counts several formatted files in the plural."""
    for name in ("a.sg", "b.sg"):
        (tmp_path / name).write_text(FORMATTED, encoding="utf-8")

    code, out, _ = safeguard("fmt", "--check", tmp_path)

    assert 0 == code
    assert "2 files already formatted\n" == out


def test_cli_rewrite_clean(tmp_path, safeguard):
    """fmt on canonical files changes nothing and prints that they are formatted."""
    path = tmp_path / "ok.sg"
    path.write_text(FORMATTED, encoding="utf-8")

    code, out, _ = safeguard("fmt", tmp_path)

    assert 0 == code
    assert "1 file already formatted\n" == out


def test_cli_diff_clean(tmp_path, safeguard):
    """fmt --diff on canonical files keeps stdout an empty patch and reports on stderr."""
    path = tmp_path / "ok.sg"
    path.write_text(FORMATTED, encoding="utf-8")

    code, out, err = safeguard("fmt", "--diff", tmp_path)

    assert 0 == code
    assert "" == out
    assert "1 file already formatted\n" in err


def test_cli_check_clean_with_broken(tmp_path, safeguard):
    """A file that does not parse is counted apart from the formatted ones."""
    (tmp_path / "a_broken.sg").write_text('package t\npolicy "t.a" { assert }\n', encoding="utf-8")
    (tmp_path / "b_ok.sg").write_text(FORMATTED, encoding="utf-8")

    code, out, _ = safeguard("fmt", "--check", tmp_path)

    assert 1 == code
    assert "1 file already formatted; 1 file could not be read or parsed\n" == out


def test_cli_check_lists_files(tmp_path, safeguard):
    """fmt --check exits 1, lists the file that would change and leaves it alone."""
    path = tmp_path / "messy.sg"
    path.write_text(UNFORMATTED, encoding="utf-8")

    code, out, _ = safeguard("fmt", "--check", tmp_path)

    assert 1 == code
    assert f"would reformat {path}\n" == out
    assert UNFORMATTED == path.read_text(encoding="utf-8")


def test_cli_rewrites(tmp_path, safeguard):
    """fmt rewrites a file in place and exits 0."""
    path = tmp_path / "messy.sg"
    path.write_text(UNFORMATTED, encoding="utf-8")

    code, out, _ = safeguard("fmt", path)

    assert 0 == code
    assert f"formatted {path}\n" == out
    assert FORMATTED == path.read_text(encoding="utf-8")


def test_cli_diff(tmp_path, safeguard):
    """fmt --diff prints a unified diff, changes nothing and exits 1."""
    path = tmp_path / "messy.sg"
    path.write_text(UNFORMATTED, encoding="utf-8")

    code, out, _ = safeguard("fmt", "--diff", path)

    assert 1 == code
    assert "+  assert 1 == 1\n" in out
    assert UNFORMATTED == path.read_text(encoding="utf-8")


def test_cli_syntax_error_continues(tmp_path, safeguard):
    """A file that does not parse is reported and the other files are still formatted."""
    broken = tmp_path / "a_broken.sg"
    broken.write_text('package t\npolicy "t.a" { assert }\n', encoding="utf-8")
    messy = tmp_path / "b_messy.sg"
    messy.write_text(UNFORMATTED, encoding="utf-8")

    code, _, err = safeguard("fmt", tmp_path)

    assert 1 == code
    assert "a_broken.sg:2:" in err
    assert FORMATTED == messy.read_text(encoding="utf-8")
