"""Policy exceptions: reviewed, time-limited waivers read from exceptions.yaml.

An exception names a policy, a resource id (or ``all``), the tenants it
applies to by tenant id (or ``all``), an owner, a reason, a ticket and the
last day it applies. Reviewing an evaluation against the exceptions decides:

- which violations are waived. A violation is waived when an exception that
  has not expired names its policy, its resource (or ``all``) and the tenant.
  A waived violation stays in the plan with its exception and proposes no
  action.
- the status of each failing result. When every violation is waived the
  result becomes ``waived``; when only some are, it stays ``fail`` with those
  violations marked. A result that also has resources it could not judge
  (data not collected) stays ``fail``: unknown data is never waived.
- what to report. Applied exceptions come with the number of violations
  each covered. Expired ones that apply to the tenant waive nothing, and come
  with the number of violations they would have covered. Unused ones apply to
  the tenant but matched no violation.

Expiry is judged on the evaluation clock (``--now`` or the snapshot's
collection time), so a plan stays deterministic: an exception with
``expires: 2027-03-31`` applies through 2027-03-31T23:59:59Z.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import structlog

from engine._yaml_source import load_yaml, raise_diagnostics, schema_diagnostics
from engine.diagnostics import Diagnostic, DiagnosticSink, suggest
from engine.evaluate import Evaluation, PolicyResult
from engine.schemas import load_schema

__all__ = ["ALL", "PolicyException", "ExceptionReview", "load_exceptions", "review_exceptions", "exceptions_digest"]

log = structlog.get_logger()

ALL = "all"


@dataclass(frozen=True)
class PolicyException:
    """One entry of exceptions.yaml; ``tenants`` None means every tenant."""

    policy: str
    resource: str
    tenants: tuple[str, ...] | None
    owner: str
    reason: str
    ticket: str
    expires: date
    source: str

    @property
    def id(self) -> str:
        """A content-derived id, stable across runs and independent of the entry's place in the file."""
        canonical = orjson.dumps(self._fields(), option=orjson.OPT_SORT_KEYS)

        return "exc-" + hashlib.sha256(canonical).hexdigest()[:16]

    def _fields(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "resource": self.resource,
            "tenants": ALL if self.tenants is None else list(self.tenants),
            "owner": self.owner,
            "reason": self.reason,
            "ticket": self.ticket,
            "expires": self.expires.isoformat(),
        }

    def applies_to(self, tenant_id: str) -> bool:
        return self.tenants is None or tenant_id in self.tenants

    def covers(self, policy_id: str, resource_id: str) -> bool:
        return self.policy == policy_id and (self.resource == ALL or self.resource == resource_id)

    def expired(self, now: datetime) -> bool:
        """Return whether ``now`` falls after the expiry day, in UTC."""
        return now.astimezone(timezone.utc).date() > self.expires

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **self._fields(), "source": self.source}


def load_exceptions(path: str | Path, policy_ids: Collection[str] | None = None) -> list[PolicyException]:
    """Read exceptions.yaml; raise InputError listing every problem with its line and column.

    With ``policy_ids``, an exception naming a policy that is not among them is
    an error, so a misspelt id cannot silently waive nothing.
    """
    source = load_yaml(path, "exceptions file")
    sink = DiagnosticSink()
    if not isinstance(source.document, dict):
        sink.add(Diagnostic(source.position(()), "invalid_exceptions", "an exceptions file is a mapping with an `exceptions` list"))
        raise_diagnostics(sink)
    for diagnostic in schema_diagnostics(source, load_schema("exceptions.schema.json"), "invalid_exceptions"):
        sink.add(diagnostic)
    raise_diagnostics(sink)

    exceptions = []
    known = sorted(policy_ids) if policy_ids is not None else None
    for index, raw in enumerate(source.document["exceptions"]):
        where = ("exceptions", index)
        position = source.position(where)
        try:
            expires = date.fromisoformat(raw["expires"])
        except ValueError:
            message = f"exceptions[{index}].expires: {raw['expires']!r} is not a calendar date; write YYYY-MM-DD"
            sink.add(Diagnostic(source.position((*where, "expires")), "invalid_exceptions", message))
            continue
        if known is not None and raw["policy"] not in policy_ids:
            guess = suggest(raw["policy"], known)
            hint = f"; did you mean {guess!r}?" if guess else ""
            message = f"exceptions[{index}]: no policy {raw['policy']!r} in the policy set{hint}"
            sink.add(Diagnostic(source.position((*where, "policy")), "unknown_policy", message))
            continue
        tenants = None if raw["tenants"] == ALL else tuple(raw["tenants"])
        exceptions.append(
            PolicyException(
                policy=raw["policy"],
                resource=raw["resource"],
                tenants=tenants,
                owner=raw["owner"],
                reason=raw["reason"],
                ticket=raw["ticket"],
                expires=expires,
                source=f"{position.file}:{position.line}",
            )
        )
    raise_diagnostics(sink)

    return exceptions


def exceptions_digest(exceptions: Sequence[PolicyException]) -> str:
    """sha256 over the exceptions' fields in file order, so a plan records which exceptions it used."""
    canonical = orjson.dumps([exception._fields() for exception in exceptions], option=orjson.OPT_SORT_KEYS)

    return "sha256:" + hashlib.sha256(canonical).hexdigest()


@dataclass
class ExceptionReview:
    """The exceptions reviewed against one evaluation: waivers per violation, new statuses, a report."""

    tenant_id: str
    digest: str
    waivers: dict[str, list[PolicyException | None]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    expired: dict[str, int] = field(default_factory=dict)
    relevant: list[PolicyException] = field(default_factory=list)

    def waiver_for(self, policy_id: str, index: int) -> dict[str, Any] | None:
        """Return the exception waiving violation ``index`` of a policy, as plan JSON, or None."""
        waivers = self.waivers.get(policy_id)
        if waivers is None or waivers[index] is None:
            return None

        return waivers[index].to_json()

    def result_exception(self, policy_id: str) -> dict[str, Any] | None:
        """Return the exception that waived a result, as plan JSON, or None when none of its violations is waived.

        When several exceptions each waive some violations of the result, this
        is the one listed first in the file; each violation names its own.
        """
        waivers = [waiver for waiver in self.waivers.get(policy_id, ()) if waiver is not None]
        if not waivers:
            return None
        order = {exception.id: index for index, exception in enumerate(self.relevant)}

        return min(waivers, key=lambda exception: order[exception.id]).to_json()

    def status_for(self, result: PolicyResult) -> str:
        return self.statuses.get(result.id, result.status)

    @property
    def unused(self) -> list[PolicyException]:
        return [exception for exception in self.relevant if exception.id not in self.applied and exception.id not in self.expired]

    def report(self) -> dict[str, Any]:
        """Build the plan's ``exceptions`` block: applied, expired and unused exceptions for this tenant."""
        by_id = {exception.id: exception for exception in self.relevant}

        return {
            "digest": self.digest,
            "applied": [{**by_id[key].to_json(), "violations": count} for key, count in self.applied.items()],
            "expired": [{**by_id[key].to_json(), "violations": count} for key, count in self.expired.items()],
            "unused": [exception.to_json() for exception in self.unused],
        }


def _review_result(review: ExceptionReview, result: PolicyResult, active: list[PolicyException], expired: list[PolicyException]) -> None:
    waivers: list[PolicyException | None] = []
    for violation in result.violations:
        resource_id = str(violation.resource.get("id"))
        match = next((exception for exception in active if exception.covers(result.id, resource_id)), None)
        waivers.append(match)
        if match is not None:
            review.applied[match.id] = review.applied.get(match.id, 0) + 1
        for exception in expired:
            if exception.covers(result.id, resource_id):
                review.expired[exception.id] = review.expired.get(exception.id, 0) + 1
    if not any(waiver is not None for waiver in waivers):
        return
    review.waivers[result.id] = waivers
    if all(waiver is not None for waiver in waivers) and result.unresolved == 0:
        review.statuses[result.id] = "waived"


def review_exceptions(evaluation: Evaluation, exceptions: Sequence[PolicyException]) -> ExceptionReview:
    """Match the exceptions against the failing results of one evaluation."""
    tenant_id = str(evaluation.snapshot.tenant.get("id"))
    relevant = [exception for exception in exceptions if exception.applies_to(tenant_id)]
    active = [exception for exception in relevant if not exception.expired(evaluation.now)]
    expired = [exception for exception in relevant if exception.expired(evaluation.now)]
    review = ExceptionReview(tenant_id=tenant_id, digest=exceptions_digest(exceptions), relevant=relevant)
    for exception in expired:
        review.expired.setdefault(exception.id, 0)
    for result in sorted(evaluation.results, key=lambda item: item.id):
        if result.status == "fail":
            _review_result(review, result, active, expired)

    log.info(
        "exceptions.review",
        tenant=tenant_id,
        applied=len(review.applied),
        expired=len(review.expired),
        unused=len(review.unused),
        waived=sum(review.applied.values()),
    )

    return review
