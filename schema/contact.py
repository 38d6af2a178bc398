"""Contacts: the people campaigns are sent to."""

import strawberry

from resolvers import contacts as resolve
from resolvers.context import Info
from schema.enums import SkipReason
from schema.node import Node
from schema.organization import User


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
