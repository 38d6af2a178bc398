"""The `campaign-graph` command line."""

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import insert, select

from app.auth import create_key, revoke_key
from app.database import Database
from app.enums import ResponseSource, Role
from app.ingest.apply import IngestResult, apply_events
from app.ingest.events import EventError, decode_body, parse_events
from app.models import ApiKey, Campaign, Organization
from app.settings import Settings

console = Console()
err_console = Console(stderr=True)
INGEST_BATCH = 1000


class CommandError(Exception):
    """A clear message for the user; the command exits with status 1."""


def run(coroutine_function: Callable[[Database], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        database = Database.from_url(Settings.from_environment().database_url)
        try:
            return await coroutine_function(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


async def organization_id(database: Database, name: str) -> int:
    async with database.read() as connection:
        found = (
            await connection.execute(select(Organization.id).where(Organization.name == name))
        ).scalar()
    if found is None:
        raise CommandError(
            f"no organization named {name!r} (create it with: campaign-graph orgs create NAME)"
        )
    return int(found)


def command_migrate(args: argparse.Namespace) -> None:
    from app.migrate import upgrade

    upgrade(Settings.from_environment().database_url)
    console.print("database is at the latest revision")


def command_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.migrate import upgrade

    upgrade(Settings.from_environment().database_url)
    console.print(f"GraphQL (GraphiQL in a browser): http://{args.host}:{args.port}/graphql")
    uvicorn.run(
        "app.main:create_app", factory=True, host=args.host, port=args.port, log_level="info"
    )


async def create_organization(database: Database, name: str, timezone: str) -> int:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CommandError(
            f"unknown time zone {timezone!r} (an IANA name such as Europe/Amsterdam)"
        ) from None
    async with database.write() as connection:
        exists = (
            await connection.execute(select(Organization.id).where(Organization.name == name))
        ).scalar()
        if exists is not None:
            raise CommandError(f"an organization named {name!r} exists already")
        result = await connection.execute(
            insert(Organization)
            .values(name=name, timezone=timezone, created_at=datetime.now(UTC))
            .returning(Organization.id)
        )
        return int(result.scalar_one())


def command_orgs_create(args: argparse.Namespace) -> None:
    run(lambda database: create_organization(database, args.name, args.timezone))
    console.print(f"organization {args.name!r} created")


def command_keys_create(args: argparse.Namespace) -> None:
    async def create(database: Database) -> str:
        org = await organization_id(database, args.org)
        async with database.write() as connection:
            _, key = await create_key(connection, org, Role(args.role), args.name)
        return key

    key = run(create)
    err_console.print(f"new {args.role} key for {args.org!r}; it is shown once, keep it:")
    print(key)


def command_keys_list(args: argparse.Namespace) -> None:
    async def listing(database: Database) -> list[Any]:
        async with database.read() as connection:
            statement = (
                select(
                    ApiKey.id,
                    ApiKey.prefix,
                    ApiKey.role,
                    ApiKey.name,
                    ApiKey.created_at,
                    ApiKey.revoked_at,
                    Organization.name.label("org"),
                )
                .join(Organization, Organization.id == ApiKey.organization_id)
                .order_by(ApiKey.id)
            )
            if args.org:
                statement = statement.where(Organization.name == args.org)
            return list((await connection.execute(statement)).all())

    table = Table("id", "organization", "role", "key starts", "name", "created", "revoked")
    for row in run(listing):
        table.add_row(
            str(row.id),
            row.org,
            row.role,
            row.prefix + "…",
            row.name or "",
            f"{row.created_at:%Y-%m-%d %H:%M}",
            f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
        )
    console.print(table)


def command_keys_revoke(args: argparse.Namespace) -> None:
    async def revoke(database: Database) -> bool:
        async with database.write() as connection:
            return await revoke_key(connection, args.id)

    if not run(revoke):
        raise CommandError(f"no active key with id {args.id}")
    console.print(f"key {args.id} revoked")


async def ingest_file(database: Database, org_name: str, path: Path, provider: str) -> IngestResult:
    if provider != "canonical":
        raise CommandError(
            f"provider {provider!r} is not supported by this command yet; use canonical"
        )
    org = await organization_id(database, org_name)
    body = path.read_bytes()
    content_type = (
        "application/x-ndjson" if not body.lstrip().startswith(b"[") else "application/json"
    )
    try:
        raw = decode_body(body, content_type)
    except EventError as exc:
        raise CommandError(str(exc)) from None
    events, problems = parse_events(raw, datetime.now(UTC))
    if problems:
        lines = "\n".join(f"  event {p.index}: {p.reason}" for p in problems[:50])
        raise CommandError(f"{len(problems)} bad event(s), nothing applied:\n{lines}")
    total = IngestResult()
    with Progress(console=err_console) as progress:
        task = progress.add_task(f"ingesting {path.name}", total=len(events))
        for start in range(0, len(events), INGEST_BATCH):
            batch = events[start : start + INGEST_BATCH]
            async with database.write() as connection:
                total.merge(
                    await apply_events(connection, org, batch, source=ResponseSource.IMPORT)
                )
            progress.advance(task, len(batch))
    return total


def command_ingest(args: argparse.Namespace) -> None:
    result = run(lambda database: ingest_file(database, args.org, Path(args.file), args.provider))
    console.print(result.as_json())


def command_schema(args: argparse.Namespace) -> None:
    from schema.root import schema

    print(schema.as_str())


def command_reconcile(args: argparse.Namespace) -> None:
    from app.reconcile import reconcile

    async def check(database: Database) -> list[Any]:
        campaign_id = None
        if args.campaign:
            async with database.read() as connection:
                found = (
                    await connection.execute(
                        select(Campaign.id).where(
                            (Campaign.external_id == args.campaign)
                            | (
                                Campaign.id
                                == (int(args.campaign) if args.campaign.isdigit() else -1)
                            )
                        )
                    )
                ).scalar()
            if found is None:
                raise CommandError(f"no campaign {args.campaign!r}")
            campaign_id = int(found)
        if args.repair:
            async with database.write() as connection:
                return await reconcile(connection, campaign_id, repair=True)
        async with database.read() as connection:
            return await reconcile(connection, campaign_id)

    drifts = run(check)
    if not drifts:
        console.print("no drift: every aggregate equals its recomputation from the history")
        return
    table = Table("table", "key", "field", "stored", "expected")
    for drift in drifts[:200]:
        table.add_row(
            drift.table, str(drift.key), drift.field, str(drift.stored), str(drift.expected)
        )
    console.print(table)
    console.print(
        f"{len(drifts)} drifting counter(s)"
        + (": repaired" if args.repair else "; run with --repair to fix")
    )
    if not args.repair:
        sys.exit(2)


def command_demo(args: argparse.Namespace) -> None:
    from app.demo import load_demo

    key = run(lambda database: load_demo(database, args.recipients, args.org, err_console))
    err_console.print("demo data loaded; an ADMIN key (shown once):")
    print(key)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="campaign-graph",
        description="GraphQL backend for email campaigns and their responses.",
    )
    commands = main.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=command_serve)

    commands.add_parser("migrate", help="bring the database to the latest revision").set_defaults(
        handler=command_migrate
    )

    orgs = commands.add_parser("orgs", help="organizations").add_subparsers(
        dest="orgs_command", required=True
    )
    orgs_create = orgs.add_parser("create", help="create an organization")
    orgs_create.add_argument("name")
    orgs_create.add_argument(
        "--timezone", default="UTC", help="IANA time zone for timelines (default UTC)"
    )
    orgs_create.set_defaults(handler=command_orgs_create)

    keys = commands.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True
    )
    keys_create = keys.add_parser("create", help="create a key and print it once")
    keys_create.add_argument("--org", required=True)
    keys_create.add_argument("--role", required=True, choices=[role.value for role in Role])
    keys_create.add_argument("--name", default=None, help="a label, e.g. the integration's name")
    keys_create.set_defaults(handler=command_keys_create)
    keys_list = keys.add_parser("list", help="list keys (never the keys themselves)")
    keys_list.add_argument("--org", default=None)
    keys_list.set_defaults(handler=command_keys_list)
    keys_revoke = keys.add_parser("revoke", help="revoke a key by id")
    keys_revoke.add_argument("id", type=int)
    keys_revoke.set_defaults(handler=command_keys_revoke)

    demo = commands.add_parser("demo", help="load a demo organization through the ingest path")
    demo.add_argument("--recipients", type=int, default=20_000)
    demo.add_argument("--org", default="Demo")
    demo.set_defaults(handler=command_demo)

    ingest = commands.add_parser("ingest", help="replay events from a file (JSON array or NDJSON)")
    ingest.add_argument("file")
    ingest.add_argument("--org", required=True)
    ingest.add_argument("--provider", default="canonical")
    ingest.set_defaults(handler=command_ingest)

    reconcile = commands.add_parser(
        "reconcile", help="recompute aggregates from the history and report drift"
    )
    reconcile.add_argument("--campaign", default=None, help="a campaign's id or external id")
    reconcile.add_argument("--repair", action="store_true", help="fix the drift found")
    reconcile.set_defaults(handler=command_reconcile)

    commands.add_parser("schema", help="print the GraphQL SDL").set_defaults(handler=command_schema)
    return main


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.handler(args)
    except CommandError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
