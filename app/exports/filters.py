"""The filters of a download, read from query parameters (or CLI options) and checked up front.

A bad value is refused with its reason before any byte of the file is written.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TypeVar

from app import instants
from app.enums import RecipientStatus, ResponseType
from app.ids import parse_pk
from app.search import SearchTooLong, search_text


class FilterError(ValueError):
    """A query parameter that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class RecipientFilter:
    """The filters of Campaign.recipients (RecipientFilter in the contract)."""

    status: tuple[RecipientStatus, ...] = ()
    responded: tuple[ResponseType, ...] = ()
    variant_id: int | None = None
    owner_id: int | None = None
    link_id: int | None = None
    search: str | None = None


@dataclass(frozen=True)
class ActivityFilter:
    """The filters of Campaign.activity, plus an upper bound on time."""

    types: tuple[ResponseType, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class Parameters:
    """Query parameters as lists of values (repeated or comma-separated: both work)."""

    values: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> "Parameters":
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            values.setdefault(name, []).append(value)
        return cls(values)

    def check_names(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.values) - allowed)
        if unknown:
            raise FilterError(
                f"unknown query parameter(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )

    def many(self, name: str) -> list[str]:
        return [
            part.strip()
            for value in self.values.get(name, [])
            for part in value.split(",")
            if part.strip()
        ]

    def one(self, name: str) -> str | None:
        found = self.values.get(name, [])
        if len(found) > 1:
            raise FilterError(f"{name} may be given once")
        value = found[0].strip() if found else ""
        return value or None


EnumType = TypeVar("EnumType", bound=Enum)


def _enums(parameters: Parameters, name: str, kind: type[EnumType]) -> tuple[EnumType, ...]:
    chosen = []
    for value in parameters.many(name):
        try:
            chosen.append(kind(value.upper()))
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise FilterError(f"{name}: {value!r} is not one of {allowed}") from None
    return tuple(dict.fromkeys(chosen))


def _global_id(parameters: Parameters, name: str, type_name: str) -> int | None:
    value = parameters.one(name)
    if value is None:
        return None
    pk = parse_pk(value, type_name)
    if pk is None:
        raise FilterError(f"{name}: {value!r} is not a {type_name} id")
    return pk


def _time(parameters: Parameters, name: str) -> datetime | None:
    value = parameters.one(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"{name}: {value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise FilterError(f"{name}: {value!r} needs an offset, e.g. 2026-11-20T10:00:00Z")
    try:
        return instants.checked(moment, name)
    except instants.InstantError as exc:
        raise FilterError(str(exc)) from None


RECIPIENT_PARAMETERS = {"status", "responded", "variantId", "ownerId", "linkId", "search"}
ACTIVITY_PARAMETERS = {"types", "since", "until"}


def recipient_filter(parameters: Parameters) -> RecipientFilter:
    """The recipient filter of the query parameters; FilterError on anything unusable."""
    parameters.check_names(RECIPIENT_PARAMETERS)
    try:
        search = search_text(parameters.one("search"), "search")
    except SearchTooLong as exc:
        raise FilterError(str(exc)) from None
    return RecipientFilter(
        status=_enums(parameters, "status", RecipientStatus),
        responded=_enums(parameters, "responded", ResponseType),
        variant_id=_global_id(parameters, "variantId", "Variant"),
        owner_id=_global_id(parameters, "ownerId", "User"),
        link_id=_global_id(parameters, "linkId", "Link"),
        search=search,
    )


def activity_filter(parameters: Parameters) -> ActivityFilter:
    """The activity filter of the query parameters; FilterError on anything unusable."""
    parameters.check_names(ACTIVITY_PARAMETERS)
    since, until = _time(parameters, "since"), _time(parameters, "until")
    if since is not None and until is not None and until < since:
        raise FilterError("until is before since")
    return ActivityFilter(types=_enums(parameters, "types", ResponseType), since=since, until=until)
