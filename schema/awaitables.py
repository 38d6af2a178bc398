"""Fields answered now or later: a resolver gives a plain value when it has one at hand and an
awaitable otherwise, and the field wraps either without making the plain one wait."""

from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import TypeVar

Value = TypeVar("Value")
Wrapped = TypeVar("Wrapped")


def later(
    value: Value | Awaitable[Value], wrap: Callable[[Value], Wrapped]
) -> Wrapped | Awaitable[Wrapped]:
    """`wrap(value)` now for a plain value (graphql-core completes it far faster than an
    awaitable), else an awaitable of it."""
    if isawaitable(value):
        return _then(value, wrap)
    return wrap(value)  # type: ignore[arg-type]


async def _then(value: Awaitable[Value], wrap: Callable[[Value], Wrapped]) -> Wrapped:
    return wrap(await value)
