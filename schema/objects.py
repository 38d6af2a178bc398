"""The object graph: campaigns with their variants and links, contacts, recipients with their
responses, and A/B tests. Each of these types has fields of the others, so they live in one
module: plain references, no import circle. Each builds itself from what resolvers return."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from app.ids import global_id
from app.metrics import cents_to_decimal
from resolvers import (
    ab_test,
    campaigns,
    contact_list,
    contacts,
    engagement,
    history,
    owner_stats,
    recipient_list,
    responses,
    timeline,
)
from resolvers import automated_activity as automated
from resolvers import click_map as click_maps
from resolvers import merge_fields as merge_field_reads
from resolvers.context import Info
from resolvers.records import CampaignRecord, RecipientRecord
from schema.awaitables import later
from schema.bounce import Bounce
from schema.connection import Connection
from schema.enums import (
    ABMetric,
    CampaignStatus,
    Channel,
    ClassificationReason,
    Dimension,
    Granularity,
    RecipientStatus,
    ResponseSource,
    ResponseType,
    SkipReason,
)
from schema.inputs import RecipientFilter, RecipientOrder
from schema.node import Node
from schema.organization import Project, User
from schema.stats import EngagementRow, Funnel, OwnerStats, Stats, TimelineBucket


@strawberry.type
class Factor:
    name: str
    value: str


@strawberry.type
class MergeField:
    name: str
    value: str


@strawberry.type
class LinkClicker:
    contact: "Contact"
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
        return Campaign.from_row(await campaigns.campaign_row(info, self.campaign_pk))

    @strawberry.field
    def clicks(self, info: Info) -> int:
        return campaigns.link_count(info, self.pk, self.variant_pk, self.counters, "clicks")  # type: ignore[return-value]

    @strawberry.field
    def clicked(self, info: Info) -> int:
        return campaigns.link_count(info, self.pk, self.variant_pk, self.counters, "clicked")  # type: ignore[return-value]

    @strawberry.field(description="clicked / campaign delivered")
    async def click_rate(self, info: Info) -> float | None:
        return await campaigns.link_click_rate(info, self.pk, self.campaign_pk, self.variant_pk)

    @strawberry.field(description="share of all clicks of the campaign")
    async def share(self, info: Info) -> float | None:
        return await campaigns.link_share(info, self.pk, self.campaign_pk, self.variant_pk)

    @strawberry.field
    async def top_clickers(self, info: Info, first: int | None = 5) -> list[LinkClicker]:
        found = await campaigns.link_top_clickers(info, self.pk, 5 if first is None else first)
        return [
            LinkClicker(contact=Contact.from_row(contact), clicks=clicks)
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
        return Campaign.from_row(await campaigns.campaign_row(info, self.campaign_pk))

    @strawberry.field
    def stats(self, info: Info, human_only: bool | None = False) -> Stats:
        # The Stats object graphql-core reads: its fields are computed as they are read.
        return campaigns.variant_stats(info, self.pk, self.counters, bool(human_only))  # type: ignore[return-value]

    @strawberry.field
    async def links(self, info: Info) -> list[Link]:
        # The counters read with the links are the whole campaign's; a variant's link counts its own.
        found = await campaigns.campaign_links(info, self.campaign_pk)
        return [Link.from_row(row, variant_pk=self.pk) for row, _ in found]

    @strawberry.field(
        description="The message with each tracked link marked by its clicks, unique clickers and "
        "share (sanitized: no scripts, no remote loads)."
    )
    async def click_map(self, info: Info, human_only: bool | None = True) -> str | None:
        return await click_maps.variant_click_map(
            info.context.fetch, self.campaign_pk, self.pk, self.html, human_only is not False
        )


def _funnel(values: dict[str, int]) -> Funnel:
    return Funnel(**values)


def _variants(found: list[tuple[Any, dict[str, Any]]]) -> list[Variant]:
    return [Variant.from_row(row, counters) for row, counters in found]


def _links(found: list[tuple[Any, dict[str, Any]]]) -> list[Link]:
    return [Link.from_row(row, None, counters) for row, counters in found]


@strawberry.type(
    description="Opens and clicks that one rule classified as automated rather than a person's."
)
class AutomatedActivity:
    reason: ClassificationReason
    opens: int
    clicks: int
    recipients: int

    @classmethod
    def from_counts(cls, counts: automated.AutomatedCounts) -> "AutomatedActivity":
        return cls(
            reason=ClassificationReason(counts.reason.value),
            opens=counts.opens,
            clicks=counts.clicks,
            recipients=counts.recipients,
        )


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
        row = await campaigns.project_row(info, self.project_pk)
        return None if row is None else Project.from_row(row)

    @strawberry.field
    async def sender(self, info: Info) -> User | None:
        row = await contacts.user_row(info, self.sender_pk)
        return None if row is None else User.from_row(row)

    @strawberry.field
    def stats(self, info: Info, human_only: bool | None = False) -> Stats:
        # The Stats object graphql-core reads: its fields are computed as they are read.
        return campaigns.campaign_stats(  # type: ignore[return-value]
            info, self.pk, self.counters, self.cost_cents, bool(human_only)
        )

    @strawberry.field
    def funnel(self, info: Info) -> Funnel:
        return later(campaigns.campaign_funnel(info, self.pk, self.counters), _funnel)  # type: ignore[return-value]

    @strawberry.field
    def variants(self, info: Info) -> list[Variant]:
        if self.known_variants is not None:
            return self.known_variants
        return later(campaigns.campaign_variants(info, self.pk), _variants)  # type: ignore[return-value]

    @strawberry.field
    def links(self, info: Info) -> list[Link]:
        if self.known_links is not None:
            return self.known_links
        return later(campaigns.campaign_links(info, self.pk), _links)  # type: ignore[return-value]

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
    ) -> "ABTest | None":
        result = await ab_test.campaign_ab_test(info, self.pk, metric, confidence)
        return None if result is None else ABTest.from_result(result)

    @strawberry.field(description="the recipient table: filtered, ordered, paged")
    async def recipients(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: RecipientFilter | None = None,
        order_by: RecipientOrder | None = None,
    ) -> "Connection[Recipient]":
        page = await recipient_list.recipients_connection(
            info, self.pk, first, after, filter, order_by
        )
        return Connection.from_page(page, Recipient.from_record)

    @strawberry.field(description="the event log, newest first")
    async def activity(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        types: list[ResponseType] | None = None,
        since: datetime | None = None,
    ) -> "Connection[Response]":
        page = await history.campaign_activity(info, self.pk, first, after, types, since)
        return Connection.from_page(page, Response.from_row)

    @strawberry.field(
        description="How many opens and clicks each classification rule set aside as automated, and of how many recipients."
    )
    async def automated_activity(self, info: Info) -> list[AutomatedActivity]:
        found = await automated.campaign_automated_activity(info, self.pk)
        return [AutomatedActivity.from_counts(counts) for counts in found]


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
        row = await contacts.user_row(info, self.owner_pk)
        return None if row is None else User.from_row(row)

    @strawberry.field(description="campaigns this contact was a recipient of, newest first")
    async def campaigns(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> "Connection[Recipient]":
        page = await contact_list.contact_campaigns(info, self.pk, first, after)
        return Connection.from_page(page, Recipient.from_row)

    @strawberry.field(description="the whole response history across campaigns, newest first")
    async def responses(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        campaign_id: strawberry.ID | None = None,
        types: list[ResponseType] | None = None,
        since: datetime | None = None,
    ) -> "Connection[Response]":
        page = await history.contact_responses(
            info, self.pk, first, after, campaign_id, types, since
        )
        return Connection.from_page(page, Response.from_row)


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
        return cls.from_row(record.row, None if contact is None else Contact.from_row(contact))

    @strawberry.field
    async def campaign(self, info: Info) -> Campaign:
        return Campaign.from_row(await campaigns.campaign_row(info, self.campaign_pk))

    @strawberry.field
    def contact(self, info: Info) -> Contact:
        if self.known_contact is not None:
            return self.known_contact  # type: ignore[no-any-return]
        return self._contact(info)  # type: ignore[return-value]

    async def _contact(self, info: Info) -> "Contact":
        row = await contacts.contact_row(info, self.contact_pk)
        assert row is not None  # a recipient's contact is in the recipient's organization
        return Contact.from_row(row)

    @strawberry.field
    async def variant(self, info: Info) -> Variant | None:
        row = await campaigns.variant_row(info, self.variant_pk)
        return None if row is None else Variant.from_row(row)

    @strawberry.field
    async def latest_response(self, info: Info) -> "Response | None":
        row = await responses.response_row(info, self.latest_response_pk)
        return None if row is None else Response.from_row(row)

    @strawberry.field(description="newest first")
    async def responses(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> "Connection[Response]":
        page = await history.recipient_responses(info, self.pk, first, after)
        return Connection.from_page(page, Response.from_row)

    @strawberry.field(
        description="The merge fields this recipient's message was personalized with."
    )
    async def merge_fields(self, info: Info) -> list[MergeField]:
        fields = await merge_field_reads.recipient_merge_fields(info, self.pk)
        return [MergeField(name=name, value=value) for name, value in fields]

    @strawberry.field(
        description="The message exactly as this recipient received it: its variant's html with "
        "its merge fields filled in (sanitized)."
    )
    async def preview(self, info: Info) -> str | None:
        return await merge_field_reads.recipient_preview(
            info, self.pk, self.campaign_pk, self.variant_pk
        )


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
    classified_by: ClassificationReason | None = strawberry.field(
        description="Why this open or click counts as automated (machine open, bot click); null when it counts as a person's."
    )
    recorded_by: str | None = strawberry.field(
        description="the API key or user that recorded a manual response"
    )
    pk: strawberry.Private[int]
    campaign_pk: strawberry.Private[int]
    contact_pk: strawberry.Private[int]
    variant_pk: strawberry.Private[int | None]
    link_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Any) -> "Response":
        client = None
        if row.email_client or row.device or row.browser or row.os:
            client = ClientInfo(
                email_client=row.email_client, device=row.device, browser=row.browser, os=row.os
            )
        location = None
        if row.country or row.city:
            location = Location(country=row.country, city=row.city)
        return cls(
            id=strawberry.ID(global_id("Response", row.id)),
            type=ResponseType(row.type),
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
            source=ResponseSource(row.source),
            note=row.note,
            amount=cents_to_decimal(row.amount_cents),
            bounce=Bounce.from_row(row),
            skip_reason=SkipReason(row.skip_reason) if row.skip_reason else None,
            client=client,
            location=location,
            machine=bool(row.machine),
            bot=bool(row.bot),
            classified_by=(ClassificationReason(row.classified_by) if row.classified_by else None),
            recorded_by=row.recorded_by,
            pk=row.id,
            campaign_pk=row.campaign_id,
            contact_pk=row.contact_id,
            variant_pk=row.variant_id,
            link_pk=row.link_id,
        )

    @strawberry.field
    async def campaign(self, info: Info) -> Campaign:
        return Campaign.from_row(await campaigns.campaign_row(info, self.campaign_pk))

    @strawberry.field
    async def contact(self, info: Info) -> Contact:
        row = await contacts.contact_row(info, self.contact_pk)
        assert row is not None  # a response's contact is in the response's organization
        return Contact.from_row(row)

    @strawberry.field
    async def variant(self, info: Info) -> Variant | None:
        row = await campaigns.variant_row(info, self.variant_pk)
        return None if row is None else Variant.from_row(row)

    @strawberry.field
    async def link(self, info: Info) -> Link | None:
        row = await campaigns.link_row(info, self.link_pk)
        return None if row is None else Link.from_row(row)


@strawberry.type
class VariantComparison:
    variant: Variant
    rate: float | None
    lift_over_control: float | None
    p_value: float | None = strawberry.field(
        description="two-sided p-value against the control; null for the control itself"
    )
    probability_to_be_best: float | None


@strawberry.type
class HeatmapCell:
    row: str
    column: str
    rate: float | None
    recipients: int


@strawberry.type
class ABTest:
    metric: ABMetric
    control: Variant | None
    winner: Variant | None
    significant: bool = strawberry.field(
        description="true when the winner beats every other variant at the confidence asked for"
    )
    comparisons: list[VariantComparison]
    # Per variant: its factors, the metric's numerator and denominator, and its recipients.
    cells: strawberry.Private[list[ab_test.VariantCounts]]

    @classmethod
    def from_result(cls, result: ab_test.ABResult) -> "ABTest":
        variants = [Variant.from_row(row, counters) for row, counters in result.variants]
        return cls(
            metric=result.metric,
            control=variants[result.control],
            winner=None if result.winner is None else variants[result.winner],
            significant=result.significant,
            comparisons=[
                VariantComparison(
                    variant=variant,
                    rate=comparison.rate,
                    lift_over_control=comparison.lift_over_control,
                    p_value=comparison.p_value,
                    probability_to_be_best=comparison.probability_to_be_best,
                )
                for variant, comparison in zip(variants, result.comparisons, strict=True)
            ],
            cells=result.cells,
        )

    @strawberry.field
    def heatmap(self, row_factor: str, column_factor: str) -> list[HeatmapCell]:
        return [
            HeatmapCell(
                row=cell.row, column=cell.column, rate=cell.rate, recipients=cell.recipients
            )
            for cell in ab_test.heatmap(self.cells, row_factor, column_factor)
        ]
