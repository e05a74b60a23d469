"""String built-ins: case, prefixes, regular expressions, e-mail domains."""

from __future__ import annotations

import re
from functools import lru_cache

from engine.language.builtins._registry import builtin
from engine.language.types import BOOL, NUMBER, STRING, list_of
from engine.language.values import EvalError

__all__ = ["compile_pattern"]


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a ``matches`` pattern once; raise EvalError for an invalid one."""
    try:
        return re.compile(pattern)
    except re.error as error:
        message = f"invalid regular expression {pattern!r}: {error}"
        raise EvalError(message) from None


def _require_string(name: str, value: object) -> str:
    if not isinstance(value, str):
        message = f"{name}() expects a string, got {type(value).__name__}"
        raise EvalError(message)

    return value


@builtin("lower", (STRING,), STRING, summary="The string in lower case.")
def lower(context, text):
    return _require_string("lower", text).lower()


@builtin("upper", (STRING,), STRING, summary="The string in upper case.")
def upper(context, text):
    return _require_string("upper", text).upper()


@builtin("startswith", (STRING, STRING), BOOL, summary="Whether the string starts with the prefix.")
def startswith(context, text, prefix):
    return _require_string("startswith", text).startswith(_require_string("startswith", prefix))


@builtin("endswith", (STRING, STRING), BOOL, summary="Whether the string ends with the suffix.")
def endswith(context, text, suffix):
    return _require_string("endswith", text).endswith(_require_string("endswith", suffix))


@builtin("contains", (STRING, STRING), BOOL, summary="Whether the string contains the substring.")
def contains(context, text, part):
    return _require_string("contains", part) in _require_string("contains", text)


@builtin(
    "matches",
    (STRING, STRING),
    BOOL,
    summary="Whether a regular expression (Python syntax) matches anywhere in the string.",
)
def matches(context, text, pattern):
    return compile_pattern(_require_string("matches", pattern)).search(_require_string("matches", text)) is not None


@builtin("split", (STRING, STRING), list_of(STRING), summary="The string split at each separator.")
def split(context, text, separator):
    return _require_string("split", text).split(_require_string("split", separator))


@builtin("trim", (STRING,), STRING, summary="The string without leading and trailing white space.")
def trim(context, text):
    return _require_string("trim", text).strip()


@builtin(
    "domain_of",
    (STRING,),
    STRING,
    summary="The lower-case domain of an e-mail address (the part after the last @), or an empty string.",
)
def domain_of(context, address):
    text = _require_string("domain_of", address).strip()
    if "@" not in text:
        return ""

    return text.rsplit("@", 1)[1].lower().rstrip(".")


@builtin("string", (NUMBER,), STRING, summary="A number as a string.")
def to_string(context, value):
    return str(value)


@builtin("join", (list_of(STRING), STRING), STRING, summary="The strings of a list joined with a separator.")
def join(context, items, separator):
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        message = "join() expects a list of strings"
        raise EvalError(message)

    return _require_string("join", separator).join(items)
