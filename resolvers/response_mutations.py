"""recordResponse, updateResponseStatus, deleteResponses: what admins change by hand.

Input is checked first (every problem reported at once, as userErrors); ids are then checked in
the write transaction itself (app/ingest/manual.py), so a refused input writes nothing. The
payload is read after the commit, so it shows the recipient's new state; the campaign's live
subscribers are told after the commit too.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from app import instants
from app.enums import ResponseType, Role
from app.ids import parse_pk
from app.ingest import manual
from app.ingest.events import MAX_CLOCK_SKEW, EventError, parse_cents, parse_email
from app.pubsub import publish_campaigns_changed
from app.telemetry import count_events
from resolvers import campaigns, recipients, responses
from resolvers.context import Info
from resolvers.records import DeleteResponsesResult, RecordResponseResult
from resolvers.user_errors import UserErrors

MAX_NOTE = 2000
Written = TypeVar("Written")

# What these mutations read of their inputs. The schema's input types have these attributes, so
# they are passed as they are: resolvers need not know the schema's classes.


class RecordResponseSpec(Protocol):
    @property
    def campaign_id(self) -> str: ...
    @property
    def contact_id(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def type(self) -> ResponseType: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def note(self) -> str | None: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def variant_id(self) -> str | None: ...
    @property
    def link_id(self) -> str | None: ...


class UpdateResponseStatusSpec(Protocol):
    @property
    def recipient_id(self) -> str: ...
    @property
    def type(self) -> ResponseType: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def note(self) -> str | None: ...
    @property
    def amount(self) -> Decimal | None: ...


class DeleteResponsesSpec(Protocol):
    @property
    def campaign_id(self) -> str: ...
    @property
    def contact_id(self) -> str: ...
    @property
    def note(self) -> str | None: ...


def _pk(errors: UserErrors, field: str, value: str | None, type_name: str, noun: str) -> int | None:
    """The primary key of a global id; a malformed id or one of another type is not found."""
    if value is None:
        return None
    pk = parse_pk(value, type_name)
    if pk is None:
        errors.add(["input", field], f"no such {noun}", "NOT_FOUND")
    return pk


async def _campaign_pk(info: Info, errors: UserErrors, reference: str) -> int | None:
    """The primary key of the organization's campaign named by its global id or external id."""
    campaign = await campaigns.campaign_by_reference(info, reference)
    if campaign is None:
        errors.add(["input", "campaignId"], "no such campaign", "NOT_FOUND")
        return None
    return int(campaign.id)


def _check_occurred_at(errors: UserErrors, occurred_at: datetime) -> datetime | None:
    try:
        occurred_at = instants.checked(occurred_at, "occurredAt")
    except instants.InstantError as exc:
        errors.add(["input", "occurredAt"], str(exc), "INVALID")
        return None
    if occurred_at > datetime.now(UTC) + MAX_CLOCK_SKEW:
        errors.add(["input", "occurredAt"], "occurredAt is in the future", "FUTURE")
        return None
    return occurred_at


def _check_amount(errors: UserErrors, kind: ResponseType, amount: Decimal | None) -> int | None:
    if amount is None:
        return None
    if kind is not ResponseType.PURCHASED:
        errors.add(["input", "amount"], "amount is only for PURCHASED responses", "NOT_ALLOWED")
        return None
    try:
        return parse_cents(str(amount))
    except EventError as exc:
        errors.add(["input", "amount"], str(exc), "INVALID")
        return None


def _check_response(
    errors: UserErrors,
    kind: ResponseType,
    occurred_at: datetime,
    note: str | None,
    amount: Decimal | None,
) -> manual.ManualResponse | None:
    """The parts every manual response shares, checked."""
    moment = _check_occurred_at(errors, occurred_at)
    amount_cents = _check_amount(errors, kind, amount)
    if note is not None and len(note) > MAX_NOTE:
        errors.add(["input", "note"], f"note is longer than {MAX_NOTE} characters", "TOO_LONG")
    if moment is None:
        return None
    return manual.ManualResponse(
        type=ResponseType(kind.value), occurred_at=moment, note=note, amount_cents=amount_cents
    )


def _add_problems(errors: UserErrors, error: manual.ManualInputError) -> None:
    for problem in error.problems:
        errors.add(["input", problem.field], problem.message, problem.code)


async def _payload(info: Info, recorded: manual.Recorded) -> RecordResponseResult:
    await publish_campaigns_changed(info.context.database, [recorded.campaign_id])
    count_events(info.context.request, "manual", "accepted")
    await fresh_reads(info)
    return RecordResponseResult(
        response=await responses.response_row(info, recorded.response_id),
        recipient=await recipients.recipient_row(info, recorded.recipient_id),
        user_errors=[],
    )


async def fresh_reads(info: Info) -> None:
    """Forget what this operation read before a committed write: its read snapshot and every
    dataloader's cached rows may be older than the write (a campaign's totals, its variants' and
    links' counters, recipient pages...), and a later field or mutation of the same document
    must see the new numbers."""
    await info.context.close()
    info.context.forget_reads()


async def write(info: Info, work: Callable[[AsyncConnection], Awaitable[Written]]) -> Written:
    """A mutation's write transaction (run again whole if the database aborts it).

    The operation's read connection goes back to the pool first: a request never holds one
    pooled connection while it waits for another. Otherwise as many concurrent mutations as the
    pool has connections would each hold a read (a campaign looked up, a payload read by an
    earlier mutation of the document) and wait for a write connection until the pool's timeout.
    """
    await info.context.close()
    return await info.context.database.retrying_write(work)


async def record_response(info: Info, input: RecordResponseSpec) -> RecordResponseResult:
    """ADMIN: record a response of a contact (by id or email) to a campaign by hand."""
    info.context.require(Role.ADMIN)
    errors = UserErrors()
    campaign_pk = await _campaign_pk(info, errors, input.campaign_id)
    contact_pk = _pk(errors, "contactId", input.contact_id, "Contact", "contact")
    variant_pk = _pk(errors, "variantId", input.variant_id, "Variant", "variant")
    link_pk = _pk(errors, "linkId", input.link_id, "Link", "link")
    email = None
    if input.contact_id is None and input.email is None:
        errors.add(["input", "contactId"], "give the contact's contactId or email", "REQUIRED")
    elif input.contact_id is not None and input.email is not None:
        errors.add(["input", "email"], "give contactId or email, not both", "INVALID")
    elif input.email is not None:
        try:
            email = parse_email(input.email, "email")
        except EventError as exc:
            errors.add(["input", "email"], str(exc), "INVALID")
    kind = ResponseType(input.type.value)
    if input.link_id is not None and kind is not ResponseType.CLICKED:
        errors.add(["input", "linkId"], "linkId is only for CLICKED responses", "NOT_ALLOWED")
    response = _check_response(errors, kind, input.occurred_at, input.note, input.amount)
    if errors or response is None:
        return RecordResponseResult(response=None, recipient=None, user_errors=errors.errors)

    response = manual.ManualResponse(
        type=response.type,
        occurred_at=response.occurred_at,
        note=response.note,
        amount_cents=response.amount_cents,
        variant_id=variant_pk,
        link_id=link_pk,
    )
    try:
        recorded = await write(
            info,
            lambda connection: manual.record_manual(
                connection,
                info.context.organization_id,
                campaign_pk,
                response,
                recorded_by=info.context.principal.label,
                contact_id=contact_pk,
                email=email,
            ),
        )
    except manual.ManualInputError as error:
        _add_problems(errors, error)
        return RecordResponseResult(response=None, recipient=None, user_errors=errors.errors)
    return await _payload(info, recorded)


async def update_response_status(
    info: Info, input: UpdateResponseStatusSpec
) -> RecordResponseResult:
    """ADMIN: a new response for an existing recipient; its earlier ones stay in the history."""
    info.context.require(Role.ADMIN)
    errors = UserErrors()
    recipient_pk = _pk(errors, "recipientId", input.recipient_id, "Recipient", "recipient")
    kind = ResponseType(input.type.value)
    response = _check_response(errors, kind, input.occurred_at, input.note, input.amount)
    if errors or response is None:
        return RecordResponseResult(response=None, recipient=None, user_errors=errors.errors)
    try:
        recorded = await write(
            info,
            lambda connection: manual.update_status(
                connection,
                info.context.organization_id,
                recipient_pk,
                response,
                recorded_by=info.context.principal.label,
            ),
        )
    except manual.ManualInputError as error:
        _add_problems(errors, error)
        return RecordResponseResult(response=None, recipient=None, user_errors=errors.errors)
    return await _payload(info, recorded)


async def delete_responses(info: Info, input: DeleteResponsesSpec) -> DeleteResponsesResult:
    """ADMIN: soft-delete every response of a contact to a campaign, audited."""
    info.context.require(Role.ADMIN)
    errors = UserErrors()
    campaign_pk = await _campaign_pk(info, errors, input.campaign_id)
    contact_pk = _pk(errors, "contactId", input.contact_id, "Contact", "contact")
    errors.check_text(["input", "note"], input.note, MAX_NOTE)
    if errors:
        return DeleteResponsesResult(deleted_count=0, recipient=None, user_errors=errors.errors)
    try:
        deleted = await write(
            info,
            lambda connection: manual.delete_responses(
                connection,
                info.context.organization_id,
                campaign_pk,
                contact_pk,
                deleted_by=info.context.principal.label,
                note=input.note,
            ),
        )
    except manual.ManualInputError as error:
        _add_problems(errors, error)
        return DeleteResponsesResult(deleted_count=0, recipient=None, user_errors=errors.errors)
    if deleted.deleted_count:
        await publish_campaigns_changed(info.context.database, [deleted.campaign_id])
    await fresh_reads(info)
    return DeleteResponsesResult(
        deleted_count=deleted.deleted_count,
        recipient=await recipients.recipient_row(info, deleted.recipient_id),
        user_errors=[],
    )
