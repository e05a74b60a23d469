"""Fault injection: make chosen requests fail with throttling or server errors.

A fault matches requests by method and a glob on the decoded path, lets the
first ``after`` matches through, then fails the next ``times`` matches (every
match when ``times`` is None). Graph paths get Graph error bodies and Google
paths Google ones, so each client library sees the failure it would see from
the real service.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.errors import InputError

__all__ = ["Fault", "FaultPlan", "fault_from_dict"]

_STATUSES = (400, 403, 404, 429, 500, 502, 503, 504)
_GOOGLE_REASONS = ("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "backendError")


@dataclass
class Fault:
    """One injected failure rule.

    ``status`` is the HTTP status to return. ``retry_after`` (whole seconds)
    adds a Retry-After header. ``reason`` is the Google error reason; a 403
    on a Google path defaults to ``rateLimitExceeded``, which Google clients
    treat as throttling.
    """

    path: str = "*"
    status: int = 429
    method: str = "*"
    times: int | None = None
    after: int = 0
    retry_after: int | None = None
    reason: str | None = None
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method.upper() != method.upper():
            return False

        return fnmatch.fnmatchcase(path, self.path)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fault_from_dict(data: Mapping[str, Any], where: str = "fault") -> Fault:
    """Build a Fault from JSON data, raising InputError naming ``where`` on a bad field."""
    known = {"path", "status", "method", "times", "after", "retry_after", "reason"}
    unknown = sorted(set(data) - known)
    if unknown:
        message = f"{where}: unknown field {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
        raise InputError(message)

    fault = Fault(**{key: data[key] for key in known if key in data})
    if not isinstance(fault.path, str) or not fault.path:
        message = f"{where}: path must be a non-empty glob such as /v1.0/users*"
        raise InputError(message)
    if fault.status not in _STATUSES:
        message = f"{where}: status {fault.status!r} is not one of {', '.join(map(str, _STATUSES))}"
        raise InputError(message)
    for name in ("times", "after", "retry_after"):
        value = getattr(fault, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            message = f"{where}: {name} must be a whole number of 0 or more"
            raise InputError(message)
    if fault.reason is not None and fault.reason not in _GOOGLE_REASONS:
        message = f"{where}: reason {fault.reason!r} is not one of {', '.join(_GOOGLE_REASONS)}"
        raise InputError(message)

    return fault


class FaultPlan:
    """The active faults of a simulator; safe to use from the server's threads."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._lock = threading.Lock()
        self._faults = list(faults)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)

        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """Return the fault that fires for this request, counting the match; None lets it through."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                if fault.times is not None and fault.fired >= fault.times:
                    continue
                fault.fired += 1
                return fault

        return None
