"""Collection built-ins: sizes, sets, sorting."""

from __future__ import annotations

import json

from engine.language.builtins._registry import builtin
from engine.language.types import ANY, NUMBER, Type, list_of, set_of
from engine.language.values import EvalError, to_json


def _element_type(arguments: list[Type]) -> Type:
    if arguments and arguments[0].kind in ("list", "set") and arguments[0].element is not None:
        return arguments[0].element

    return ANY


@builtin("len", (ANY,), NUMBER, summary="The number of items of a list, set or object, or characters of a string.")
def length(context, value):
    if isinstance(value, (list, tuple, frozenset, dict, str)):
        return len(value)
    message = f"len() expects a list, set, object or string, got {type(value).__name__}"
    raise EvalError(message)


@builtin("set", (ANY,), lambda arguments: set_of(_element_type(arguments)), summary="The items of a list as a set.")
def to_set(context, value):
    if isinstance(value, frozenset):
        return value
    if isinstance(value, (list, tuple)):
        try:
            return frozenset(value)
        except TypeError:
            message = "set() can only hold strings, numbers and booleans"
            raise EvalError(message) from None
    message = f"set() expects a list, got {type(value).__name__}"
    raise EvalError(message)


@builtin(
    "sorted",
    (ANY,),
    lambda arguments: list_of(_element_type(arguments)),
    summary="The items of a list or set in ascending order.",
)
def to_sorted(context, value):
    if isinstance(value, (list, tuple, frozenset)):
        return sorted(value, key=lambda item: json.dumps(to_json(item), sort_keys=True))
    message = f"sorted() expects a list or set, got {type(value).__name__}"
    raise EvalError(message)


@builtin("keys", (ANY,), list_of(ANY), summary="The field names of an object, sorted.")
def keys(context, value):
    if isinstance(value, dict):
        return sorted(value)
    message = f"keys() expects an object, got {type(value).__name__}"
    raise EvalError(message)
