"""Run a compiled policy set over a snapshot and produce a verdict per policy.

Status rules, in order:

1. ``not_applicable`` when the policy is for the other provider or its
   ``when`` is false.
2. ``error`` when the collection it iterates is unknown.
3. ``fail`` when any resource (or the tenant) definitely violates it.
4. ``error`` when some verdict depends on data that was not collected, or an
   expression failed at run time.
5. ``pass`` otherwise.

A known violation is never hidden by unknown data elsewhere, and unknown data
never becomes a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.language.policyset import CompiledPolicy, PolicySet
from engine.language.values import ABSENT, EvalError, Unknown, format_value, to_json, type_name

__all__ = ["EvaluationContext", "Violation", "PolicyResult", "Evaluation", "evaluate"]

_MISSING = object()
# At most this many unresolved resources are named in an error message.
_UNRESOLVED_SHOWN = 3


class EvaluationContext:
    """Run-time inputs of compiled expressions: sections, params, the clock and caches."""

    def __init__(self, snapshot, params: dict[str, Any], now: datetime) -> None:
        self.snapshot = snapshot
        self.params = params
        self.now = now
        self.globals: dict = {}
        self.cache: dict = {}
        self._sections: dict[str, Any] = {}

    def section(self, name: str) -> Any:
        value = self._sections.get(name, _MISSING)
        if value is _MISSING:
            status = self.snapshot.status(name)
            value = self.snapshot.data(name) if status.status == "ok" else Unknown(frozenset({name}))
            self._sections[name] = value

        return value

    def root(self, provider: str) -> dict:
        document = self.snapshot.document.get(provider)

        return document if isinstance(document, dict) else {}


@dataclass
class Violation:
    resource: dict[str, Any]
    message: str
    evidence: dict[str, Any]
    remediations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PolicyResult:
    policy: CompiledPolicy
    status: str
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None
    checked: int = 0
    unresolved: int = 0

    @property
    def id(self) -> str:
        return self.policy.id


@dataclass
class Evaluation:
    snapshot: Any
    policy_set: PolicySet
    params: dict[str, Any]
    now: datetime
    results: list[PolicyResult]

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)


def _describe_unknown(snapshot, unknown: Unknown) -> str:
    parts = []
    for name in sorted(unknown.sections):
        status = snapshot.status(name)
        reason = f": {status.message}" if status.message else ""
        parts.append(f"{name} is {status.status}{reason}")

    return "depends on data that was not collected (" + "; ".join(parts) + ")"


def _describe_error(error: EvalError) -> str:
    node = error.node
    if node is None:
        return error.message
    position = node.pos

    return f"{position.file}:{position.line}:{position.column}: {error.message}"


class _PolicyRun:
    """Evaluation of one policy over one snapshot."""

    def __init__(self, policy: CompiledPolicy, context: EvaluationContext) -> None:
        self.policy = policy
        self.context = context
        self.result = PolicyResult(policy=policy, status="pass")
        self.unknown: Unknown | None = None
        self.problems: list[str] = []

    def note_unknown(self, value: Unknown, resource: str | None) -> None:
        self.unknown = value if self.unknown is None else Unknown(self.unknown.sections | value.sections)
        self.result.unresolved += 1

    def note_error(self, error: EvalError, resource: str | None) -> None:
        self.result.unresolved += 1
        if len(self.problems) < _UNRESOLVED_SHOWN:
            where = f" for {resource}" if resource else ""
            self.problems.append(f"{_describe_error(error)}{where}")

    def run(self) -> PolicyResult:
        policy = self.policy
        context = self.context
        provider = context.snapshot.provider
        if policy.providers and provider not in policy.providers:
            self.result.status = "not_applicable"
            self.result.error = f"applies to {', '.join(sorted(policy.providers))} tenants; this snapshot is {provider}"
            return self.result
        frame = [None] * policy.frame_size
        try:
            if policy.when is not None:
                applies = policy.when(frame, context)
                if type(applies) is Unknown:
                    return self._error(_describe_unknown(context.snapshot, applies))
                if applies is False:
                    self.result.status = "not_applicable"
                    return self.result
                if applies is not True:
                    message = f"'when' needs a boolean, got {type_name(applies)}"
                    raise EvalError(message, policy.when_node)
            for slot, let in policy.lets:
                frame[slot] = let(frame, context)
            if policy.collection is None:
                self._judge(frame, None)
            else:
                items = policy.collection(frame, context)
                if type(items) is Unknown:
                    return self._error(_describe_unknown(context.snapshot, items))
                if isinstance(items, frozenset):
                    # Same order as a quantifier over a set, so results are deterministic.
                    items = sorted(items, key=repr)
                if not isinstance(items, (list, tuple)):
                    hint = "; handle it with '??' or 'is null'" if items is None or items is ABSENT else ""
                    message = f"'for' needs a list or set, got {type_name(items)}{hint}"
                    raise EvalError(message, policy.collection_node)
                self._judge_all(frame, items)
        except EvalError as error:
            return self._error(_describe_error(error))

        return self._verdict()

    def _judge_all(self, frame: list, items: Any) -> None:
        """Judge every item of the collection like _judge, with the common cases inline.

        A method call and its attribute lookups per item are measurable on
        100,000 users, so only an item whose assertion does not hold leaves
        this loop (for _settle).
        """
        policy = self.policy
        context = self.context
        result = self.result
        where = policy.where
        item_lets = policy.item_lets
        assertion = policy.assertion
        slot_of_item = policy.for_slot
        for item in items:
            frame[slot_of_item] = item
            try:
                in_scope = True
                if where is not None:
                    in_scope = where(frame, context)
                    if in_scope is False:
                        continue
                    if in_scope is not True and type(in_scope) is not Unknown:
                        message = f"'where' needs a boolean, got {type_name(in_scope)}"
                        raise EvalError(message, policy.where_node)
                for slot, let in item_lets:
                    frame[slot] = let(frame, context)
                holds = assertion(frame, context)
            except EvalError as error:
                self.note_error(error, self._label(item))
                continue
            result.checked += 1
            if holds is not True:
                self._settle(frame, item, in_scope, holds)

    def _judge(self, frame: list, item: Any) -> None:
        policy = self.policy
        context = self.context
        try:
            in_scope = True
            if policy.where is not None:
                in_scope = policy.where(frame, context)
                if in_scope is False:
                    return
                if in_scope is not True and type(in_scope) is not Unknown:
                    message = f"'where' needs a boolean, got {type_name(in_scope)}"
                    raise EvalError(message, policy.where_node)
            for slot, let in policy.item_lets:
                frame[slot] = let(frame, context)
            holds = policy.assertion(frame, context)
        except EvalError as error:
            self.note_error(error, self._label(item))
            return
        self.result.checked += 1
        if holds is not True:
            self._settle(frame, item, in_scope, holds)

    def _settle(self, frame: list, item: Any, in_scope: Any, holds: Any) -> None:
        """Record a judged item whose assertion did not hold: unknown, an error, or a violation."""
        policy = self.policy
        if type(holds) is Unknown or type(in_scope) is Unknown:
            self.note_unknown(holds if type(holds) is Unknown else in_scope, self._label(item))
            return
        if holds is not False:
            self.note_error(EvalError(f"'assert' needs a boolean, got {type_name(holds)}", policy.assertion_node), self._label(item))
            return
        self.result.violations.append(self._violation(frame, item))

    def _label(self, item: Any) -> str | None:
        # Only an unjudged resource needs a label; most are judged, so it is built on demand.
        return self.policy.resource_label(item) if item is not None else None

    def _violation(self, frame: list, item: Any) -> Violation:
        policy = self.policy
        context = self.context
        resource = policy.resource(item, context.snapshot)
        evidence = {}
        for label, function in policy.evidence:
            try:
                value = function(frame, context)
            except EvalError as error:
                value = f"<error: {error.message}>"
            if value is ABSENT:
                value = "<absent>"
            evidence[label] = to_json(value)
        message = policy.render_message(frame, context, resource)
        remediations = []
        for action, arguments in policy.remediations:
            values: dict[str, Any] = {}
            problem = None
            for name, function in arguments:
                try:
                    value = function(frame, context)
                except EvalError as error:
                    problem = _describe_error(error)
                    break
                if type(value) is Unknown or value is ABSENT:
                    problem = f"argument '{name}' is {format_value(to_json(value))}"
                    break
                values[name] = to_json(value)
            remediations.append({"action": action, "arguments": values, "problem": problem})

        return Violation(resource=resource, message=message, evidence=evidence, remediations=remediations)

    def _error(self, reason: str) -> PolicyResult:
        self.result.status = "error"
        self.result.error = reason
        self.result.violations = []

        return self.result

    def _verdict(self) -> PolicyResult:
        reasons = []
        if self.unknown is not None:
            reasons.append(_describe_unknown(self.context.snapshot, self.unknown))
        reasons.extend(self.problems)
        if self.result.violations:
            self.result.status = "fail"
            if reasons:
                count = self.result.unresolved
                noun = "resource" if count == 1 else "resources"
                self.result.error = f"{count} more {noun} could not be judged: " + "; ".join(reasons)
        elif reasons:
            self.result.status = "error"
            self.result.error = "; ".join(reasons)

        return self.result


def evaluate(policy_set: PolicySet, snapshot, params: dict[str, Any], now: datetime) -> Evaluation:
    """Evaluate every policy of the set over the snapshot at time ``now``."""
    context = EvaluationContext(snapshot, params, now)
    results = [_PolicyRun(policy, context).run() for policy in policy_set.policies]

    return Evaluation(snapshot=snapshot, policy_set=policy_set, params=params, now=now, results=results)
