"""What resolvers answer where a database row alone is not enough: plain dataclasses, which the
schema layer turns into GraphQL objects (resolvers never build those)."""

from dataclasses import dataclass
from typing import Any

from app.enums import Role

Row = Any
Counters = dict[str, Any]


@dataclass(slots=True)
class CampaignRecord:
    """A campaign of a page of the campaign list, with what the query asks of it read ahead for
    the whole page: its statistics counters, its variants and its links with their counters."""

    row: Row
    counters: Counters | None = None
    variants: list[tuple[Row, Counters]] | None = None
    links: list[tuple[Row, Counters]] | None = None


@dataclass(frozen=True, slots=True)
class RecipientRecord:
    """A recipient of a page, with its contact when the page read its contacts at once."""

    row: Row
    contact: Row | None = None


@dataclass(frozen=True, slots=True)
class ViewerRecord:
    organization: Row
    role: Role


@dataclass(frozen=True, slots=True)
class UserError:
    """One reason an input was refused: the path to the input field, a message, a stable code."""

    field: list[str]
    message: str
    code: str


@dataclass(frozen=True, slots=True)
class UpsertCampaignResult:
    campaign: Row | None
    user_errors: list[UserError]


@dataclass(frozen=True, slots=True)
class AddRecipientsResult:
    added: int
    skipped: int
    user_errors: list[UserError]


@dataclass(frozen=True, slots=True)
class RecordResponseResult:
    response: Row | None
    recipient: Row | None
    user_errors: list[UserError]


@dataclass(frozen=True, slots=True)
class DeleteResponsesResult:
    deleted_count: int
    recipient: Row | None
    user_errors: list[UserError]
