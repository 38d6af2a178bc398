"""The root Query type."""

from typing import Any

import strawberry

from resolvers import campaigns, contact_list, nodes, refused_events
from resolvers.context import Info
from schema.connection import Connection
from schema.inputs import CampaignFilter, CampaignOrder, ContactFilter
from schema.node import Node
from schema.objects import Campaign, Contact, Link, Recipient, Response, Variant
from schema.organization import Organization, Project, User, Viewer
from schema.refused_events import RefusedEvent

# The object of each type a global id may name, from its row.
NODE_TYPES: dict[str, Any] = {
    "Campaign": Campaign,
    "Variant": Variant,
    "Link": Link,
    "Contact": Contact,
    "User": User,
    "Project": Project,
    "Recipient": Recipient,
    "Response": Response,
    "Organization": Organization,
}


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        found = await nodes.node(info, id)
        if found is None:
            return None
        type_name, row = found
        return NODE_TYPES[type_name].from_row(row)  # type: ignore[no-any-return]

    @strawberry.field
    async def viewer(self, info: Info) -> Viewer:
        return Viewer.from_record(await nodes.viewer(info))

    @strawberry.field(description="A campaign by global id or by external id (one of them).")
    async def campaign(
        self, info: Info, id: strawberry.ID | None = None, external_id: str | None = None
    ) -> Campaign | None:
        row = await campaigns.campaign(info, id, external_id)
        return None if row is None else Campaign.from_row(row)

    @strawberry.field
    async def campaigns(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: CampaignFilter | None = None,
        order_by: CampaignOrder | None = None,
    ) -> Connection[Campaign]:
        page = await campaigns.campaigns_connection(info, first, after, filter, order_by)
        return Connection.from_page(page, Campaign.from_record)

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
        row = await contact_list.contact(info, id, email, external_id)
        return None if row is None else Contact.from_row(row)

    @strawberry.field(description="The organization's contacts, by email.")
    async def contacts(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: ContactFilter | None = None,
    ) -> Connection[Contact]:
        page = await contact_list.contacts_connection(info, first, after, filter)
        return Connection.from_page(page, Contact.from_row)

    @strawberry.field(
        description="ADMIN: malformed provider events kept aside (oldest first), each with "
        "its reason; with replayed: true, those a replay applied too."
    )
    async def refused_events(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        replayed: bool = False,
    ) -> Connection[RefusedEvent]:
        page = await refused_events.refused_events(info, first, after, replayed)
        return Connection.from_page(page, RefusedEvent.from_record)
