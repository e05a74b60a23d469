"""Requests, responses and the route table the simulator's API modules register into."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

__all__ = [
    "Request",
    "Response",
    "Route",
    "Router",
    "HttpError",
    "encode_cursor",
    "decode_cursor",
]


@dataclass
class Request:
    """One request as passed to a route handler.

    Path segments are percent-decoded, ``query`` keeps the first value of each
    name, and ``headers`` keys are lower case.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    base_url: str
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            message = "the request body is not valid JSON"
            raise HttpError(400, "BadRequest", message) from None

    def bearer_token(self) -> str | None:
        value = self.headers.get("authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None

        return token.strip()


@dataclass
class Response:
    """A handler's response; ``body`` None sends no content."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class HttpError(Exception):
    """Raised by handlers to return an error status; the API module formats the body."""

    def __init__(self, status: int, code: str, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reason = reason


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler
    write: bool


class Router:
    """Route table: ``{name}`` matches one path segment, ``{name+}`` the rest of the path."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, name: str, handler: Handler) -> None:
        parts = []
        for segment in template.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                parts.append(f"(?P<{segment[1:-2]}>.+)")
            elif segment.startswith("{") and segment.endswith("}"):
                parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        pattern = re.compile("^/" + "/".join(parts) + "$")
        write = method in ("POST", "PUT", "PATCH", "DELETE")
        self.routes.append(Route(method, pattern, name, handler, write))

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        """Find the route for a raw (still percent-encoded) path; parameters come back decoded."""
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.match(raw_path)
            if found is not None:
                return route, {name: unquote(value) for name, value in found.groupdict().items()}

        return None

    def allows(self, raw_path: str) -> list[str]:
        return sorted({route.method for route in self.routes if route.pattern.match(raw_path)})


def encode_cursor(state: Mapping[str, Any]) -> str:
    """Encode a paging position as an opaque URL-safe token."""
    raw = json.dumps(dict(state), separators=(",", ":"), sort_keys=True).encode()

    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        value = None
    if not isinstance(value, dict):
        message = "the page token is invalid or expired"
        raise HttpError(400, "BadRequest", message, reason="invalid")

    return value
