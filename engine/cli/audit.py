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
@click.option("--head", "expected_head", metavar="SHA256", help="Hash the last record must have, as apply printed it; detects records cut from the end.")
@click.pass_context
def verify(ctx: click.Context, path: str, expected_head: str | None) -> None:
    """Check that no record of an audit log was edited, removed, inserted or reordered.

    Exit code 0 when the chain is intact, 2 when it is broken (each break is
    listed with its line number and record id), 1 when the file cannot be read.
    """
    verification = verify_audit_log(path, expected_head)
    if verification.valid:
        click.echo(f"{path}: {verification.records} records, chain intact; head {verification.head}")
        ctx.exit(0)

    click.echo(f"{path}: the audit log was tampered with ({len(verification.problems)} problem(s)):")
    for problem in verification.problems:
        click.echo(f"  {problem}")
    ctx.exit(2)
