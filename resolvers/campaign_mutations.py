"""upsertCampaign and addRecipients: what integrations write.

Both may change statistics (new recipients, a new cost, held-back events applied at last), so
both tell the campaigns' live subscribers after the commit, and read their payload afresh.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app import instants, versions
from app.enums import CampaignStatus, Channel, ResponseType, Role
from app.ingest.aggregate_writer import dialect_insert
from app.ingest.apply import apply_events
from app.ingest.events import CanonicalEvent, EventError, parse_cents, parse_email
from app.ingest.matching import ensure_recipients
from app.ingest.merge_fields import GivenMergeFields, save_merge_fields
from app.ingest.pending import apply_unmatched
from app.ingest.recipient_sort import refresh_sort_keys
from app.message_views.merge_fields import check_merge_fields
from app.models import Campaign, Contact, Project, User, Variant
from app.models import Link as LinkModel
from app.pubsub import publish_campaigns_changed
from resolvers.campaigns import campaign_by_reference, find_campaign_row
from resolvers.context import Info
from resolvers.records import AddRecipientsResult, UpsertCampaignResult, UserError
from resolvers.response_mutations import fresh_reads, write
from resolvers.user_errors import UserErrors

# What these mutations read of their inputs. The schema's input types have these attributes, so
# they are passed as they are: resolvers need not know the schema's classes.


class FactorSpec(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...


class VariantSpec(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def html(self) -> str | None: ...
    @property
    def is_control(self) -> bool | None: ...
    @property
    def factors(self) -> Sequence[FactorSpec] | None: ...


class LinkSpec(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def label(self) -> str | None: ...
    @property
    def position(self) -> int | None: ...


class UpsertCampaignSpec(Protocol):
    @property
    def external_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def status(self) -> CampaignStatus | None: ...
    @property
    def channel(self) -> Channel | None: ...
    @property
    def project_name(self) -> str | None: ...
    @property
    def sender_email(self) -> str | None: ...
    @property
    def from_email(self) -> str | None: ...
    @property
    def selection(self) -> str | None: ...
    @property
    def sent_at(self) -> datetime | None: ...
    @property
    def cost(self) -> Decimal | None: ...
    @property
    def variants(self) -> Sequence[VariantSpec] | None: ...
    @property
    def links(self) -> Sequence[LinkSpec] | None: ...


class ContactSpec(Protocol):
    @property
    def external_id(self) -> str | None: ...
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def owner_email(self) -> str | None: ...
    @property
    def merge_fields(self) -> Sequence[FactorSpec] | None: ...  # {name, value} like a factor


class AddRecipientsSpec(Protocol):
    @property
    def campaign_id(self) -> str: ...
    @property
    def contacts(self) -> Sequence[ContactSpec]: ...
    @property
    def variant_name(self) -> str | None: ...


def _cents(errors: UserErrors, field: list[str | int], value: Decimal | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_cents(str(value), field[-1])  # type: ignore[arg-type]
    except EventError as exc:
        errors.add(field, str(exc), "INVALID")
        return None


def _email(errors: UserErrors, field: list[str | int], value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_email(value, str(field[-1]))
    except EventError as exc:
        errors.add(field, str(exc), "INVALID")
        return None


def _check_upsert(input: UpsertCampaignSpec, errors: UserErrors) -> None:
    errors.check_text(["input", "externalId"], input.external_id, 200, required=True)
    errors.check_text(["input", "name"], input.name, 500, required=True)
    errors.check_text(["input", "subject"], input.subject, 1000)
    errors.check_text(["input", "projectName"], input.project_name, 200)
    errors.check_text(["input", "selection"], input.selection, 100_000)
    try:
        instants.checked_or_none(input.sent_at, "sentAt")
    except instants.InstantError as exc:
        errors.add(["input", "sentAt"], str(exc), "INVALID")
    names: set[str] = set()
    for index, variant in enumerate(input.variants or []):
        path: list[str | int] = ["input", "variants", index]
        errors.check_text([*path, "name"], variant.name, 200, required=True)
        if variant.name in names:
            errors.add([*path, "name"], f"variant {variant.name!r} is named twice", "DUPLICATE")
        names.add(variant.name)
        errors.check_text([*path, "subject"], variant.subject, 1000)
        errors.check_text([*path, "html"], variant.html, 1_000_000)
        for position, factor in enumerate(variant.factors or []):
            errors.check_text([*path, "factors", position, "name"], factor.name, 100, required=True)
            errors.check_text(
                [*path, "factors", position, "value"], factor.value, 200, required=True
            )
    if sum(1 for v in input.variants or [] if v.is_control) > 1:
        errors.add(["input", "variants"], "at most one variant is the control", "INVALID")
    urls: set[str] = set()
    for index, link in enumerate(input.links or []):
        path = ["input", "links", index]
        parts = urlsplit(link.url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(link.url) > 2000:
            errors.add([*path, "url"], f"url must be an http(s) address: {link.url!r}", "INVALID")
        if link.url in urls:
            errors.add([*path, "url"], f"url {link.url!r} is listed twice", "DUPLICATE")
        urls.add(link.url)
        errors.check_text([*path, "label"], link.label, 500)
        if link.position is not None and link.position < 1:
            errors.add([*path, "position"], "position starts at 1", "INVALID")


async def _user_id(connection: AsyncConnection, organization_id: int, email: str) -> int:
    """The organization's user with this email, created if new."""
    await connection.execute(
        dialect_insert(connection, User.__table__).on_conflict_do_nothing(),
        [{"organization_id": organization_id, "email": email, "name": email.split("@")[0]}],
    )
    result = await connection.execute(
        select(User.id).where(User.organization_id == organization_id, User.email == email)
    )
    return int(result.scalar_one())


async def upsert_campaign(info: Info, input: UpsertCampaignSpec) -> UpsertCampaignResult:
    """Create or update a campaign by external id, with its variants and links."""
    info.context.require(Role.INTEGRATION)
    errors = UserErrors()
    _check_upsert(input, errors)
    cost_cents = _cents(errors, ["input", "cost"], input.cost)
    sender_email = _email(errors, ["input", "senderEmail"], input.sender_email)
    from_email = _email(errors, ["input", "fromEmail"], input.from_email)
    if errors:
        return UpsertCampaignResult(campaign=None, user_errors=errors.errors)

    organization_id = info.context.organization_id

    async def store(connection: AsyncConnection) -> tuple[int, set[int]]:
        values: dict[str, Any] = {"name": input.name.strip()}
        optional = {
            "subject": input.subject,
            "status": input.status.value if input.status else None,
            "channel": input.channel.value if input.channel else None,
            "from_email": from_email,
            "selection": input.selection,
            "sent_at": input.sent_at,
            "cost_cents": cost_cents,
        }
        values.update({name: value for name, value in optional.items() if value is not None})
        if input.project_name:
            await connection.execute(
                dialect_insert(connection, Project.__table__).on_conflict_do_nothing(),
                [{"organization_id": organization_id, "name": input.project_name.strip()}],
            )
            values["project_id"] = (
                await connection.execute(
                    select(Project.id).where(
                        Project.organization_id == organization_id,
                        Project.name == input.project_name.strip(),
                    )
                )
            ).scalar_one()
        if sender_email:
            values["sender_id"] = await _user_id(connection, organization_id, sender_email)
        statement = dialect_insert(connection, Campaign.__table__)
        campaign_id = (
            await connection.execute(
                statement.values(
                    organization_id=organization_id,
                    external_id=input.external_id.strip(),
                    created_at=datetime.now(UTC),
                    **values,
                )
                .on_conflict_do_update(
                    index_elements=["organization_id", "external_id"], set_=values
                )
                .returning(Campaign.id)
            )
        ).scalar_one()
        await _upsert_variants(connection, campaign_id, input)
        await _upsert_links(connection, campaign_id, input)
        applied = await apply_unmatched(connection, organization_id, [input.external_id.strip()])
        await versions.bump(connection, organization_id, [campaign_id])  # issue 14
        return campaign_id, applied.campaign_ids

    # On PostgreSQL, where every writer of the organization takes its data-versions row, a
    # transaction aborted by a deadlock or a serialization failure runs again (bounded).
    campaign_id, applied_ids = await write(info, store)
    # The cost (and so cost per click...) may have changed even when no event was applied.
    await publish_campaigns_changed(info.context.database, {campaign_id, *applied_ids})
    await fresh_reads(info)
    return UpsertCampaignResult(campaign=await find_campaign_row(info, campaign_id), user_errors=[])


async def _upsert_variants(
    connection: AsyncConnection, campaign_id: int, input: UpsertCampaignSpec
) -> None:
    variants = input.variants or []
    if not variants:
        return
    if any(v.is_control for v in variants):
        await connection.execute(
            update(Variant).where(Variant.campaign_id == campaign_id).values(is_control=False)
        )
    # With no control named, the first variant is the control.
    control = next((v.name for v in variants if v.is_control), variants[0].name)
    statement = dialect_insert(connection, Variant.__table__)
    for variant in variants:
        row = {
            "subject": variant.subject,
            "html": variant.html,
            "is_control": variant.name == control,
            "factors": [{"name": f.name, "value": f.value} for f in variant.factors or []],
        }
        await connection.execute(
            statement.values(
                campaign_id=campaign_id, name=variant.name, **row
            ).on_conflict_do_update(index_elements=["campaign_id", "name"], set_=row)
        )


async def _upsert_links(
    connection: AsyncConnection, campaign_id: int, input: UpsertCampaignSpec
) -> None:
    statement = dialect_insert(connection, LinkModel.__table__)
    for index, link in enumerate(input.links or []):
        row = {"label": link.label, "position": link.position or index + 1}
        await connection.execute(
            statement.values(campaign_id=campaign_id, url=link.url, **row).on_conflict_do_update(
                index_elements=["campaign_id", "url"], set_=row
            )
        )


async def _external_ids_taken(
    connection: AsyncConnection, organization_id: int, wanted: dict[str, str | None]
) -> set[str]:
    """External ids that another contact (another email) of the organization already has."""
    if not wanted:
        return set()
    rows = await connection.execute(
        select(Contact.external_id, Contact.email).where(
            Contact.organization_id == organization_id, Contact.external_id.in_(sorted(wanted))
        )
    )
    return {row.external_id for row in rows if wanted[row.external_id] != row.email}


async def add_recipients(info: Info, input: AddRecipientsSpec) -> AddRecipientsResult:
    """Add contacts to a campaign; suppressed contacts are recorded NOT_SENT with the reason."""
    info.context.require(Role.INTEGRATION)
    errors = UserErrors()
    organization_id = info.context.organization_id
    campaign = await campaign_by_reference(info, input.campaign_id)
    if campaign is None:
        errors.add(["input", "campaignId"], "no such campaign", "NOT_FOUND")
    if len(input.contacts) > 10_000:
        errors.add(["input", "contacts"], "at most 10,000 contacts a call", "INVALID")
    contacts: dict[str, dict[str, Any]] = {}
    external_ids: dict[str, str | None] = {}
    for index, contact in enumerate(input.contacts):
        path: list[str | int] = ["input", "contacts", index]
        email = _email(errors, [*path, "email"], contact.email)
        owner = _email(errors, [*path, "ownerEmail"], contact.owner_email)
        errors.check_text([*path, "name"], contact.name, 300)
        errors.check_text([*path, "externalId"], contact.external_id, 200)
        if contact.external_id and external_ids.setdefault(contact.external_id, email) != email:
            errors.add([*path, "externalId"], "externalId is given to two contacts", "DUPLICATE")
        merge_fields = None
        if contact.merge_fields is not None:
            merge_fields = [(field.name, field.value) for field in contact.merge_fields]
            for problem in check_merge_fields(merge_fields):
                where = [*path, "mergeFields"]
                if problem.index is not None and problem.part is not None:
                    where += [problem.index, problem.part]
                errors.add(where, problem.message, problem.code)
        if email:
            contacts[email] = {
                "email": email,
                "name": contact.name,
                "external_id": contact.external_id,
                "owner": owner,
                "merge_fields": merge_fields,
            }
    if errors or campaign is None:
        return AddRecipientsResult(added=0, skipped=0, user_errors=errors.errors)

    async def store(connection: AsyncConnection) -> tuple[list[UserError], set[int], set[int]]:
        """(refusals, new recipient ids, campaigns of kept events applied); run again whole
        after an aborted transaction, so it starts from no refusals of its own."""
        refusals = UserErrors()
        variant_id = None
        if input.variant_name:
            variant_id = (
                await connection.execute(
                    select(Variant.id).where(
                        Variant.campaign_id == campaign.id, Variant.name == input.variant_name
                    )
                )
            ).scalar_one_or_none()
            if variant_id is None:
                refusals.add(
                    ["input", "variantName"],
                    f"the campaign has no variant {input.variant_name!r}",
                    "NOT_FOUND",
                )
                return refusals.errors, set(), set()
        taken = await _external_ids_taken(connection, organization_id, external_ids)
        for index, contact in enumerate(input.contacts):
            if contact.external_id in taken:
                refusals.add(
                    ["input", "contacts", index, "externalId"],
                    f"externalId {contact.external_id!r} belongs to another contact",
                    "DUPLICATE",
                )
        if refusals:
            return refusals.errors, set(), set()
        owners = {
            e: await _user_id(connection, organization_id, e)
            for e in sorted({c["owner"] for c in contacts.values() if c["owner"]})
        }
        # Contacts written in email order, as ingest writes them: concurrent writers wait for
        # each other's rows instead of deadlocking.
        in_email_order = [contacts[email] for email in sorted(contacts)]
        await connection.execute(
            dialect_insert(connection, Contact.__table__).on_conflict_do_nothing(),
            [
                {
                    "organization_id": organization_id,
                    "email": c["email"],
                    "created_at": datetime.now(UTC),
                }
                for c in in_email_order
            ],
        )
        # Given fields overwrite, missing ones keep what the contact had: one executemany.
        changes = [
            {
                "wanted_email": wanted["email"],
                "new_name": wanted["name"],
                "new_external_id": wanted["external_id"],
                "new_owner_id": owners.get(wanted["owner"]) if wanted["owner"] else None,
            }
            for wanted in in_email_order
            if wanted["name"] or wanted["external_id"] or wanted["owner"]
        ]
        if changes:
            await connection.execute(
                update(Contact)
                .where(
                    Contact.organization_id == organization_id,
                    Contact.email == bindparam("wanted_email"),
                )
                .values(
                    name=func.coalesce(bindparam("new_name"), Contact.name),
                    external_id=func.coalesce(bindparam("new_external_id"), Contact.external_id),
                    owner_id=func.coalesce(bindparam("new_owner_id"), Contact.owner_id),
                ),
                changes,
            )
        found = (
            await connection.execute(
                select(
                    Contact.id, Contact.email, Contact.owner_id, Contact.suppression_reason
                ).where(
                    Contact.organization_id == organization_id, Contact.email.in_(sorted(contacts))
                )
            )
        ).all()
        # A renamed contact's recipients (in every campaign) sort by the new name.
        await refresh_sort_keys(
            connection, contact_ids=[row.id for row in found if contacts[row.email]["name"]]
        )
        wanted = {(campaign.id, row.id): (variant_id, row.owner_id) for row in found}
        recipient_ids, new_ids = await ensure_recipients(connection, wanted, datetime.now(UTC))
        now = datetime.now(UTC)
        await save_merge_fields(
            connection,
            [
                GivenMergeFields(recipient_ids[(campaign.id, row.id)], fields, None)
                for row in found
                if (fields := contacts[row.email]["merge_fields"]) is not None
            ],
            now,
        )
        suppressed = [
            CanonicalEvent(
                key=f"suppressed:{campaign.id}:{row.id}",
                provider="system",
                type=ResponseType.NOT_SENT,
                occurred_at=now,
                campaign=campaign.external_id or "",
                contact_email=row.email,
                contact_external_id=None,
                contact_name=None,
                skip_reason=row.suppression_reason,
            )
            for row in found
            if row.suppression_reason and recipient_ids[(campaign.id, row.id)] in new_ids
        ]
        if suppressed:
            await apply_events(connection, organization_id, suppressed, now=now)
        applied = await apply_unmatched(connection, organization_id, [campaign.external_id or ""])
        # Issue 14: this campaign, and every campaign a renamed contact is a recipient of.
        renamed = [row.id for row in found if contacts[row.email]["name"]]
        touched = await versions.campaigns_of_contacts(connection, renamed)
        await versions.bump(connection, organization_id, {campaign.id, *touched})
        return [], new_ids, applied.campaign_ids

    # On PostgreSQL, where every writer of the organization takes its data-versions row, a
    # transaction aborted by a deadlock or a serialization failure runs again (bounded).
    refused, new_ids, applied_ids = await write(info, store)
    if refused:
        return AddRecipientsResult(added=0, skipped=0, user_errors=refused)
    if new_ids or applied_ids:
        await publish_campaigns_changed(info.context.database, {campaign.id, *applied_ids})
    await fresh_reads(info)
    added = len(new_ids)
    return AddRecipientsResult(added=added, skipped=len(input.contacts) - added, user_errors=[])
