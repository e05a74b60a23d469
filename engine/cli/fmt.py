"""``safeguard fmt``: rewrite policy files in the canonical layout, or check that they are."""

from __future__ import annotations

import difflib
from pathlib import Path

import click
import structlog

from engine.cli._common import default_policy_paths, write_output
from engine.errors import SafeguardError
from engine.language.formatter import format_source
from engine.language.policyset import find_policy_files, read_policy_file

__all__ = ["fmt"]

log = structlog.get_logger()


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check", is_flag=True, help="Change nothing; list the files whose layout is not canonical.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of each change instead of (or with --check, besides) rewriting.")
@click.pass_context
def fmt(ctx, paths, check, show_diff) -> None:
    """Rewrite policy files in the canonical layout, keeping every comment.

    PATHS are .sg files or folders (default: ./policies, else the shipped pack).
    Only whitespace, line breaks and trailing commas change; each result is
    parsed again and must give the same syntax tree. Exit code 0 when nothing
    needs changing (or the files were rewritten), 1 when --check or --diff found
    files to change, or when a file cannot be read or parsed.
    """
    # A file named twice is formatted once.
    files = list(dict.fromkeys(find_policy_files([Path(path) for path in paths] or default_policy_paths())))
    changed = []
    failed = 0
    for path in files:
        # One file that does not parse must not hide the state of the others.
        try:
            source = read_policy_file(path)
            formatted = format_source(source, str(path))
        except SafeguardError as error:
            click.echo(f"error: {error}", err=True)
            failed += 1
            continue
        if formatted == source:
            continue
        changed.append(path)
        if show_diff:
            lines = difflib.unified_diff(
                source.splitlines(keepends=True), formatted.splitlines(keepends=True), f"{path}", f"{path} (formatted)"
            )
            click.echo("".join(lines), nl=False)
        if check or show_diff:
            continue
        write_output(path, formatted.encode("utf-8"))
        log.info("fmt.rewrite", file=str(path))
        click.echo(f"formatted {path}")

    if check:
        for path in changed:
            click.echo(f"would reformat {path}")
    if not changed:
        _echo_unchanged(len(files) - failed, failed, err=show_diff)
    if failed or ((check or show_diff) and changed):
        ctx.exit(1)


def _echo_unchanged(formatted: int, failed: int, err: bool) -> None:
    """Say that no file needs changing, so a clean run does not look like one that did nothing.

    With --diff, stdout carries only the patch, so the line goes to stderr.
    """
    text = f"{formatted} file{'' if formatted == 1 else 's'} already formatted"
    if failed:
        text += f"; {failed} file{'' if failed == 1 else 's'} could not be read or parsed"
    click.echo(text, err=err)
