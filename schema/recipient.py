"""A contact in a campaign, with the state folded from its history."""

from datetime import datetime
from typing import Annotated, Any

import strawberry

from resolvers import history
from resolvers import recipients as resolve
from resolvers.context import Info
from schema.bounce import Bounce
from schema.connection import Connection
from schema.enums import RecipientStatus, SkipReason
from schema.node import Node

Campaign = Annotated["Campaign", strawberry.lazy("schema.campaign")]
Variant = Annotated["Variant", strawberry.lazy("schema.campaign")]
Contact = Annotated["Contact", strawberry.lazy("schema.contact")]
Response = Annotated["Response", strawberry.lazy("schema.response")]


@strawberry.type
class Recipient(Node):
    status: RecipientStatus
    skip_reason: SkipReason | None
    bounce: Bounce | None
    sent_at: datetime | None
    delivered_at: datetime | None
    first_opened_at: datetime | None
    last_opened_at: datetime | None
    opens: int
    first_clicked_at: datetime | None
    clicks: int
    unsubscribed_at: datetime | None
    pk: strawberry.Private[int]
    campaign_pk: strawberry.Private[int]
    contact_pk: strawberry.Private[int]
    variant_pk: strawberry.Private[int | None]
    owner_pk: strawberry.Private[int | None]
    latest_response_pk: strawberry.Private[int | None]
    # Its contact when a page read the page's contacts at once; else a dataloader reads it.
    known_contact: strawberry.Private[Any] = None

    @strawberry.field
    async def campaign(self, info: Info) -> Campaign:
        return await resolve.campaign(info, self)

    @strawberry.field
    def contact(self, info: Info) -> Contact:
        if self.known_contact is not None:
            return self.known_contact  # type: ignore[no-any-return]
        return resolve.contact(info, self)  # type: ignore[return-value]

    @strawberry.field
    async def variant(self, info: Info) -> Variant | None:
        return await resolve.variant(info, self)

    @strawberry.field
    async def latest_response(self, info: Info) -> Response | None:
        return await resolve.latest_response(info, self)

    @strawberry.field(description="newest first")
    async def responses(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Response]:
        return await history.recipient_responses(info, self, first, after)
