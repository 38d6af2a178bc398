"""Campaigns, their A/B variants and tracked links."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.ids import global_id
from app.metrics import cents_to_decimal
from resolvers import ab_test, contacts, engagement, history, owner_stats, recipient_list, timeline
from resolvers import campaigns as resolve
from resolvers.context import Info
from resolvers.records import CampaignRecord
from schema import ab_test as ab_test_types
from schema import contact as contact_types
from schema import recipient as recipient_types
from schema import response as response_types
from schema.awaitables import later
from schema.connection import Connection
from schema.enums import ABMetric, CampaignStatus, Channel, Dimension, Granularity, ResponseType
from schema.inputs import RecipientFilter, RecipientOrder
from schema.node import Node
from schema.organization import Project, User
from schema.stats import EngagementRow, Funnel, OwnerStats, Stats, TimelineBucket

if TYPE_CHECKING:
    from schema.ab_test import ABTest
    from schema.contact import Contact
    from schema.recipient import Recipient
    from schema.response import Response
else:  # these modules import this one: strawberry resolves them when the schema is built
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

    @classmethod
    def from_row(
        cls, row: Any, variant_pk: int | None = None, counters: dict[str, Any] | None = None
    ) -> "Link":
        return cls(
            id=strawberry.ID(global_id("Link", row.id)),
            url=row.url,
            label=row.label,
            position=row.position,
            pk=row.id,
            campaign_pk=row.campaign_id,
            variant_pk=variant_pk,
            counters=counters,
        )

    @strawberry.field
    async def campaign(self, info: Info) -> "Campaign":
        return Campaign.from_row(await resolve.campaign_row(info, self.campaign_pk))

    @strawberry.field
    def clicks(self, info: Info) -> int:
        return resolve.link_count(info, self.pk, self.variant_pk, self.counters, "clicks")  # type: ignore[return-value]

    @strawberry.field
    def clicked(self, info: Info) -> int:
        return resolve.link_count(info, self.pk, self.variant_pk, self.counters, "clicked")  # type: ignore[return-value]

    @strawberry.field(description="clicked / campaign delivered")
    async def click_rate(self, info: Info) -> float | None:
        return await resolve.link_click_rate(info, self.pk, self.campaign_pk, self.variant_pk)

    @strawberry.field(description="share of all clicks of the campaign")
    async def share(self, info: Info) -> float | None:
        return await resolve.link_share(info, self.pk, self.campaign_pk, self.variant_pk)

    @strawberry.field
    async def top_clickers(self, info: Info, first: int | None = 5) -> list[LinkClicker]:
        found = await resolve.link_top_clickers(info, self.pk, 5 if first is None else first)
        return [
            LinkClicker(contact=contact_types.Contact.from_row(contact), clicks=clicks)
            for contact, clicks in found
        ]


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

    @classmethod
    def from_row(cls, row: Any, counters: dict[str, Any] | None = None) -> "Variant":
        return cls(
            id=strawberry.ID(global_id("Variant", row.id)),
            name=row.name,
            subject=row.subject,
            is_control=bool(row.is_control),
            factors=[Factor(name=f["name"], value=f["value"]) for f in row.factors or []],
            html=row.html,
            pk=row.id,
            campaign_pk=row.campaign_id,
            counters=counters,
        )

    @strawberry.field
    async def campaign(self, info: Info) -> "Campaign":
        return Campaign.from_row(await resolve.campaign_row(info, self.campaign_pk))

    @strawberry.field
    def stats(self, info: Info, human_only: bool | None = False) -> Stats:
        values = resolve.variant_stats(info, self.pk, self.counters, bool(human_only))
        return later(values, _stats)  # type: ignore[return-value]

    @strawberry.field
    async def links(self, info: Info) -> list[Link]:
        # The counters read with the links are the whole campaign's; a variant's link counts its own.
        found = await resolve.campaign_links(info, self.campaign_pk)
        return [Link.from_row(row, variant_pk=self.pk) for row, _ in found]


def _stats(values: dict[str, Any]) -> Stats:
    return Stats(**values)


def _funnel(values: dict[str, int]) -> Funnel:
    return Funnel(**values)


def _variants(found: list[tuple[Any, dict[str, Any]]]) -> list[Variant]:
    return [Variant.from_row(row, counters) for row, counters in found]


def _links(found: list[tuple[Any, dict[str, Any]]]) -> list[Link]:
    return [Link.from_row(row, None, counters) for row, counters in found]


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

    @classmethod
    def from_row(cls, row: Any) -> "Campaign":
        return cls(
            id=strawberry.ID(global_id("Campaign", row.id)),
            external_id=row.external_id,
            name=row.name,
            subject=row.subject,
            status=CampaignStatus(row.status),
            channel=Channel(row.channel),
            from_email=row.from_email,
            selection=row.selection,
            created_at=row.created_at,
            sent_at=row.sent_at,
            cost=cents_to_decimal(row.cost_cents),
            pk=row.id,
            project_pk=row.project_id,
            sender_pk=row.sender_id,
            cost_cents=row.cost_cents,
        )

    @classmethod
    def from_record(cls, record: CampaignRecord) -> "Campaign":
        """A campaign of a page, with what was read ahead for the page."""
        campaign = cls.from_row(record.row)
        campaign.counters = record.counters
        if record.variants is not None:
            campaign.known_variants = _variants(record.variants)
        if record.links is not None:
            campaign.known_links = _links(record.links)
        return campaign

    @strawberry.field
    async def project(self, info: Info) -> Project | None:
        row = await resolve.project_row(info, self.project_pk)
        return None if row is None else Project.from_row(row)

    @strawberry.field
    async def sender(self, info: Info) -> User | None:
        row = await contacts.user_row(info, self.sender_pk)
        return None if row is None else User.from_row(row)

    @strawberry.field
    def stats(self, info: Info, human_only: bool | None = False) -> Stats:
        values = resolve.campaign_stats(
            info, self.pk, self.counters, self.cost_cents, bool(human_only)
        )
        return later(values, _stats)  # type: ignore[return-value]

    @strawberry.field
    def funnel(self, info: Info) -> Funnel:
        return later(resolve.campaign_funnel(info, self.pk, self.counters), _funnel)  # type: ignore[return-value]

    @strawberry.field
    def variants(self, info: Info) -> list[Variant]:
        if self.known_variants is not None:
            return self.known_variants
        return later(resolve.campaign_variants(info, self.pk), _variants)  # type: ignore[return-value]

    @strawberry.field
    def links(self, info: Info) -> list[Link]:
        if self.known_links is not None:
            return self.known_links
        return later(resolve.campaign_links(info, self.pk), _links)  # type: ignore[return-value]

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
        buckets = await timeline.campaign_timeline(
            info, self.pk, granularity, timezone, from_, to, variant_id
        )
        return [TimelineBucket.from_bucket(bucket) for bucket in buckets]

    @strawberry.field
    async def engagement(
        self, info: Info, dimension: Dimension, first: int | None = 10
    ) -> list[EngagementRow]:
        found = await engagement.campaign_engagement(info, self.pk, dimension, first)
        return [EngagementRow(**values) for values in found]

    @strawberry.field
    async def stats_by_owner(self, info: Info) -> list[OwnerStats]:
        sections = await owner_stats.campaign_stats_by_owner(info, self.pk)
        return [OwnerStats.from_section(section) for section in sections]

    @strawberry.field
    async def ab_test(
        self,
        info: Info,
        metric: ABMetric | None = ABMetric.CLICK_RATE,
        confidence: float | None = 0.95,
    ) -> ABTest | None:
        result = await ab_test.campaign_ab_test(info, self.pk, metric, confidence)
        return None if result is None else ab_test_types.ABTest.from_result(result)

    @strawberry.field(description="the recipient table: filtered, ordered, paged")
    async def recipients(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: RecipientFilter | None = None,
        order_by: RecipientOrder | None = None,
    ) -> Connection[Recipient]:
        page = await recipient_list.recipients_connection(
            info, self.pk, first, after, filter, order_by
        )
        return Connection.from_page(page, recipient_types.Recipient.from_record)

    @strawberry.field(description="the event log, newest first")
    async def activity(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        types: list[ResponseType] | None = None,
        since: datetime | None = None,
    ) -> Connection[Response]:
        page = await history.campaign_activity(info, self.pk, first, after, types, since)
        return Connection.from_page(page, response_types.Response.from_row)
