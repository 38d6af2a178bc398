"""Benchmark: the recipients CSV export of a 100,000- and a 1,000,000-recipient campaign.

    python -m bench.export_recipients                    # 100,000 and 1,000,000 recipients
    python -m bench.export_recipients --sizes 10000 100000

For each size it builds a temporary SQLite database with set-based inserts, then exports in a
fresh process (so that peak RSS is the export's own) through the code the HTTP route streams
(app.exports: keyset batches -> CSV chunks), and, in another fresh process, the raw floor: one
plain sqlite3 cursor over the same join written with the csv module. It prints rows/s, time to
the first chunk and peak RSS; peak RSS should be the same at both sizes (memory is flat).
"""

import argparse
import asyncio
import csv
import io
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

OWNERS = 20


def build_database(path: Path, recipients: int) -> int:
    """A migrated SQLite file with one campaign of `recipients` recipients; the campaign's id."""
    from app.migrate import upgrade

    upgrade(f"sqlite+aiosqlite:///{path}")
    connection = sqlite3.connect(path)
    connection.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
    now = "2026-11-20 09:00:00.000000"
    with connection:
        connection.execute(
            "INSERT INTO organizations (id, name, timezone, created_at) VALUES (1, 'bench', 'UTC', ?)",
            (now,),
        )
        connection.executemany(
            "INSERT INTO users (id, organization_id, name, email) VALUES (?, 1, ?, ?)",
            [(i, f"Owner {i}", f"owner{i}@corp.example") for i in range(1, OWNERS + 1)],
        )
        connection.execute(
            "INSERT INTO campaigns (id, organization_id, external_id, name, status, channel, created_at)"
            " VALUES (1, 1, 'bench', 'Bench', 'SENT', 'EMAIL', ?)",
            (now,),
        )
        connection.executemany(
            "INSERT INTO variants (id, campaign_id, name, is_control, factors) VALUES (?, 1, ?, ?, '[]')",
            [(1, "A", 1), (2, "B", 0)],
        )
        series = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        connection.execute(
            series
            + "INSERT INTO contacts (id, organization_id, external_id, email, name, owner_id,"
            " created_at) SELECT i, 1, 'c-' || i, 'person' || i || '@example.com',"
            " 'Person ' || i, 1 + i % ?, ? FROM n",
            (recipients, OWNERS, now),
        )
        connection.execute(
            series + "INSERT INTO responses (id, organization_id, campaign_id, contact_id,"
            " recipient_id, variant_id, type, occurred_at, recorded_at, source, machine, bot)"
            " SELECT i, 1, 1, i, i, 1 + i % 2,"
            " CASE i % 4 WHEN 0 THEN 'CLICKED' WHEN 1 THEN 'OPENED' ELSE 'DELIVERED' END,"
            " '2026-11-20 10:' || printf('%02d', i % 60) || ':00.000000', ?, 'TRACKED', 0, 0"
            " FROM n",
            (recipients, now),
        )
        connection.execute(
            series + "INSERT INTO recipients (id, campaign_id, contact_id, variant_id, owner_id,"
            " created_at, status, sent_at, delivered_at, first_opened_at, last_opened_at, opens,"
            " first_clicked_at, clicks, latest_response_id, latest_response_at, updated_at)"
            " SELECT i, 1, i, 1 + i % 2, 1 + i % ?, ?,"
            " CASE i % 4 WHEN 0 THEN 'CLICKED' WHEN 1 THEN 'OPENED' ELSE 'DELIVERED' END,"
            " ?, ?, CASE WHEN i % 4 < 2 THEN ? END, CASE WHEN i % 4 < 2 THEN ? END, i % 3,"
            " CASE WHEN i % 4 = 0 THEN ? END, i % 2, i, ?, ? FROM n",
            (recipients, OWNERS, now, now, now, now, now, now, now, now),
        )
    connection.close()
    return 1


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


async def export_with_the_app(path: Path) -> dict[str, float]:
    """The route's path: keyset batches -> CSV chunks, the bytes dropped as a client reads them."""
    import schema.root  # noqa: F401 - loaded at start-up in the app, as here
    from app.database import Database
    from app.exports.csv_stream import csv_chunks
    from app.exports.filters import RecipientFilter
    from app.exports.recipients import HEADER, recipient_batches

    database = Database.from_url(f"sqlite+aiosqlite:///{path}")
    # Warm imports and the engine, so that the baseline is the app at rest.
    async with database.read() as connection:
        await connection.exec_driver_sql("SELECT 1")
    baseline = current_rss_mb()
    rows = size = 0
    first_chunk = None
    rss_samples = []
    start = time.perf_counter()

    async def counted():  # type: ignore[no-untyped-def]
        nonlocal rows
        async for batch in recipient_batches(database, 1, RecipientFilter()):
            rows += len(batch)
            yield batch

    async for chunk in csv_chunks(HEADER, counted()):
        if first_chunk is None and rows:
            first_chunk = time.perf_counter() - start
        size += len(chunk)
        if rows % 100_000 < 5000:
            rss_samples.append(round(current_rss_mb(), 1))
    seconds = time.perf_counter() - start
    await database.dispose()
    return {
        "rows": rows,
        "seconds": seconds,
        "first_chunk_ms": (first_chunk or 0) * 1000,
        "megabytes": size / 1e6,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
        "rss_samples": rss_samples[:12],
    }


def export_raw(path: Path) -> dict[str, float]:
    """The floor: one sqlite3 cursor over the same join, csv.writer, no conversions."""
    connection = sqlite3.connect(path)
    baseline = current_rss_mb()
    start = time.perf_counter()
    cursor = connection.execute(
        "SELECT r.id, r.contact_id, c.external_id, c.email, c.name, r.owner_id, u.name, u.email,"
        " r.variant_id, v.name, r.status, r.skip_reason, r.bounce_type, r.bounce_category,"
        " r.bounce_diagnostic, r.sent_at, r.delivered_at, r.first_opened_at, r.last_opened_at,"
        " r.opens, r.first_clicked_at, r.clicks, r.unsubscribed_at, lr.type, lr.occurred_at"
        " FROM recipients r JOIN contacts c ON c.id = r.contact_id"
        " LEFT JOIN users u ON u.id = r.owner_id LEFT JOIN variants v ON v.id = r.variant_id"
        " LEFT JOIN responses lr ON lr.id = r.latest_response_id AND lr.deleted_at IS NULL"
        " WHERE r.campaign_id = 1 ORDER BY r.contact_id"
    )
    rows = size = 0
    first_chunk = None
    while batch := cursor.fetchmany(5000):
        buffer = io.StringIO()
        csv.writer(buffer).writerows(batch)
        size += len(buffer.getvalue().encode())
        rows += len(batch)
        if first_chunk is None:
            first_chunk = time.perf_counter() - start
    seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "seconds": seconds,
        "first_chunk_ms": (first_chunk or 0) * 1000,
        "megabytes": size / 1e6,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
    }


def child(kind: str, path: Path) -> None:
    result = asyncio.run(export_with_the_app(path)) if kind == "app" else export_raw(path)
    print(json.dumps(result))


def in_fresh_process(kind: str, path: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.export_recipients", "--child", kind, str(path)],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child[0], Path(arguments.child[1]))
        return

    print("recipients CSV export (SQLite, aiosqlite; fresh process per measure)")
    header = (
        f"{'recipients':>10} {'path':>5} {'rows/s':>9} {'vs raw':>7} {'seconds':>8} "
        f"{'first chunk':>12} {'MB':>6} {'RSS at rest':>12} {'peak RSS':>9}"
    )
    print(header)
    with tempfile.TemporaryDirectory(prefix="export-bench-") as directory:
        for size in arguments.sizes:
            path = Path(directory) / f"bench-{size}.db"
            started = time.perf_counter()
            build_database(path, size)
            built = time.perf_counter() - started
            raw = in_fresh_process("raw", path)
            app = in_fresh_process("app", path)
            assert app["rows"] == raw["rows"] == size, (app["rows"], raw["rows"], size)
            for name, result in (("raw", raw), ("app", app)):
                rate = result["rows"] / result["seconds"]
                ratio = raw["seconds"] / result["seconds"] if name == "app" else 1.0
                print(
                    f"{size:>10,} {name:>5} {rate:>9,.0f} {1 / ratio:>6.1f}x "
                    f"{result['seconds']:>8.2f} {result['first_chunk_ms']:>10.1f}ms "
                    f"{result['megabytes']:>6.0f} {result['baseline_rss_mb']:>10.1f}MB "
                    f"{result['peak_rss_mb']:>7.1f}MB"
                )
            print(f"{'':>10} (built in {built:.1f}s; app RSS during export: {app['rss_samples']})")
            path.unlink()


if __name__ == "__main__":
    main()
