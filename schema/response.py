"""One entry of a recipient's history: a tracked event or a manual response."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.ids import global_id
from app.metrics import cents_to_decimal
from resolvers import campaigns, contacts
from resolvers.context import Info
from schema import campaign as campaign_types
from schema import contact as contact_types
from schema.bounce import Bounce
from schema.enums import ResponseSource, ResponseType, SkipReason
from schema.node import Node

if TYPE_CHECKING:
    from schema.campaign import Campaign, Link, Variant
    from schema.contact import Contact
else:  # these modules import this one: strawberry resolves them when the schema is built
    Campaign = Annotated["Campaign", strawberry.lazy("schema.campaign")]
    Variant = Annotated["Variant", strawberry.lazy("schema.campaign")]
    Link = Annotated["Link", strawberry.lazy("schema.campaign")]
    Contact = Annotated["Contact", strawberry.lazy("schema.contact")]


@strawberry.type
class ClientInfo:
    email_client: str | None
    device: str | None
    browser: str | None
    os: str | None


@strawberry.type
class Location:
    country: str | None
    city: str | None


@strawberry.type
class Response(Node):
    type: ResponseType
    occurred_at: datetime
    recorded_at: datetime
    source: ResponseSource
    note: str | None
    amount: Decimal | None
    bounce: Bounce | None
    skip_reason: SkipReason | None
    client: ClientInfo | None
    location: Location | None
    machine: bool
    bot: bool
    recorded_by: str | None = strawberry.field(
        description="the API key or user that recorded a manual response"
    )
    pk: strawberry.Private[int]
    campaign_pk: strawberry.Private[int]
    contact_pk: strawberry.Private[int]
    variant_pk: strawberry.Private[int | None]
    link_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Any) -> "Response":
        client = None
        if row.email_client or row.device or row.browser or row.os:
            client = ClientInfo(
                email_client=row.email_client, device=row.device, browser=row.browser, os=row.os
            )
        location = None
        if row.country or row.city:
            location = Location(country=row.country, city=row.city)
        return cls(
            id=strawberry.ID(global_id("Response", row.id)),
            type=ResponseType(row.type),
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
            source=ResponseSource(row.source),
            note=row.note,
            amount=cents_to_decimal(row.amount_cents),
            bounce=Bounce.from_row(row),
            skip_reason=SkipReason(row.skip_reason) if row.skip_reason else None,
            client=client,
            location=location,
            machine=bool(row.machine),
            bot=bool(row.bot),
            recorded_by=row.recorded_by,
            pk=row.id,
            campaign_pk=row.campaign_id,
            contact_pk=row.contact_id,
            variant_pk=row.variant_id,
            link_pk=row.link_id,
        )

    @strawberry.field
    async def campaign(self, info: Info) -> Campaign:
        return campaign_types.Campaign.from_row(
            await campaigns.campaign_row(info, self.campaign_pk)
        )

    @strawberry.field
    async def contact(self, info: Info) -> Contact:
        row = await contacts.contact_row(info, self.contact_pk)
        assert row is not None  # a response's contact is in the response's organization
        return contact_types.Contact.from_row(row)

    @strawberry.field
    async def variant(self, info: Info) -> Variant | None:
        row = await campaigns.variant_row(info, self.variant_pk)
        return None if row is None else campaign_types.Variant.from_row(row)

    @strawberry.field
    async def link(self, info: Info) -> Link | None:
        row = await campaigns.link_row(info, self.link_pk)
        return None if row is None else campaign_types.Link.from_row(row)
