"""Adds aggregate deltas to the pre-aggregated tables: one set-based upsert per table
(app/ingest/bulk.py), whatever the number of rows."""

from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.bulk import upsert_adding
from app.ingest.contributions import Contribution
from app.models import (
    ENGAGEMENT_COUNTERS,
    LINK_COUNTERS,
    STATS_COUNTERS,
    TIMELINE_COUNTERS,
    CampaignStats,
    EngagementStats,
    LinkClickerStats,
    LinkStats,
    TimelineBucket,
)

# table name -> (table, primary key columns, counter columns)
AGGREGATE_TABLES: dict[str, tuple[Table, tuple[str, ...], tuple[str, ...]]] = {
    "campaign_stats": (
        CampaignStats.__table__,  # type: ignore[dict-item]
        ("campaign_id", "variant_id", "owner_id"),
        STATS_COUNTERS,
    ),
    "timeline_buckets": (
        TimelineBucket.__table__,  # type: ignore[dict-item]
        ("campaign_id", "variant_id", "bucket_start"),
        TIMELINE_COUNTERS,
    ),
    "engagement_stats": (
        EngagementStats.__table__,  # type: ignore[dict-item]
        ("campaign_id", "dimension", "value"),
        ENGAGEMENT_COUNTERS,
    ),
    "link_stats": (LinkStats.__table__, ("link_id", "variant_id"), LINK_COUNTERS),  # type: ignore[dict-item]
    "link_clicker_stats": (
        LinkClickerStats.__table__,  # type: ignore[dict-item]
        ("link_id", "contact_id"),
        ("clicks",),
    ),
}


def dialect_insert(connection: AsyncConnection, table: Any) -> Any:
    """INSERT with ON CONFLICT support for the connection's backend."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def add_deltas(connection: AsyncConnection, delta: Contribution, now: datetime) -> None:
    """Add every counter change in `delta` to its aggregate row, creating rows as needed.

    Rows are written in key order so that concurrent writers lock them in the same order.
    """
    by_table: dict[str, list[tuple[tuple[object, ...], dict[str, int]]]] = {}
    for (table_name, key), counters in delta.items():
        by_table.setdefault(table_name, []).append((key, counters))
    # Tables in one fixed order too: a delta's key order follows set iteration, which differs
    # between transactions (two writers taking tables in opposite orders deadlock on PostgreSQL).
    for table_name in AGGREGATE_TABLES:
        entries = by_table.get(table_name)
        if not entries:
            continue
        table, key_columns, counter_columns = AGGREGATE_TABLES[table_name]
        entries.sort(key=lambda entry: entry[0])  # type: ignore[arg-type,return-value]
        stamped = table_name == "campaign_stats"
        rows = [
            [
                *key,
                *(counters.get(column, 0) for column in counter_columns),
                *([now] if stamped else []),
            ]
            for key, counters in entries
        ]
        await upsert_adding(
            connection,
            table,
            key_columns,
            counter_columns,
            ("updated_at",) if stamped else (),
            rows,
        )
