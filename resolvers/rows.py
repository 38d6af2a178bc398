"""GraphQL objects from database rows (the one place that knows both shapes)."""

from typing import Any

from app.enums import (
    BounceCategory,
    BounceType,
    CampaignStatus,
    Channel,
    RecipientStatus,
    ResponseSource,
    ResponseType,
    SkipReason,
)
from app.ids import global_id
from app.metrics import cents_to_decimal
from schema import bounce as bounce_types
from schema import campaign as campaign_types
from schema import contact as contact_types
from schema import organization as organization_types
from schema import recipient as recipient_types
from schema import response as response_types


def campaign(row: Any, counters: dict[str, Any] | None = None) -> "campaign_types.Campaign":
    return campaign_types.Campaign(
        id=global_id("Campaign", row.id),
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
        counters=counters,
    )


def variant(row: Any, counters: dict[str, Any] | None = None) -> "campaign_types.Variant":
    return campaign_types.Variant(
        id=global_id("Variant", row.id),
        name=row.name,
        subject=row.subject,
        is_control=bool(row.is_control),
        factors=[
            campaign_types.Factor(name=f["name"], value=f["value"]) for f in row.factors or []
        ],
        html=row.html,
        pk=row.id,
        campaign_pk=row.campaign_id,
        counters=counters,
    )


def link(
    row: Any, variant_pk: int | None = None, counters: dict[str, Any] | None = None
) -> "campaign_types.Link":
    return campaign_types.Link(
        id=global_id("Link", row.id),
        url=row.url,
        label=row.label,
        position=row.position,
        pk=row.id,
        campaign_pk=row.campaign_id,
        variant_pk=variant_pk,
        counters=counters,
    )


def user(row: Any) -> "organization_types.User":
    return organization_types.User(id=global_id("User", row.id), name=row.name, email=row.email)


def project(row: Any) -> "organization_types.Project":
    return organization_types.Project(id=global_id("Project", row.id), name=row.name)


def organization(row: Any) -> "organization_types.Organization":
    return organization_types.Organization(
        id=global_id("Organization", row.id), name=row.name, timezone=row.timezone
    )


def contact(row: Any) -> "contact_types.Contact":
    return contact_types.Contact(
        id=global_id("Contact", row.id),
        external_id=row.external_id,
        email=row.email,
        name=row.name,
        suppression_reason=SkipReason(row.suppression_reason) if row.suppression_reason else None,
        pk=row.id,
        owner_pk=row.owner_id,
    )


def recipient(row: Any) -> "recipient_types.Recipient":
    bounce = None
    if row.bounce_type:
        bounce = bounce_types.Bounce(
            type=BounceType(row.bounce_type),
            category=BounceCategory(row.bounce_category or "UNSPECIFIED"),
            diagnostic=row.bounce_diagnostic,
        )
    return recipient_types.Recipient(
        id=global_id("Recipient", row.id),
        status=RecipientStatus(row.status),
        skip_reason=SkipReason(row.skip_reason) if row.skip_reason else None,
        bounce=bounce,
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
    )


def response(row: Any) -> "response_types.Response":
    bounce = None
    if row.bounce_type:
        bounce = bounce_types.Bounce(
            type=BounceType(row.bounce_type),
            category=BounceCategory(row.bounce_category or "UNSPECIFIED"),
            diagnostic=row.bounce_diagnostic,
        )
    client = None
    if row.email_client or row.device or row.browser or row.os:
        client = response_types.ClientInfo(
            email_client=row.email_client, device=row.device, browser=row.browser, os=row.os
        )
    location = None
    if row.country or row.city:
        location = response_types.Location(country=row.country, city=row.city)
    return response_types.Response(
        id=global_id("Response", row.id),
        type=ResponseType(row.type),
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        source=ResponseSource(row.source),
        note=row.note,
        amount=cents_to_decimal(row.amount_cents),
        bounce=bounce,
        skip_reason=SkipReason(row.skip_reason) if row.skip_reason else None,
        client=client,
        location=location,
        machine=bool(row.machine),
        bot=bool(row.bot),
        recorded_by=row.recorded_by,
        pk=row.id,
        campaign_pk=row.campaign_id,
        contact_pk=row.contact_id,
        variant_pk=row.variant_id,
        link_pk=row.link_id,
    )
