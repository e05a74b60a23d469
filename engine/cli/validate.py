"""``safeguard validate``: parse and check policy files without a snapshot."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli._common import default_policy_paths
from engine.language.policyset import load_policies

__all__ = ["validate"]


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
def validate(paths) -> None:
    """Check policy files: syntax, names, field paths, types and remediation actions.

    PATHS are policy files or folders (default: ./policies, else the shipped pack).
    """
    targets = [Path(path) for path in paths] or default_policy_paths()
    policy_set = load_policies(targets)
    policies = len(policy_set.policies)
    files = len(policy_set.files)
    click.echo(f"{policies} {'policy' if policies == 1 else 'policies'} in {files} file{'' if files == 1 else 's'}: no problems found")
