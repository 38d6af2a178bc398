"""`campaign-graph export`: the same downloads as the HTTP routes, written to a file with a
progress bar."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.campaign_references import campaign_row_by_reference
from app.database import Database
from app.exports import activity, recipients
from app.exports.campaign import file_name
from app.exports.csv_stream import csv_chunks
from app.exports.filters import Parameters, activity_filter, recipient_filter
from app.exports.summary import load_summary, write_summary

KINDS = ("recipients", "activity", "summary")


class ExportError(Exception):
    """A clear message for the user (unknown campaign, bad filter)."""


async def find_campaign_by_reference(
    database: Database, organization_id: int, reference: str
) -> Any:
    """The organization's campaign by global id or external id (app/campaign_references.py)."""
    async with database.read() as connection:
        found = await campaign_row_by_reference(connection, organization_id, reference)
    if found is None:
        raise ExportError(f"no campaign {reference!r} in this organization")
    return found


async def _counted(
    batches: AsyncIterator[list[Sequence[Any]]], progress: Progress, task: Any
) -> AsyncIterator[list[Sequence[Any]]]:
    async for batch in batches:
        yield batch
        progress.advance(task, len(batch))


async def export_to_file(
    database: Database,
    organization_id: int,
    campaign_reference: str,
    kind: str,
    parameters: Parameters,
    output: Path | None,
    console: Console,
) -> tuple[Path, int | None]:
    """Write one download to `output` (by default its usual name in the current directory);
    the path and the number of rows written (None for the workbook)."""
    campaign = await find_campaign_by_reference(database, organization_id, campaign_reference)
    if kind == "summary":
        parameters.check_names(set())
        path = output or Path(file_name(campaign.external_id, "summary", "xlsx"))
        summary = await load_summary(database, campaign.id)
        await asyncio.to_thread(write_summary, summary, path)
        return path, None
    header: Sequence[str]
    if kind == "recipients":
        chosen_recipients = recipient_filter(parameters)
        header = recipients.HEADER
        count = recipients.count_statement(campaign.id, chosen_recipients)
        batches = recipients.recipient_batches(database, campaign.id, chosen_recipients)
    elif kind == "activity":
        chosen_activity = activity_filter(parameters)
        header = activity.HEADER
        count = activity.count_statement(campaign.id, chosen_activity)
        batches = activity.activity_batches(database, campaign.id, chosen_activity)
    else:
        raise ExportError(f"unknown export {kind!r}; one of {', '.join(KINDS)}")
    async with database.read() as connection:
        total = int((await connection.execute(count)).scalar_one())
    path = output or Path(file_name(campaign.external_id, kind, "csv"))
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress, path.open("wb") as file:
        task = progress.add_task(f"{kind} of {campaign.external_id}", total=total)
        async for chunk in csv_chunks(header, _counted(batches, progress, task)):
            file.write(chunk)
        written = int(progress.tasks[0].completed)
    return path, written
