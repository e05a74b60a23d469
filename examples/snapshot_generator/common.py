"""Deterministic ids, times and JSON rendering shared by both example tenants."""

from __future__ import annotations

import base64
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

__all__ = ["COLLECTED_AT", "SEED", "Ids", "google_time", "graph_time", "render_json"]

SEED = 20261130

# Every timestamp in the examples is relative to this moment, never to the wall clock.
COLLECTED_AT = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


class Ids:
    """Deterministic ids and times drawn from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def guid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def digits(self, count: int) -> str:
        return "".join(str(self.random.randrange(10)) for _ in range(count))

    def letters(self, count: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
        return "".join(self.random.choice(alphabet) for _ in range(count))

    def message_rule_id(self) -> str:
        # Exchange message rule ids are base64 of 8 bytes; the trailing "=" must survive URL encoding.
        return base64.b64encode(bytes([1, 0, 0, 0]) + self.random.randbytes(4)).decode("ascii")

    def days_ago(self, days: float) -> datetime:
        # Up to six hours of jitter, so times do not all fall on the same minute of the day.
        return COLLECTED_AT - timedelta(days=days, seconds=self.random.randrange(0, 6 * 3600))


def graph_time(moment: datetime) -> str:
    """Format a time as Graph does: RFC 3339 UTC without fractions."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def google_time(moment: datetime) -> str:
    """Format a time as the Directory API does: RFC 3339 UTC with milliseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def render_json(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
