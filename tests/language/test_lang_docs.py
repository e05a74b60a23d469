"""The language docs stay true: examples compile, error examples give their output, lists match the code.

docs/language.md and docs/errors.md mark examples with fenced blocks: `sg` for a
complete policy file that must compile, `sg-error CODE` for one that must be
rejected with CODE. In errors.md a `text` block right after an `sg-error`
block is the exact output. A line `# file: NAME` inside a block starts another
file of a multi-file example.
"""

from __future__ import annotations

import ast as python_ast
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from engine.errors import PolicyError
from engine.evaluate import evaluate
from engine.language.builtins import BUILTINS
from engine.language.policyset import compile_sources
from remediations import registry

REPO = Path(__file__).resolve().parents[2]
LANGUAGE = REPO / "docs" / "language.md"
ERRORS = REPO / "docs" / "errors.md"

_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
_CODE = re.compile(r"[a-z]+(?:_[a-z]+)+")


def fenced_blocks(path: Path) -> list[tuple[str, str, int]]:
    """Return (info string, body, line number) of every fenced block, in order."""
    text = path.read_text(encoding="utf-8")

    return [(match.group(1).strip(), match.group(2), text.count("\n", 0, match.start()) + 1) for match in _FENCE.finditer(text)]


def source_files(body: str) -> list[tuple[str, str]]:
    """Split an example into (file name, text) at '# file: NAME' lines; one file is example.sg."""
    parts = [part for part in re.split(r"(?m)^(?=# file: )", body) if part.strip()]
    files = []
    for part in parts:
        named = re.match(r"# file: (\S+)", part)
        files.append((named.group(1) if named else "example.sg", part))

    return files


def examples(path: Path, kind: str) -> list[tuple[str, str, str | None]]:
    """Return (id, body, expected output or None) for the blocks of one kind."""
    blocks = fenced_blocks(path)
    found = []
    for index, (info, body, line) in enumerate(blocks):
        words = info.split()
        if not words or words[0] != kind:
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        output = following[1].rstrip("\n") if following is not None and following[0] == "text" and kind == "sg-error" else None
        code = words[1] if len(words) > 1 else ""
        found.append((f"{path.name}:{line}{':' + code if code else ''}", body, output))

    return found


def emitted_codes() -> set[str]:
    """Codes passed as the second argument of error(), _fail() or Diagnostic() in engine/language."""
    codes = set()
    for path in sorted((REPO / "engine" / "language").rglob("*.py")):
        tree = python_ast.parse(path.read_text(encoding="utf-8"))
        for node in python_ast.walk(tree):
            if not isinstance(node, python_ast.Call) or len(node.args) < 2:
                continue
            function = node.func
            name = function.attr if isinstance(function, python_ast.Attribute) else getattr(function, "id", None)
            argument = node.args[1]
            if name in ("error", "_fail", "Diagnostic") and isinstance(argument, python_ast.Constant):
                if isinstance(argument.value, str) and _CODE.fullmatch(argument.value):
                    codes.add(argument.value)

    return codes


def documented_codes() -> set[str]:
    """Codes that docs/errors.md gives a '### code' section."""
    text = ERRORS.read_text(encoding="utf-8")

    return {heading for heading in re.findall(r"^### (\S+)$", text, re.M) if _CODE.fullmatch(heading)}


VALID = examples(LANGUAGE, "sg") + examples(ERRORS, "sg")
INVALID = examples(LANGUAGE, "sg-error") + examples(ERRORS, "sg-error")


@pytest.mark.parametrize(("name", "body", "output"), VALID, ids=[case[0] for case in VALID])
def test_example_compiles(name, body, output):
    """Every sg example is a complete policy set that compiles."""
    policy_set = compile_sources(source_files(body))

    assert policy_set.files


@pytest.mark.parametrize(("name", "body", "output"), INVALID, ids=[case[0] for case in INVALID])
def test_error_example(name, body, output):
    """Every sg-error example is rejected with its code, and with its documented output."""
    code = name.rsplit(":", 1)[-1]
    with pytest.raises(PolicyError) as caught:
        compile_sources(source_files(body))
    rendered = str(caught.value).rsplit("\n", 1)[0]

    assert [code] == sorted({diagnostic.code for diagnostic in caught.value.diagnostics})
    if output is not None:
        assert output == rendered


def test_examples_found():
    """The docs hold examples of both kinds, so the tests above are not empty."""
    assert 10 <= len(examples(LANGUAGE, "sg"))
    assert 4 <= len(examples(LANGUAGE, "sg-error"))
    assert len(documented_codes()) == len(examples(ERRORS, "sg-error"))


def test_every_code_documented():
    """Every code the language emits has a section in docs/errors.md."""
    missing = sorted(emitted_codes() - documented_codes())

    assert [] == missing


def test_every_documented_code_emitted():
    """docs/errors.md documents no code that the language no longer emits."""
    stale = sorted(documented_codes() - emitted_codes())

    assert [] == stale


def test_error_sections_have_outputs():
    """Each code section in docs/errors.md has an example with its exact output."""
    with_output = {name.rsplit(":", 1)[-1] for name, _, output in examples(ERRORS, "sg-error") if output is not None}

    assert documented_codes() == with_output


def builtin_row(builtin) -> str:
    """The table row docs/language.md has for a built-in function."""
    names = builtin.param_names
    arguments = [f"{names[index]}: {kind}" if index < len(names) else str(kind) for index, kind in enumerate(builtin.params)]
    sections = ", ".join(f"`{section}`" for section in builtin.sections)

    return f"| `{builtin.name}({', '.join(arguments)})` | {builtin.return_type([])} | {sections} | {builtin.summary} |"


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_documented(name):
    """Every built-in function has its row, with the current summary, in docs/language.md."""
    text = LANGUAGE.read_text(encoding="utf-8")
    row = builtin_row(BUILTINS[name])

    assert row.replace(" |  |", " | |") in text.replace(" |  |", " | |")


def test_documented_builtins_exist():
    """docs/language.md lists no built-in function that does not exist."""
    text = LANGUAGE.read_text(encoding="utf-8")
    section = text.split("## Built-in functions", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z_]+)\(", section, re.M))

    assert set(BUILTINS) == listed


def test_actions_listed():
    """The remediation actions listed in docs/language.md are the registered ones."""
    registry.load_entry_points()
    text = LANGUAGE.read_text(encoding="utf-8")
    section = text.split("### remediate", 1)[1].split("\n### ", 1)[0]
    listed = re.findall(r"^([a-z0-9]+\.[a-z0-9_]+)\(", section, re.M)

    assert sorted(registry.names()) == listed


def test_message_example_output(make_snapshot):
    """The message example renders the text the docs quote."""
    body = next(body for _, body, _ in examples(LANGUAGE, "sg") if "package example.message" in body)
    policy_set = compile_sources(source_files(body))
    snapshot = make_snapshot("m365", {"users": [{"id": "u1", "userPrincipalName": "adele@contoso.example", "mail": None}]})
    evaluation = evaluate(policy_set, snapshot, {}, datetime(2026, 12, 1, tzinfo=timezone.utc))
    message = evaluation.results[0].violations[0].message

    assert "adele@contoso.example has no mail address {mail: null}" == message
    assert f"`{message}`" in LANGUAGE.read_text(encoding="utf-8")
