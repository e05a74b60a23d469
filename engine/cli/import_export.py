"""``safeguard import``: convert a peer tool's export into a native snapshot."""

from __future__ import annotations

import click

from engine.importers import scubagear, scubagoggles
from engine.snapshot import write_snapshot

__all__ = ["import_group"]


@click.group("import")
def import_group() -> None:
    """Convert ScubaGear or ScubaGoggles exports into safeguard snapshots."""


@import_group.command("scubagear")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Snapshot file to write.")
def import_scubagear(source, output) -> None:
    """Convert a ScubaGear ProviderSettingsExport.json (Microsoft 365)."""
    document = scubagear.convert(source)
    write_snapshot(document, output)
    _report(document, output)


@import_group.command("scubagoggles")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Snapshot file to write.")
@click.option("--collected-at", help="Collection time (RFC 3339) when the export's folder name does not carry one.")
def import_scubagoggles(source, output, collected_at) -> None:
    """Convert a ScubaGoggles provider export, plain or gzip (Google Workspace)."""
    document = scubagoggles.convert(source, collected_at=collected_at)
    write_snapshot(document, output)
    _report(document, output)


def _report(document: dict, output: str) -> None:
    sections = document["sections"]
    collected = sorted(name for name, entry in sections.items() if entry["status"] == "ok")
    missing = sorted(name for name, entry in sections.items() if entry["status"] != "ok")
    click.echo(f"wrote {output}: {len(collected)} sections collected, {len(missing)} not available")
    for name in missing:
        entry = sections[name]
        click.echo(f"  {name}: {entry['status']} ({entry.get('message')})")
