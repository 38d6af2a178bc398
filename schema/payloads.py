"""Mutation payloads: the result, and every reason an input was refused."""

import strawberry

from schema.campaign import Campaign


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
