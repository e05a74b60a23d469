"""Manual attestations: statements about 16 CFR 314.4 elements that no tenant API can check.

An attestations file (schema/attestations.schema.json) lists, per element, what
is attested, where the evidence is, who owns it and when it was last reviewed.
The HTML evidence report shows each attestation under its element and flags a
review more than 12 months older than the plan's evaluation time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, ValidationError

from engine._yaml_source import compose_yaml, raise_diagnostics, read_source
from engine.diagnostics import DiagnosticSink, suggest
from engine.report.elements import ELEMENTS, Element, element_of
from engine.schemas import load_schema

__all__ = [
    "Attestation",
    "REVIEW_CURRENT",
    "REVIEW_STALE",
    "REVIEW_FUTURE",
    "load_attestations",
    "parse_attestations",
    "review_due",
    "review_state",
]

REVIEW_CURRENT = "current"
REVIEW_STALE = "stale"
# A review dated after the evaluation: the attestations file is newer than the plan.
REVIEW_FUTURE = "future"


@dataclass(frozen=True)
class Attestation:
    """One statement about an element, with its evidence, owner and last review date."""

    element: Element
    statement: str
    evidence: str
    owner: str
    last_reviewed: date
    # Tenant names, domains or ids the statement covers. Empty covers every tenant.
    tenants: tuple[str, ...] = ()
    # FILE:LINE of the entry, shown in the report so a reader can find it.
    source: str = ""

    def applies_to(self, identifiers: Iterable[str]) -> bool:
        """Return whether the statement covers a tenant known by any of ``identifiers``."""
        if not self.tenants:
            return True

        return any(identifier in self.tenants for identifier in identifiers)


def review_due(last_reviewed: date) -> date:
    """Return the date 12 months after ``last_reviewed``. A review on 29 February falls due on 28 February."""
    try:
        return last_reviewed.replace(year=last_reviewed.year + 1)
    except ValueError:
        return last_reviewed.replace(year=last_reviewed.year + 1, day=28)


def review_state(attestation: Attestation, evaluated_at: datetime) -> str:
    """Classify the last review against the evaluation time (UTC date): current, stale or future.

    Stale means more than 12 months old: a review on 2025-11-30 is current on
    2026-11-30 and stale from 2026-12-01.
    """
    evaluated = evaluated_at.date() if evaluated_at.tzinfo is None else evaluated_at.astimezone(timezone.utc).date()
    if attestation.last_reviewed > evaluated:
        return REVIEW_FUTURE
    if evaluated > review_due(attestation.last_reviewed):
        return REVIEW_STALE

    return REVIEW_CURRENT


def load_attestations(path: str | Path) -> list[Attestation]:
    """Read and validate an attestations YAML file, raising InputError that names the file, line and field."""
    return parse_attestations(read_source(path, "attestations file"), path)


def parse_attestations(text: str, path: str | Path = "attestations.yaml") -> list[Attestation]:
    """Validate attestations YAML text. ``path`` names the file in messages."""
    file = str(path)
    # Dates stay strings, so the schema and this module check them.
    source = compose_yaml(text, file)
    document = source.document
    sink = DiagnosticSink()

    def report(where: tuple, message: str) -> None:
        sink.error(source.position(where), "invalid_attestation", message)

    if not isinstance(document, dict):
        report((), "an attestations file must be a mapping with an `attestations` list")
        raise_diagnostics(sink, {file: text})

    for error in sorted(_validator().iter_errors(document), key=lambda item: list(map(str, item.absolute_path))):
        where = tuple(error.absolute_path)
        at = where
        if error.validator == "additionalProperties":
            unknown = sorted(key for key in error.instance if key not in error.schema.get("properties", {}))
            at = (*where, unknown[0])
        sink.error(source.position(at), "invalid_attestation", f"{_field_label(where)}: {_describe(error)}")
    raise_diagnostics(sink, {file: text})

    attestations = []
    for index, raw in enumerate(document["attestations"]):
        where = ("attestations", index, "lastReviewed")
        try:
            reviewed = date.fromisoformat(raw["lastReviewed"])
        except ValueError:
            report(where, f"{_field_label(where)}: {raw['lastReviewed']!r} is not a calendar date; write YYYY-MM-DD")
            continue
        element = element_of(raw["element"])
        line = source.position(("attestations", index)).line
        attestations.append(
            Attestation(
                element=element,
                statement=raw["statement"],
                evidence=raw["evidence"],
                owner=raw["owner"],
                last_reviewed=reviewed,
                tenants=tuple(raw.get("tenants", ())),
                source=f"{file}:{line}",
            )
        )
    raise_diagnostics(sink, {file: text})

    return attestations


def _field_label(where: tuple) -> str:
    if len(where) >= 2 and where[0] == "attestations":
        rest = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in where[2:])
        return f"attestations[{where[1]}]{rest}"

    return ".".join(str(part) for part in where) or "attestations file"


def _describe(error: ValidationError) -> str:
    validator = error.validator
    if validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return "missing required field " + ", ".join(f"`{name}`" for name in missing)
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(key for key in error.instance if key not in allowed)
        message = "unknown field " + ", ".join(f"`{key}`" for key in unknown)
        closest = suggest(unknown[0], allowed) if len(unknown) == 1 else None
        if closest is not None:
            return f"{message}; did you mean `{closest}`?"
        return f"{message}; allowed: {', '.join(allowed)}"
    if validator == "enum":
        closest = suggest(str(error.instance), error.validator_value)
        hint = f"; did you mean {closest!r}?" if closest else ""
        keys = ", ".join(element.key for element in ELEMENTS)
        return f"{error.instance!r} is not an element of 16 CFR 314.4{hint} Write 'FTC 16 CFR 314.4' and one of {keys}"
    if validator == "pattern":
        return f"{error.instance!r} is not a date; write YYYY-MM-DD"
    if validator == "type" and error.instance is None:
        return f"has no value; write a {error.validator_value}"
    if validator == "type":
        return f"{error.instance!r} must be of type {error.validator_value}"
    if validator in ("minLength", "minItems"):
        return "must not be empty"
    if validator == "uniqueItems":
        return "lists a tenant twice"

    return error.message


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema("attestations.schema.json"))

