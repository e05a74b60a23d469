"""Outcome of collecting one snapshot section, and the error a failed API request raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SectionResult", "RequestFailed", "ConnectionRefused", "DependencyFailed", "failure_message"]


@dataclass(frozen=True)
class SectionResult:
    """Status, data and message of one section; data is None unless the status is ok.

    An ok result may carry a message too, when part of the data was not
    available (PIM eligibility without an Entra ID P2 licence, for example).
    """

    status: str
    data: Any = None
    message: str | None = None

    @classmethod
    def ok(cls, data: Any, message: str | None = None) -> SectionResult:
        return cls("ok", data, message)

    @classmethod
    def error(cls, message: str) -> SectionResult:
        return cls("error", None, message)

    @classmethod
    def not_collected(cls, message: str) -> SectionResult:
        return cls("not_collected", None, message)

    @property
    def count(self) -> int:
        """Return the number of items (1 for an object section, 0 without data)."""
        if isinstance(self.data, list):
            return len(self.data)

        return 0 if self.data is None else 1

    def status_entry(self) -> dict[str, str]:
        entry = {"status": self.status}
        if self.message:
            entry["message"] = self.message

        return entry


class RequestFailed(Exception):
    """An API request that failed after its retries: HTTP status, service error code and message."""

    def __init__(self, status: int | None, code: str | None, detail: str, path: str) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
        super().__init__(self.describe())

    def describe(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "request failed"
        code = f" {self.code}" if self.code else ""

        return f"{status}{code} from {self.path}: {self.detail}"


class ConnectionRefused(RequestFailed):
    """A request whose connection was refused after its retries: nothing listens at ``address`` (host:port).

    ``endpoint`` is the tenant's endpoint from the inventory, or None for the
    public cloud. It decides which check the message suggests.
    """

    def __init__(self, address: str, path: str, endpoint: str | None) -> None:
        self.address = address
        self.endpoint = endpoint
        super().__init__(None, "ConnectionRefused", f"{address} refused the connection", path)

    def describe(self) -> str:
        if self.endpoint:
            hint = (
                f"check that the tenant's endpoint {self.endpoint} in the inventory is right and that a server listens there, "
                "such as `safeguard simulate` for a simulated tenant"
            )
        else:
            hint = "check that this machine can reach it: network, proxy and firewall settings"

        return f"cannot connect to {self.address} for {self.path}: connection refused; {hint}"


class DependencyFailed(Exception):
    """A section that needs another section's data, which failed."""

    def __init__(self, section: str, needed: str) -> None:
        self.section = section
        self.needed = needed
        super().__init__(f"{section} needs the data of {needed}, which was not collected")


def failure_message(error: BaseException) -> str:
    """Describe why a section failed, for its ``message`` in the snapshot."""
    if isinstance(error, (RequestFailed, DependencyFailed)):
        return str(error)

    text = str(error).strip() or "no details"
    return f"{type(error).__name__}: {text}"
