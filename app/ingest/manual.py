"""Manual responses: what an admin records, corrects and deletes by hand.

A manual response goes through the same path as a tracked event (`apply_events`), so it lands in
the history, the recipient's fold and every pre-aggregated table in the caller's one write
transaction. A deletion is soft: the rows stay for audit, and the recipient is refolded from what
is left. Every id is checked against the caller's organization before anything is written; a bad
one raises `ManualInputError` and the transaction writes nothing.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app import versions
from app.enums import BounceCategory, BounceType, ResponseSource, ResponseType, SkipReason
from app.ingest.apply import SUPPRESSING, apply_events, suppression_reason
from app.ingest.events import CanonicalEvent
from app.ingest.refold import load_histories, lock_recipients, refold_recipients
from app.models import Campaign, Contact, Link, Recipient, Response, Variant

T = ResponseType

# The provider column of manual responses; their event keys are "manual:<uuid>", never replayed.
MANUAL_PROVIDER = "manual"


@dataclass(frozen=True)
class Problem:
    """One reason a manual change is refused: the input field at fault, why, a stable code."""

    field: str
    message: str
    code: str


class ManualInputError(Exception):
    """A manual change names something that does not exist (for the caller) or does not fit."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class ManualResponse:
    """A validated response as an admin gives it (ids are primary keys, money in cents)."""

    type: ResponseType
    occurred_at: datetime
    note: str | None = None
    amount_cents: int | None = None
    variant_id: int | None = None
    link_id: int | None = None


@dataclass(frozen=True)
class Recorded:
    response_id: int
    recipient_id: int
    # Whose numbers changed: the caller tells live subscribers after the commit.
    campaign_id: int


@dataclass(frozen=True)
class Deleted:
    recipient_id: int
    deleted_count: int
    campaign_id: int


async def _campaign(
    connection: AsyncConnection, organization_id: int, campaign_id: int | None
) -> tuple[int, str] | None:
    if campaign_id is None:
        return None
    row = (
        await connection.execute(
            select(Campaign.id, Campaign.external_id).where(
                Campaign.id == campaign_id, Campaign.organization_id == organization_id
            )
        )
    ).first()
    return (row.id, row.external_id) if row else None


async def _contact_email(
    connection: AsyncConnection, organization_id: int, contact_id: int | None
) -> str | None:
    if contact_id is None:
        return None
    result = await connection.execute(
        select(Contact.email).where(
            Contact.id == contact_id, Contact.organization_id == organization_id
        )
    )
    return result.scalar_one_or_none()


async def _recipient_variant(
    connection: AsyncConnection, campaign_id: int, email: str, organization_id: int
) -> tuple[bool, int | None]:
    """Whether the contact with this email is a recipient of the campaign, and its variant."""
    row = (
        await connection.execute(
            select(Recipient.variant_id)
            .join(Contact, Contact.id == Recipient.contact_id)
            .where(
                Recipient.campaign_id == campaign_id,
                Contact.organization_id == organization_id,
                Contact.email == email,
            )
        )
    ).first()
    return (row is not None, row.variant_id if row else None)


async def _owned_by_campaign(
    connection: AsyncConnection,
    organization_id: int,
    model: type[Variant] | type[Link],
    pk: int,
    campaign_id: int,
    field: str,
    noun: str,
) -> tuple[str | None, Problem | None]:
    """The variant's name or the link's url, when it belongs to the campaign."""
    value_column = model.name if model is Variant else model.url  # type: ignore[union-attr]
    row = (
        await connection.execute(
            select(model.campaign_id, value_column)
            .join(Campaign, Campaign.id == model.campaign_id)
            .where(model.id == pk, Campaign.organization_id == organization_id)
        )
    ).first()
    if row is None:
        return None, Problem(field, f"no such {noun}", "NOT_FOUND")
    if row[0] != campaign_id:
        return None, Problem(field, f"the {noun} belongs to another campaign", "INVALID")
    return row[1], None


def _event(
    campaign_external_id: str,
    email: str,
    response: ManualResponse,
    variant_name: str | None,
    url: str | None,
) -> CanonicalEvent:
    """The manual response as a canonical event, with the defaults the event parser gives."""
    bounce_type = bounce_category = skip_reason = None
    if response.type is T.BOUNCED:
        bounce_type, bounce_category = BounceType.SOFT.value, BounceCategory.UNSPECIFIED.value
    if response.type in (T.NOT_SENT, T.DROPPED):
        skip_reason = SkipReason.OTHER.value
    return CanonicalEvent(
        # A fresh key: two manual entries are never duplicates of each other.
        key=f"{MANUAL_PROVIDER}:{uuid.uuid4()}",
        provider=MANUAL_PROVIDER,
        type=response.type,
        occurred_at=response.occurred_at,
        campaign=campaign_external_id,
        contact_email=email,
        contact_external_id=None,
        contact_name=None,
        variant=variant_name,
        url=url,
        bounce_type=bounce_type,
        bounce_category=bounce_category,
        skip_reason=skip_reason,
        amount_cents=response.amount_cents,
        note=response.note,
    )


async def record_manual(
    connection: AsyncConnection,
    organization_id: int,
    campaign_id: int | None,
    response: ManualResponse,
    *,
    recorded_by: str,
    contact_id: int | None = None,
    email: str | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Record a response of a contact (by id, or by email: created if new) to a campaign.

    A contact that is not a recipient yet becomes one. Runs inside the caller's write transaction;
    raises ManualInputError, having written nothing, when an id is unknown to the organization.
    """
    problems: list[Problem] = []
    campaign = await _campaign(connection, organization_id, campaign_id)
    if campaign is None:
        problems.append(Problem("campaignId", "no such campaign", "NOT_FOUND"))
    if contact_id is not None:
        email = await _contact_email(connection, organization_id, contact_id)
        if email is None:
            problems.append(Problem("contactId", "no such contact", "NOT_FOUND"))
    variant_name = url = None
    if campaign is not None and response.variant_id is not None:
        variant_name, problem = await _owned_by_campaign(
            connection,
            organization_id,
            Variant,
            response.variant_id,
            campaign[0],
            "variantId",
            "variant",
        )
        problems += [problem] if problem else []
    if campaign is not None and response.link_id is not None:
        url, problem = await _owned_by_campaign(
            connection, organization_id, Link, response.link_id, campaign[0], "linkId", "link"
        )
        problems += [problem] if problem else []
    if problems or campaign is None or email is None:
        raise ManualInputError(problems)

    is_recipient, recipient_variant = await _recipient_variant(
        connection, campaign[0], email, organization_id
    )
    if response.variant_id is not None and is_recipient and recipient_variant is not None:
        if recipient_variant != response.variant_id:
            raise ManualInputError(
                [Problem("variantId", "the recipient is in another variant", "INVALID")]
            )
    if variant_name is None and recipient_variant is not None:
        # The response shows the variant its recipient got.
        variant_name = (
            await connection.execute(select(Variant.name).where(Variant.id == recipient_variant))
        ).scalar_one()

    event = _event(campaign[1], email, response, variant_name, url)
    result = await apply_events(
        connection,
        organization_id,
        [event],
        source=ResponseSource.MANUAL,
        recorded_by=recorded_by,
        now=now,
    )
    assert result.accepted == 1 and len(result.recipient_ids) == 1, result
    return Recorded(result.response_ids[event.key], next(iter(result.recipient_ids)), campaign[0])


async def recipient_target(
    connection: AsyncConnection, organization_id: int, recipient_id: int | None
) -> tuple[int, int]:
    """(campaign id, contact id) of an organization's recipient; ManualInputError if unknown."""
    row = None
    if recipient_id is not None:
        row = (
            await connection.execute(
                select(Recipient.campaign_id, Recipient.contact_id)
                .join(Campaign, Campaign.id == Recipient.campaign_id)
                .where(Recipient.id == recipient_id, Campaign.organization_id == organization_id)
            )
        ).first()
    if row is None:
        raise ManualInputError([Problem("recipientId", "no such recipient", "NOT_FOUND")])
    return row.campaign_id, row.contact_id


async def update_status(
    connection: AsyncConnection,
    organization_id: int,
    recipient_id: int | None,
    response: ManualResponse,
    *,
    recorded_by: str,
    now: datetime | None = None,
) -> Recorded:
    """Give an existing recipient a new response; the earlier ones stay in its history."""
    campaign_id, contact_id = await recipient_target(connection, organization_id, recipient_id)
    return await record_manual(
        connection,
        organization_id,
        campaign_id,
        response,
        recorded_by=recorded_by,
        contact_id=contact_id,
        now=now,
    )


async def delete_responses(
    connection: AsyncConnection,
    organization_id: int,
    campaign_id: int | None,
    contact_id: int | None,
    *,
    deleted_by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Deleted:
    """Soft-delete every response of a contact to a campaign, with who, when and why.

    The recipient stays a recipient (with an empty history it is QUEUED); its contribution to every
    aggregate changes to what its remaining (no) history gives, and the contact's suppression to
    what its remaining responses give, in the same transaction.
    """
    now = now or datetime.now(UTC)
    problems: list[Problem] = []
    campaign = await _campaign(connection, organization_id, campaign_id)
    if campaign is None:
        problems.append(Problem("campaignId", "no such campaign", "NOT_FOUND"))
    if await _contact_email(connection, organization_id, contact_id) is None:
        problems.append(Problem("contactId", "no such contact", "NOT_FOUND"))
    if problems or campaign is None:
        raise ManualInputError(problems)
    recipient_id = (
        await connection.execute(
            select(Recipient.id).where(
                Recipient.campaign_id == campaign[0], Recipient.contact_id == contact_id
            )
        )
    ).scalar_one_or_none()
    if recipient_id is None:
        raise ManualInputError(
            [Problem("contactId", "the contact is not a recipient of the campaign", "NOT_FOUND")]
        )

    contexts = await lock_recipients(connection, [recipient_id])
    history = (await load_histories(connection, [recipient_id])).get(recipient_id, [])
    if not history:
        return Deleted(recipient_id, 0, campaign[0])
    result = await connection.execute(
        update(Response)
        .where(Response.recipient_id == recipient_id, Response.deleted_at.is_(None))
        .values(deleted_at=now, deleted_by=deleted_by, deletion_note=note)
    )
    context = contexts[recipient_id]
    await refold_recipients(
        connection, {recipient_id: (context, history)}, {recipient_id: (context, [])}, now
    )
    await refresh_suppression(connection, organization_id, context.contact_id)
    await versions.bump(connection, organization_id, [campaign[0]], now)  # issue 14
    return Deleted(recipient_id, result.rowcount, campaign[0])


async def refresh_suppression(
    connection: AsyncConnection, organization_id: int, contact_id: int
) -> None:
    """Set the contact's suppression to what its non-deleted responses give, in any campaign of
    the organization; cleared when none of them suppresses it any more.

    Ingest keeps the first suppressing response to arrive (its reason, and its arrival as
    suppressed_at), so the recomputation takes the earliest recorded one that is left.
    """
    locking = select(Contact.suppression_reason, Contact.suppressed_at).where(
        Contact.id == contact_id, Contact.organization_id == organization_id
    )
    if connection.dialect.name == "postgresql":
        # Locked before the responses are read: an ingest that suppresses the contact meanwhile
        # either commits first (and its response is read below) or waits for this transaction.
        locking = locking.with_for_update()
    current = (await connection.execute(locking)).first()
    if current is None:
        return
    suppressing = or_(
        Response.type.in_([kind.value for kind in SUPPRESSING]),
        and_(Response.type == T.BOUNCED.value, Response.bounce_type == BounceType.HARD.value),
    )
    first = (
        await connection.execute(
            select(Response.type, Response.bounce_type, Response.recorded_at)
            .where(
                Response.organization_id == organization_id,
                Response.contact_id == contact_id,
                Response.deleted_at.is_(None),
                suppressing,
            )
            .order_by(Response.recorded_at, Response.id)
            .limit(1)
        )
    ).first()
    reason = suppression_reason(ResponseType(first.type), first.bounce_type) if first else None
    wanted = (reason.value if reason else None, first.recorded_at if reason and first else None)
    if (current.suppression_reason, current.suppressed_at) != wanted:
        await connection.execute(
            update(Contact)
            .where(Contact.id == contact_id)
            .values(suppression_reason=wanted[0], suppressed_at=wanted[1])
        )
