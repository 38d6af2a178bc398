"""Mutation payloads: the result, and every reason an input was refused."""

from typing import Any

import strawberry

from resolvers import records
from schema.objects import Campaign, Recipient, Response


@strawberry.type
class UserError:
    field: list[str] | None = strawberry.field(
        description='path to the input field at fault, e.g. ["input", "occurredAt"]'
    )
    message: str
    code: str


def _user_errors(errors: list[records.UserError]) -> list[UserError]:
    return [
        UserError(field=error.field, message=error.message, code=error.code) for error in errors
    ]


@strawberry.type
class UpsertCampaignPayload:
    campaign: Campaign | None
    user_errors: list[UserError]

    @classmethod
    def from_result(cls, result: records.UpsertCampaignResult) -> "UpsertCampaignPayload":
        return cls(
            campaign=None if result.campaign is None else Campaign.from_row(result.campaign),
            user_errors=_user_errors(result.user_errors),
        )


@strawberry.type
class AddRecipientsPayload:
    added: int
    skipped: int
    user_errors: list[UserError]

    @classmethod
    def from_result(cls, result: records.AddRecipientsResult) -> "AddRecipientsPayload":
        return cls(
            added=result.added,
            skipped=result.skipped,
            user_errors=_user_errors(result.user_errors),
        )


def _recipient(row: Any) -> Recipient | None:
    return None if row is None else Recipient.from_row(row)


@strawberry.type
class RecordResponsePayload:
    response: Response | None
    recipient: Recipient | None
    user_errors: list[UserError]

    @classmethod
    def from_result(cls, result: records.RecordResponseResult) -> "RecordResponsePayload":
        return cls(
            response=(None if result.response is None else Response.from_row(result.response)),
            recipient=_recipient(result.recipient),
            user_errors=_user_errors(result.user_errors),
        )


@strawberry.type
class DeleteResponsesPayload:
    deleted_count: int
    recipient: Recipient | None
    user_errors: list[UserError]

    @classmethod
    def from_result(cls, result: records.DeleteResponsesResult) -> "DeleteResponsesPayload":
        return cls(
            deleted_count=result.deleted_count,
            recipient=_recipient(result.recipient),
            user_errors=_user_errors(result.user_errors),
        )
