"""``safeguard apply`` and ``safeguard rollback``: carry out a saved plan, or undo what it changed."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from engine.apply.planfile import PlanError, load_plan
from engine.apply.report import render_preview, render_result
from engine.apply.runner import ApplyOptions, ApplyRefused, Runner, apply_items, rollback_items
from engine.apply.settings import tenant_settings
from engine.audit import AuditLog, resolve_actor
from engine.collect import RetryPolicy, load_inventory
from engine.errors import UserError
from engine.journal import Journal
from engine.report._document import plural

__all__ = ["apply", "rollback"]

_VERBS = {"apply": "apply", "rollback": "roll back"}


def _run_options(function: Any) -> Any:
    """Add the options apply and rollback share."""
    options = [
        click.option("-i", "--inventory", default="tenants.yaml", show_default=True, type=click.Path(dir_okay=False), help="Tenant inventory with credentials and params."),
        click.option("-t", "--tenant", "tenant_name", metavar="NAME", help="Tenant of the inventory; default: the one whose id matches."),
        click.option("--dry-run", is_flag=True, help="Read the tenant and show every change, and every action that cannot run; write nothing."),
        click.option("--auto-approve", is_flag=True, help="Write without asking for confirmation."),
        click.option(
            "--max-changes",
            type=click.IntRange(min=0),
            help="Refuse the run when it would change more targets than this. Default: param max_changes of the tenant; without either, no cap.",
        ),
        click.option("--only", "only", multiple=True, metavar="ACTION_ID", help="Consider only this action; repeat, or separate ids with commas."),
        click.option("--fail-fast", is_flag=True, help="Stop at the first failed action instead of carrying on."),
        click.option("--audit-log", "audit_path", default="audit.jsonl", show_default=True, envvar="SAFEGUARD_AUDIT_LOG", type=click.Path(dir_okay=False), help="Hash-chained audit log to append to (env SAFEGUARD_AUDIT_LOG)."),
        click.option("--max-retries", default=5, show_default=True, type=click.IntRange(0, 10), help="Retries of a throttled or failed request."),
        click.option("--retry-delay", default=1.0, show_default=True, type=click.FloatRange(0, 60), help="Base back-off in seconds when the server sends no Retry-After."),
        click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(1, 600), help="Timeout of one request, in seconds."),
    ]
    for option in reversed(options):
        function = option(function)

    return function


@click.command("apply")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False), help="Journal of this plan's runs; default: PLAN with the suffix .journal.jsonl.")
@_run_options
@click.pass_context
def apply(ctx: click.Context, plan_path: str, journal_path: str | None, **options: Any) -> None:
    """Carry out the actions of a saved plan, exactly as reviewed.

    Each target is read first. One that no longer matches the plan's
    precondition is stale: reported and left alone. Break-glass accounts are
    never touched, and a run over the change cap is refused before any write.
    A journal makes an interrupted run resumable without repeating a write.
    Exit code 0 when everything is done or nothing is left to do, 2 when an
    action is stale (or, with --dry-run, when changes are pending), 1 when an
    action failed or the run was refused. --dry-run lists an action that would
    refuse the run as blocked, with the other changes, and exits 1.
    """
    _require_confirmation_channel(options)
    plan = load_plan(plan_path)
    tenant = _tenant(options["inventory"], options["tenant_name"], plan.tenant, f"plan {plan_path}")
    settings = tenant_settings(tenant, plan.params)
    journal_file = Path(journal_path) if journal_path else _default_journal(plan_path)
    actor = resolve_actor()

    with ExitStack() as stack:
        if options["dry_run"]:
            journal = Journal.read(journal_file) if journal_file.exists() else None
            audit = None
        else:
            journal = stack.enter_context(Journal.open(journal_file, plan.digest, _tenant_record(tenant), _now(), plan_path=plan_path))
            audit = stack.enter_context(AuditLog(options["audit_path"], actor=actor))

        items = apply_items(plan, journal, _only(options["only"]))
        runner = _runner("apply", items, tenant, settings, plan.digest, journal, audit, options, actor)
        code = _run(ctx, runner, tenant, options, stack, journal_file)

    ctx.exit(code)


@click.command("rollback")
@click.argument("journal_path", metavar="JOURNAL", type=click.Path(dir_okay=False))
@_run_options
@click.pass_context
def rollback(ctx: click.Context, journal_path: str, **options: Any) -> None:
    """Undo the reversible changes an apply journal records, last change first.

    A target whose live state is no longer what the apply left it in is
    stale and left alone. The rollback is journaled in the same journal and
    audited like an apply. Exit code 0 when everything is undone or nothing
    is left to undo, 2 when a target is stale (or, with --dry-run, when
    something is left to undo), 1 when an undo failed or the run was refused.
    """
    _require_confirmation_channel(options)
    header = Journal.read(journal_path).header
    tenant = _tenant(options["inventory"], options["tenant_name"], header["tenant"], f"journal {journal_path}")
    settings = tenant_settings(tenant)
    actor = resolve_actor()

    with ExitStack() as stack:
        if options["dry_run"]:
            journal = Journal.read(journal_path)
            audit = None
        else:
            journal = stack.enter_context(Journal.open(journal_path, header["planDigest"], header["tenant"], _now()))
            audit = stack.enter_context(AuditLog(options["audit_path"], actor=actor))

        items = rollback_items(journal, _only(options["only"]))
        runner = _runner("rollback", items, tenant, settings, header["planDigest"], journal, audit, options, actor)
        code = _run(ctx, runner, tenant, options, stack, Path(journal_path))

    ctx.exit(code)


def _run(ctx: click.Context, runner: Runner, tenant: Any, options: dict[str, Any], stack: ExitStack, journal_file: Path) -> int:
    """Check, preview, confirm and execute; return the exit code."""
    from engine.apply.sessions import open_session

    verb = _VERBS[runner.operation]
    runner.check()
    if not runner.items:
        click.echo(f"Nothing to {verb}: no actions selected.")
        return 0

    retry = RetryPolicy(max_retries=options["max_retries"], base_delay=options["retry_delay"])
    session = open_session(tenant, runner.settings, retry, options["timeout"])
    stack.callback(session.close)
    runner.session = session

    # A dry run lists blocked actions among the others instead of refusing, so one review covers every action.
    changes = runner.preview(refuse_blocked=not options["dry_run"])
    click.echo(f"Tenant {tenant.name} ({tenant.provider} {tenant.id}):")
    click.echo(render_preview(changes, runner.operation), nl=False)

    writable = [change for change in changes if change.status in ("change", "resumed", "unreadable")]
    recordable = writable + [change for change in changes if change.status == "stale"]
    blocked = [change.item.planned.id for change in changes if change.status == "blocked"]
    if blocked:
        message = (
            f"{plural(len(blocked), 'action')} blocked ({', '.join(blocked)}), so the {runner.operation} would be refused "
            "before any write; the preview gives each reason. Fix them, or leave them out with --only"
        )
        raise ApplyRefused(message)
    if options["dry_run"]:
        return 2 if recordable else 0
    if not recordable:
        click.echo(f"Nothing to {verb}.")
        return 0

    if writable and not options["auto_approve"]:
        question = f"{verb.capitalize()} {len(writable)} change{'' if len(writable) == 1 else 's'} to tenant {tenant.name}?"
        if not click.confirm(question, default=False):
            click.echo("Cancelled; nothing was written.", err=True)
            return 1

    result = runner.execute(changes)
    click.echo("")
    click.echo(render_result(result), nl=False)
    click.echo(f"Journal: {journal_file}")
    if result.audit_head is not None:
        click.echo(f"Audit log: {options['audit_path']} (head {result.audit_head})")

    return result.exit_code


def _runner(operation: str, items: list, tenant: Any, settings: Any, plan_digest: str, journal: Any, audit: Any, options: dict[str, Any], actor: str) -> Runner:
    return Runner(
        operation,
        items,
        session=None,
        settings=settings,
        tenant=_tenant_record(tenant),
        plan_digest=plan_digest,
        journal=journal,
        audit=audit,
        options=ApplyOptions(only=_only(options["only"]), max_changes=options["max_changes"], fail_fast=options["fail_fast"]),
        actor=actor,
    )


def _require_confirmation_channel(options: dict[str, Any]) -> None:
    if options["dry_run"] or options["auto_approve"]:
        return
    if not _stdin_is_terminal():
        message = (
            "refusing to write without confirmation: standard input is not a terminal, so safeguard cannot ask. "
            "Review the changes with --dry-run, then pass --auto-approve"
        )
        raise UserError(message)


def _stdin_is_terminal() -> bool:
    return click.get_text_stream("stdin").isatty()


def _tenant(inventory_path: str, name: str | None, planned: Any, source: str) -> Any:
    """Return the inventory tenant to work on; raise PlanError when it is not the planned tenant."""
    inventory = load_inventory(inventory_path)
    planned_id = str(planned.get("id", ""))
    if name is not None:
        tenant = inventory.get(name)
    else:
        matches = [tenant for tenant in inventory.tenants if tenant.id.lower() == planned_id.lower()]
        if not matches:
            message = f"{inventory_path}: no tenant has id {planned_id}, the tenant of {source}; add it or pass --tenant"
            raise PlanError(message)
        if len(matches) > 1:
            message = f"{inventory_path}: tenants {', '.join(tenant.name for tenant in matches)} share id {planned_id}; pass --tenant"
            raise PlanError(message)
        tenant = matches[0]

    if tenant.id.lower() != planned_id.lower() or tenant.provider != planned.get("provider"):
        message = (
            f"{source} is for {planned.get('provider')} tenant {planned_id}, but inventory tenant {tenant.name!r} "
            f"is {tenant.provider} tenant {tenant.id}; refusing to apply it to another tenant"
        )
        raise PlanError(message)

    return tenant


def _tenant_record(tenant: Any) -> dict[str, str]:
    return {"id": tenant.id, "provider": tenant.provider, "domain": tenant.domain, "name": tenant.name}


def _default_journal(plan_path: str) -> Path:
    path = Path(plan_path)

    return path.with_name(path.stem + ".journal.jsonl")


def _only(values: tuple[str, ...]) -> tuple[str, ...]:
    ids = []
    for value in values:
        ids.extend(part.strip() for part in value.split(",") if part.strip())

    return tuple(dict.fromkeys(ids))


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
