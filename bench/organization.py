"""A realistic organization at a chosen size, written by a fast loader.

The loader writes exactly the tables ingest would (contacts with suppression, recipients with their
folded state, the responses history, and every pre-aggregated table) with set-based inserts. The
folded state and the aggregates come from the same pure functions ingest uses
(`recipient_state`, `contribution`), so `reconcile` finds no drift; the smoke test checks that.

Shape: one dashboard campaign with `recipients` recipients (two variants, four links, events over
48 hours), one campaign of `small_recipients` (same shape, for the 1k-versus-1M comparison), and
`list_campaigns` more campaigns of `list_recipients` each, for the campaign list.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text

from app.auth import Principal, create_key
from app.database import Database
from app.enums import ResponseType as T
from app.enums import Role
from app.ingest.aggregate_writer import AGGREGATE_TABLES
from app.ingest.apply import suppression_reason
from app.ingest.contributions import Contribution, RecipientContext, contribution
from app.ingest.fold_state import dumps, fold
from app.ingest.history import HistoryEntry
from app.ingest.recipient_state import recipient_state
from app.ingest.refold import state_columns
from app.models import ApiKey, Campaign, Link, Organization, Project, User, Variant

OWNERS = 5
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "example.nl", "example.de", "icloud.com"]
PLACES = [("NL", "Amsterdam"), ("NL", "Utrecht"), ("DE", "Berlin"), ("US", "New York"),
          ("GB", "London"), ("FR", "Paris")]  # fmt: skip
CLIENTS = [("Gmail", "Desktop", "Chrome", "Windows"), ("Apple Mail", "Mobile", None, "iOS"),
           ("Outlook", "Desktop", None, "Windows"), ("Gmail", "Mobile", "Chrome", "Android")]  # fmt: skip
LINK_URLS = [
    "https://example.com/sale",
    "https://example.com/pricing",
    "https://example.com/blog",
    "https://example.com/unsubscribe-preferences",
]
CHUNK = 20_000  # recipients generated, folded and written at a time

RESPONSE_COLUMNS = (
    "id", "organization_id", "campaign_id", "contact_id", "recipient_id", "variant_id",
    "link_id", "type", "occurred_at", "recorded_at", "source", "event_key", "provider",
    "amount_cents", "bounce_type", "bounce_category", "bounce_diagnostic", "skip_reason",
    "country", "city", "email_client", "device", "browser", "os", "machine", "bot",
)  # fmt: skip
RECIPIENT_STATE_COLUMNS = (
    "status", "skip_reason", "bounce_type", "bounce_category", "bounce_diagnostic", "sent_at",
    "delivered_at", "first_opened_at", "last_opened_at", "opens", "first_clicked_at", "clicks",
    "unsubscribed_at", "latest_response_id", "latest_response_at",
)  # fmt: skip
RECIPIENT_COLUMNS = (
    "id", "campaign_id", "contact_id", "variant_id", "owner_id", "created_at", "updated_at",
    "sort_name", "sort_email", *RECIPIENT_STATE_COLUMNS, "fold",
)  # fmt: skip
CONTACT_COLUMNS = (
    "id", "organization_id", "external_id", "email", "name", "owner_id", "created_at",
    "suppression_reason", "suppressed_at",
)  # fmt: skip
DATETIME_COLUMNS = {
    "occurred_at", "recorded_at", "created_at", "updated_at", "sent_at", "delivered_at",
    "first_opened_at", "last_opened_at", "first_clicked_at", "unsubscribed_at",
    "latest_response_at", "suppressed_at", "bucket_start",
}  # fmt: skip


@dataclass
class CampaignShape:
    id: int
    recipients: int
    sent_at: datetime
    variant_ids: list[int]
    link_ids: list[int]


@dataclass
class GeneratedOrganization:
    """What the benchmarks need to know about the generated data."""

    id: int
    admin_key: str
    principal: Principal
    dashboard: CampaignShape
    small: CampaignShape
    list_campaign_ids: list[int]
    contacts: int
    # Contact n (from 0) has id first_contact_id + n; recipient n of the dashboard campaign has
    # id first_recipient_id + n, variant "A" when n is even, owner n % OWNERS.
    first_contact_id: int = 0
    first_recipient_id: int = 0
    owner_ids: list[int] = field(default_factory=list)
    total_recipients: int = 0
    total_responses: int = 0
    seconds: float = 0.0
    next_response_id: int = 0
    suppressed: dict[int, str] = field(default_factory=dict)


# --- Writers: one for each backend, both taking Python values ---------------------------------


class SqliteBulk:
    """Set-based inserts with the stdlib sqlite3 module, storing values as SQLAlchemy would."""

    def __init__(self, path: str) -> None:
        import sqlite3

        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=OFF")
        self.connection.execute("PRAGMA cache_size=-262144")
        self.connection.execute("BEGIN")

    async def insert(
        self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        if not rows:
            return
        convert = [column in DATETIME_COLUMNS for column in columns]
        prepared = [
            tuple(
                sqlite_datetime(value) if is_datetime and value is not None else value
                for value, is_datetime in zip(row, convert, strict=True)
            )
            for row in rows
        ]
        marks = ", ".join("?" for _ in columns)
        self.connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", prepared
        )

    async def update_suppression(self, reasons: dict[int, str], now: datetime) -> None:
        self.connection.executemany(
            "UPDATE contacts SET suppression_reason = ?, suppressed_at = ? WHERE id = ?",
            [(reason, sqlite_datetime(now), cid) for cid, reason in reasons.items()],
        )

    async def finish(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.execute("ANALYZE")
        self.connection.close()


def sqlite_datetime(value: datetime) -> str:
    """How UTCDateTime stores an instant on SQLite: naive UTC, SQLAlchemy's text format."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class PostgresBulk:
    """COPY with asyncpg, in one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql+asyncpg://", "postgresql://")
        self.connection: Any = None
        self.transaction: Any = None

    async def start(self) -> None:
        import asyncpg

        self.connection = await asyncpg.connect(self.url)
        self.transaction = self.connection.transaction()
        await self.transaction.start()

    async def insert(
        self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        if rows:
            await self.connection.copy_records_to_table(table, records=rows, columns=list(columns))

    async def update_suppression(self, reasons: dict[int, str], now: datetime) -> None:
        await self.connection.executemany(
            "UPDATE contacts SET suppression_reason = $1, suppressed_at = $2 WHERE id = $3",
            [(reason, now, cid) for cid, reason in reasons.items()],
        )

    async def finish(self) -> None:
        for table in ("contacts", "recipients", "responses"):
            await self.connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        await self.transaction.commit()
        await self.connection.execute("ANALYZE")
        await self.connection.close()


# --- Events of one recipient ------------------------------------------------------------------


class EventMaker:
    """A recipient's realistic history: delivery, opens over 48 hours, clicks, conversions."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def history(self, shape: CampaignShape) -> list[tuple[T, datetime, dict[str, Any]]]:
        r = self.random.random
        start = shape.sent_at + timedelta(seconds=int(r() * 7200))
        end = shape.sent_at + timedelta(hours=48) - timedelta(seconds=1)
        events: list[tuple[T, datetime, dict[str, Any]]] = []
        roll = r()
        if roll < 0.01:
            return [(T.NOT_SENT, start, {"skip_reason": "PREVIOUSLY_BOUNCED"})]
        events.append((T.SENT, start, {}))
        roll = r()
        if roll < 0.02:
            return events + [(T.BOUNCED, start + timedelta(seconds=40), {
                "bounce_type": "HARD", "bounce_category": "USER_NOT_FOUND",
                "bounce_diagnostic": "550 5.1.1 user unknown"})]  # fmt: skip
        if roll < 0.03:
            return events + [(T.BOUNCED, start + timedelta(seconds=90), {
                "bounce_type": "SOFT", "bounce_category": "MAILBOX_FULL",
                "bounce_diagnostic": "452 4.2.2 mailbox full"})]  # fmt: skip
        if roll < 0.04:
            events.append((T.DEFERRED, start + timedelta(seconds=30), {}))
            if r() < 0.5:
                return events
        delivered = start + timedelta(seconds=20 + int(r() * 600))
        events.append((T.DELIVERED, delivered, {}))
        if r() < 0.35:
            country, city = PLACES[int(r() * len(PLACES))]
            client, device, browser, system = CLIENTS[int(r() * len(CLIENTS))]
            where = {"country": country, "city": city, "email_client": client, "device": device,
                     "browser": browser, "os": system}  # fmt: skip
            moment = delivered
            machine = client == "Apple Mail" and r() < 0.5
            for _ in range(1 + int(r() * r() * 4)):
                moment = min(end, moment + timedelta(seconds=int(r() * r() * 30 * 3600)))
                events.append((T.OPENED, moment, where | {"machine": machine}))
            if r() < 0.25:
                for _ in range(1 + int(r() * 1.6)):
                    moment = min(end, moment + timedelta(seconds=5 + int(r() * 600)))
                    link = shape.link_ids[int(r() * r() * len(shape.link_ids))]
                    events.append((T.CLICKED, moment, where | {"link_id": link, "bot": r() < 0.04}))
                if r() < 0.08:
                    events.append((T.PURCHASED, min(end, moment + timedelta(minutes=20)),
                                   {"amount_cents": 1000 + int(r() * 20000)}))  # fmt: skip
                elif r() < 0.1:
                    events.append((T.LEAD, min(end, moment + timedelta(minutes=5)), {}))
            if r() < 0.01:
                events.append((T.UNSUBSCRIBED, min(end, moment + timedelta(minutes=1)), {}))
            elif r() < 0.002:
                events.append((T.COMPLAINED, min(end, moment + timedelta(minutes=2)), {}))
        return events


# --- The loader -------------------------------------------------------------------------------


async def _create_structure(
    database: Database, name: str, sizes: list[int], now: datetime
) -> tuple[int, str, Principal, list[int], list[CampaignShape]]:
    """Organization, key, owners, project, campaigns, variants, links (few rows: SQLAlchemy)."""
    async with database.write() as connection:
        organization_id = (
            await connection.execute(
                insert(Organization)
                .values(name=name, timezone="UTC", created_at=now)
                .returning(Organization.id)
            )
        ).scalar_one()
        key_id, key = await create_key(connection, organization_id, Role.ADMIN, "bench")
        prefix = (
            await connection.execute(select(ApiKey.prefix).where(ApiKey.id == key_id))
        ).scalar_one()
        owner_ids = list(
            (
                await connection.execute(
                    insert(User).returning(User.id),
                    [
                        {
                            "organization_id": organization_id,
                            "name": f"Owner {n}",
                            "email": f"owner{n}@{name}.example",
                        }  # fmt: skip
                        for n in range(OWNERS)
                    ],
                )
            ).scalars()
        )
        project_id = (
            await connection.execute(
                insert(Project)
                .values(organization_id=organization_id, name="Newsletters")
                .returning(Project.id)
            )
        ).scalar_one()
        base = (now - timedelta(days=len(sizes) + 3)).replace(minute=0, second=0, microsecond=0)
        shapes = []
        for number, size in enumerate(sizes):
            # The dashboard campaign is the newest, then the small one, then the list.
            sent_at = base + timedelta(days=len(sizes) - number)
            campaign_id = (
                await connection.execute(
                    insert(Campaign)
                    .values(
                        organization_id=organization_id,
                        external_id=f"campaign-{number}",
                        name=f"Campaign {number}",
                        subject=f"News {number}",
                        status="SENT",
                        channel="EMAIL",
                        project_id=project_id,
                        sender_id=owner_ids[0],
                        from_email="news@example.com",
                        created_at=sent_at - timedelta(hours=1),
                        sent_at=sent_at,
                        cost_cents=50_000 + number,
                    )
                    .returning(Campaign.id)
                )
            ).scalar_one()
            variant_ids = list(
                (
                    await connection.execute(
                        insert(Variant).returning(Variant.id),
                        [
                            {
                                "campaign_id": campaign_id,
                                "name": "A",
                                "subject": "News A",
                                "is_control": True,
                                "factors": [{"name": "subject", "value": "A"}],
                            },
                            {
                                "campaign_id": campaign_id,
                                "name": "B",
                                "subject": "News B",
                                "is_control": False,
                                "factors": [{"name": "subject", "value": "B"}],
                            },
                        ],  # fmt: skip
                    )
                ).scalars()
            )
            link_ids = list(
                (
                    await connection.execute(
                        insert(Link).returning(Link.id),
                        [
                            {
                                "campaign_id": campaign_id,
                                "url": url,
                                "label": f"Link {position}",
                                "position": position,
                            }  # fmt: skip
                            for position, url in enumerate(LINK_URLS, start=1)
                        ],
                    )
                ).scalars()
            )
            shapes.append(CampaignShape(campaign_id, size, sent_at, variant_ids, link_ids))
        # Ids continue after whatever the database holds already.
        starts = []
        for table in ("contacts", "recipients", "responses"):
            starts.append(
                int(
                    (
                        await connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}"))
                    ).scalar_one()
                )
            )
    principal = Principal(organization_id, Role.ADMIN, key_id, prefix, "UTC")
    return organization_id, key, principal, owner_ids + starts, shapes


async def generate(
    database: Database,
    database_url: str,
    recipients: int,
    small_recipients: int = 1000,
    list_campaigns: int = 118,
    list_recipients: int = 50,
    seed: int = 7,
    name: str | None = None,
    progress: Any = None,
) -> GeneratedOrganization:
    """Write an organization of the given size; see the module docstring for its shape."""
    import time

    began = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    name = name or f"bench-{int(time.time() * 1000)}"
    sizes = [recipients, small_recipients] + [list_recipients] * list_campaigns
    organization_id, key, principal, numbers, shapes = await _create_structure(
        database, name, sizes, now
    )
    owner_ids = numbers[:OWNERS]
    contact_start, recipient_start, response_start = numbers[OWNERS:]
    contacts = max(sizes)

    if database.sqlite:
        writer: Any = SqliteBulk(database_url.split(":///", 1)[1])
    else:
        writer = PostgresBulk(database_url)
        await writer.start()

    # Contacts: the dashboard campaign reaches all of them; the others reach the first ones.
    for first in range(0, contacts, CHUNK):
        await writer.insert(
            "contacts",
            CONTACT_COLUMNS,
            [
                (
                    contact_start + 1 + n,
                    organization_id,
                    f"c-{n}",
                    f"person{n}@{DOMAINS[n % len(DOMAINS)]}",
                    f"Person {n}",
                    owner_ids[n % OWNERS],
                    now,
                    None,
                    None,
                )  # fmt: skip
                for n in range(first, min(contacts, first + CHUNK))
            ],
        )

    maker = EventMaker(seed)
    response_ids = iter(range(response_start + 1, 1 << 62))
    recipient_number = recipient_start
    totals: Contribution = {}
    suppressed: dict[int, str] = {}
    total_responses = 0
    for shape in shapes:
        for first in range(0, shape.recipients, CHUNK):
            recipient_rows, response_rows = [], []
            for n in range(first, min(shape.recipients, first + CHUNK)):
                recipient_number += 1
                contact_id = contact_start + 1 + n
                variant_id = shape.variant_ids[n % 2]
                owner_id = owner_ids[n % OWNERS]
                email = f"person{n}@{DOMAINS[n % len(DOMAINS)]}"
                history = []
                for kind, moment, extra in maker.history(shape):
                    response_id = next(response_ids)
                    entry = HistoryEntry(id=response_id, type=kind, occurred_at=moment, **extra)
                    history.append(entry)
                    response_rows.append(
                        (
                            response_id,
                            organization_id,
                            shape.id,
                            contact_id,
                            recipient_number,
                            variant_id,
                            entry.link_id,
                            kind.value,
                            moment,
                            now,
                            "TRACKED",
                            f"canonical:gen-{response_id}",
                            "canonical",
                            entry.amount_cents,
                            entry.bounce_type,
                            entry.bounce_category,
                            entry.bounce_diagnostic,
                            entry.skip_reason,
                            entry.country,
                            entry.city,
                            entry.email_client,
                            entry.device,
                            entry.browser,
                            entry.os,
                            entry.machine,
                            entry.bot,
                        )  # fmt: skip
                    )
                    reason = suppression_reason(kind, entry.bounce_type)
                    if reason:
                        suppressed.setdefault(contact_id, reason.value)
                state = state_columns(recipient_state(history))
                recipient_rows.append(
                    (
                        recipient_number,
                        shape.id,
                        contact_id,
                        variant_id,
                        owner_id,
                        now,
                        now,
                        f"person {n}",  # the contact's lower(name or email), as ingest copies it
                        email,
                        *(state[column] for column in RECIPIENT_STATE_COLUMNS),
                        dumps(fold(history)),  # the summary ingest folds new events into
                    )  # fmt: skip
                )
                context = RecipientContext(shape.id, variant_id, owner_id, contact_id, email)
                for aggregate_key, counters in contribution(context, history).items():
                    stored = totals.get(aggregate_key)
                    if stored is None:
                        totals[aggregate_key] = dict(counters)
                    else:
                        for counter, amount in counters.items():
                            stored[counter] = stored.get(counter, 0) + amount
            await writer.insert("recipients", RECIPIENT_COLUMNS, recipient_rows)
            await writer.insert("responses", RESPONSE_COLUMNS, response_rows)
            total_responses += len(response_rows)
            if progress:
                progress(shape.id, min(shape.recipients, first + CHUNK), shape.recipients)

    await writer.update_suppression(suppressed, now)
    by_table: dict[str, list[tuple[Any, ...]]] = {}
    for (table_name, aggregate_key), counters in totals.items():
        _, key_columns, counter_columns = AGGREGATE_TABLES[table_name]
        row = (*aggregate_key, *(counters.get(c, 0) for c in counter_columns))
        if table_name == "campaign_stats":
            row = (*row, now)
        by_table.setdefault(table_name, []).append(row)
    for table_name, table_rows in by_table.items():
        _, key_columns, counter_columns = AGGREGATE_TABLES[table_name]
        columns = (*key_columns, *counter_columns)
        if table_name == "campaign_stats":
            columns = (*columns, "updated_at")
        await writer.insert(table_name, columns, sorted(table_rows))
    await writer.finish()

    return GeneratedOrganization(
        id=organization_id,
        admin_key=key,
        principal=principal,
        dashboard=shapes[0],
        small=shapes[1],
        list_campaign_ids=[shape.id for shape in shapes[2:]],
        contacts=contacts,
        first_contact_id=contact_start + 1,
        first_recipient_id=recipient_start + 1,
        owner_ids=owner_ids,
        total_recipients=sum(sizes),
        total_responses=total_responses,
        seconds=time.perf_counter() - began,
        next_response_id=next(response_ids),
        suppressed=suppressed,
    )
