"""Carry out a plan's actions (apply) or undo a journal's changes (rollback) against one tenant.

A run has three steps, and the CLI shows the preview between the second and
the third:

1. `Runner.check` refuses the whole run before it reads the tenant: an action
   without a precondition, an argument naming a break-glass account, more
   changes than the cap allows.
2. `Runner.preview` reads every target, compares it with its precondition,
   resolves the accounts each action touches (refusing the run when one is a
   break-glass account) and computes the desired state. It writes nothing. A
   dry run previews with ``refuse_blocked=False``, so an action that cannot
   run is listed as ``blocked`` next to the others instead of refusing the run.
3. `Runner.execute` re-reads each target just before writing it. A target
   that no longer matches is ``stale`` and left alone. Otherwise the journal
   records ``pending``, the action writes, the target is read back, and the
   journal records ``done`` or ``failed``. The audit log gets an attempt
   record before the write and an outcome record after it.

An action interrupted between ``pending`` and its outcome is re-read on the
next run. When the target already shows the change, it is marked done without
a second write. An apply resumes only the plan's actions and a rollback only
its undos; each refuses to start while the other is interrupted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import structlog

from engine.apply.items import ApplyOptions, ApplyRefused, WorkItem, apply_items, rollback_items
from engine.apply.settings import TenantSettings
from engine.apply.state import normalize_state, state_changes
from engine.errors import UserError
from engine.journal import Journal

__all__ = [
    "CHECKPOINTS",
    "ApplyOptions",
    "ApplyRefused",
    "Change",
    "Outcome",
    "RunResult",
    "Runner",
    "WorkItem",
    "apply_items",
    "rollback_items",
]

log = structlog.get_logger()

# Points in an action's execution where `checkpoint` is called: the boundaries
# a crash can fall between. Tests raise there to simulate one.
CHECKPOINTS = ("before_pending", "after_pending", "after_write", "after_outcome")


@dataclass
class Change:
    """Preview outcome of one action.

    ``status`` is one of:

    - ``change``: the write is still to do;
    - ``resumed``: an interrupted write is already in effect;
    - ``done``: the journal shows it done;
    - ``stale``: the target no longer matches its precondition;
    - ``not_reversible``: a rollback cannot undo it;
    - ``unreadable``: the read failed, and execute tries again;
    - ``blocked``: the run would not start, for ``reason``. Only a preview
      with ``refuse_blocked=False`` returns this status.
    """

    item: WorkItem
    status: str
    before: Mapping[str, Any] | None = None
    desired: Mapping[str, Any] | None = None
    reason: str | None = None

    @property
    def field_changes(self) -> list[tuple[str, Any, Any]]:
        """Return ``(path, before, after)`` of the fields the write changes."""
        if self.status == "stale":
            return state_changes(self.item.expected, self.before)
        if self.before is None or self.desired is None:
            return []

        return state_changes(self.before, self.desired)


@dataclass
class Outcome:
    """Result of one action in ``execute``.

    ``status`` is ``done``, ``failed``, ``stale``, ``skipped`` (not attempted:
    not reversible, or after a failure with fail_fast) or ``unchanged`` (the
    journal already showed it done).
    """

    item: WorkItem
    status: str
    before: Mapping[str, Any] | None = None
    desired: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    error: str | None = None
    verified: bool = True
    resumed: bool = False
    requests: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    """Outcomes of one run, in the order the actions were considered."""

    run_id: str
    operation: str
    outcomes: list[Outcome]
    audit_head: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def exit_code(self) -> int:
        """Return 1 when an action failed, 2 when one was stale, 0 otherwise."""
        if self.count("failed"):
            return 1
        if self.count("stale"):
            return 2

        return 0


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_run_id(moment: datetime) -> str:
    return "run-" + moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _api_errors() -> tuple[type[BaseException], ...]:
    """Return the exceptions a failed tenant request raises after its retries."""
    import httplib2
    from azure.core.exceptions import ClientAuthenticationError
    from google.auth.exceptions import GoogleAuthError

    from engine.collect.sections import RequestFailed

    return (RequestFailed, GoogleAuthError, ClientAuthenticationError, httplib2.HttpLib2Error, OSError)


def _describe(error: BaseException) -> str:
    from engine.collect.sections import RequestFailed

    text = str(error).strip()
    if isinstance(error, RequestFailed):
        return text

    return f"{type(error).__name__}: {text or 'no details'}"


def _break_glass_reason(names: Iterable[str]) -> str:
    listed = ", ".join(sorted(names))

    return f"touches break-glass account {listed}, which params.break_glass protects; remove the action from the plan"


def _join_reasons(change: Change, reason: str) -> str:
    """Return ``reason`` after the reason the change is already blocked for, if any."""
    if change.status == "blocked" and change.reason:
        return f"{change.reason}; {reason}"

    return reason


def _not_found(error: BaseException) -> bool:
    return getattr(error, "status", None) == 404


def _format_value(value: Any) -> str:
    import orjson

    return "absent" if value is None else orjson.dumps(value).decode("utf-8")


class Runner:
    """One apply or rollback run against one tenant session.

    ``operation`` is ``apply`` or ``rollback``. ``journal`` and ``audit`` may
    be None only for a preview (dry run). ``checkpoint(name, action_id)`` is
    called at each of `CHECKPOINTS`.
    """

    def __init__(
        self,
        operation: str,
        items: list[WorkItem],
        *,
        session: Any,
        settings: TenantSettings,
        tenant: Mapping[str, Any],
        plan_digest: str,
        journal: Journal | None = None,
        audit: Any = None,
        options: ApplyOptions | None = None,
        registry: Any = None,
        actor: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
        checkpoint: Callable[[str, str], None] | None = None,
    ) -> None:
        if operation not in ("apply", "rollback"):
            message = f"operation must be apply or rollback, not {operation!r}"
            raise ValueError(message)
        if registry is None:
            from remediations import registry as default_registry

            registry = default_registry

        self.operation = operation
        self.items = items
        self.session = session
        self.settings = settings
        self.tenant = dict(tenant)
        self.plan_digest = plan_digest
        self.journal = journal
        self.audit = audit
        self.options = options or ApplyOptions()
        self.registry = registry
        self.actor = actor
        self.clock = clock
        self.checkpoint = checkpoint
        self.run_id = _new_run_id(clock())
        self._actions: dict[str, Any] = {}

    # Step 1: checks that need no tenant access.

    def pending_items(self) -> list[WorkItem]:
        """Return the items this run may still write: not done, and undoable for a rollback."""
        pending = []
        for item in self.items:
            if self.operation == "apply" and item.applied is not None:
                continue
            if self.operation == "rollback" and not self._action(item).reversible:
                continue
            pending.append(item)

        return pending

    def check(self) -> None:
        """Refuse the run, before any tenant access, when a plan-level rule is broken."""
        pending = self.pending_items()
        missing = [item.planned.id for item in pending if item.expected is None]
        if missing:
            if len(missing) == 1:
                subject, them = f"action {missing[0]} has", "it"
            else:
                subject, them = f"{len(missing)} actions ({', '.join(missing)}) have", "them"
            message = (
                f"{subject} no precondition, because the snapshot lacked a section needed to check the target;"
                f" collect the tenant again and make a new plan, or leave {them} out with --only"
            )
            self._refuse(message)

        for item in pending:
            named = self._break_glass_arguments(item)
            if named:
                self._refuse(self._break_glass_message(item, named))

        limit = self.options.max_changes if self.options.max_changes is not None else self.settings.max_changes
        if limit is not None and len(pending) > limit:
            source = "--max-changes" if self.options.max_changes is not None else f"param max_changes of tenant {self.settings.tenant!r}"
            message = (
                f"the run would change {len(pending)} targets, more than the limit of {limit} ({source}); "
                "nothing was written. Apply part of the plan with --only, or raise the limit"
            )
            self._refuse(message)

    # Step 2: read every target and show what would change.

    def preview(self, refuse_blocked: bool = True) -> list[Change]:
        """Read each target and return what the run would do.

        Raises ApplyRefused when an action touches a break-glass account or
        its desired state cannot be computed (a tenant setting is missing, for
        example). With ``refuse_blocked=False`` such an action is returned
        as ``blocked`` with the reason instead, and the others are still read.
        """
        changes = []
        refused = []
        for item in self.items:
            change, touched = self._preview_item(item, refuse_blocked)
            if touched and refuse_blocked:
                refused.append(self._break_glass_message(item, touched))
            elif touched:
                change = Change(item, "blocked", before=change.before, reason=_join_reasons(change, _break_glass_reason(touched)))
            if change.status == "blocked":
                log.info(f"{self.operation}.blocked", tenant=self.settings.tenant, action_id=item.planned.id, reason=change.reason)
            changes.append(change)

        if refused:
            self._refuse("; ".join(refused))

        return changes

    def _preview_item(self, item: WorkItem, refuse_blocked: bool = True) -> tuple[Change, frozenset[str]]:
        action = self._action(item)
        arguments = item.planned.arguments
        if self.operation == "apply" and item.applied is not None:
            return Change(item, "done", before=item.applied.get("before"), desired=item.applied.get("after")), frozenset()
        if self.operation == "rollback" and not action.reversible:
            return Change(item, "not_reversible", reason=f"{action.name} cannot be undone"), frozenset()

        try:
            touched = action.principals(self.session, arguments) & self.settings.break_glass
            live = action.read_state(self.session, arguments)
        except _api_errors() as error:
            if _not_found(error):
                return Change(item, "stale", reason=f"the target no longer exists: {_describe(error)}"), frozenset()
            return Change(item, "unreadable", reason=_describe(error)), frozenset()

        interrupted = item.interrupted
        if interrupted is not None and self._applied(action, interrupted.get("before") or {}, live, interrupted.get("desired") or {}):
            return Change(item, "resumed", before=interrupted.get("before"), desired=interrupted.get("desired")), touched
        if not self._matches(action, item.expected, live):
            return Change(item, "stale", before=live, reason="the target changed since the plan was made"), touched

        try:
            desired = self._desired(action, item, live)
        except UserError as error:
            if not refuse_blocked:
                return Change(item, "blocked", before=live, reason=str(error)), touched
            self._refuse(f"action {item.planned.id} ({item.planned.name} on {item.planned.label()}): {error}")

        return Change(item, "change", before=live, desired=desired), touched

    # Step 3: write.

    def execute(self, changes: list[Change]) -> RunResult:
        """Carry out the previewed changes in order and return their outcomes."""
        if self.journal is None:
            message = "execute needs a journal; a dry run stops after preview"
            raise ValueError(message)

        self.journal.append({"type": "run", "runId": self.run_id, "operation": self.operation, "startedAt": _timestamp(self.clock()), "actor": self.actor or ""})
        self._audit("start", actions=len(changes), journal=str(self.journal.path))
        log.info(f"{self.operation}.start", tenant=self.settings.tenant, run_id=self.run_id, actions=len(changes))

        outcomes = []
        stop = False
        for change in changes:
            item = change.item
            if stop:
                outcomes.append(Outcome(item, "skipped", error="not attempted: an earlier action failed and --fail-fast is set"))
            elif change.status == "done":
                outcomes.append(Outcome(item, "unchanged", before=change.before, after=change.desired))
            elif change.status == "not_reversible":
                outcomes.append(Outcome(item, "skipped", error=change.reason))
            elif change.status == "stale":
                outcomes.append(self._finish(item, "stale", before=change.before, error=change.reason))
            else:
                outcomes.append(self._carry_out(item))
            stop = stop or (self.options.fail_fast and outcomes[-1].status == "failed")

        counts = {status: sum(1 for outcome in outcomes if outcome.status == status) for status in ("done", "failed", "stale", "skipped", "unchanged")}
        self._audit("finish", result="finished", counts=counts)
        log.info(f"{self.operation}.finish", tenant=self.settings.tenant, run_id=self.run_id, **counts)

        return RunResult(self.run_id, self.operation, outcomes, self.audit.head if self.audit is not None else None)

    def _carry_out(self, item: WorkItem) -> Outcome:
        action = self._action(item)
        arguments = item.planned.arguments
        try:
            touched = action.principals(self.session, arguments) & self.settings.break_glass
            live = action.read_state(self.session, arguments)
        except _api_errors() as error:
            if _not_found(error):
                return self._finish(item, "stale", error=f"the target no longer exists: {_describe(error)}")
            return self._finish(item, "failed", error=f"cannot read the target: {_describe(error)}")
        if touched:
            return self._finish(item, "failed", before=live, error=self._break_glass_message(item, touched) + "; nothing was written")

        interrupted = item.interrupted
        if interrupted is not None:
            before = interrupted.get("before") or {}
            desired = interrupted.get("desired") or {}
            if self._applied(action, before, live, desired):
                return self._finish(item, "done", before=before, desired=desired, after=live, resumed=True)
        if not self._matches(action, item.expected, live):
            return self._finish(item, "stale", before=live, error="the target changed since the plan was made")

        desired = self._desired(action, item, live)
        self._checkpoint("before_pending", item)
        self._journal(item, "pending", before=live, desired=desired)
        self._checkpoint("after_pending", item)
        self._audit("attempt", item=item, before=live, after=desired, result="pending")

        write_error = None
        requests: list[str] = []
        try:
            response = self._write(action, item, live)
            requests = list(response.get("requests") or [])
        except _api_errors() as error:
            write_error = _describe(error)
        self._checkpoint("after_write", item)

        try:
            after = action.read_state(self.session, arguments)
        except _api_errors() as error:
            message = write_error or f"the write was sent, but reading the target back failed: {_describe(error)}"
            return self._finish(item, "failed", before=live, desired=desired, error=message, requests=requests)

        if not action.verifiable:
            status = "done" if write_error is None else "failed"
            return self._finish(item, status, before=live, desired=desired, after=after, error=write_error, verified=False, requests=requests)

        if self._applied(action, live, after, desired):
            note = f"the write reported an error ({write_error}), but the target shows the change" if write_error else None
            return self._finish(item, "done", before=live, desired=desired, after=after, error=note, requests=requests)

        message = write_error or "the read-back shows no change: " + self._difference(desired, after)

        return self._finish(item, "failed", before=live, desired=desired, after=after, error=message, requests=requests)

    def _finish(self, item: WorkItem, status: str, *, before=None, desired=None, after=None, error=None, verified=True, resumed=False, requests=None) -> Outcome:
        outcome = Outcome(item, status, before, desired, after, error, verified, resumed, list(requests or []))
        extra: dict[str, Any] = {}
        if status == "stale":
            extra["expected"] = dict(item.expected or {})
        self._journal(item, status, before=before, desired=desired, after=after, error=error, verified=verified, resumed=resumed, requests=requests, **extra)
        self._checkpoint("after_outcome", item)
        self._audit("outcome", item=item, before=before, after=after, result=status, error=error, verified=verified, resumed=resumed, requests=requests)
        event = log.warning if status in ("failed", "stale") else log.info
        event(f"{self.operation}.action", tenant=self.settings.tenant, run_id=self.run_id, action=item.planned.name, action_id=item.planned.id, status=status, error=error)

        return outcome

    # Operation-specific steps.

    def _desired(self, action: Any, item: WorkItem, live: Mapping[str, Any]) -> dict[str, Any]:
        if self.operation == "rollback":
            return dict(item.prior or {})

        return action.desired_state(self.session, item.planned.arguments, live)

    def _write(self, action: Any, item: WorkItem, live: Mapping[str, Any]) -> dict[str, Any]:
        if self.operation == "rollback":
            return action.undo(self.session, item.planned.arguments, dict(item.prior or {}))

        return action.execute(self.session, item.planned.arguments, state=live)

    def _applied(self, action: Any, before: Mapping[str, Any], current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
        if self.operation == "rollback":
            return self._matches(action, desired, current)

        return action.is_applied(before, current, desired)

    # Helpers.

    def _action(self, item: WorkItem) -> Any:
        name = item.planned.name
        if name not in self._actions:
            action_class = self.registry.get(name)
            if action_class is None:
                message = f"action {item.planned.id} names unknown remediation action {name!r}; install the plugin that provides it"
                raise ApplyRefused(message)
            self._actions[name] = action_class()

        return self._actions[name]

    @staticmethod
    def _matches(action: Any, expected: Mapping[str, Any] | None, live: Mapping[str, Any]) -> bool:
        if expected is None:
            return False

        return normalize_state(action.comparable_state(expected)) == normalize_state(action.comparable_state(live))

    @staticmethod
    def _difference(expected: Mapping[str, Any] | None, actual: Mapping[str, Any] | None) -> str:
        changes = state_changes(expected, actual)
        if not changes:
            return "no field differs, but the action's own check failed"

        return ", ".join(f"{path} is {_format_value(now)}, want {_format_value(want)}" for path, want, now in changes)

    def _break_glass_arguments(self, item: WorkItem) -> frozenset[str]:
        values = {str(item.planned.target.get("id") or "")}
        for value in item.planned.arguments.values():
            if isinstance(value, str):
                values.add(value)

        return frozenset(value.lower() for value in values if value) & self.settings.break_glass

    def _break_glass_message(self, item: WorkItem, names: Iterable[str]) -> str:
        return f"action {item.planned.id} ({item.planned.name} on {item.planned.label()}) {_break_glass_reason(names)}"

    def _refuse(self, reason: str) -> None:
        self._audit("refused", result="refused", reason=reason)
        log.info(f"{self.operation}.refused", tenant=self.settings.tenant, reason=reason)
        message = f"{self.operation} refused before any write: {reason}"
        raise ApplyRefused(message)

    def _checkpoint(self, name: str, item: WorkItem) -> None:
        if self.checkpoint is not None:
            self.checkpoint(name, item.planned.id)

    def _journal(self, item: WorkItem, status: str, **fields: Any) -> None:
        if self.journal is None:
            return

        record: dict[str, Any] = {
            "type": "action",
            "runId": self.run_id,
            "operation": self.operation,
            "time": _timestamp(self.clock()),
            "actionId": item.planned.id,
            "action": item.planned.name,
            "target": dict(item.planned.target),
            "arguments": dict(item.planned.arguments),
            "reversible": bool(self._action(item).reversible),
            "status": status,
        }
        for name in ("before", "desired", "after", "expected"):
            if fields.get(name) is not None:
                record[name] = dict(fields[name])
        if fields.get("requests"):
            record["requests"] = list(fields["requests"])
        if fields.get("error"):
            record["error"] = fields["error"]
        if fields.get("verified") is False:
            record["verified"] = False
        if fields.get("resumed"):
            record["resumed"] = True
        self.journal.append(record)

    def _audit(self, kind: str, item: WorkItem | None = None, **fields: Any) -> None:
        if self.audit is None:
            return

        record: dict[str, Any] = {
            "run_id": self.run_id,
            "operation": self.operation,
            "tenant": self.tenant,
            "plan_digest": self.plan_digest,
        }
        if self.actor:
            record["actor"] = self.actor
        if item is not None:
            record.update(
                action_id=item.planned.id,
                action=item.planned.name,
                target=dict(item.planned.target),
                arguments=dict(item.planned.arguments),
            )
        for name, value in fields.items():
            if value is None or (name == "verified" and value is True) or (name == "resumed" and value is False):
                continue
            record[name] = dict(value) if isinstance(value, Mapping) else value
        self.audit.record(f"{self.operation}.{kind}", **record)
