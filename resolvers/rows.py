"""GraphQL objects from database rows (the one place that knows both shapes)."""

from typing import Any

from app.enums import CampaignStatus, Channel, SkipReason
from app.metrics import cents_to_decimal
from schema import campaign as campaign_types
from schema import contact as contact_types
from schema import organization as organization_types
from schema.node import global_id


def campaign(row: Any) -> "campaign_types.Campaign":
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
    )


def variant(row: Any) -> "campaign_types.Variant":
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
    )


def link(row: Any, variant_pk: int | None = None) -> "campaign_types.Link":
    return campaign_types.Link(
        id=global_id("Link", row.id),
        url=row.url,
        label=row.label,
        position=row.position,
        pk=row.id,
        campaign_pk=row.campaign_id,
        variant_pk=variant_pk,
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
