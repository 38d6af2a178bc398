"""One entry of a recipient's history: a tracked event or a manual response."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from resolvers import responses as resolve
from resolvers.context import Info
from schema.bounce import Bounce
from schema.enums import ResponseSource, ResponseType, SkipReason
from schema.node import Node

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

    @strawberry.field
    async def campaign(self, info: Info) -> Campaign:
        return await resolve.campaign(info, self)

    @strawberry.field
    async def contact(self, info: Info) -> Contact:
        return await resolve.contact(info, self)

    @strawberry.field
    async def variant(self, info: Info) -> Variant | None:
        return await resolve.variant(info, self)

    @strawberry.field
    async def link(self, info: Info) -> Link | None:
        return await resolve.link(info, self)
