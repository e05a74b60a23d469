"""``safeguard test``: run the policy test cases (``*_test.yaml``) beside the policies."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import click

from engine.cli._common import default_policy_paths, echo_colour
from engine.coverage import CoverageRecorder, instrument
from engine.errors import InputError
from engine.language.policyset import load_policies
from engine.testing import TEST_SUFFIX, CaseResult, discover_test_files, load_test_file, run_tests, untested_statuses

__all__ = ["test"]

_LABELS = {"passed": "PASS", "failed": "FAIL", "broken": "BROKEN"}
_COLOURS = {"passed": "green", "failed": "red", "broken": "magenta"}


def _percent(covered: int, total: int) -> str:
    return f"{100 * covered // total}%" if total else "-"


def _coverage_lines(recorder: CoverageRecorder) -> list[str]:
    lines = ["", "Coverage: each condition seen true and false, each for clause seen with and without items"]
    by_file = defaultdict(list)
    for owner in recorder.owners:
        by_file[owner.file].append(owner)
    for file in sorted(by_file):
        lines.append(f"  {file}")
        for owner in sorted(by_file[file], key=lambda item: item.line):
            share = f"{owner.covered}/{owner.total}"
            lines.append(f"    {_percent(owner.covered, owner.total):>4} {share:>7}  {owner.kind} {owner.name}")
            for point in owner.points:
                if point.missing:
                    never = " or ".join(point.missing)
                    lines.append(f"                   {point.line}:{point.column} {point.kind}: {point.text}  (never {never})")
    lines.append(f"  total {recorder.covered}/{recorder.total} outcomes ({_percent(recorder.covered, recorder.total)})")

    return lines


def _case_lines(result: CaseResult, colour: bool) -> list[str]:
    label = f"{_LABELS[result.status]:<6}"
    if colour:
        label = click.style(label, fg=_COLOURS[result.status], bold=True)
    lines = [f"  {label} {result.case.name}"]
    if result.error is not None:
        lines.extend(f"         {line}" for line in result.error.splitlines())
    for outcome in result.outcomes:
        if outcome.passed:
            continue
        lines.append(f"         {outcome.policy}:")
        lines.extend(f"           {line}" for line in outcome.diff())

    return lines


@click.command()
@click.argument("directory", required=False, type=click.Path())
@click.option(
    "--policies",
    "policy_paths",
    multiple=True,
    type=click.Path(),
    help="Policy file or folder to test; repeatable. Default: DIRECTORY.",
)
@click.option("-k", "--case", "name_filter", help="Run only the cases whose name contains this text.")
@click.option("--coverage", is_flag=True, help="Also report which conditions and for clauses the cases exercised.")
@click.pass_context
def test(ctx, directory, policy_paths, name_filter, coverage) -> None:
    """Run the policy test cases in the *_test.yaml files under DIRECTORY.

    DIRECTORY defaults to ./policies, else the shipped pack. Prints each case
    with a diff of expected against actual for every unmet expectation. Exit
    code 0 when every case passes, 2 when a case fails, 1 when a test file or
    a case is invalid (bad YAML, unknown policy, invalid snapshot fragment).
    """
    root = Path(directory) if directory else default_policy_paths()[0]
    policy_set = load_policies([Path(path) for path in policy_paths] or [root])
    paths = discover_test_files([root])
    if not paths:
        message = f"{root}: no *{TEST_SUFFIX} files found; see docs/policy-tests.md"
        raise InputError(message)
    files = [load_test_file(path, policy_set) for path in paths]
    recorder = None
    if coverage:
        policy_set, recorder = instrument(policy_set)

    results = run_tests(files, policy_set, name_filter)
    colour = echo_colour()
    current = None
    for result in results:
        if result.case.file != current:
            current = result.case.file
            click.echo(current)
        click.echo("\n".join(_case_lines(result, colour)))
    if recorder is not None:
        click.echo("\n".join(_coverage_lines(recorder)))

    counts = {status: sum(1 for result in results if result.status == status) for status in _LABELS}
    click.echo("")
    cases = f"{len(results)} case{'' if len(results) == 1 else 's'}"
    in_files = f"{len(files)} file{'' if len(files) == 1 else 's'}"
    click.echo(f"{cases} in {in_files}: {counts['passed']} passed, {counts['failed']} failed, {counts['broken']} broken")
    if name_filter is None:
        for policy_id, missing in untested_statuses(files, policy_set).items():
            click.echo(f"note: no case expects {' or '.join(missing)} of {policy_id}")

    if counts["broken"]:
        ctx.exit(1)
    if counts["failed"]:
        ctx.exit(2)
