"""Checking query arguments: a bad one gets a GraphQL error with code BAD_USER_INPUT."""

from datetime import datetime

from graphql import GraphQLError

from app import instants
from app.ids import parse_global_id


class BadArgument(GraphQLError):
    """An argument that cannot be used as given; shown to the caller as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


def argument_pk(value: str | None, type_name: str, argument: str) -> int | None:
    """The primary key of an id argument of type `type_name` (None when not given).

    A malformed id, or an id of another type, is refused; an id of another organization is
    accepted here and then matches nothing, exactly like an id that does not exist."""
    if value is None:
        return None
    parsed = parse_global_id(value, type_name)
    if parsed is None:
        raise BadArgument(f"{argument} is not a {type_name} id: {value!r}")
    return parsed[1]


def aware(value: datetime | None, argument: str) -> datetime | None:
    """A datetime argument as a UTC instant (app.instants' rule: an offset, and in range)."""
    try:
        return instants.checked_or_none(value, argument)
    except instants.InstantError as exc:
        raise BadArgument(str(exc)) from None
