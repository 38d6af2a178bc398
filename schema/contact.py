"""Contacts: the people campaigns are sent to."""

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import contact_list, history
from resolvers import contacts as resolve
from resolvers.context import Info
from schema.connection import Connection
from schema.enums import ResponseType, SkipReason
from schema.node import Node
from schema.organization import User

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

    @strawberry.field
    def suppressed(self) -> bool:
        return self.suppression_reason is not None

    @strawberry.field
    async def owner(self, info: Info) -> User | None:
        return await resolve.user_by_pk(info, self.owner_pk)

    @strawberry.field(description="campaigns this contact was a recipient of, newest first")
    async def campaigns(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Recipient]:
        return await contact_list.contact_campaigns(info, self, first, after)

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
        return await history.contact_responses(info, self, first, after, campaign_id, types, since)
