"""The work items of a run: which actions it considers, and what the journal records about each.

An apply takes the plan's actions; a rollback takes the journal's applied
actions, last applied first. Both refuse to start while the other operation
is interrupted, because the journal cannot tell which state such a target is in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.apply.planfile import PlanFile, PlannedAction
from engine.diagnostics import suggest
from engine.errors import UserError
from engine.journal import ActionHistory, Journal

__all__ = ["ApplyOptions", "ApplyRefused", "WorkItem", "apply_items", "rollback_items"]


class ApplyRefused(UserError):
    """A check that stops the whole run before its first write."""


@dataclass(frozen=True)
class ApplyOptions:
    """Choices of one run: the actions to consider, the change cap, and whether to stop at the first failure."""

    only: tuple[str, ...] = ()
    max_changes: int | None = None
    fail_fast: bool = False


@dataclass
class WorkItem:
    """One action of a run, with the journal entries that concern it.

    ``expected`` is the state the target must be in (the plan's precondition,
    or for a rollback the state read back after the apply). ``prior`` is the
    state a rollback restores. ``applied`` is the journal's done entry when an
    apply already carried the action out. ``interrupted`` is a pending entry
    without an outcome.
    """

    planned: PlannedAction
    expected: Mapping[str, Any] | None
    prior: Mapping[str, Any] | None = None
    applied: Mapping[str, Any] | None = None
    interrupted: Mapping[str, Any] | None = None


def _select(actions: Iterable[PlannedAction], only: tuple[str, ...], source: str) -> list[PlannedAction]:
    actions = list(actions)
    if not only:
        return actions

    known = {action.id for action in actions}
    for action_id in only:
        if action_id not in known:
            message = f"--only {action_id}: {source} has no action with this id"
            guess = suggest(action_id, sorted(known))
            message += f"; did you mean {guess}?" if guess else f"; its actions are {', '.join(sorted(known)) or 'none'}"
            raise ApplyRefused(message)

    selected = set(only)

    return [action for action in actions if action.id in selected]


def apply_items(plan: PlanFile, journal: Journal | None, only: tuple[str, ...] = ()) -> list[WorkItem]:
    """Return the work items of an apply: the plan's actions, each with its journal entries."""
    items = []
    for planned in _select(plan.actions, only, f"plan {plan.path}"):
        history = journal.history(planned.id) if journal is not None else ActionHistory(None, None)
        interrupted = history.interrupted
        if interrupted is not None and interrupted["operation"] == "rollback":
            message = (
                f"action {planned.id} has an interrupted rollback in journal {journal.path}; "
                f"run `safeguard rollback {journal.path}` again to finish it before applying"
            )
            raise ApplyRefused(message)
        expected = planned.precondition["fields"] if planned.precondition is not None else None
        items.append(WorkItem(planned, expected, applied=history.applied, interrupted=interrupted))

    return items


def rollback_items(journal: Journal, only: tuple[str, ...] = ()) -> list[WorkItem]:
    """Return the work items of a rollback: the journal's applied actions, last applied first."""
    provider = journal.header["tenant"]["provider"]
    for entry in journal.entries():
        history = journal.history(entry["actionId"])
        if history.interrupted is not None and history.interrupted["operation"] == "apply":
            message = (
                f"action {entry['actionId']} has an interrupted apply in journal {journal.path}; "
                "run `safeguard apply` on its plan again to finish it before rolling back"
            )
            raise ApplyRefused(message)

    by_id = {}
    for entry in reversed(journal.applied_entries()):
        planned = PlannedAction(
            id=entry["actionId"],
            name=entry["action"],
            provider=provider,
            target=entry["target"],
            arguments=entry["arguments"],
            reversible=bool(entry.get("reversible", False)),
        )
        # An interrupted entry here is a rollback's: an interrupted apply was refused above.
        interrupted = journal.history(planned.id).interrupted
        by_id[planned.id] = WorkItem(planned, entry.get("after") or {}, prior=entry.get("before") or {}, applied=entry, interrupted=interrupted)

    selected = _select([item.planned for item in by_id.values()], only, f"journal {journal.path}")

    return [by_id[planned.id] for planned in selected]
