"""Mutation payloads: the result, and every reason an input was refused."""

from typing import Annotated

import strawberry

from schema.campaign import Campaign

Recipient = Annotated["Recipient", strawberry.lazy("schema.recipient")]
Response = Annotated["Response", strawberry.lazy("schema.response")]


@strawberry.type
class UserError:
    field: list[str] | None = strawberry.field(
        description='path to the input field at fault, e.g. ["input", "occurredAt"]'
    )
    message: str
    code: str


@strawberry.type
class UpsertCampaignPayload:
    campaign: Campaign | None
    user_errors: list[UserError]


@strawberry.type
class AddRecipientsPayload:
    added: int
    skipped: int
    user_errors: list[UserError]


@strawberry.type
class RecordResponsePayload:
    response: Response | None
    recipient: Recipient | None
    user_errors: list[UserError]


@strawberry.type
class DeleteResponsesPayload:
    deleted_count: int
    recipient: Recipient | None
    user_errors: list[UserError]
