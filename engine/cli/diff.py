"""``safeguard diff``: compare two plans, or two combined results, of the same tenants."""

from __future__ import annotations

import click
import structlog

from engine.cli._common import echo_colour
from engine.diff import diff_documents, exit_code_for_diff, load_document
from engine.report import DIFF_RENDERERS, FORMATS

__all__ = ["diff"]

log = structlog.get_logger()


@click.command()
@click.argument("old_path", metavar="OLD", type=click.Path(dir_okay=False))
@click.argument("new_path", metavar="NEW", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Output format on stdout.",
)
@click.pass_context
def diff(ctx, old_path, new_path, output_format) -> None:
    """Compare two plan JSON files: new, resolved and unchanged violations, and status changes.

    OLD and NEW are plans written by `safeguard plan --out`, or combined
    multi-tenant results, of the same tenants. A violation is identified by its
    policy and resource. Exit code 2 when NEW has violations that OLD did not
    have, 0 otherwise, 1 when an input is invalid or the plans are of
    different tenants.
    """
    old = load_document(old_path)
    new = load_document(new_path)
    document = diff_documents(old, new, old_label=old_path, new_label=new_path)
    log.info("diff.finish", tenants=len(document["tenants"]), **document["summary"])

    colour = echo_colour() if output_format == "text" else False
    click.echo(DIFF_RENDERERS[output_format](document, colour=colour), nl=False)
    ctx.exit(exit_code_for_diff(document))
