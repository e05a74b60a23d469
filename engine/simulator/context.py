"""Settings and shared state the simulator's API modules read while serving."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from engine.simulator.state import TenantStates

__all__ = ["ConcurrencyTracker", "Grant", "SimulatorContext", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Grant:
    """Service account, subject and scopes of a Google access token the simulator issued."""

    client_email: str
    subject: str | None
    scopes: frozenset[str]


class ConcurrencyTracker:
    """Counts requests in flight per key and remembers the highest count seen for each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[str, int] = {}
        self.peaks: dict[str, int] = {}

    @contextmanager
    def track(self, key: str) -> Iterator[None]:
        with self._lock:
            count = self._current.get(key, 0) + 1
            self._current[key] = count
            self.peaks[key] = max(self.peaks.get(key, 0), count)
        try:
            yield
        finally:
            with self._lock:
                self._current[key] -= 1

    def peak(self, prefix: str = "") -> int:
        """Return the highest in-flight count of any key starting with ``prefix``."""
        with self._lock:
            return max((value for key, value in self.peaks.items() if key.startswith(prefix)), default=0)


@dataclass
class SimulatorContext:
    """State and settings shared by the Graph and Google routes.

    ``page_size`` is the page length when a request does not ask for one
    (``$top``, ``maxResults``, ``pageSize``); smaller values make paging easy to test.
    ``pim_available`` False makes PIM requests fail as in a tenant without an Entra ID P2 licence.
    """

    states: TenantStates
    graph_token: str
    page_size: int = 100
    pim_available: bool = True
    clock: Callable[[], datetime] = utc_now
    # Service-account keys the token endpoint trusts: key id -> (client_email, PEM public key).
    service_account_keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    concurrency: ConcurrencyTracker = field(default_factory=ConcurrencyTracker)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timestamp(self) -> str:
        """Return the simulator clock as RFC 3339 UTC with a Z suffix."""
        return self.clock().astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
