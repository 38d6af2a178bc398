"""Mutation and filter inputs."""

from datetime import datetime
from decimal import Decimal

import strawberry

from schema.enums import (
    CampaignOrderField,
    CampaignStatus,
    Channel,
    RecipientOrderField,
    RecipientStatus,
    ResponseType,
    SortDirection,
)


@strawberry.input
class CampaignFilter:
    status: list[CampaignStatus] | None = None
    project_id: strawberry.ID | None = None
    sender_id: strawberry.ID | None = None
    search: str | None = None
    sent_after: datetime | None = None
    sent_before: datetime | None = None


@strawberry.input
class CampaignOrder:
    field: CampaignOrderField
    direction: SortDirection


@strawberry.input
class RecipientFilter:
    status: list[RecipientStatus] | None = None
    responded: list[ResponseType] | None = strawberry.field(
        default=None, description="recipients with at least one response of each of these types"
    )
    variant_id: strawberry.ID | None = None
    owner_id: strawberry.ID | None = None
    link_id: strawberry.ID | None = None
    search: str | None = strawberry.field(
        default=None, description="substring of name or email, case-insensitive"
    )


@strawberry.input
class RecipientOrder:
    field: RecipientOrderField
    direction: SortDirection


@strawberry.input
class ContactFilter:
    search: str | None = None
    owner_id: strawberry.ID | None = None
    suppressed: bool | None = None


@strawberry.input
class FactorInput:
    name: str
    value: str


@strawberry.input
class VariantInput:
    name: str
    subject: str | None = None
    html: str | None = None
    is_control: bool | None = None
    factors: list[FactorInput] | None = None


@strawberry.input
class LinkInput:
    url: str
    label: str | None = None
    position: int | None = None


@strawberry.input
class UpsertCampaignInput:
    external_id: str
    name: str
    subject: str | None = None
    status: CampaignStatus | None = None
    channel: Channel | None = None
    project_name: str | None = None
    sender_email: str | None = None
    from_email: str | None = None
    selection: str | None = None
    sent_at: datetime | None = None
    cost: Decimal | None = None
    variants: list[VariantInput] | None = None
    links: list[LinkInput] | None = None


@strawberry.input
class MergeFieldInput:
    name: str
    value: str


@strawberry.input
class ContactInput:
    external_id: str | None = None
    email: str
    name: str | None = None
    owner_email: str | None = None
    merge_fields: list[MergeFieldInput] | None = strawberry.field(
        default=None,
        description="values for the message's merge fields, for this campaign's message to this contact",
    )


@strawberry.input
class AddRecipientsInput:
    campaign_id: strawberry.ID
    contacts: list[ContactInput]
    variant_name: str | None = None


@strawberry.input
class RecordResponseInput:
    campaign_id: strawberry.ID
    contact_id: strawberry.ID | None = None
    email: str | None = None
    type: ResponseType
    occurred_at: datetime
    note: str | None = None
    amount: Decimal | None = None
    variant_id: strawberry.ID | None = None
    link_id: strawberry.ID | None = None


@strawberry.input
class UpdateResponseStatusInput:
    recipient_id: strawberry.ID
    type: ResponseType
    occurred_at: datetime
    note: str | None = None
    amount: Decimal | None = None


@strawberry.input
class DeleteResponsesInput:
    campaign_id: strawberry.ID
    contact_id: strawberry.ID
    note: str | None = None
