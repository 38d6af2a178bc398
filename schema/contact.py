"""Contacts: the people campaigns are sent to."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.ids import global_id
from resolvers import contact_list, history
from resolvers import contacts as resolve
from resolvers.context import Info
from schema import recipient as recipient_types
from schema import response as response_types
from schema.connection import Connection
from schema.enums import ResponseType, SkipReason
from schema.node import Node
from schema.organization import User

if TYPE_CHECKING:
    from schema.recipient import Recipient
    from schema.response import Response
else:  # these modules import this one: strawberry resolves them when the schema is built
    Recipient = Annotated["Recipient", strawberry.lazy("schema.recipient")]
    Response = Annotated["Response", strawberry.lazy("schema.response")]


@strawberry.type
class Contact(Node):
    external_id: str | None
    email: str
    name: str | None
    suppression_reason: SkipReason | None
    pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Any) -> "Contact":
        return cls(
            id=strawberry.ID(global_id("Contact", row.id)),
            external_id=row.external_id,
            email=row.email,
            name=row.name,
            suppression_reason=(
                SkipReason(row.suppression_reason) if row.suppression_reason else None
            ),
            pk=row.id,
            owner_pk=row.owner_id,
        )

    @strawberry.field
    def suppressed(self) -> bool:
        return self.suppression_reason is not None

    @strawberry.field
    async def owner(self, info: Info) -> User | None:
        row = await resolve.user_row(info, self.owner_pk)
        return None if row is None else User.from_row(row)

    @strawberry.field(description="campaigns this contact was a recipient of, newest first")
    async def campaigns(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Recipient]:
        page = await contact_list.contact_campaigns(info, self.pk, first, after)
        return Connection.from_page(page, recipient_types.Recipient.from_row)

    @strawberry.field(description="the whole response history across campaigns, newest first")
    async def responses(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        campaign_id: strawberry.ID | None = None,
        types: list[ResponseType] | None = None,
        since: datetime | None = None,
    ) -> Connection[Response]:
        page = await history.contact_responses(
            info, self.pk, first, after, campaign_id, types, since
        )
        return Connection.from_page(page, response_types.Response.from_row)
