"""A contact in a campaign, with the state folded from its history."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.ids import global_id
from resolvers import campaigns, contacts, history, responses
from resolvers.context import Info
from resolvers.records import RecipientRecord
from schema import campaign as campaign_types
from schema import contact as contact_types
from schema import response as response_types
from schema.bounce import Bounce
from schema.connection import Connection
from schema.enums import RecipientStatus, SkipReason
from schema.node import Node

if TYPE_CHECKING:
    from schema.campaign import Campaign, Variant
    from schema.contact import Contact
    from schema.response import Response
else:  # these modules import this one: strawberry resolves them when the schema is built
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

    @classmethod
    def from_row(cls, row: Any, known_contact: Any = None) -> "Recipient":
        return cls(
            id=strawberry.ID(global_id("Recipient", row.id)),
            status=RecipientStatus(row.status),
            skip_reason=SkipReason(row.skip_reason) if row.skip_reason else None,
            bounce=Bounce.from_row(row),
            sent_at=row.sent_at,
            delivered_at=row.delivered_at,
            first_opened_at=row.first_opened_at,
            last_opened_at=row.last_opened_at,
            opens=row.opens,
            first_clicked_at=row.first_clicked_at,
            clicks=row.clicks,
            unsubscribed_at=row.unsubscribed_at,
            pk=row.id,
            campaign_pk=row.campaign_id,
            contact_pk=row.contact_id,
            variant_pk=row.variant_id,
            owner_pk=row.owner_id,
            latest_response_pk=row.latest_response_id,
            known_contact=known_contact,
        )

    @classmethod
    def from_record(cls, record: RecipientRecord) -> "Recipient":
        contact = record.contact
        return cls.from_row(
            record.row, None if contact is None else contact_types.Contact.from_row(contact)
        )

    @strawberry.field
    async def campaign(self, info: Info) -> Campaign:
        return campaign_types.Campaign.from_row(
            await campaigns.campaign_row(info, self.campaign_pk)
        )

    @strawberry.field
    def contact(self, info: Info) -> Contact:
        if self.known_contact is not None:
            return self.known_contact  # type: ignore[no-any-return]
        return self._contact(info)  # type: ignore[return-value]

    async def _contact(self, info: Info) -> "Contact":
        row = await contacts.contact_row(info, self.contact_pk)
        assert row is not None  # a recipient's contact is in the recipient's organization
        return contact_types.Contact.from_row(row)

    @strawberry.field
    async def variant(self, info: Info) -> Variant | None:
        row = await campaigns.variant_row(info, self.variant_pk)
        return None if row is None else campaign_types.Variant.from_row(row)

    @strawberry.field
    async def latest_response(self, info: Info) -> Response | None:
        row = await responses.response_row(info, self.latest_response_pk)
        return None if row is None else response_types.Response.from_row(row)

    @strawberry.field(description="newest first")
    async def responses(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Response]:
        page = await history.recipient_responses(info, self.pk, first, after)
        return Connection.from_page(page, response_types.Response.from_row)
