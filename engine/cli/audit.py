"""``safeguard audit``: check the hash chain of an audit log."""

from __future__ import annotations

import click

from engine.audit import verify_audit_log

__all__ = ["audit"]


@click.group("audit")
def audit() -> None:
    """Inspect the audit log that apply and rollback write."""


@audit.command("verify")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option(
    "--head",
    "expected_head",
    metavar="SHA256",
    help="Hash the last record must have, as apply printed it: 64 hex digits, with or without the sha256: prefix. Detects records cut from the end.",
)
@click.pass_context
def verify(ctx: click.Context, path: str, expected_head: str | None) -> None:
    """Check that no record of an audit log was edited, removed, inserted or reordered.

    Exit code 0 when the chain is intact, 2 when it is broken (each break is
    listed with its line number and record id), 1 when the file cannot be
    read or --head is not a SHA-256 hash.
    """
    verification = verify_audit_log(path, expected_head)
    if verification.valid:
        records = f"{verification.records} record{'' if verification.records == 1 else 's'}"
        click.echo(f"{path}: {records}, chain intact; head {verification.head}")
        ctx.exit(0)

    problems = len(verification.problems)
    click.echo(f"{path}: the audit log was tampered with ({problems} problem{'' if problems == 1 else 's'}):")
    for problem in verification.problems:
        click.echo(f"  {problem}")
    ctx.exit(2)
