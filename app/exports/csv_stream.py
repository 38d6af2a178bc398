"""CSV bytes from batches of rows, and the cell conversions the rows are built with.

Rows arrive ready to write (see `text` and `moment`): one pass of csv.writer over each batch is
the whole cost per row, which matters at a million rows.
"""

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (OWASP "CSV injection"); tab and carriage return start one in some of them too.
FORMULA_STARTS = frozenset("=+-@\t\r")


def text(value: str | None) -> str | None:
    """Text a spreadsheet shows as text: a leading quote stops it being run as a formula."""
    if value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


def moment(value: datetime | None) -> str | None:
    """A time as GraphQL's DateTime shows it (ISO 8601 with its offset)."""
    return None if value is None else value.isoformat()


def sqlite_moment(stored: str | None) -> str | None:
    """A time as SQLite stores it (UTC, '2026-11-20 09:00:00.000000') printed as `moment`
    prints the datetime: reading a million datetimes only to print them again would cost about a
    third of a recipients export."""
    if stored is None:
        return None
    day, _, clock = stored.partition(" ")
    if clock.endswith(".000000"):
        clock = clock[:-7]
    return f"{day}T{clock}+00:00"


def encode_rows(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows as CSV bytes: UTF-8, CRLF line ends as RFC 4180 has them, None as an empty cell."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


async def csv_chunks(
    header: Sequence[str], batches: AsyncIterator[list[Sequence[Any]]]
) -> AsyncIterator[bytes]:
    """The header at once, then one chunk per batch of rows as it is read."""
    # A byte-order mark makes Excel read the file as UTF-8 (names with accents stay intact).
    yield b"\xef\xbb\xbf" + encode_rows([header])
    async for batch in batches:
        yield encode_rows(batch)
