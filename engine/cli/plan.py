"""``safeguard plan``: evaluate policies on one snapshot, or on many tenants of an inventory."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click
import structlog

from engine.cli._common import default_policy_paths, echo_colour, parse_now, write_output
from engine.errors import UserError
from engine.evaluate import evaluate
from engine.exceptions import load_exceptions, review_exceptions
from engine.language.policyset import PolicySet, load_policies
from engine.params import load_params_file, resolve_params
from engine.plan import build_plan, exit_code_for, plan_bytes
from engine.snapshot import load_snapshot

__all__ = ["plan", "FORMATS"]

log = structlog.get_logger()

FORMATS = ("text", "json", "sarif", "junit", "markdown", "html")


def _renderers() -> dict[str, Any]:
    try:
        from engine.report import RENDERERS
    except ImportError:
        return {}

    return RENDERERS


def _renderer(output_format: str):
    """Return the renderer of a non-JSON format; raise UserError naming it when it is missing."""
    renderer = _renderers().get(output_format)
    if renderer is None:
        message = (
            f"--format {output_format}: this installation has no {output_format} renderer "
            f"(engine.report.RENDERERS has no {output_format!r} entry); use --format json and convert it"
        )
        raise UserError(message)

    return renderer


def render_document(document: dict[str, Any], output_format: str, colour: bool, attestations=()) -> str:
    """Render a plan or a combined result; JSON is always the exact bytes --out writes."""
    if output_format == "json":
        return plan_bytes(document).decode("utf-8")
    if output_format == "html":
        from engine.report import render_html

        return render_html(document, colour=colour, attestations=attestations)

    return _renderer(output_format)(document, colour=colour)


def _load_attestations(path: str | None, output_format: str):
    if path is None:
        return ()
    if output_format != "html":
        message = "--attestations is shown only in the HTML report; add --format html"
        raise UserError(message)
    from engine.report import load_attestations

    return load_attestations(path)


def _load_exceptions(path: str | None, policy_set: PolicySet):
    if path is None:
        return None

    return load_exceptions(path, [policy.id for policy in policy_set.policies])


def _plan_snapshot(snapshot_path: str, policy_set: PolicySet, overrides: dict, params_source: str, now, exceptions) -> dict[str, Any]:
    snapshot = load_snapshot(snapshot_path)
    params = resolve_params(policy_set, overrides, source=params_source)
    evaluation = evaluate(policy_set, snapshot, params, now or snapshot.collected_at)
    review = review_exceptions(evaluation, exceptions) if exceptions is not None else None
    document = build_plan(evaluation, review=review)
    log.info(
        "plan.finish",
        tenant=snapshot.tenant.get("id"),
        policies=len(document["results"]),
        actions=len(document["actions"]),
        **document["summary"],
    )

    return document


@contextmanager
def _progress_bar(total: int, show: bool) -> Iterator[Any]:
    """Yield a callback for engine.multitenant that advances a rich progress bar on stderr."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = progress.add_task("planning tenants", total=total)
    failed: list[str] = []

    def advance(name: str, event: str) -> None:
        if event == "start":
            return
        if event == "error":
            failed.append(name)
        description = f"planned {name}" if event == "finish" else f"failed {name}"
        if failed:
            description += f" ({len(failed)} failed)"
        progress.update(task, advance=1, description=description)

    with progress:
        yield advance


def _select_tenants(inventory, names: tuple[str, ...], select_all: bool):
    if select_all and names:
        message = "--all and --tenant exclude each other; give one"
        raise UserError(message)
    if not select_all and not names:
        message = "--inventory needs --all or at least one --tenant NAME"
        raise UserError(message)
    if select_all:
        return list(inventory.tenants)

    return [inventory.get(name) for name in dict.fromkeys(names)]


def _plan_inventory(ctx, options: dict[str, Any], policy_set: PolicySet, defaults: dict, now, exceptions) -> None:
    # engine.collect loads the Microsoft Graph and Google SDKs, which a one-snapshot plan does not need.
    from engine.collect import CollectOptions, load_inventory
    from engine.multitenant import PlanSettings, combined_document, combined_exit_code, plan_tenants

    inventory = load_inventory(options["inventory_path"])
    tenants = _select_tenants(inventory, options["tenant_names"], options["select_all"])
    out_dir = Path(options["out_dir"]) if options["out_dir"] else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    settings = PlanSettings(
        policy_set=policy_set,
        default_params=defaults,
        exceptions=exceptions,
        now=now,
        collect_options=CollectOptions(),
        snapshot_dir=out_dir,
    )
    show = options["show_progress"]
    if show is None:
        show = sys.stderr.isatty()
    with _progress_bar(len(tenants), show) as progress:
        outcomes = plan_tenants(tenants, settings, jobs=options["jobs"], progress=progress)

    document = combined_document(outcomes)
    log.info("plan.inventory.finish", **{key: value for key, value in document["summary"].items() if key != "exceptions"})
    if out_dir is not None:
        for outcome in outcomes:
            if outcome.plan is not None:
                write_output(out_dir / f"{outcome.name}.plan.json", plan_bytes(outcome.plan))
    if options["out_path"]:
        write_output(options["out_path"], plan_bytes(document))
    for outcome in outcomes:
        if outcome.error is not None:
            click.echo(f"error: tenant {outcome.name}: {outcome.error}", err=True)
    click.echo(render_document(document, options["output_format"], echo_colour(), options["attestations"]), nl=False)
    ctx.exit(combined_exit_code(document))


@click.command()
@click.option("--snapshot", "snapshot_path", type=click.Path(dir_okay=False), help="Snapshot JSON file to evaluate (one tenant).")
@click.option(
    "--inventory",
    "inventory_path",
    type=click.Path(dir_okay=False),
    help="Tenant inventory (tenants.yaml) to plan several tenants from; use with --all or --tenant.",
)
@click.option("--all", "select_all", is_flag=True, help="Plan every tenant of --inventory.")
@click.option("--tenant", "tenant_names", multiple=True, metavar="NAME", help="Plan this tenant of --inventory; repeatable.")
@click.option(
    "--policies",
    "policy_paths",
    multiple=True,
    type=click.Path(),
    help="Policy file or folder of .sg files; repeatable. Default: ./policies, else the shipped FTC pack.",
)
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False),
    help="YAML file of params overriding the policy defaults; with --inventory, each tenant's params override these.",
)
@click.option("--exceptions", "exceptions_path", type=click.Path(dir_okay=False), help="exceptions.yaml of reviewed waivers.")
@click.option(
    "--attestations",
    "attestations_path",
    type=click.Path(dir_okay=False),
    help="attestations.yaml of manual statements (risk assessment, training, …) for the HTML report.",
)
@click.option("--now", "now_text", help="Evaluation time, RFC 3339 (default: the snapshot's collection time).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format on stdout.")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Also write the plan (with --inventory: the combined result) as JSON to this file, atomically.",
)
@click.option(
    "--out-dir",
    "out_dir",
    type=click.Path(file_okay=False),
    help="With --inventory: write NAME.plan.json per tenant here, and NAME.snapshot.json for tenants collected live.",
)
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(1, 32), help="With --inventory: tenants planned at the same time.")
@click.option("--progress/--no-progress", "show_progress", default=None, help="With --inventory: show a progress bar; default: when stderr is a terminal.")
@click.pass_context
def plan(ctx, **options) -> None:
    """Evaluate policies and list violations and proposed actions; never writes to a tenant.

    One tenant: --snapshot FILE. Several: --inventory tenants.yaml with --all
    or --tenant NAME; each tenant is read from the snapshot file its entry
    names or collected live, and a tenant that fails does not stop the others.

    Exit code 0 when every policy passes, is waived or does not apply; 2 when
    any fails or errors; 1 when the run failed (bad input, or with --inventory
    any tenant that could not be planned).
    """
    single = options["snapshot_path"] is not None
    if single == (options["inventory_path"] is not None):
        message = "give either --snapshot FILE (one tenant) or --inventory FILE with --all or --tenant (several)"
        raise UserError(message)
    if single and (options["select_all"] or options["tenant_names"] or options["out_dir"]):
        message = "--all, --tenant and --out-dir go with --inventory, not with --snapshot"
        raise UserError(message)

    # A missing renderer stops the run before any work is done.
    if options["output_format"] != "json":
        _renderer(options["output_format"])

    now = parse_now(options["now_text"])
    policy_set = load_policies(list(options["policy_paths"]) or default_policy_paths())
    params_path = options["params_path"]
    defaults = load_params_file(params_path) if params_path else {}
    exceptions = _load_exceptions(options["exceptions_path"], policy_set)
    options["attestations"] = _load_attestations(options["attestations_path"], options["output_format"])
    if not single:
        _plan_inventory(ctx, options, policy_set, defaults, now, exceptions)
        return

    document = _plan_snapshot(options["snapshot_path"], policy_set, defaults, params_path or "params", now, exceptions)
    if options["out_path"]:
        write_output(options["out_path"], plan_bytes(document))
    click.echo(render_document(document, options["output_format"], echo_colour(), options["attestations"]), nl=False)
    ctx.exit(exit_code_for(document))
