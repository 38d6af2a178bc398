"""Route writes (webhooks, POST /events, own tracking) run again after a deadlock, exactly once.

PostgreSQL may abort a transaction with a deadlock (40P01) or a serialization failure (40001).
Each test lets the first attempt write everything and then fail with such an error, as
PostgreSQL would at commit: the answer is still 200 (or the pixel, or the redirect) and the
event is stored once.
"""

from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

import app.routes.events as events_route
import app.routes.tracking as tracking_route
import app.routes.webhooks as webhooks_route
from app.ingest.providers.tracking import OPEN, make_token
from app.main import create_app
from app.models import Recipient
from app.settings import Settings
from tests.factories import event, make_campaign, post_events
from tests.test_webhook_sendgrid import BATCH, PUBLIC_KEY, signed
from tests.webhook_helpers import configure, stats, stored

# The tests count every stored response, of all organizations.
pytestmark = pytest.mark.fresh_database


class Aborted(Exception):
    """What asyncpg raises for a transaction PostgreSQL aborted."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"transaction aborted ({sqlstate})")
        self.sqlstate = sqlstate


def failing_once(function: Any, sqlstate: str, calls: list[int]) -> Any:
    """`function`, whose first call does its work and then fails as PostgreSQL would."""

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        result = await function(*args, **kwargs)
        if len(calls) == 1:
            raise DBAPIError("COMMIT", {}, Aborted(sqlstate))
        return result

    return wrapper


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
async def test_a_webhook_batch_is_retried_and_stored_once(
    client, organization, database, monkeypatch, sqlstate
) -> None:
    await configure(database, organization, "sendgrid", {"public_key": PUBLIC_KEY})
    await make_campaign(client, organization, "spring")
    calls: list[int] = []
    monkeypatch.setattr(
        webhooks_route,
        "ingest_provider_events",
        failing_once(webhooks_route.ingest_provider_events, sqlstate, calls),
    )
    body = orjson.dumps(BATCH[:4])  # ann: processed, delivered, open, click
    response = await client.post(
        f"/webhooks/sendgrid/{organization.name}", content=body, headers=signed(body)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 4, "duplicates": 0, "unmatched": 0}
    assert len(calls) == 2
    numbers = await stats(client, organization)
    assert (numbers["sent"], numbers["opens"], numbers["clicks"]) == (1, 1, 1)
    assert (await stored(database))["responses"] == 4


async def test_other_database_errors_are_not_retried(
    client, organization, database, monkeypatch
) -> None:
    await make_campaign(client, organization, "spring")
    calls: list[int] = []
    monkeypatch.setattr(
        events_route, "apply_events", failing_once(events_route.apply_events, "23505", calls)
    )
    with pytest.raises(DBAPIError):
        await post_events(client, organization, [event("SENT", "ann@example.com")])
    assert len(calls) == 1
    assert (await stored(database))["responses"] == 0


async def test_post_events_is_retried_and_stored_once(
    client, organization, database, monkeypatch
) -> None:
    await make_campaign(client, organization, "spring")
    calls: list[int] = []
    monkeypatch.setattr(
        events_route, "apply_events", failing_once(events_route.apply_events, "40P01", calls)
    )
    batch = [event("SENT", "ann@example.com"), event("OPENED", "ann@example.com", minutes=5)]
    response = await post_events(client, organization, batch)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0, "unmatched": 0}
    assert len(calls) == 2
    assert (await stats(client, organization))["opens"] == 1
    assert (await stored(database))["responses"] == 2


async def test_a_tracked_open_is_retried_and_stored_once(
    client, organization, database, database_url, monkeypatch
) -> None:
    secret = "test-tracking-secret-0123456789abcdef"
    await make_campaign(client, organization, "spring")
    await post_events(client, organization, [event("SENT", "ann@example.com")])
    async with database.read() as connection:
        recipient_id = (await connection.execute(select(Recipient.id))).scalar_one()
    calls: list[int] = []
    monkeypatch.setattr(
        tracking_route, "apply_events", failing_once(tracking_route.apply_events, "40001", calls)
    )
    app = create_app(Settings(database_url=database_url, tracking_secret=secret), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as tracking:
        token = make_token(secret, OPEN, organization.id, recipient_id)
        response = await tracking.get(f"/t/o/{token}.gif")
    assert response.status_code == 200
    assert len(calls) == 2
    assert (await stats(client, organization))["opens"] == 1
    assert (await stored(database))["responses"] == 2  # the SENT and one open
