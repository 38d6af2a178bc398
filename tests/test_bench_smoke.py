"""The benchmark harness at a tiny size: every row is there, the app's answers equal the floors'
(the harness checks that before timing), the loader leaves no drift, statements do not grow."""

import asyncio
from pathlib import Path

from app.database import Database
from app.migrate import upgrade
from app.reconcile import reconcile
from bench.organization import generate
from bench.report import record
from bench.run import Options, run


def test_the_harness_measures_every_row_on_sqlite(tmp_path: Path) -> None:
    options = Options(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}",
        recipients=200,
        small_recipients=40,
        list_campaigns=5,
        list_recipients=5,
        repetitions=3,
        seconds_per_measure=0.2,  # a smoke test of the harness: timings need no precision here
        http_seconds=0.3,
        http_clients=2,
        ingest_batches=2,
        http_ingest_batches=2,
        http_ingest_clients=2,
        progress=False,
    )
    table, header = asyncio.run(run(options))

    names = [row.name for row in table.rows]
    # Its name carries the entries held, which depend on the answer's size.
    [cache_memory] = [name for name in names if name.startswith("response cache at its bound")]
    expected = [
        "dashboard in-process, 200 recipients",
        "dashboard in-process, 40 recipients",
        "dashboard latency 200 recipients / 40 recipients",
        "dashboard over HTTP, 2 clients, 1 uvicorn worker",
        "dashboard over HTTP, cache warm (polling), 2 clients, 1 uvicorn worker",
        "dashboard over HTTP, executed every time (cache off), 2 clients, 1 uvicorn worker",
        "dashboard revalidated with If-None-Match (304), 2 clients, 1 uvicorn worker",
        cache_memory,
        "dashboard over HTTP, executed every time (cache off), 2 clients, 2 uvicorn workers "
        "(serve --workers 2)",
        "campaigns(first: 100) with stats, variants{stats}, links{clicks}",
        "recipients(first: 500) page, 200 recipients",
        "recipients(first: 500) page, 40 recipients",
        "ingest in-process (parse + apply), batches of 1,000, events/s",
        "ingest over POST /events, batches of 500, 2 clients, events/s",
    ]
    assert names == expected
    for row in table.rows:
        assert row.app is not None and row.app > 0, row
        if row.unit == "ms":
            assert row.floor_a and row.floor_b and row.statements, row

    # The same query costs the same statements at both sizes.
    by_name = {row.name: row for row in table.rows}
    big, small = by_name[expected[0]], by_name[expected[1]]
    assert big.statements == small.statements
    assert by_name[expected[10]].statements == by_name[expected[11]].statements
    # SQLite. A cached dashboard: the key read with the versions on the plain reader, nothing
    # executed. An executed one: that read (no answer kept yet), then BEGIN, the key with the
    # versions again on the request's connection, and the dashboard's 5 reads.
    assert (by_name[expected[4]].statements, by_name[expected[5]].statements) == (1, 1 + 1 + 1 + 5)

    report = tmp_path / "BENCHMARKS.md"
    record(report, table, header)
    text = report.read_text()
    assert "| dashboard in-process, 200 recipients |" in text
    assert "machine:" in text


def test_the_fast_loader_writes_what_ingest_would(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'loader.db'}"
    upgrade(url)

    async def generate_and_reconcile() -> tuple[int, list[object]]:
        database = Database.from_url(url)
        try:
            organization = await generate(
                database, url, 3_000, small_recipients=50, list_campaigns=2, list_recipients=20
            )
            drift = []
            async with database.read() as connection:
                for campaign_id in (organization.dashboard.id, *organization.list_campaign_ids):
                    drift += await reconcile(connection, campaign_id)
            return organization.total_recipients, drift
        finally:
            await database.dispose()

    recipients, drift = asyncio.run(generate_and_reconcile())
    assert recipients == 3_000 + 50 + 2 * 20
    assert drift == []
