"""Retry and back-off for tenant API calls: one policy for Graph and Google, Retry-After first.

Graph requests go through msgraph's retry middleware, replaced by
`GraphRetryHandler`, which keeps the SDK's loop but takes its delays from the
`RetryPolicy` and reports each retry. Google requests go through
`execute_google`, because google-api-python-client's own retry loop ignores
Retry-After and sleeps a random, uncapped time.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httplib2
import httpx
import structlog
from googleapiclient.errors import HttpError
from kiota_http.middleware import RetryHandler
from kiota_http.middleware.options import RetryHandlerOption

__all__ = [
    "RetryPolicy",
    "GraphRetryHandler",
    "CURRENT_SECTION",
    "parse_retry_after",
    "google_error_reason",
    "is_google_retryable",
    "execute_google",
    "TRANSPORT_ERRORS",
    "REFUSED_MAX_RETRIES",
    "REFUSED_MAX_DELAY",
    "is_connection_refused",
    "url_address",
]

log = structlog.get_logger()

# The section a request belongs to, so retry events logged inside the HTTP middleware can name it.
CURRENT_SECTION: ContextVar[str | None] = ContextVar("safeguard_collect_section", default=None)

# Google reports throttling as 403 with one of these reasons (and as 429).
_GOOGLE_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})

# Graph statuses worth another attempt: throttling, and server errors that are usually transient.
GRAPH_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# Server errors after which a request may or may not have taken effect, and the
# methods that are safe to repeat then (PATCH in Graph sets properties to values).
_UNPROCESSED_UNKNOWN = frozenset({500, 502})
_REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})

_DELAY_EXTENSION = "safeguard.retry_delay"

# A refused connection means nothing listens at the address, and waiting rarely
# changes that. It gets at most this many retries, each at most this many
# seconds apart, so a server that restarts within about a second is still reached.
REFUSED_MAX_RETRIES = 2
REFUSED_MAX_DELAY = 0.5


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a throttled or failed request.

    ``max_retries`` counts retries after the first attempt; msgraph caps it at
    10. Without a Retry-After header the wait is ``base_delay * 2 ** attempt``
    plus up to ``base_delay`` of random jitter, capped at ``max_delay``. A
    Retry-After longer than ``max_retry_after`` fails the request at once
    instead of waiting. All times are seconds.
    """

    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if not 0 <= self.max_retries <= RetryHandlerOption.MAX_MAX_RETRIES:
            message = f"max_retries must be between 0 and {RetryHandlerOption.MAX_MAX_RETRIES}, not {self.max_retries}"
            raise ValueError(message)
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            message = "retry delays must not be negative"
            raise ValueError(message)

    def backoff(self, attempt: int) -> float:
        """Return the wait before retry number ``attempt + 1`` when the server gave no Retry-After."""
        delay = self.base_delay * 2**attempt + random.uniform(0, self.base_delay)

        return min(delay, self.max_delay)

    def wait(self, attempt: int, retry_after: float | None) -> float | None:
        """Return the wait before the next attempt, or None when Retry-After exceeds ``max_retry_after``."""
        if retry_after is None:
            return self.backoff(attempt)
        if retry_after > self.max_retry_after:
            return None

        return retry_after

    def network_wait(self, attempt: int, refused: bool = False) -> float | None:
        """Return the wait before retrying after network error number ``attempt + 1``, or None when no retry is left.

        A refused connection gets at most `REFUSED_MAX_RETRIES` retries, each
        at most `REFUSED_MAX_DELAY` seconds after the last.
        """
        limit = min(self.max_retries, REFUSED_MAX_RETRIES) if refused else self.max_retries
        if attempt >= limit:
            return None
        delay = self.backoff(attempt)

        return min(delay, REFUSED_MAX_DELAY) if refused else delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a Retry-After header: delay seconds or an HTTP date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)

    return max(0.0, (moment - now).total_seconds())


class GraphRetryHandler(RetryHandler):
    """msgraph's retry middleware with safeguard's delays, statuses and retry events.

    The SDK handler honours only whole-second Retry-After values above zero.
    Otherwise it adds up to a second of jitter and a 3 s base to every wait.
    This subclass takes the wait from `RetryPolicy` instead. It also retries 500 and
    502, except for POST: a server error does not say whether a POST took
    effect, and repeating it could write twice. Like the SDK handler, it
    retries every method on 429, 503 and 504, which mean the request was not
    processed.
    """

    def __init__(self, policy: RetryPolicy, tenant: str) -> None:
        option = RetryHandlerOption(delay=min(policy.base_delay, RetryHandlerOption.MAX_DELAY), max_retries=policy.max_retries)
        super().__init__(options=option)
        self.retry_on_status_codes = set(GRAPH_RETRY_STATUSES)
        self.policy = policy
        self.tenant = tenant

    def get_delay_time(self, retry_count: int, response: httpx.Response | None = None, delay: float = RetryHandlerOption.DEFAULT_DELAY) -> float:
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
        wait = self.policy.wait(retry_count, retry_after)
        # The SDK loop gives up when the delay reaches MAX_DELAY.
        result = RetryHandlerOption.MAX_DELAY if wait is None else min(wait, RetryHandlerOption.MAX_DELAY - 1)
        if response is not None:
            response.extensions[_DELAY_EXTENSION] = result

        return result

    def should_retry(self, request: httpx.Request, options: RetryHandlerOption, response: httpx.Response) -> bool:
        retry = super().should_retry(request, options, response)
        if response.status_code in _UNPROCESSED_UNKNOWN and request.method.upper() not in _REPEATABLE_METHODS:
            retry = False
        attempt = int(response.request.headers.get("Retry-Attempt", "0"))
        delay = response.extensions.get(_DELAY_EXTENSION)
        if retry and attempt < options.max_retry and delay is not None and delay < RetryHandlerOption.MAX_DELAY:
            log.info(
                "collect.retry",
                tenant=self.tenant,
                section=CURRENT_SECTION.get(),
                api="graph",
                path=response.request.url.path,
                status=response.status_code,
                reason=f"HTTP {response.status_code}",
                attempt=attempt + 1,
                delay=round(delay, 3),
            )

        return retry


def google_error_reason(error: HttpError) -> str | None:
    """Return the first ``reason`` of a Google API error body, if any."""
    try:
        body = json.loads(error.content.decode("utf-8", "replace"))
    except (ValueError, AttributeError):
        return None
    details = body.get("error") if isinstance(body, dict) else None
    if not isinstance(details, dict):
        return None
    for entry in details.get("errors") or details.get("details") or []:
        if isinstance(entry, dict) and entry.get("reason"):
            return str(entry["reason"])

    return None


def is_google_retryable(error: HttpError, method: str = "GET") -> bool:
    """Tell whether a Google error is throttling or a server error worth repeating ``method`` for."""
    status = error.resp.status
    if status in (429, 503):
        return True
    if status >= 500:
        return method.upper() in _REPEATABLE_METHODS

    return status == 403 and google_error_reason(error) in _GOOGLE_RATE_LIMIT_REASONS


# Network failures worth another attempt; httplib2 raises the socket errors as they are.
TRANSPORT_ERRORS = (httplib2.HttpLib2Error, socket.timeout, ConnectionError, TimeoutError)


def is_connection_refused(error: BaseException) -> bool:
    """Tell whether ``error``, or an exception it was raised from, is a refused connection.

    httplib2 raises ConnectionRefusedError itself. httpx raises ConnectError,
    with the ConnectionRefusedError a few causes down.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__

    return False


def url_address(url: str) -> str:
    """Return the ``host:port`` of a URL, with the scheme's default port when it names none."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (443 if parts.scheme == "https" else 80)

    return f"{host}:{port}"


def execute_google(request: Any, policy: RetryPolicy, http: Any, tenant: str, sleep: Callable[[float], None] = time.sleep) -> Any:
    """Execute a googleapiclient request with ``http``, retrying throttling, 5xx and network errors."""
    attempt = 0
    while True:
        try:
            return request.execute(http=http, num_retries=0)
        except HttpError as error:
            if not is_google_retryable(error, getattr(request, "method", "GET")) or attempt >= policy.max_retries:
                raise
            wait = policy.wait(attempt, parse_retry_after(error.resp.get("retry-after")))
            if wait is None:
                raise
            reason = google_error_reason(error) or f"HTTP {error.resp.status}"
            status = error.resp.status
        except TRANSPORT_ERRORS as error:
            # A POST whose connection broke after sending may have taken effect; repeat only unsent ones.
            refused = is_connection_refused(error)
            wait = policy.network_wait(attempt, refused)
            if wait is None or (getattr(request, "method", "GET").upper() == "POST" and not refused):
                raise
            reason = type(error).__name__
            status = None

        attempt += 1
        log.info("collect.retry", tenant=tenant, section=CURRENT_SECTION.get(), api="google", path=_google_path(request), status=status, reason=reason, attempt=attempt, delay=round(wait, 3))
        sleep(wait)


def _google_path(request: Any) -> str:
    return urlsplit(getattr(request, "uri", "")).path
