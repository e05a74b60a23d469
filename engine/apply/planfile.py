"""Read a saved plan and check it before anything is applied.

A plan is applied exactly as reviewed, so it must be the file `safeguard plan`
wrote: valid against schema/plan.schema.json (when that schema is installed)
and consistent with its own digests. Every action id is recomputed from the
action's policy, name and arguments, every precondition fingerprint from its
fields, and the params digest from the recorded param values. A hand edit
that changes what an action does, or to which target, therefore fails the
check unless the editor also recomputes those digests. The plan's digest is
the SHA-256 of the file's bytes; the journal and the audit log carry it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from engine.apply.state import state_fingerprint
from engine.errors import InputError, UserError
from engine.schemas import load_schema, schema_path

__all__ = ["PlanError", "PlannedAction", "PlanFile", "load_plan", "plan_problems"]

# At most this many problems are listed in one error.
_PROBLEMS_SHOWN = 20


class PlanError(UserError):
    """A plan file that is invalid, inconsistent with its digests, or not for this tenant."""


@dataclass(frozen=True)
class PlannedAction:
    """One action to carry out, from a plan or, for a rollback, from a journal."""

    id: str
    name: str
    provider: str
    target: Mapping[str, Any]
    arguments: Mapping[str, Any]
    reversible: bool
    precondition: Mapping[str, Any] | None = None
    policy: str | None = None

    @classmethod
    def from_document(cls, entry: Mapping[str, Any]) -> PlannedAction:
        return cls(
            id=entry["id"],
            name=entry["action"],
            provider=entry["provider"],
            target=dict(entry.get("target") or {}),
            arguments=dict(entry.get("arguments") or {}),
            reversible=bool(entry.get("reversible")),
            precondition=entry.get("precondition"),
            policy=entry.get("policy"),
        )

    def label(self) -> str:
        """Return a short description of the target, such as ``user 1234 (Ada Lovelace)``."""
        target_type = self.target.get("type") or "target"
        target_id = self.target.get("id")
        name = self.target.get("displayName")
        shown = f"{target_type} {target_id}"
        if name and name != target_id:
            shown += f" ({name})"

        return shown


@dataclass(frozen=True)
class PlanFile:
    """A checked plan: its path, digest, tenant, param values and actions in plan order."""

    path: str
    digest: str
    tenant: Mapping[str, Any]
    params: Mapping[str, Any]
    actions: tuple[PlannedAction, ...]
    document: Mapping[str, Any] = field(repr=False, default_factory=dict)


def load_plan(path: str | Path, registry: Any = None) -> PlanFile:
    """Read a plan file and check it; raise PlanError listing every problem found."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        message = f"{source}: plan file not found; write one with `safeguard plan --out {source}`"
        raise InputError(message) from None
    except OSError as error:
        message = f"{source}: cannot read the plan file: {error.strerror}"
        raise InputError(message) from None

    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        message = f"{source}:{error.lineno}:{error.colno}: the plan is not valid JSON: {error.msg}"
        raise PlanError(message) from None

    problems = plan_problems(document, registry)
    if problems:
        shown = problems[:_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        message = f"{source}: the plan cannot be applied:\n  " + "\n  ".join(shown)
        if more:
            message += f"\n  ... and {more} more"
        message += "\nMake the plan again with `safeguard plan --out` instead of editing it."
        raise PlanError(message)

    return PlanFile(
        path=source,
        digest="sha256:" + hashlib.sha256(raw).hexdigest(),
        tenant=dict(document["snapshot"]["tenant"]),
        params=dict(document["params"]["values"]),
        actions=tuple(PlannedAction.from_document(entry) for entry in document["actions"]),
        document=document,
    )


def plan_problems(document: Any, registry: Any = None) -> list[str]:
    """Return what makes ``document`` unusable as a plan: schema errors, then digest mismatches."""
    if registry is None:
        from remediations import registry as default_registry

        registry = default_registry

    problems = _schema_problems(document)
    problems.extend(_shape_problems(document))
    if problems:
        return problems

    problems.extend(_params_problems(document["params"]))
    provider = document["snapshot"]["tenant"]["provider"]
    seen: set[str] = set()
    for index, entry in enumerate(document["actions"]):
        where = f"actions[{index}] ({entry['id']})"
        if entry["id"] in seen:
            problems.append(f"{where}: the id appears twice")
        seen.add(entry["id"])
        problems.extend(f"{where}: {problem}" for problem in _action_problems(entry, provider, registry))

    return problems


def _schema_problems(document: Any) -> list[str]:
    if not schema_path("plan.schema.json").is_file():
        return []

    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema("plan.schema.json"))
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda item: list(item.absolute_path)):
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path) or "(top level)"
        problems.append(f"{path.lstrip('.')}: {error.message}")

    return problems


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping)


def _shape_problems(document: Any) -> list[str]:
    """Check the fields apply reads, whether or not the plan schema is installed."""
    from engine.plan import PLAN_SCHEMA_VERSION

    if not _is_object(document):
        return ["the plan must be a JSON object"]

    problems = []
    # Minor versions only add fields, so any 1.x plan has what apply reads.
    major = PLAN_SCHEMA_VERSION.split(".")[0]
    version = document.get("schemaVersion")
    if not isinstance(version, str) or version.split(".")[0] != major:
        problems.append(f"schemaVersion is {version!r}; this safeguard applies plans of version {major}.x")
    tenant = (document.get("snapshot") or {}).get("tenant") if _is_object(document.get("snapshot")) else None
    if not _is_object(tenant) or not isinstance(tenant.get("id"), str) or tenant.get("provider") not in ("m365", "gws"):
        problems.append("snapshot.tenant must give the tenant's id and provider (m365 or gws)")
    params = document.get("params")
    if not _is_object(params) or not _is_object(params.get("values")) or not isinstance(params.get("digest"), str):
        problems.append("params must hold the param values and their digest")
    actions = document.get("actions")
    if not isinstance(actions, list):
        problems.append("actions must be a list")
        return problems

    required = {"id": str, "action": str, "provider": str, "target": Mapping, "arguments": Mapping, "reversible": bool}
    for index, entry in enumerate(actions):
        if not _is_object(entry):
            problems.append(f"actions[{index}] must be an object")
            continue
        for name, kind in required.items():
            if not isinstance(entry.get(name), kind):
                problems.append(f"actions[{index}].{name} is missing or has the wrong type")
        if "precondition" not in entry:
            problems.append(f"actions[{index}] has no precondition; make the plan again with this version of safeguard")
        elif entry["precondition"] is not None and not _valid_precondition(entry["precondition"]):
            problems.append(f"actions[{index}].precondition must hold fields (an object) and a sha256 fingerprint")

    return problems


def _valid_precondition(precondition: Any) -> bool:
    return (
        _is_object(precondition)
        and _is_object(precondition.get("fields"))
        and isinstance(precondition.get("fingerprint"), str)
        and precondition["fingerprint"].startswith("sha256:")
    )


def _params_problems(params: Mapping[str, Any]) -> list[str]:
    from engine.params import params_digest

    recorded = params["digest"]
    actual = params_digest(dict(params["values"]))
    if recorded != actual:
        return [f"params.digest is {recorded}, but the recorded param values digest to {actual}: the values were edited"]

    return []


def _action_problems(entry: Mapping[str, Any], provider: str, registry: Any) -> list[str]:
    from engine.plan import _action_id

    problems = []
    name = entry["action"]
    declaration = registry.get(name)
    if declaration is None:
        problems.append(f"unknown remediation action {name!r}; install the plugin that provides it")
        return problems

    if entry["provider"] != provider or declaration.provider != provider:
        problems.append(f"{name} is a {declaration.provider} action, but the plan is for a {provider} tenant")
    problems.extend(registry.validate_arguments(name, entry["arguments"]))

    expected_id = _action_id(entry.get("policy"), name, dict(entry["arguments"]))
    if entry["id"] != expected_id:
        problems.append(f"the id does not match the action's policy, name and arguments (they give {expected_id}): the action was edited")

    if declaration.target is not None:
        target_id = entry["arguments"].get(declaration.target)
        if entry["target"].get("id") != target_id:
            problems.append(f"target.id {entry['target'].get('id')!r} differs from argument {declaration.target!r} ({target_id!r})")

    precondition = entry.get("precondition")
    if precondition is not None:
        fingerprint = state_fingerprint(precondition["fields"])
        if precondition["fingerprint"] != fingerprint:
            problems.append(f"precondition.fingerprint does not match its fields (they give {fingerprint}): the precondition was edited")

    return problems
