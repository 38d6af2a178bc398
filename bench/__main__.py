"""`python -m bench`: generate an organization, measure queries and ingest against their floors.

python -m bench --recipients 1000000 --record BENCHMARKS.md       # SQLite (a fresh file)
python -m bench --recipients 1000000 --postgres --record BENCHMARKS.md   # throwaway PostgreSQL
python -m bench --database-url postgresql+asyncpg://user@host/db  # an existing database
python -m bench --soak [--postgres] [--soak-events 200000]   # sustained ingest, memory sampled
python -m bench --recipients 100000 --keep org --ingest-file 1000000 --output events.ndjson
"""

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from bench.report import record
from bench.run import Options, run


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmarks: queries and ingest against raw floors."
    )
    parser.add_argument(
        "--recipients",
        type=int,
        default=100_000,
        help="recipients of the dashboard campaign (default 100,000)",
    )
    parser.add_argument(
        "--small-recipients",
        type=int,
        default=1000,
        help="recipients of the small campaign compared with it (default 1,000)",
    )
    parser.add_argument(
        "--campaigns",
        type=int,
        default=118,
        help="more campaigns for the campaign list (default 118)",
    )
    parser.add_argument(
        "--campaign-recipients",
        type=int,
        default=50,
        help="recipients of each of those campaigns (default 50)",
    )
    parser.add_argument(
        "--repetitions",
        type=int,
        default=30,
        help="repetitions per in-process measure; the median is shown",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=20.0,
        help="stop repeating a measure after this many seconds (at least 3 runs)",
    )
    parser.add_argument(
        "--http-seconds", type=float, default=5.0, help="duration of each HTTP throughput measure"
    )
    parser.add_argument(
        "--ingest-batches",
        type=int,
        default=10,
        help="timed in-process ingest batches of 1,000 events",
    )
    parser.add_argument(
        "--http-ingest-batches", type=int, default=20, help="POST /events batches of 500 events"
    )
    parser.add_argument("--no-http", action="store_true", help="skip the measures under uvicorn")
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument(
        "--database-url", help="a database to use (migrated first); default: a fresh SQLite file"
    )
    backend.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL server (needs its binaries)",
    )
    parser.add_argument(
        "--record", type=Path, metavar="FILE", help="append the table to FILE (e.g. BENCHMARKS.md)"
    )
    parser.add_argument(
        "--keep",
        metavar="FILE",
        help="keep the generated data: SQLite file FILE.db, description FILE.pickle",
    )
    parser.add_argument(
        "--reuse", metavar="FILE", help="measure the data kept with --keep FILE (no generation)"
    )
    parser.add_argument(
        "--soak",
        action="store_true",
        help="instead of the measures: a sustained ingest soak against one server (bench/soak.py)",
    )
    parser.add_argument(
        "--soak-events",
        type=int,
        default=200_000,
        help="distinct events the soak posts (default 200,000)",
    )
    parser.add_argument(
        "--soak-poll-pause",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="each dashboard poller's pause after an answer in the soak (default 0.5; 0: back to back)",
    )
    parser.add_argument(
        "--ingest-file",
        type=int,
        metavar="N",
        help="instead of the measures: write N canonical events for the organization (with "
        "--keep or --reuse) to --output, a file for `campaign-graph ingest`",
    )
    parser.add_argument("--output", default="events.ndjson", help="the --ingest-file file")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a line to add to the run's description (repeatable)",
    )
    return parser.parse_args(argv)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    folder = None
    server = None
    url = arguments.database_url
    if arguments.postgres:
        import asyncpg  # noqa: F401  (fail early when the driver is missing)

        from tests.postgres_server import ThrowawayPostgres, find_binaries

        binaries = find_binaries()
        if binaries is None:
            print("PostgreSQL server binaries are not installed", file=sys.stderr)
            return 2
        server = ThrowawayPostgres(binaries).start()
        url = server.url()
    elif arguments.keep or arguments.reuse:
        base = Path(arguments.keep or arguments.reuse).resolve()
        url = url or f"sqlite+aiosqlite:///{base}.db"
    elif url is None:
        folder = Path(tempfile.mkdtemp(prefix="campaign-graph-bench-"))
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    options = Options(
        database_url=url,
        recipients=arguments.recipients,
        small_recipients=arguments.small_recipients,
        list_campaigns=arguments.campaigns,
        list_recipients=arguments.campaign_recipients,
        repetitions=arguments.repetitions,
        seconds_per_measure=arguments.seconds,
        http_seconds=arguments.http_seconds,
        ingest_batches=arguments.ingest_batches,
        http_ingest_batches=arguments.http_ingest_batches,
        http=not arguments.no_http,
        progress=not arguments.quiet,
        keep=f"{Path(arguments.keep).resolve()}.pickle" if arguments.keep else None,
        reuse=f"{Path(arguments.reuse).resolve()}.pickle" if arguments.reuse else None,
        soak_events=arguments.soak_events if arguments.soak else None,
        soak_poll_pause=arguments.soak_poll_pause,
        ingest_file=arguments.ingest_file,
        ingest_output=arguments.output,
    )
    try:
        table, header = asyncio.run(run(options))
    finally:
        if server is not None:
            server.stop()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    if arguments.postgres:
        header.append(
            "PostgreSQL: a throwaway server on 127.0.0.1 with fsync, synchronous_commit and "
            "full_page_writes off; the app and the floors share it"
        )
    header += arguments.note
    print()
    print(f"## {table.title}")
    for line in header:
        print(f"- {line}")
    if table.rows:
        print()
        print(table.markdown())
    for note in table.notes:
        print(f"- {note}")
    if arguments.record:
        record(arguments.record, table, header)
        print(f"\nrecorded in {arguments.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
