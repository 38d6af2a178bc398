"""Campaigns, their A/B variants and tracked links."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from resolvers import ab_test, engagement, history, owner_stats, recipient_list, timeline
from resolvers import campaigns as resolve
from resolvers.context import Info
from schema.connection import Connection
from schema.enums import ABMetric, CampaignStatus, Channel, Dimension, Granularity, ResponseType
from schema.inputs import RecipientFilter, RecipientOrder
from schema.node import Node
from schema.organization import Project, User
from schema.stats import EngagementRow, Funnel, OwnerStats, Stats, TimelineBucket

ABTest = Annotated["ABTest", strawberry.lazy("schema.ab_test")]
Contact = Annotated["Contact", strawberry.lazy("schema.contact")]
Recipient = Annotated["Recipient", strawberry.lazy("schema.recipient")]
Response = Annotated["Response", strawberry.lazy("schema.response")]


@strawberry.type
class Factor:
    name: str
    value: str


@strawberry.type
class LinkClicker:
    contact: Contact
    clicks: int


@strawberry.type
class Link(Node):
    url: str
    label: str | None
    position: int | None = strawberry.field(
        description="position of the link in the message, 1 = first"
    )
    pk: strawberry.Private[int]
    campaign_pk: strawberry.Private[int]
    # Reached through a variant, a link counts that variant's clicks only.
    variant_pk: strawberry.Private[int | None] = None
    # Its clicks and clicked when they were read with it; else a dataloader reads them.
    counters: strawberry.Private[dict[str, Any] | None] = None

    @strawberry.field
    async def campaign(self, info: Info) -> "Campaign":
        return await resolve.campaign_by_pk(info, self.campaign_pk)

    @strawberry.field
    def clicks(self, info: Info) -> int:
        return resolve.link_count(info, self, "clicks")  # type: ignore[return-value]

    @strawberry.field
    def clicked(self, info: Info) -> int:
        return resolve.link_count(info, self, "clicked")  # type: ignore[return-value]

    @strawberry.field(description="clicked / campaign delivered")
    async def click_rate(self, info: Info) -> float | None:
        return await resolve.link_click_rate(info, self)

    @strawberry.field(description="share of all clicks of the campaign")
    async def share(self, info: Info) -> float | None:
        return await resolve.link_share(info, self)

    @strawberry.field
    async def top_clickers(self, info: Info, first: int | None = 5) -> list[LinkClicker]:
        return await resolve.link_top_clickers(info, self, 5 if first is None else first)


@strawberry.type
class Variant(Node):
    name: str
    subject: str | None
    is_control: bool
    factors: list[Factor]
    html: str | None = strawberry.field(
        description="The message as sent, with merge fields shown as placeholders."
    )
    pk: strawberry.Private[int]
    campaign_pk: strawberry.Private[int]
    # Its statistics counters when they were read with it; else a dataloader reads them.
    counters: strawberry.Private[dict[str, Any] | None] = None

    @strawberry.field
    async def campaign(self, info: Info) -> "Campaign":
        return await resolve.campaign_by_pk(info, self.campaign_pk)

    @strawberry.field
    def stats(self, info: Info, human_only: bool | None = False) -> Stats:
        return resolve.variant_stats(info, self, bool(human_only))  # type: ignore[return-value]

    @strawberry.field
    async def links(self, info: Info) -> list[Link]:
        return await resolve.campaign_links(info, self.campaign_pk, variant_pk=self.pk)


@strawberry.type
class Campaign(Node):
    external_id: str | None
    name: str
    subject: str | None
    status: CampaignStatus
    channel: Channel
    from_email: str | None
    selection: str | None = strawberry.field(
        description="the selection criteria of the recipients, as the sending system described them"
    )
    created_at: datetime
    sent_at: datetime | None
    cost: Decimal | None
    pk: strawberry.Private[int]
    project_pk: strawberry.Private[int | None]
    sender_pk: strawberry.Private[int | None]
    cost_cents: strawberry.Private[int | None]
    # Read with its page of the campaign list: its statistics counters, variants and links.
    counters: strawberry.Private[dict[str, Any] | None] = None
    known_variants: strawberry.Private[list["Variant"] | None] = None
    known_links: strawberry.Private[list[Link] | None] = None

    @strawberry.field
    async def project(self, info: Info) -> Project | None:
        return await resolve.project_by_pk(info, self.project_pk)

    @strawberry.field
    async def sender(self, info: Info) -> User | None:
        return await resolve.user_by_pk(info, self.sender_pk)

    @strawberry.field
    def stats(self, info: Info, human_only: bool | None = False) -> Stats:
        return resolve.campaign_stats(info, self, bool(human_only))  # type: ignore[return-value]

    @strawberry.field
    def funnel(self, info: Info) -> Funnel:
        return resolve.campaign_funnel(info, self)  # type: ignore[return-value]

    @strawberry.field
    def variants(self, info: Info) -> list[Variant]:
        return resolve.variants_of(info, self)  # type: ignore[return-value]

    @strawberry.field
    def links(self, info: Info) -> list[Link]:
        return resolve.links_of(info, self)  # type: ignore[return-value]

    @strawberry.field(
        description="events per local quarter hour, hour or day; default zone: the organization's"
    )
    async def timeline(
        self,
        info: Info,
        granularity: Granularity | None = Granularity.HOUR,
        timezone: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        variant_id: strawberry.ID | None = None,
    ) -> list[TimelineBucket]:
        return await timeline.campaign_timeline(
            info, self, granularity, timezone, from_, to, variant_id
        )

    @strawberry.field
    async def engagement(
        self, info: Info, dimension: Dimension, first: int | None = 10
    ) -> list[EngagementRow]:
        return await engagement.campaign_engagement(info, self, dimension, first)

    @strawberry.field
    async def stats_by_owner(self, info: Info) -> list[OwnerStats]:
        return await owner_stats.campaign_stats_by_owner(info, self)

    @strawberry.field
    async def ab_test(
        self,
        info: Info,
        metric: ABMetric | None = ABMetric.CLICK_RATE,
        confidence: float | None = 0.95,
    ) -> ABTest | None:
        return await ab_test.campaign_ab_test(info, self, metric, confidence)

    @strawberry.field(description="the recipient table: filtered, ordered, paged")
    async def recipients(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: RecipientFilter | None = None,
        order_by: RecipientOrder | None = None,
    ) -> Connection[Recipient]:
        return await recipient_list.recipients_connection(
            info, self, first, after, filter, order_by
        )

    @strawberry.field(description="the event log, newest first")
    async def activity(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        types: list[ResponseType] | None = None,
        since: datetime | None = None,
    ) -> Connection[Response]:
        return await history.campaign_activity(info, self, first, after, types, since)
