"""`campaign-graph demo`: loads the demo organization through the ingest path."""

import random
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app import versions
from app.auth import create_key
from app.database import Database, in_chunks
from app.demo.generator import (
    FIRST_CAMPAIGN_CAST,
    LATER_CAMPAIGN_CAST,
    DemoContact,
    address_book,
    campaign_scripts,
    recipient_counts,
)
from app.demo.messages import message_html
from app.demo.plans import (
    CAMPAIGNS,
    FROM_EMAIL,
    HORIZON,
    OWNERS,
    PROJECTS,
    SENDER,
    TIMEZONE,
)
from app.enums import Role
from app.ingest.apply import IngestResult, apply_events
from app.ingest.events import parse_event
from app.models import Campaign, Contact, Link, Project, User, Variant
from app.organizations import create_organization, organization_by_name

SEED = 20261123
BATCH_SIZE = 1000
MINIMUM_RECIPIENTS = 50
# Contacts in the address book per recipient: campaigns overlap, so suppression shows.
CONTACTS_PER_RECIPIENT = 0.45


class DemoError(ValueError):
    """A demo that cannot be loaded as asked; the message says why."""


async def create_demo_organization(
    connection: AsyncConnection, name: str, today: datetime
) -> tuple[int, list[int]]:
    """The organization, its users (owners and the sender), projects, campaigns, variants and
    links; the organization's id and the owners' ids."""
    organization_id = await create_organization(connection, name, TIMEZONE)
    user_ids = []
    for user_name, email in (*OWNERS, SENDER):
        user_ids.append(
            (
                await connection.execute(
                    insert(User)
                    .values(organization_id=organization_id, name=user_name, email=email)
                    .returning(User.id)
                )
            ).scalar_one()
        )
    project_ids = {}
    for project in PROJECTS:
        project_ids[project] = (
            await connection.execute(
                insert(Project)
                .values(organization_id=organization_id, name=project)
                .returning(Project.id)
            )
        ).scalar_one()
    for plan in CAMPAIGNS:
        sent_at = plan.sent_at(today)
        campaign_id = (
            await connection.execute(
                insert(Campaign)
                .values(
                    organization_id=organization_id,
                    external_id=plan.external_id,
                    name=plan.name,
                    subject=plan.subject,
                    status="SENT",
                    channel="EMAIL",
                    project_id=project_ids[plan.project],
                    sender_id=user_ids[-1],
                    from_email=FROM_EMAIL,
                    selection=plan.selection,
                    created_at=sent_at - timedelta(days=2, hours=3),
                    sent_at=sent_at,
                    cost_cents=plan.cost_cents,
                )
                .returning(Campaign.id)
            )
        ).scalar_one()
        await connection.execute(
            insert(Variant),
            [
                {
                    "campaign_id": campaign_id,
                    "name": variant.name,
                    "subject": variant.subject,
                    "html": message_html(plan, variant),
                    "is_control": variant.is_control,
                    "factors": [{"name": n, "value": v} for n, v in variant.factors],
                }
                for variant in plan.variants
            ],
        )
        await connection.execute(
            insert(Link),
            [
                {"campaign_id": campaign_id, "url": link.url, "label": link.label, "position": n}
                for n, link in enumerate(plan.links, start=1)
            ],
        )
    return organization_id, user_ids[: len(OWNERS)]


async def store_contacts(
    connection: AsyncConnection,
    organization_id: int,
    contacts: Sequence[DemoContact],
    owner_ids: list[int],
) -> None:
    """Insert the address book, with each contact's owner."""
    now = datetime.now(UTC)
    rows = [
        {
            "organization_id": organization_id,
            "external_id": f"crm-{contact.number:06d}",
            "email": contact.email,
            "name": contact.name,
            "owner_id": owner_ids[contact.owner] if contact.owner is not None else None,
            "created_at": now,
        }
        for contact in contacts
    ]
    for chunk in in_chunks(rows):
        await connection.execute(insert(Contact), chunk)


def batches(scripts: Sequence[list[dict[str, Any]]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Batches of at most `size` events, each recipient's events in one batch (fewer histories
    to read and fold again)."""
    batch: list[dict[str, Any]] = []
    for script in scripts:
        if batch and len(batch) + len(script) > size:
            yield batch
            batch = []
        batch.extend(script)
    if batch:
        yield batch


async def new_admin_key(database: Database, organization_id: int) -> str:
    async with database.write() as connection:
        _, key = await create_key(connection, organization_id, Role.ADMIN, "demo")
    return key


async def load_demo(
    database: Database, recipients: int, organization_name: str, console: Console
) -> str:
    """Load the demo organization through the ingest path; a new ADMIN key for it.

    When the organization exists already, nothing is loaded again: only a fresh key is made.
    """
    async with database.read() as connection:
        found = await organization_by_name(connection, organization_name)
    if found is not None:
        console.print(
            f"organization {organization_name!r} exists already: its data is kept, not loaded "
            "again; creating a fresh ADMIN key"
        )
        return await new_admin_key(database, found)
    if recipients < MINIMUM_RECIPIENTS:
        raise DemoError(f"--recipients must be at least {MINIMUM_RECIPIENTS}")

    started = time.perf_counter()
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(SEED)
    contacts = address_book(rng, max(int(recipients * CONTACTS_PER_RECIPIENT), 40))

    # Draw every campaign's recipients and events first, in send order, so that suppression by
    # earlier campaigns shows in later ones; then store them.
    campaigns: list[list[list[dict[str, Any]]]] = []
    for number, (plan, size) in enumerate(
        zip(CAMPAIGNS, recipient_counts(recipients), strict=True)
    ):
        sent_at = plan.sent_at(today)
        latest = min(sent_at + HORIZON, now - timedelta(minutes=1))
        cast = FIRST_CAMPAIGN_CAST if number == 0 else LATER_CAMPAIGN_CAST
        campaigns.append(campaign_scripts(rng, plan, contacts, size, sent_at, latest, cast))
    # Validated like any sender's events (POST /events): the demo cannot store what a sender
    # could not.
    events = [
        [parse_event(raw, now) for raw in batch]
        for scripts in campaigns
        for batch in batches(scripts, BATCH_SIZE)
    ]
    total_events = sum(len(batch) for batch in events)

    result = IngestResult()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("demo events", total=total_events)
        async with database.write() as connection:
            organization_id, owner_ids = await create_demo_organization(
                connection, organization_name, today
            )
            await store_contacts(connection, organization_id, contacts, owner_ids)
            await versions.bump(connection, organization_id, ())  # issue 14
        # Each event's first sight of a contact in a campaign makes it a recipient, with the
        # contact's owner and the event's variant, as for any sender.
        for batch in events:
            async with database.write() as connection:
                result.merge(await apply_events(connection, organization_id, batch))
            progress.advance(task, len(batch))
        key = await new_admin_key(database, organization_id)

    seconds = time.perf_counter() - started
    console.print(
        f"demo organization {organization_name!r}: {len(CAMPAIGNS)} campaigns, "
        f"{recipients:,} recipients, {result.accepted:,} events in {seconds:.1f} s "
        f"({result.accepted / seconds:,.0f} events/s)"
    )
    return key
