"""The `campaign-graph` command line: arguments in, the domain modules' answers printed.

Each command parses its options, calls the module that does the work (app/organizations.py,
app/auth.py, app/ingest/replay.py, app/credentials.py, app/tracking_urls.py, app/demo/...) and
turns its refusals into a CommandError: one line on standard error, exit status 1.
"""

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress
from rich.table import Table
from sqlalchemy import select

from app.auth import create_key, revoke_key
from app.database import Database
from app.enums import Role
from app.ingest.apply import IngestResult
from app.ingest.providers.files import FILE_PROVIDERS
from app.models import ApiKey, Campaign, Organization
from app.organizations import OrganizationError, create_organization, organization_by_name
from app.pubsub import publish_campaigns_changed
from app.settings import Settings

console = Console()
err_console = Console(stderr=True)


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
        found = await organization_by_name(connection, name)
    if found is None:
        raise CommandError(
            f"no organization named {name!r} (create it with: campaign-graph orgs create NAME)"
        )
    return found


def command_migrate(args: argparse.Namespace) -> None:
    from app.migrate import upgrade

    upgrade(Settings.from_environment().database_url)
    console.print("database is at the latest revision")


def command_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.migrate import upgrade

    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    # Once, before the workers start: each worker builds its app from the environment.
    upgrade(Settings.from_environment().database_url)
    console.print(f"GraphQL (GraphiQL in a browser): http://{args.host}:{args.port}/graphql")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # A worker builds the schema as it starts: slower than uvicorn's 5 s on a busy machine.
        timeout_worker_healthcheck=60,
        log_level="info",
        access_log=args.access_log,
    )


def command_orgs_create(args: argparse.Namespace) -> None:
    async def create(database: Database) -> int:
        try:
            async with database.write() as connection:
                return await create_organization(connection, args.name, args.timezone)
        except OrganizationError as exc:
            raise CommandError(str(exc)) from None

    run(create)
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
    """Replay an events file (app/ingest/replay.py) with a progress bar.

    NDJSON streams: every event is checked a thousand lines at a time before any is applied,
    then the file is read again and applied as it is read, so memory does not grow with the
    file. A JSON array is read whole (no incremental JSON parser among our dependencies)."""
    from app.ingest.replay import ReplayError, apply_in_batches, read_events

    org = await organization_id(database, org_name)
    try:
        with err_console.status(f"reading {path.name}"):
            if starts_json_array(path):
                whole = read_events(path.read_bytes(), provider)
                total, pieces = len(whole), iter([whole])
            else:
                total = checked_ndjson(path, provider)
                pieces = (read_events(lines, provider) for lines in ndjson_pieces(path))
        result = IngestResult()
        with Progress(
            *Progress.get_default_columns(), MofNCompleteColumn(), console=err_console
        ) as progress:
            task = progress.add_task(f"ingesting {path.name}", total=total)
            began = time.perf_counter()
            applied = 0
            for events in pieces:
                try:
                    result.merge(
                        await apply_in_batches(
                            database,
                            org,
                            events,
                            provider,
                            lambda count: progress.advance(task, count),
                        )
                    )
                except ReplayError as exc:
                    raise ReplayError(
                        f"{exc} (counted from event {applied:,} of the file; "
                        "the events before it are applied)"
                    ) from None
                applied += len(events)
            seconds = time.perf_counter() - began
    except ReplayError as exc:
        raise CommandError(str(exc)) from None
    # On standard error with the bar: standard output stays the counts alone.
    rate = total / seconds if seconds else 0.0
    err_console.print(f"{total:,} events in {seconds:,.1f} s: {rate:,.0f} events/s")
    return result


# Lines of an NDJSON file read, checked and applied at a time: one batch of ingest's.
NDJSON_PIECE_LINES = 1000


def starts_json_array(path: Path) -> bool:
    """Whether the file holds a JSON array (its first non-blank byte is `[`), not NDJSON."""
    with path.open("rb") as file:
        while chunk := file.read(4096):
            stripped = chunk.lstrip()
            if stripped:
                return stripped.startswith(b"[")
    return False


def ndjson_pieces(path: Path, lines: int = NDJSON_PIECE_LINES) -> Iterator[bytes]:
    """The file's non-blank lines, `lines` at a time."""
    piece: list[bytes] = []
    with path.open("rb") as file:
        for line in file:
            if line.strip():
                piece.append(line if line.endswith(b"\n") else line + b"\n")
                if len(piece) == lines:
                    yield b"".join(piece)
                    piece = []
    if piece:
        yield b"".join(piece)


def checked_ndjson(path: Path, provider: str) -> int:
    """How many events the NDJSON file holds, every one checked (nothing applied yet)."""
    from app.ingest.replay import ReplayError, read_events

    count = 0
    for lines in ndjson_pieces(path):
        try:
            count += len(read_events(lines, provider))
        except ReplayError:
            # The whole file's reader names the bad line or event by its place in the file
            # (a piece's reader would count from the piece): read it whole, on this path only.
            read_events(path.read_bytes(), provider)
            raise
    return count


def command_ingest(args: argparse.Namespace) -> None:
    result = run(lambda database: ingest_file(database, args.org, Path(args.file), args.provider))
    console.print(result.as_json())


def command_schema(args: argparse.Namespace) -> None:
    from schema.root import schema

    print(schema.as_str())


async def campaign_id_of(database: Database, wanted: str) -> int:
    """The campaign an operator names by its id or external id (the first one made, when
    organizations share an external id); CommandError when there is none."""
    async with database.read() as connection:
        found = (
            await connection.execute(
                select(Campaign.id)
                .where(
                    (Campaign.external_id == wanted)
                    | (Campaign.id == (int(wanted) if wanted.isdigit() else -1))
                )
                .order_by(Campaign.id)
            )
        ).scalar()
    if found is None:
        raise CommandError(f"no campaign {wanted!r}")
    return int(found)


def command_reconcile(args: argparse.Namespace) -> None:
    from app.ingest.aggregate_writer import AGGREGATE_TABLES
    from app.reconcile import reconcile

    def repaired_campaigns(drifts: list[Any]) -> set[int]:
        # Campaigns whose aggregate rows the repair changed: those rows' keys start with the
        # campaign id (link rows and recipient states do not feed live statistics).
        keyed = {name for name, (_, key, _) in AGGREGATE_TABLES.items() if key[0] == "campaign_id"}
        return {int(drift.key[0]) for drift in drifts if drift.table in keyed}

    async def check(database: Database) -> list[Any]:
        campaign_id = await campaign_id_of(database, args.campaign) if args.campaign else None
        if args.repair:
            async with database.write() as connection:
                drifts = await reconcile(connection, campaign_id, repair=True)
            await publish_campaigns_changed(database, repaired_campaigns(drifts))
            return drifts
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


def command_reclassify(args: argparse.Namespace) -> None:
    from app.reclassify import ReclassifyReport, reclassify

    async def go(database: Database) -> ReclassifyReport:
        campaign_id = await campaign_id_of(database, args.campaign) if args.campaign else None
        report = await reclassify(database, campaign_id, dry_run=args.dry_run)
        if not args.dry_run:
            await publish_campaigns_changed(database, report.campaign_ids)
        return report

    report = run(go)
    moves = [("to automated", report.to_automated()), ("back to human", report.to_human())]
    table = Table("moved", "reason", "opens", "clicks")
    for direction, by_reason in moves:
        for reason, counts in by_reason.items():
            table.add_row(direction, reason, str(counts["opens"]), str(counts["clicks"]))
    for (kind, before, after), count in report.reason_changes().items():
        opens, clicks = (count, 0) if kind == "OPENED" else (0, count)
        table.add_row(f"from {before}", after, str(opens), str(clicks))
    if table.row_count:
        console.print(table)
    else:
        console.print("nothing moved: every open and click keeps its classification")
    console.print(
        f"{report.examined} open(s) and click(s) read, {report.restamped} response(s) "
        f"{'to restamp' if args.dry_run else 'restamped'}, {report.recipients_refolded} "
        f"recipient(s) {'to refold' if args.dry_run else 'refolded'}"
        + (" (dry run: nothing written)" if args.dry_run else "")
    )


def command_demo(args: argparse.Namespace) -> None:
    from app.demo.loader import DemoError, load_demo

    async def load(database: Database) -> str:
        try:
            return await load_demo(database, args.recipients, args.org, err_console)
        except DemoError as exc:
            raise CommandError(str(exc)) from None

    key = run(load)
    err_console.print(f"an ADMIN key for {args.org!r} (shown once):")
    print(key)


EXPORT_FILTERS = {
    "status": "status",
    "responded": "responded",
    "variant_id": "variantId",
    "owner_id": "ownerId",
    "link_id": "linkId",
    "search": "search",
    "types": "types",
    "since": "since",
    "until": "until",
}


def command_export(args: argparse.Namespace) -> None:
    from app.exports.filters import FilterError, Parameters
    from app.exports.to_file import ExportError, export_to_file

    pairs = [
        (name, value)
        for option, name in EXPORT_FILTERS.items()
        for value in (getattr(args, option) or [])
    ]

    async def export(database: Database) -> tuple[Path, int | None]:
        org = await organization_id(database, args.org)
        try:
            return await export_to_file(
                database,
                org,
                args.campaign,
                args.kind,
                Parameters.from_pairs(pairs),
                Path(args.output) if args.output else None,
                err_console,
            )
        except (ExportError, FilterError) as exc:
            raise CommandError(str(exc)) from None

    path, rows = run(export)
    console.print(f"{path}" + (f": {rows} rows" if rows is not None else ""))


def secret_value(value: str | None) -> str | None:
    """An option's value, or a line read from standard input for "-" (keeps it out of `ps`)."""
    if value == "-":
        return sys.stdin.readline().strip()
    return value


def command_providers_set(args: argparse.Namespace) -> None:
    from urllib.parse import quote

    from app import credentials

    try:
        if args.provider == "sendgrid":
            settings = credentials.sendgrid_settings(secret_value(args.public_key) or "")
        elif args.provider == "mailgun":
            settings = credentials.mailgun_settings(secret_value(args.signing_key) or "")
        elif args.provider == "postmark":
            settings = credentials.postmark_settings(
                args.username,
                secret_value(args.password),
                args.header_name,
                secret_value(args.header_secret),
            )
        elif args.provider == "brevo":
            settings = credentials.brevo_settings(
                args.username,
                secret_value(args.password),
                secret_value(args.token),
                args.header_name,
                secret_value(args.header_secret),
            )
        elif args.provider == "sparkpost":
            settings = credentials.sparkpost_settings(
                args.username, secret_value(args.password), secret_value(args.token)
            )
        else:
            settings = credentials.ses_settings(args.topic_arn)
    except credentials.CredentialError as exc:
        raise CommandError(str(exc)) from None

    async def store(database: Database) -> None:
        org = await organization_id(database, args.org)
        async with database.write() as connection:
            await credentials.set_credentials(connection, org, args.provider, settings)

    run(store)
    console.print(f"{args.provider} credentials for {args.org!r} saved")
    console.print(
        f"webhook URL: https://<your host>/webhooks/{args.provider}/{quote(args.org, safe='')}"
    )
    if args.provider == "ses" and not settings["topic_arns"]:
        err_console.print("[yellow]warning:[/yellow] any SNS topic may post; add --topic-arn")


def command_providers_list(args: argparse.Namespace) -> None:
    from app import credentials

    async def listing(database: Database) -> list[Any]:
        org = await organization_id(database, args.org) if args.org else None
        async with database.read() as connection:
            return await credentials.list_credentials(connection, org)

    table = Table("organization", "provider", "settings", "updated")
    for name, provider, summary, updated in run(listing):
        table.add_row(name, provider, summary, f"{updated:%Y-%m-%d %H:%M}")
    console.print(table)


def command_providers_remove(args: argparse.Namespace) -> None:
    from app import credentials

    async def remove(database: Database) -> bool:
        org = await organization_id(database, args.org)
        async with database.write() as connection:
            return await credentials.delete_credentials(connection, org, args.provider)

    if not run(remove):
        raise CommandError(f"{args.org!r} has no {args.provider} credentials")
    console.print(
        f"{args.provider} credentials for {args.org!r} removed; its webhooks are now refused (401)"
    )


def command_tracking_url(args: argparse.Namespace) -> None:
    secret = Settings.from_environment().tracking_secret
    if not secret:
        raise CommandError("TRACKING_SECRET is not set: the app must sign with the same secret")
    from app.tracking_urls import TrackingUrlError, check_base_url, tracking_urls

    async def urls(database: Database) -> tuple[str, str | None]:
        try:
            check_base_url(args.base_url)
            org = await organization_id(database, args.org)
            async with database.read() as connection:
                return await tracking_urls(
                    connection,
                    secret,
                    org,
                    args.org,
                    args.campaign,
                    args.contact,
                    args.link,
                    args.base_url,
                )
        except TrackingUrlError as exc:
            raise CommandError(str(exc)) from None

    open_url, click_url = run(urls)
    # URLs alone on standard output, one a line, for scripts and templates.
    print(open_url)
    if click_url is not None:
        print(click_url)


def command_events_refused(args: argparse.Namespace) -> None:
    from app.ingest.refused import list_refused

    async def listing(database: Database) -> list[Any]:
        org = await organization_id(database, args.org)
        async with database.read() as connection:
            return await list_refused(connection, org, replayed=args.all)

    found = run(listing)
    if args.json:
        import orjson

        for event in found:  # one JSON object a line, the event as the provider sent it
            sys.stdout.write(
                orjson.dumps(
                    {
                        "id": event.id,
                        "provider": event.provider,
                        "kind": event.kind,
                        "reason": event.reason,
                        "receivedAt": event.received_at.isoformat(),
                        "replayedAt": event.replayed_at.isoformat() if event.replayed_at else None,
                        "raw": event.raw,
                    }
                ).decode()
                + "\n"
            )
        return
    table = Table("id", "provider", "kind", "received", "replayed", "reason")
    for event in found:
        replayed = f"{event.replayed_at:%Y-%m-%d %H:%M}" if event.replayed_at else ""
        table.add_row(
            str(event.id),
            event.provider,
            event.kind,
            f"{event.received_at:%Y-%m-%d %H:%M}",
            replayed,
            event.reason,
        )
    console.print(table)
    console.print(f"{len(found)} malformed event(s) kept")


def command_events_replay(args: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    from app.ingest.refused import Replayed, replay_refused

    async def replay(database: Database) -> Replayed:
        org = await organization_id(database, args.org)
        async with database.write() as connection:
            done = await replay_refused(connection, org, datetime.now(UTC), args.id)
        await publish_campaigns_changed(database, done.result.campaign_ids)
        return done

    done = run(replay)
    result = done.result
    console.print(
        f"{len(done.replayed)} kept event(s) replayed: {result.accepted} accepted, "
        f"{result.duplicates} duplicates, {result.unmatched} unmatched; "
        f"{len(done.still_refused)} still malformed"
    )
    for row_id, reason in sorted(done.still_refused.items()):
        console.print(f"  {row_id}: {reason}", markup=False)


def add_events_commands(commands: Any) -> None:
    """`events refused --org NAME [--all] [--json]`, `events replay --org NAME [--id N ...]`."""
    group = commands.add_parser(
        "events", help="malformed provider events kept aside"
    ).add_subparsers(dest="events_command", required=True)
    refused = group.add_parser("refused", help="list the malformed events kept, with reasons")
    refused.add_argument("--org", required=True)
    refused.add_argument("--all", action="store_true", help="those replayed already too")
    refused.add_argument("--json", action="store_true", help="one JSON object a line")
    refused.set_defaults(handler=command_events_refused)
    replay = group.add_parser(
        "replay", help="apply the kept malformed events the current code accepts (once)"
    )
    replay.add_argument("--org", required=True)
    replay.add_argument(
        "--id", type=int, action="append", default=None, help="only this one (repeatable)"
    )
    replay.set_defaults(handler=command_events_replay)


def add_tracking_commands(commands: Any) -> None:
    """`tracking url --org NAME --campaign ID --contact EMAIL [--link URL] [--base-url URL]`."""
    group = commands.add_parser("tracking", help="own tracking (TRACKING_SECRET)").add_subparsers(
        dest="tracking_command", required=True
    )
    url = group.add_parser(
        "url", help="print a recipient's signed open-pixel URL (and a link's click URL)"
    )
    url.add_argument("--org", required=True)
    url.add_argument("--campaign", required=True, help="the campaign's external id")
    url.add_argument("--contact", required=True, help="the recipient's email address")
    url.add_argument("--link", default=None, help="a registered link's URL: also its click URL")
    url.add_argument(
        "--base-url", default="http://127.0.0.1:8000", help="where the app is served (https://host)"
    )
    url.set_defaults(handler=command_tracking_url)


def add_providers_commands(commands: Any) -> None:
    """`providers set --org NAME PROVIDER ...`, `providers list` and `providers remove`."""
    group = commands.add_parser("providers", help="webhook credentials of ESPs").add_subparsers(
        dest="providers_command", required=True
    )
    set_command = group.add_parser(
        "set", help="store an organization's webhook credentials for a provider"
    )
    set_command.add_argument("--org", required=True)
    by_provider = set_command.add_subparsers(dest="provider", required=True)
    sendgrid = by_provider.add_parser("sendgrid", help="Signed Event Webhook verification key")
    sendgrid.add_argument("--public-key", required=True, help="base64 key or PEM ('-': stdin)")
    mailgun = by_provider.add_parser("mailgun", help="HTTP webhook signing key")
    mailgun.add_argument("--signing-key", required=True, help="('-': read from stdin)")
    postmark = by_provider.add_parser("postmark", help="basic auth, or a secret header")
    postmark.add_argument("--username")
    postmark.add_argument("--password", help="('-': read from stdin)")
    postmark.add_argument("--header-name", default=None, help="default X-Webhook-Secret")
    postmark.add_argument("--header-secret", help="('-': read from stdin)")
    brevo = by_provider.add_parser("brevo", help="basic auth, a bearer token, or a secret header")
    brevo.add_argument("--username")
    brevo.add_argument("--password", help="('-': read from stdin)")
    brevo.add_argument("--token", help="the webhook's bearer token ('-': read from stdin)")
    brevo.add_argument("--header-name", default=None, help="default X-Webhook-Secret")
    brevo.add_argument("--header-secret", help="('-': read from stdin)")
    sparkpost = by_provider.add_parser("sparkpost", help="basic auth, or the webhook's token")
    sparkpost.add_argument("--username")
    sparkpost.add_argument("--password", help="('-': read from stdin)")
    sparkpost.add_argument(
        "--token", help="auth token, sent as X-MessageSystems-Webhook-Token ('-': stdin)"
    )
    ses = by_provider.add_parser("ses", help="SNS topics allowed to post")
    ses.add_argument("--topic-arn", action="append", default=[], help="repeat for several")
    set_command.set_defaults(handler=command_providers_set)
    list_command = group.add_parser("list", help="list stored credentials (no secrets)")
    list_command.add_argument("--org", default=None)
    list_command.set_defaults(handler=command_providers_list)
    remove_command = group.add_parser(
        "remove", help="delete an organization's webhook credentials for a provider"
    )
    remove_command.add_argument("--org", required=True)
    remove_command.add_argument(
        "provider", choices=["sendgrid", "mailgun", "ses", "postmark", "brevo", "sparkpost"]
    )
    remove_command.set_defaults(handler=command_providers_remove)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="campaign-graph",
        description="GraphQL backend for email campaigns and their responses.",
    )
    commands = main.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the port (default 1)"
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every request (off by default)"
    )
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
    ingest.add_argument(
        "--provider",
        default="canonical",
        choices=["canonical", *FILE_PROVIDERS],
        help="the file's format: canonical events, or a provider's webhook events",
    )
    ingest.set_defaults(handler=command_ingest)

    reconcile = commands.add_parser(
        "reconcile", help="recompute aggregates from the history and report drift"
    )
    reconcile.add_argument("--campaign", default=None, help="a campaign's id or external id")
    reconcile.add_argument("--repair", action="store_true", help="fix the drift found")
    reconcile.set_defaults(handler=command_reconcile)
    reclassify = commands.add_parser(
        "reclassify", help="re-apply the current machine/bot rules to the stored history"
    )
    reclassify.add_argument("--campaign", default=None, help="a campaign's id or external id")
    reclassify.add_argument("--dry-run", action="store_true", help="print what would move only")
    reclassify.set_defaults(handler=command_reclassify)

    commands.add_parser("schema", help="print the GraphQL SDL").set_defaults(handler=command_schema)

    export = commands.add_parser(
        "export", help="write a campaign's recipients or activity (CSV) or summary (xlsx)"
    )
    export.add_argument("kind", choices=["recipients", "activity", "summary"])
    export.add_argument("--org", required=True)
    export.add_argument("--campaign", required=True, help="the campaign's id or external id")
    export.add_argument("--output", "-o", default=None, help="file to write (default: ./NAME)")
    for option in EXPORT_FILTERS:
        flag = "--" + option.replace("_", "-")
        export.add_argument(flag, action="append", help="filter, as the HTTP download takes it")
    export.set_defaults(handler=command_export)

    add_providers_commands(commands)
    add_tracking_commands(commands)
    add_events_commands(commands)
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
