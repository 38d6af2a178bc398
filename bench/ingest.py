"""Ingest throughput: fresh canonical events for the dashboard campaign's recipients, and the
set-based plain-driver floor writing the same rows in one transaction a batch."""

import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from app.ingest.automation import RULE_VERSION
from app.ingest.contributions import quarter_hour
from app.ingest.user_agent import ClientDetails, client_details
from app.models import ENGAGEMENT_COUNTERS, LINK_COUNTERS, STATS_COUNTERS, TIMELINE_COUNTERS
from bench.organization import DOMAINS, LINK_URLS, OWNERS, PLACES, GeneratedOrganization
from bench.raw import RawDatabase


class EventStream:
    """Engagement events (opens, clicks, some unsubscribes) on random recipients, each new."""

    def __init__(self, organization: GeneratedOrganization, label: str, seed: int) -> None:
        self.organization = organization
        self.label = label
        self.random = random.Random(seed)
        self.number = 0

    def event(self) -> tuple[int, dict[str, Any]]:
        """(recipient number n, the canonical event)."""
        r = self.random.random
        shape = self.organization.dashboard
        n = int(r() * shape.recipients)
        self.number += 1
        roll = r()
        kind = "OPENED" if roll < 0.7 else "CLICKED" if roll < 0.97 else "UNSUBSCRIBED"
        moment = shape.sent_at + timedelta(seconds=int(r() * 47 * 3600))
        country, city = PLACES[n % len(PLACES)]
        event: dict[str, Any] = {
            "id": f"{self.label}-{self.number}",
            "type": kind,
            "occurredAt": moment.isoformat().replace("+00:00", "Z"),
            "campaign": "campaign-0",
            "contact": {"email": f"person{n}@{DOMAINS[n % len(DOMAINS)]}"},
            "variant": "A" if n % 2 == 0 else "B",
            "country": country,
            "city": city,
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            "ip": "203.0.113.7",
        }
        if kind == "CLICKED":
            event["url"] = LINK_URLS[int(r() * r() * len(LINK_URLS))]
        return n, event

    def batch(self, size: int) -> list[dict[str, Any]]:
        return [self.event()[1] for _ in range(size)]

    def numbered_batch(self, size: int) -> list[tuple[int, dict[str, Any]]]:
        return [self.event() for _ in range(size)]


def write_events_file(organization: GeneratedOrganization, path: Path, count: int) -> None:
    """`count` fresh canonical events (NDJSON) for the dashboard campaign's recipients: a file
    for `campaign-graph ingest`."""
    stream = EventStream(organization, f"file-{int(time.time() * 1000)}", seed=7)
    with path.open("wb") as handle:
        for _ in range(count):
            handle.write(orjson.dumps(stream.event()[1]) + b"\n")


TIMELINE_FIELD = {"OPENED": "opens", "CLICKED": "clicks", "UNSUBSCRIBED": "unsubscribed"}
STATUS_RANK = {"OPENED": 1, "CLICKED": 2, "UNSUBSCRIBED": 3}

# What the floor writes, in this order, in one transaction a batch (README, BENCHMARKS.md):
FLOOR_DESCRIPTION = (
    "ingest floor: the plain driver (sqlite3 executemany / asyncpg executemany and unnest) "
    "writing, in one transaction a batch, the rows ingest writes: the batch's contacts upserted "
    "(ON CONFLICT DO NOTHING, as ingest creates missing ones) and unsubscribers suppressed; its "
    "recipients ensured (ON CONFLICT DO NOTHING) and their folded columns updated (status, "
    "opens, clicks, first/last open, first click, unsubscribed, latest response, updated_at) "
    "from the stored values and the batch's; every response row (all the columns ingest fills, "
    "client details included) inserted ON CONFLICT DO NOTHING RETURNING its id; and the "
    "aggregate upserts grouped per key (campaign_stats, timeline_buckets, engagement_stats for "
    "the email domain and each client/place dimension, link_stats, link_clicker_stats). Values "
    "are converted once a batch; no history read and no fold, so the per-recipient unique "
    "counters (opened, clicked, funnel) are not recomputed: a lower bound"
)

RESPONSE_COLUMNS = (
    ("organization_id", "bigint"), ("campaign_id", "bigint"), ("contact_id", "bigint"),
    ("recipient_id", "bigint"), ("variant_id", "bigint"), ("link_id", "bigint"),
    ("type", "text"), ("occurred_at", "timestamptz"), ("recorded_at", "timestamptz"),
    ("source", "text"), ("event_key", "text"), ("provider", "text"), ("country", "text"),
    ("city", "text"), ("user_agent", "text"), ("ip", "text"), ("email_client", "text"),
    ("device", "text"), ("browser", "text"), ("os", "text"), ("machine", "boolean"),
    ("bot", "boolean"), ("rule_version", "integer"),
)  # fmt: skip
RESPONSE_NAMES = ", ".join(name for name, _ in RESPONSE_COLUMNS)
# Rows per multi-row INSERT on SQLite: 23 columns x 400 rows stay under 32,766 parameters.
SQLITE_ROWS_PER_INSERT = 400


@dataclass
class RecipientChange:
    """What one batch changes in one recipient row."""

    opens: int = 0
    clicks: int = 0
    first_opened: datetime | None = None
    last_opened: datetime | None = None
    first_clicked: datetime | None = None
    unsubscribed: datetime | None = None
    status: str = ""
    latest: tuple[datetime, int] | None = None  # (occurred_at, response id)


def earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def latest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def upsert(
    table: str, key_columns: tuple[str, ...], counters: tuple[str, ...], stamped: bool = False
) -> str:
    """ingest's aggregate upsert (app/ingest/aggregate_writer.py): every counter added."""
    columns = [*key_columns, *counters, *(["updated_at"] if stamped else [])]
    updates = [f'"{c}" = {table}."{c}" + excluded."{c}"' for c in counters]
    updates += ["updated_at = excluded.updated_at"] if stamped else []
    names = ", ".join(f'"{c}"' for c in columns)
    return (
        f"INSERT INTO {table} ({names}) "
        f"VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {', '.join(updates)}"
    )


class PlainIngest:
    """The floor (FLOOR_DESCRIPTION): ingest's writes, set-based through the plain driver."""

    def __init__(
        self, raw: RawDatabase, organization: GeneratedOrganization, link_ids: list[int]
    ) -> None:
        self.raw = raw
        self.organization = organization
        self.links = dict(zip(LINK_URLS, link_ids, strict=True))
        self.clients: dict[str, ClientDetails] = {}
        sqlite = raw.sqlite
        self.least = "coalesce(min({0}, ?), {0}, ?)" if sqlite else "LEAST({0}, ?)"
        self.greatest = "coalesce(max({0}, ?), {0}, ?)" if sqlite else "GREATEST({0}, ?)"

    def client(self, agent: str) -> ClientDetails:
        found = self.clients.get(agent)
        if found is None:
            found = self.clients[agent] = client_details(agent)
        return found

    async def insert_responses(self, rows: list[tuple[Any, ...]]) -> dict[str, int]:
        """Response ids by event key, of the rows inserted (a replayed key inserts nothing)."""
        raw = self.raw
        ids: dict[str, int] = {}
        if raw.sqlite:
            width = len(RESPONSE_COLUMNS)
            one = "(" + ", ".join("?" * width) + ")"
            for start in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
                chunk = rows[start : start + SQLITE_ROWS_PER_INSERT]
                found = await raw.fetch(
                    f"INSERT INTO responses ({RESPONSE_NAMES}) VALUES "
                    + ", ".join([one] * len(chunk))
                    + " ON CONFLICT (organization_id, event_key) DO NOTHING RETURNING id, event_key",
                    *[value for row in chunk for value in row],
                )
                ids.update({key: rid for rid, key in found})
            return ids
        arrays = ", ".join(
            f"${number}::{kind}[]" for number, (_, kind) in enumerate(RESPONSE_COLUMNS, 1)
        )
        raw.sent += 1
        found = await raw.connection.fetch(
            f"INSERT INTO responses ({RESPONSE_NAMES}) SELECT * FROM unnest({arrays}) "
            "ON CONFLICT (organization_id, event_key) DO NOTHING RETURNING id, event_key",
            *[list(column) for column in zip(*rows, strict=True)],
        )
        return {key: rid for rid, key in found}

    async def apply(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        organization = self.organization
        shape = organization.dashboard
        now = datetime.now(UTC)
        responses: list[tuple[Any, ...]] = []
        emails: dict[int, str] = {}
        suppressed: set[int] = set()
        wanted: dict[int, tuple[int, int, int, int]] = {}  # recipient -> its row's keys
        changes: dict[int, RecipientChange] = {}
        of_key: dict[str, tuple[int, datetime]] = {}  # event key -> (recipient, occurred_at)
        stats: Counter[tuple[int, int, int, str]] = Counter()
        timeline: Counter[tuple[int, int, datetime, str]] = Counter()
        engagement: Counter[tuple[int, str, str, str]] = Counter()
        link_stats: Counter[tuple[int, int]] = Counter()
        clickers: Counter[tuple[int, int]] = Counter()
        for n, event in batch:
            kind = event["type"]
            moment = datetime.fromisoformat(event["occurredAt"])
            contact_id = organization.first_contact_id + n
            recipient_id = organization.first_recipient_id + n
            variant_id = shape.variant_ids[n % 2]
            owner_id = organization.owner_ids[n % OWNERS]
            link_id = self.links.get(event.get("url", ""))
            email = event["contact"]["email"]
            client = self.client(event["userAgent"])
            key = f"canonical:{event['id']}"
            emails[contact_id] = email
            wanted[recipient_id] = (shape.id, contact_id, variant_id, owner_id)
            of_key[key] = (recipient_id, moment)
            responses.append(
                (
                    organization.id,
                    shape.id,
                    contact_id,
                    recipient_id,
                    variant_id,
                    link_id,
                    kind,
                    moment,
                    now,
                    "TRACKED",
                    key,
                    "canonical",
                    event["country"],
                    event["city"],
                    event["userAgent"],
                    event["ip"],
                    client.email_client,
                    client.device,
                    client.browser,
                    client.os,
                    False,
                    False,
                    RULE_VERSION,
                )  # fmt: skip
            )
            change = changes.setdefault(recipient_id, RecipientChange())
            if STATUS_RANK[kind] > STATUS_RANK.get(change.status, 0):
                change.status = kind
            if kind == "OPENED":
                change.opens += 1
                change.first_opened = earliest(change.first_opened, moment)
                change.last_opened = latest(change.last_opened, moment)
            elif kind == "CLICKED":
                change.clicks += 1
                change.first_clicked = earliest(change.first_clicked, moment)
            else:
                change.unsubscribed = earliest(change.unsubscribed, moment)
                suppressed.add(contact_id)
            field = TIMELINE_FIELD[kind]
            stats[(shape.id, variant_id, owner_id, field)] += 1
            timeline[(shape.id, variant_id, quarter_hour(moment), field)] += 1
            if kind != "UNSUBSCRIBED":
                values = [
                    ("EMAIL_DOMAIN", email.rsplit("@", 1)[-1]),
                    ("COUNTRY", event["country"]),
                    ("CITY", event["city"]),
                    ("EMAIL_CLIENT", client.email_client),
                    ("DEVICE", client.device),
                    ("BROWSER", client.browser),
                    ("OS", client.os),
                ]
                for dimension, value in values:
                    if value:
                        engagement[(shape.id, dimension, value, field)] += 1
            if link_id is not None:
                link_stats[(link_id, variant_id)] += 1
                clickers[(link_id, contact_id)] += 1

        raw = self.raw
        await raw.begin()
        await raw.execute_many(
            "INSERT INTO contacts (organization_id, email, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (organization_id, email) DO NOTHING",
            [(organization.id, emails[cid], now) for cid in sorted(emails)],
        )
        await raw.execute_many(
            "INSERT INTO recipients (campaign_id, contact_id, variant_id, owner_id, created_at, "
            "updated_at, status, opens, clicks, sort_name, sort_email) "
            "VALUES (?, ?, ?, ?, ?, ?, 'QUEUED', 0, 0, '', '') "
            "ON CONFLICT (campaign_id, contact_id) DO NOTHING",
            [(*wanted[rid], now, now) for rid in sorted(wanted)],
        )
        ids = await self.insert_responses(responses)
        for key, response_id in ids.items():
            recipient_id, moment = of_key[key]
            change = changes[recipient_id]
            if change.latest is None or (moment, response_id) > change.latest:
                change.latest = (moment, response_id)
        await self.update_recipients(changes, now)
        await self.upsert_aggregates(stats, timeline, engagement, link_stats, clickers, now)
        if suppressed:
            await raw.execute_many(
                "UPDATE contacts SET suppression_reason = 'UNSUBSCRIBED', suppressed_at = ? "
                "WHERE id = ? AND suppression_reason IS NULL",
                [(now, cid) for cid in sorted(suppressed)],
            )
        await raw.commit()

    async def update_recipients(self, changes: dict[int, RecipientChange], now: datetime) -> None:
        """The folded columns from the stored values and the batch's, one statement."""
        parts: list[str] = []
        attributes: list[str] = []  # RecipientChange's attributes in parameter order
        for column, template, attribute in (
            ("first_opened_at", self.least, "first_opened"),
            ("last_opened_at", self.greatest, "last_opened"),
            ("first_clicked_at", self.least, "first_clicked"),
            ("unsubscribed_at", self.least, "unsubscribed"),
        ):
            sql = template.format(column)
            parts.append(f"{column} = {sql}")
            attributes += [attribute] * sql.count("?")
        newer = "latest_response_at IS NULL OR latest_response_at <= ?"
        latest_at = self.greatest.format("latest_response_at")
        sql = (
            "UPDATE recipients SET opens = opens + ?, clicks = clicks + ?, "
            + ", ".join(parts)
            + ", status = CASE "
            "WHEN ? = 'UNSUBSCRIBED' AND status <> 'COMPLAINED' THEN 'UNSUBSCRIBED' "
            "WHEN ? = 'CLICKED' AND status NOT IN ('UNSUBSCRIBED', 'COMPLAINED') THEN 'CLICKED' "
            "WHEN ? = 'OPENED' AND status NOT IN ('CLICKED', 'UNSUBSCRIBED', 'COMPLAINED') "
            "THEN 'OPENED' ELSE status END, "
            f"latest_response_id = CASE WHEN {newer} THEN ? ELSE latest_response_id END, "
            f"latest_response_at = {latest_at}, updated_at = ? WHERE id = ?"
        )
        rows = []
        for rid in sorted(changes):
            change = changes[rid]
            moment, response_id = change.latest or (None, None)
            row: list[Any] = [change.opens, change.clicks]
            row += [getattr(change, attribute) for attribute in attributes]
            row += [change.status] * 3 + [moment, response_id]
            row += [moment] * latest_at.count("?") + [now, rid]
            rows.append(tuple(row))
        await self.raw.execute_many(sql, rows)

    async def upsert_aggregates(
        self,
        stats: Counter[tuple[int, int, int, str]],
        timeline: Counter[tuple[int, int, datetime, str]],
        engagement: Counter[tuple[int, str, str, str]],
        link_stats: Counter[tuple[int, int]],
        clickers: Counter[tuple[int, int]],
        now: datetime,
    ) -> None:
        """One upsert a table, its rows grouped per key and in key order (as ingest locks them)."""
        tables = (
            ("campaign_stats", ("campaign_id", "variant_id", "owner_id"), STATS_COUNTERS, stats),
            ("timeline_buckets", ("campaign_id", "variant_id", "bucket_start"),
             TIMELINE_COUNTERS, timeline),
            ("engagement_stats", ("campaign_id", "dimension", "value"), ENGAGEMENT_COUNTERS,
             engagement),
        )  # fmt: skip
        for table, key_columns, counters, amounts in tables:
            stamped = table == "campaign_stats"
            await self.raw.execute_many(
                upsert(table, key_columns, counters, stamped),
                [
                    (*key, *[amounts[(*key, counter)] for counter in counters])  # type: ignore[index]
                    + ((now,) if stamped else ())
                    for key in sorted({key[:3] for key in amounts})
                ],
            )
        if link_stats:
            await self.raw.execute_many(
                upsert("link_stats", ("link_id", "variant_id"), LINK_COUNTERS),
                sorted((*key, amount, 0) for key, amount in link_stats.items()),
            )
            await self.raw.execute_many(
                upsert("link_clicker_stats", ("link_id", "contact_id"), ("clicks",)),
                sorted((*key, amount) for key, amount in clickers.items()),
            )
