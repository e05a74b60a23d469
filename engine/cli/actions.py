"""``safeguard actions``: list the remediation actions policies may name."""

from __future__ import annotations

import json

import click

from remediations import registry

__all__ = ["actions"]


@click.command()
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def actions(output_format) -> None:
    """List registered remediation actions with their arguments."""
    registry.load_entry_points()
    declarations = [registry.describe(name) for name in registry.names()]
    if output_format == "json":
        click.echo(json.dumps(declarations, indent=2, sort_keys=True))
        return
    for declaration in declarations:
        arguments = ", ".join(
            f"{name}: {spec['type']}" + ("" if spec["required"] else "?") for name, spec in declaration["arguments"].items()
        )
        undo = "reversible" if declaration["reversible"] else "not reversible"
        click.echo(f"{declaration['name']}({arguments})  [{undo}]")
        click.echo(f"    {declaration['description']}")
