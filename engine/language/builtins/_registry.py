from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.language.types import ANY, Type

__all__ = ["Builtin", "BUILTINS", "builtin"]


@dataclass(frozen=True)
class Builtin:
    """A built-in function.

    ``function`` receives the evaluation context first, then the arguments.
    Unless ``handles_unknown`` is set, a call with an unknown argument returns
    that unknown without calling the function. Unless ``accepts_null`` is set,
    a null or absent argument is a runtime error naming the argument.
    ``constant`` is False for a function that reads the snapshot or the clock,
    which a param default may not call.
    """

    name: str
    function: Callable[..., Any]
    params: tuple[Type, ...]
    returns: Type | Callable[[list[Type]], Type]
    summary: str
    min_args: int
    sections: tuple[str, ...] = ()
    handles_unknown: bool = False
    accepts_null: bool = False
    param_names: tuple[str, ...] = field(default=())
    constant: bool = True

    @property
    def max_args(self) -> int:
        return len(self.params)

    def return_type(self, arguments: list[Type]) -> Type:
        if callable(self.returns):
            return self.returns(arguments)

        return self.returns


BUILTINS: dict[str, Builtin] = {}


def builtin(
    name: str,
    params: tuple[Type, ...],
    returns: Type | Callable[[list[Type]], Type] = ANY,
    *,
    summary: str,
    min_args: int | None = None,
    sections: tuple[str, ...] = (),
    handles_unknown: bool = False,
    accepts_null: bool = False,
    param_names: tuple[str, ...] = (),
    constant: bool = True,
):
    """Register the decorated function as a built-in called ``name``."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        BUILTINS[name] = Builtin(
            name=name,
            function=function,
            params=params,
            returns=returns,
            summary=summary,
            min_args=len(params) if min_args is None else min_args,
            sections=sections,
            handles_unknown=handles_unknown,
            accepts_null=accepts_null,
            param_names=param_names,
            constant=constant and not sections,
        )
        return function

    return register
