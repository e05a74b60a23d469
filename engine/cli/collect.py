"""``safeguard collect``: read tenants listed in tenants.yaml into snapshot files."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import structlog

from engine.collect import CollectOptions, RetryPolicy, Tenant, collect_tenant, load_inventory
from engine.collect.progress import ProgressDisplay
from engine.collect.retry import REFUSED_MAX_RETRIES
from engine.errors import SafeguardError, UserError
from engine.snapshot import write_snapshot

__all__ = ["collect"]


@click.command("collect")
@click.option("-i", "--inventory", default="tenants.yaml", show_default=True, type=click.Path(dir_okay=False), help="Tenant inventory to read.")
@click.option("-t", "--tenant", "names", multiple=True, metavar="NAME", help="Collect only this tenant; repeat for several. Default: every tenant.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Snapshot file to write; only when one tenant is collected.")
@click.option("-d", "--output-dir", default="snapshots", show_default=True, type=click.Path(file_okay=False), help="Folder for NAME.json snapshots when --output is not given.")
@click.option("--max-concurrency", default=8, show_default=True, type=click.IntRange(1, 64), help="Most API requests in flight per tenant.")
@click.option("--max-retries", default=5, show_default=True, type=click.IntRange(0, 10), help=f"Retries of a throttled or failed request; a refused connection gets at most {REFUSED_MAX_RETRIES}.")
@click.option("--retry-delay", default=1.0, show_default=True, type=click.FloatRange(0, 60), help="Base back-off in seconds when the server sends no Retry-After.")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(1, 600), help="Timeout of one request, in seconds.")
@click.option("--allow-partial", is_flag=True, help="Exit 0 even when a section could not be collected.")
@click.option("--progress/--no-progress", "show_progress", default=None, help="Show progress bars; default: when stderr is a terminal.")
@click.pass_context
def collect(ctx: click.Context, inventory, names, output, output_dir, max_concurrency, max_retries, retry_delay, timeout, allow_partial, show_progress) -> None:
    """Collect tenant configuration through the Microsoft Graph and Google APIs.

    Writes one snapshot per tenant. A section that fails after its retries is
    recorded as error with the reason, and the others are still collected.
    Exit code 0 when every section was collected (or cannot be read through
    these APIs), 1 when a section or a tenant failed.
    """
    tenants = _select(load_inventory(inventory), names)
    if output is not None and len(tenants) != 1:
        message = f"--output names one file, but {len(tenants)} tenants are selected; use --output-dir or one --tenant"
        raise UserError(message)

    options = CollectOptions(
        retry=RetryPolicy(max_retries=max_retries, base_delay=retry_delay),
        max_concurrency=max_concurrency,
        timeout=timeout,
    )
    targets = {tenant.name: Path(output) if output else Path(output_dir) / f"{tenant.name}.json" for tenant in tenants}
    if output is None:
        Path(output_dir).mkdir(parents=True, exist_ok=True)

    failed_tenants = 0
    partial = 0
    with _progress(ctx, show_progress):
        for tenant in tenants:
            try:
                document = collect_tenant(tenant, options)
            except SafeguardError as error:
                if len(tenants) == 1:
                    raise
                click.echo(f"error: {error}", err=True)
                failed_tenants += 1
                continue
            write_snapshot(document, targets[tenant.name])
            partial += _report(document, targets[tenant.name])

    if failed_tenants or (partial and not allow_partial):
        ctx.exit(1)


def _select(inventory, names: tuple[str, ...]) -> list[Tenant]:
    if not names:
        return list(inventory.tenants)

    return [inventory.get(name) for name in dict.fromkeys(names)]


def _report(document: dict, path: Path) -> int:
    """Print what was written; return 1 when a section failed."""
    sections = document["sections"]
    statuses = [entry["status"] for entry in sections.values()]
    summary = f"{statuses.count('ok')} ok, {statuses.count('error')} error, {statuses.count('not_collected')} not collected"
    click.echo(f"wrote {path}: {summary}")
    for name, entry in sections.items():
        if entry["status"] != "ok":
            click.echo(f"  {name}: {entry['status']}: {entry.get('message')}")

    return 1 if "error" in statuses else 0


def _root_params(ctx: click.Context) -> dict:
    return ctx.find_root().params if ctx.find_root() is not ctx else {}


@contextmanager
def _progress(ctx: click.Context, show: bool | None) -> Iterator[None]:
    """Show progress bars for the duration, fed by the collector's log events, then restore logging."""
    params = _root_params(ctx)
    if show is None:
        show = sys.stderr.isatty() and params.get("log_format", "auto") != "json"
    if not show:
        yield
        return

    verbosity = int(params.get("verbose", 0) or 0)
    level = logging.WARNING
    if verbosity == 1:
        level = logging.INFO
    elif verbosity >= 2:
        level = logging.DEBUG
    saved = structlog.get_config()
    with ProgressDisplay(level=level) as display:
        # The display receives every event and keeps the ones below `level` out of the log output.
        # sys.stderr is rich's redirect while the display runs, so log lines print above the bars.
        structlog.configure(
            processors=[display, *saved["processors"]],
            wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        )
        try:
            yield
        finally:
            structlog.configure(**saved)
