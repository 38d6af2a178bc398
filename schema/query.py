"""The root Query type."""

import strawberry

from resolvers import campaigns, contact_list, nodes
from resolvers.context import Info
from schema.campaign import Campaign
from schema.connection import Connection
from schema.contact import Contact
from schema.inputs import CampaignFilter, CampaignOrder, ContactFilter
from schema.node import Node
from schema.organization import Viewer


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await nodes.node(info, id)

    @strawberry.field
    async def viewer(self, info: Info) -> Viewer:
        return await nodes.viewer(info)

    @strawberry.field(description="A campaign by global id or by external id (one of them).")
    async def campaign(
        self, info: Info, id: strawberry.ID | None = None, external_id: str | None = None
    ) -> Campaign | None:
        return await campaigns.campaign(info, id, external_id)

    @strawberry.field
    async def campaigns(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: CampaignFilter | None = None,
        order_by: CampaignOrder | None = None,
    ) -> Connection[Campaign]:
        return await campaigns.campaigns_connection(info, first, after, filter, order_by)

    @strawberry.field(
        description="A contact by global id, by email or by external id (one of them)."
    )
    async def contact(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        email: str | None = None,
        external_id: str | None = None,
    ) -> Contact | None:
        return await contact_list.contact(info, id, email, external_id)

    @strawberry.field(description="The organization's contacts, by email.")
    async def contacts(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: ContactFilter | None = None,
    ) -> Connection[Contact]:
        return await contact_list.contacts_connection(info, first, after, filter)
