"""Tenant params: YAML overrides checked against the policy set's ``param`` declarations.

A params file is a YAML mapping from param name to value. A name applies to
every package that declares a param of that name (the checker ensures all such
declarations share one type). Lists become sets for ``set<T>`` params, and a
``duration`` accepts ``90d`` style strings.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import yaml

from engine.diagnostics import suggest
from engine.errors import ParamsError
from engine.language.policyset import PolicySet
from engine.language.types import Type
from engine.language.values import parse_timestamp, to_json

__all__ = ["REMEDIATION_SETTINGS", "load_params_file", "resolve_params", "params_digest"]

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(w|d|h|m|s)$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def load_params_file(path: str | Path) -> dict[str, Any]:
    """Read a params YAML file into a mapping; an empty file means no overrides."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = f"{path}: params file not found"
        raise ParamsError(message) from None
    except (OSError, UnicodeDecodeError) as error:
        message = f"{path}: cannot read params file: {error}"
        raise ParamsError(message) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        message = f"{path}{where}: invalid YAML: {problem}"
        raise ParamsError(message) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        message = f"{path}: a params file must be a mapping of param names to values, got {type(document).__name__}"
        raise ParamsError(message)

    return document


def _coerce(value: Any, expected: Type, where: str) -> Any:
    """Convert a YAML value to the param's declared type; raise ParamsError naming ``where``."""
    kind = expected.kind
    if kind == "any":
        return value
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value

    if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        if expected.name != "int":
            return value
        if not float(value).is_integer():
            message = f"{where}: expected a whole number (int), got {value}"
            raise ParamsError(message)
        return int(value)

    if kind == "duration" and isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match:
            amount, unit = match.groups()
            return timedelta(**{_UNITS[unit]: float(amount)})

    if kind == "timestamp" and isinstance(value, (datetime, date)):
        # YAML reads an unquoted 2026-12-01 or 2026-12-01T00:00:00Z as a date or datetime.
        if not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    if kind == "timestamp" and isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError:
            pass

    if kind in ("list", "set") and isinstance(value, (list, tuple, set, frozenset)):
        items = [_coerce(item, expected.element, f"{where}[{index}]") for index, item in enumerate(value)]
        if kind == "list":
            return items
        try:
            return frozenset(items)
        except TypeError:
            message = f"{where}: a set can only hold strings, numbers and booleans"
            raise ParamsError(message) from None

    if isinstance(value, (set, frozenset)):
        rendered = str(sorted(value))
    else:
        rendered = orjson.dumps(to_json(value)).decode()
    hint = " (for example 90d)" if kind == "duration" else ""
    message = f"{where}: expected {expected}{hint}, got {rendered}"
    raise ParamsError(message)


# Tenant params that configure `safeguard apply`, not policies: they may sit in
# the same params file or inventory entry without a `param` declaration.
REMEDIATION_SETTINGS = frozenset({"mfa_group", "mfa_exclusion_group", "max_changes"})


def resolve_params(policy_set: PolicySet, overrides: dict[str, Any], source: str = "params") -> dict[str, Any]:
    """Merge overrides over declared defaults; every declared param gets a typed value.

    Remediation settings (REMEDIATION_SETTINGS) are skipped unless a policy
    declares a param of that name.
    """
    declared = policy_set.param_types
    for name in sorted(overrides):
        if name in REMEDIATION_SETTINGS and name not in declared:
            continue
        if name not in declared:
            guess = suggest(str(name), declared)
            hint = f"; did you mean '{guess}'?" if guess else f"; declared params: {', '.join(sorted(declared)) or 'none'}"
            message = f"{source}: unknown param '{name}'{hint}"
            raise ParamsError(message)
    values: dict[str, Any] = {}
    for name, expected in declared.items():
        if name in overrides:
            values[name] = _coerce(overrides[name], expected, f"{source}: param '{name}'")
        elif name in policy_set.param_defaults:
            values[name] = _coerce(policy_set.param_defaults[name], expected, f"default of param '{name}'")
        else:
            message = f"{source}: param '{name}' has no default and must be set"
            raise ParamsError(message)

    return values


def params_digest(values: dict[str, Any]) -> str:
    """Digest of resolved params, independent of key order and set order."""
    canonical = orjson.dumps({name: to_json(value) for name, value in values.items()}, option=orjson.OPT_SORT_KEYS)

    return "sha256:" + hashlib.sha256(canonical).hexdigest()
