"""A structlog processor that keeps secrets and tokens out of every log line."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["redact_secrets", "REDACTED"]

REDACTED = "[redacted]"

# A key is secret when its name ends in one of these words ("client_secret",
# "access_token"); "gws.tokens" (a count) and "token_env" (a variable name) are not.
_SECRET_KEYS = re.compile(r"(secret|token|password|passwd|authorization|assertion|private_key|api_?key|credentials?)$", re.I)
# Bearer tokens and JWTs that end up inside free text such as an error message.
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9\-._~+/]+=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _JWT.sub(REDACTED, _BEARER.sub(f"Bearer {REDACTED}", value))
    if isinstance(value, dict):
        return {key: REDACTED if _SECRET_KEYS.search(str(key)) else _scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item) for item in value]

    return value


def redact_secrets(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Replace values of secret-looking keys, and tokens inside strings, with a marker."""
    return {
        key: REDACTED if key != "event" and _SECRET_KEYS.search(key) else _scrub(value)
        for key, value in event_dict.items()
    }
