"""``safeguard plan``: evaluate policies on a snapshot and show or save the plan."""

from __future__ import annotations

import click
import structlog

from engine.cli._common import default_policy_paths, echo_colour, parse_now, write_atomic
from engine.evaluate import evaluate
from engine.language.policyset import load_policies
from engine.params import load_params_file, resolve_params
from engine.plan import build_plan, exit_code_for, plan_bytes
from engine.report import render_text
from engine.snapshot import load_snapshot

__all__ = ["plan"]

log = structlog.get_logger()


@click.command()
@click.option("--snapshot", "snapshot_path", required=True, type=click.Path(dir_okay=False), help="Snapshot JSON file to evaluate.")
@click.option(
    "--policies",
    "policy_paths",
    multiple=True,
    type=click.Path(),
    help="Policy file or folder of .sg files; repeatable. Default: ./policies, else the shipped FTC pack.",
)
@click.option("--params", "params_path", type=click.Path(dir_okay=False), help="YAML file of tenant params overriding the defaults.")
@click.option("--now", "now_text", help="Evaluation time, RFC 3339 (default: the snapshot's collection time).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format on stdout.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Also write the plan as JSON to this file (atomically).")
@click.pass_context
def plan(ctx, snapshot_path, policy_paths, params_path, now_text, output_format, out_path) -> None:
    """Evaluate policies on a snapshot and list violations and proposed actions.

    Never writes to a tenant. Exit code 0 when every policy passes, is waived or
    does not apply, 2 when any fails or errors, 1 when the run itself failed.
    """
    now = parse_now(now_text)
    policy_set = load_policies(list(policy_paths) or default_policy_paths())
    snapshot = load_snapshot(snapshot_path)
    overrides = load_params_file(params_path) if params_path else {}
    params = resolve_params(policy_set, overrides, source=params_path or "params")
    evaluation = evaluate(policy_set, snapshot, params, now or snapshot.collected_at)
    document = build_plan(evaluation)
    log.info(
        "plan.finish",
        tenant=snapshot.tenant.get("id"),
        policies=len(document["results"]),
        actions=len(document["actions"]),
        **document["summary"],
    )
    data = plan_bytes(document)
    if out_path:
        write_atomic(out_path, data)
    if output_format == "json":
        click.echo(data.decode("utf-8"), nl=False)
    else:
        click.echo(render_text(document, colour=echo_colour()), nl=False)
    ctx.exit(exit_code_for(document))
