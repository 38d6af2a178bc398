"""What the response cache tests share: a dashboard over HTTP and a count of the statements a
request sends to the database (BEGIN and ROLLBACK included when they reach it)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg.transaction
import httpx
import pytest
from sqlalchemy import event as sqlalchemy_event

from app.database import Database
from app.enums import Role
from tests.factories import Organization, event, make_campaign, post_events

DASHBOARD = """query Dashboard($id: ID!, $zone: String) {
  campaign(id: $id) {
    id name status sentAt
    stats { recipients sent delivered opened clicked openRate clickRate }
    funnel { notReceived received opened clicked optedOut }
    timeline(granularity: HOUR, timezone: $zone, from: "2026-11-20T00:00:00Z", to: "2026-11-21T00:00:00Z") {
      start sent opens clicks
    }
    variants { id name isControl stats { sent opened } }
    links { id url clicks clicked }
  }
}"""


async def campaign_with_events(
    client: httpx.AsyncClient, organization: Organization, external_id: str = "spring"
) -> str:
    """A campaign with variants A and B, one link, and ann@ sent and opened in A."""
    campaign_id = await make_campaign(
        client,
        organization,
        external_id,
        variants=[{"name": "A"}, {"name": "B"}],
        links=[{"url": f"https://example.com/{external_id}"}],
    )
    events = [
        event("SENT", "ann@example.com", campaign=external_id, variant="A"),
        event("OPENED", "ann@example.com", campaign=external_id, variant="A", minutes=3),
    ]
    answer = await post_events(client, organization, events)
    assert answer.json()["accepted"] == 2, answer.text
    return campaign_id


async def dashboard(
    client: httpx.AsyncClient,
    organization: Organization,
    campaign_id: str,
    zone: str | None = None,
    headers: dict[str, str] | None = None,
    role: Role = Role.VIEWER,
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": DASHBOARD, "variables": {"id": campaign_id, "zone": zone}},
        headers={**organization.headers(role), **(headers or {})},
    )


class Statements:
    def __init__(self) -> None:
        self.sent: list[str] = []

    @property
    def count(self) -> int:
        return len(self.sent)


@contextmanager
def statements_sent(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Statements]:
    """Every statement the block sends: SQLAlchemy's cursor executions (SQLite's BEGIN is one
    of them), plus asyncpg's transaction statements (BEGIN, COMMIT, ROLLBACK), which reach
    PostgreSQL without a cursor."""
    statements = Statements()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.sent.append(statement)

    def on_rollback(conn: Any) -> None:
        if database.sqlite and conn.in_transaction():
            statements.sent.append("ROLLBACK")  # SQLite: pysqlite's rollback, no cursor

    for name, word in (("start", "BEGIN"), ("commit", "COMMIT"), ("rollback", "ROLLBACK")):
        original = getattr(asyncpg.transaction.Transaction, name)

        async def counted(
            self: Any, *args: Any, _original: Any = original, _word: str = word
        ) -> Any:
            statements.sent.append(_word)
            return await _original(self, *args)

        monkeypatch.setattr(asyncpg.transaction.Transaction, name, counted)
    engine = database.engine.sync_engine
    sqlalchemy_event.listen(engine, "before_cursor_execute", record)
    sqlalchemy_event.listen(engine, "rollback", on_rollback)
    # SQLite: the quick reader (a cached answer's key and versions, read in the event loop).
    reader = database.quick_reader()
    if reader is not None:
        reader.set_trace_callback(statements.sent.append)
    try:
        yield statements
    finally:
        if reader is not None:
            reader.set_trace_callback(None)
        sqlalchemy_event.remove(engine, "before_cursor_execute", record)
        sqlalchemy_event.remove(engine, "rollback", on_rollback)
        monkeypatch.undo()
