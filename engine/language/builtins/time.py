"""Time built-ins. ``now()`` reads the evaluation clock, never the wall clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.language.builtins._registry import builtin
from engine.language.types import DURATION, NUMBER, STRING, TIMESTAMP, list_of
from engine.language.values import ABSENT, EvalError, parse_timestamp


@builtin("now", (), TIMESTAMP, summary="The evaluation time: --now, or the snapshot's collection time.", constant=False)
def now(context):
    return context.now


@builtin("time", (STRING,), TIMESTAMP, summary="Parse an RFC 3339 timestamp such as 2026-01-31T00:00:00Z.")
def time(context, text):
    if not isinstance(text, str):
        return text
    try:
        return parse_timestamp(text)
    except ValueError:
        message = f"invalid timestamp {text!r}; want RFC 3339, for example 2026-01-31T00:00:00Z"
        raise EvalError(message) from None


@builtin("days", (NUMBER,), DURATION, summary="A duration of N days.")
def days(context, count):
    return timedelta(days=count)


@builtin("hours", (NUMBER,), DURATION, summary="A duration of N hours.")
def hours(context, count):
    return timedelta(hours=count)


@builtin("in_days", (DURATION,), NUMBER, summary="A duration as a (fractional) number of days.")
def in_days(context, duration):
    if not isinstance(duration, timedelta):
        message = "in_days() expects a duration"
        raise EvalError(message)

    return duration.total_seconds() / 86400


def _timestamps(name: str, values) -> list:
    if not isinstance(values, (list, tuple, frozenset)):
        message = f"{name}() expects a list of timestamps"
        raise EvalError(message)
    found = []
    for value in values:
        if value is None or value is ABSENT:
            continue
        if isinstance(value, str):
            value = time(None, value)
        if not isinstance(value, datetime):
            message = f"{name}() expects timestamps, got {type(value).__name__}"
            raise EvalError(message)
        found.append(value)

    return found


@builtin(
    "latest",
    (list_of(TIMESTAMP),),
    TIMESTAMP.with_null(),
    summary="The latest timestamp of a list, skipping null and absent items; null if none is left.",
)
def latest(context, values):
    found = _timestamps("latest", values)

    return max(found) if found else None


@builtin(
    "earliest",
    (list_of(TIMESTAMP),),
    TIMESTAMP.with_null(),
    summary="The earliest timestamp of a list, skipping null and absent items; null if none is left.",
)
def earliest(context, values):
    found = _timestamps("earliest", values)

    return min(found) if found else None
