"""Data versions (issue 14): every write moves the version of each campaign it changed and of its
organization, in its own transaction; a refused or no-op write moves nothing; a cached answer
changes after each write.

The write-path tests run a dashboard-like query twice (warming any response cache), write, and
query again: the answer shows the write and the campaign's version moved, another campaign's did
not.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, update

from app import pubsub, versions
from app.cli import ingest_file
from app.database import Database
from app.ids import global_id, parse_pk
from app.ingest.providers import adapter, postmark
from app.ingest.providers.tracking import OPEN, make_token
from app.ingest.refused import replay_refused
from app.main import create_app
from app.models import CampaignStats, Recipient
from app.reclassify import reclassify
from app.reconcile import reconcile
from app.settings import Settings
from tests import test_webhook_postmark as pm
from tests.factories import (
    Organization,
    event,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)
from tests.test_reclassify import new_scanner_agent
from tests.test_tracking import OUTLOOK
from tests.test_webhook_refused_events import lenient
from tests.webhook_helpers import configure

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TRACKING = "test-tracking-secret-0123456789abcdef"


async def test_a_bump_moves_the_campaigns_and_the_organization_and_nothing_else(
    database: Database, organization: Organization
) -> None:
    other = await make_organization(database)
    async with database.read() as connection:
        before = await versions.read(connection, organization.id, [101, 102])
    # Nothing written yet: version 0 everywhere, no change time.
    assert before.organization == versions.NEVER
    assert before.campaigns == {101: versions.NEVER, 102: versions.NEVER}
    assert before.changed_at is None

    async with database.write() as connection:
        await versions.bump(connection, organization.id, [102, 101, 101], T0)
    async with database.write() as connection:
        await versions.bump(connection, organization.id, [101], T0 + timedelta(seconds=5))
    async with database.read() as connection:
        after = await versions.read(connection, organization.id, [101, 102, 103])
        whole = await versions.read(connection, organization.id, None)
        elsewhere = await versions.read(connection, other.id, [101])

    # 101 written twice (a repeated id in one write counts once), 102 once, 103 never.
    assert after.campaigns == {
        101: versions.Version(2, T0 + timedelta(seconds=5)),
        102: versions.Version(1, T0),
        103: versions.NEVER,
    }
    # The organization moves with every write.
    assert after.organization == versions.Version(2, T0 + timedelta(seconds=5))
    assert after.changed_at == T0 + timedelta(seconds=5)
    assert whole.campaigns is None and whole.organization.number == 2
    assert whole.token != before.token
    # Another organization's rows are its own.
    assert elsewhere.organization == versions.NEVER


async def test_changed_at_never_moves_back_when_a_writer_s_clock_is_behind(
    database: Database, organization: Organization
) -> None:
    async with database.write() as connection:
        await versions.bump(connection, organization.id, [7], T0)
    async with database.write() as connection:
        await versions.bump(connection, organization.id, [7], T0 - timedelta(minutes=1))
    async with database.read() as connection:
        read = await versions.read(connection, organization.id, [7])
    assert read.campaigns == {7: versions.Version(2, T0)}


async def test_too_many_campaigns_are_checked_by_the_organization_alone(
    database: Database, organization: Organization
) -> None:
    many = range(1, versions.MAX_CAMPAIGN_SCOPES + 2)
    async with database.write() as connection:
        await versions.bump(connection, organization.id, [5], T0)
    async with database.read() as connection:
        read = await versions.read(connection, organization.id, many)
    assert read.campaigns is None
    assert read.organization == versions.Version(1, T0)


# --- Every write path: a cached answer changes after it ------------------------------------

DASHBOARD = """query($id: ID!) { campaign(id: $id) {
  name cost
  stats { recipients sent delivered opened opens clicked clicks botClicks purchases }
  variants { name }
  links { url clicks }
  recipients(first: 20, orderBy: {field: NAME, direction: ASC}) {
    totalCount edges { node { status opens clicks contact { email name } } } }
} }"""
CAMPAIGN_LIST = "{ campaigns(first: 20) { edges { node { externalId stats { sent opened } } } } }"


@dataclass
class Change:
    before: Any
    after: Any
    campaign_moved: bool
    other_moved: bool
    organization_moved: bool


class Watch:
    """A dashboard of campaign `watched` (asked twice before a write, to warm any response cache,
    and once after), with the data versions of it, of `other` and of the organization."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        database: Database,
        organization: Organization,
        watched: str,
        other: str,
    ) -> None:
        self.client, self.database, self.organization = client, database, organization
        self.watched, self.other = watched, other

    async def answer(self, query: str = DASHBOARD) -> Any:
        first = await graphql(self.client, self.organization, query, {"id": self.watched})
        second = await graphql(self.client, self.organization, query, {"id": self.watched})
        assert first == second
        return second["data"]

    async def numbers(self) -> tuple[int, int, int]:
        pks = [parse_pk(self.watched, "Campaign"), parse_pk(self.other, "Campaign")]
        async with self.database.read() as connection:
            read = await versions.read(connection, self.organization.id, [pk for pk in pks if pk])
        assert read.campaigns is not None
        watched, other = (read.campaigns[pk].number for pk in pks if pk)
        return watched, other, read.organization.number

    async def observe(self, write: Callable[[], Awaitable[Any]], query: str = DASHBOARD) -> Change:
        before, numbers = await self.answer(query), await self.numbers()
        await write()
        after, moved = await self.answer(query), await self.numbers()
        return Change(
            before,
            after,
            campaign_moved=moved[0] > numbers[0],
            other_moved=moved[1] > numbers[1],
            organization_moved=moved[2] > numbers[2],
        )


def moved_alone(change: Change) -> bool:
    """The watched campaign and its organization moved, the other campaign did not."""
    return change.campaign_moved and change.organization_moved and not change.other_moved


def nothing_moved(change: Change) -> bool:
    return change.before == change.after and not (
        change.campaign_moved or change.other_moved or change.organization_moved
    )


@pytest.fixture
async def watch(client: httpx.AsyncClient, database: Database, organization: Organization) -> Watch:
    """spring (watched, with a link and variants A/B) and autumn (the other campaign)."""
    spring = await make_campaign(
        client,
        organization,
        "spring",
        links=[{"url": "https://example.com/pricing"}],
        variants=[{"name": "A", "isControl": True}, {"name": "B"}],
    )
    autumn = await make_campaign(client, organization, "autumn")
    return Watch(client, database, organization, spring, autumn)


def stats_of(answer: Any) -> dict[str, Any]:
    return dict(answer["campaign"]["stats"])


async def test_posted_events_change_the_answer_and_a_replay_changes_nothing(
    watch: Watch, client: httpx.AsyncClient, organization: Organization
) -> None:
    batch = [
        event("SENT", "ann@example.com", id="s1"),
        event("OPENED", "ann@example.com", minutes=3, id="s2"),
    ]

    async def post() -> None:
        assert (await post_events(client, organization, batch)).status_code == 200

    change = await watch.observe(post)
    # ann was sent spring and opened it: 1 recipient, 1 sent, 1 opened, 1 open.
    assert stats_of(change.after) == stats_of(change.before) | {
        "recipients": 1, "sent": 1, "opened": 1, "opens": 1, "delivered": 1,
    }  # fmt: skip
    assert moved_alone(change)
    # The same events again: duplicates, nothing written, nothing moved.
    assert nothing_moved(await watch.observe(post))

    async def bad() -> None:
        refused = await post_events(client, organization, [{"type": "OPENED"}])
        assert refused.status_code == 400

    assert nothing_moved(await watch.observe(bad))

    # The organization-wide list changes with it (events for the other campaign).
    async def post_autumn() -> None:
        events = [event("SENT", "ann@example.com", campaign="autumn", id="a1")]
        assert (await post_events(client, organization, events)).status_code == 200

    listing = await watch.observe(post_autumn, CAMPAIGN_LIST)
    sent = {
        edge["node"]["externalId"]: edge["node"]["stats"]["sent"]
        for edge in listing.after["campaigns"]["edges"]
    }
    assert sent == {"spring": 1, "autumn": 1}
    assert listing.before != listing.after
    assert listing.other_moved and listing.organization_moved and not listing.campaign_moved


REFUSED = "{ refusedEvents(first: 10, replayed: true) { totalCount edges { node { reason replayedAt } } } }"


async def test_webhooks_kept_events_and_their_replay_change_the_answers(
    watch: Watch,
    client: httpx.AsyncClient,
    database: Database,
    organization: Organization,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await configure(
        database, organization, "postmark", pm.postmark_settings(pm.USERNAME, pm.PASSWORD)
    )
    records = [pm.delivery("ann@example.com", 3)]

    async def deliver() -> None:
        assert (await pm.post(client, organization, records)).status_code == 200

    change = await watch.observe(deliver)
    # ann's delivery (variant A): 1 recipient, sent and delivered.
    assert stats_of(change.after) == stats_of(change.before) | {
        "recipients": 1, "sent": 1, "delivered": 1,
    }  # fmt: skip
    assert moved_alone(change)
    assert nothing_moved(await watch.observe(deliver))  # the provider's retry

    # A malformed event is kept aside: the admins' list of refused events changes.
    bad = pm.delivery("bob@example.com", 5)
    bad["DeliveredAt"] = "Fri, 20 Nov 2026 09:00:05 GMT"

    async def malformed() -> None:
        assert (await pm.post(client, organization, [bad])).status_code == 200

    kept = await watch.observe(malformed, REFUSED)
    assert (
        kept.before["refusedEvents"]["totalCount"],
        kept.after["refusedEvents"]["totalCount"],
    ) == (0, 1)
    assert kept.organization_moved and not kept.campaign_moved

    async def replay() -> None:
        async with database.write() as connection:
            await replay_refused(connection, organization.id, datetime.now(UTC))

    # Before the fix the replay finds it still refused for the same reason: nothing moves.
    assert nothing_moved(await watch.observe(replay, REFUSED))
    monkeypatch.setattr(postmark, "from_iso", lenient(adapter.from_iso))
    replayed = await watch.observe(replay, REFUSED)
    [node] = [edge["node"] for edge in replayed.after["refusedEvents"]["edges"]]
    assert node["replayedAt"] is not None and replayed.organization_moved
    # ...and bob's delivery is in spring's numbers now.
    assert stats_of(await watch.answer())["delivered"] == 2


async def test_the_tracking_pixel_changes_the_answer(
    watch: Watch, database: Database, database_url: str, organization: Organization
) -> None:
    app = create_app(Settings(database_url=database_url, tracking_secret=TRACKING), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as tracking:
        watch.client = tracking
        await post_events(tracking, organization, [event("SENT", "ann@example.com", id="t1")])
        async with database.read() as connection:
            recipient = (
                await connection.execute(
                    select(Recipient.id).where(
                        Recipient.campaign_id == parse_pk(watch.watched, "Campaign")
                    )
                )
            ).scalar_one()
        token = make_token(TRACKING, OPEN, organization.id, recipient)

        async def pixel() -> None:
            assert (
                await tracking.get(f"/t/o/{token}.gif", headers={"User-Agent": OUTLOOK})
            ).status_code == 200

        change = await watch.observe(pixel)
        assert stats_of(change.after) == stats_of(change.before) | {
            "opened": 1,
            "opens": 1,
            "delivered": 1,
        }
        assert moved_alone(change)

        async def tampered() -> None:
            await tracking.get(f"/t/o/{token}x.gif", headers={"User-Agent": OUTLOOK})

        assert nothing_moved(await watch.observe(tampered))


MANUAL = """mutation($input: RecordResponseInput!) {
  recordResponse(input: $input) { recipient { id } userErrors { code } } }"""
UPDATE = """mutation($input: UpdateResponseStatusInput!) {
  updateResponseStatus(input: $input) { recipient { id } userErrors { code } } }"""
DELETE = """mutation($input: DeleteResponsesInput!) {
  deleteResponses(input: $input) { deletedCount userErrors { code } } }"""
AT = "2026-11-20T10:00:00Z"


async def test_the_three_manual_mutations_change_the_answer_and_bad_input_does_not(
    watch: Watch, client: httpx.AsyncClient, organization: Organization
) -> None:
    recorded: dict[str, Any] = {}

    async def mutate(query: str, input: dict[str, Any], errors: list[Any] | None = None) -> Any:
        body = await graphql(client, organization, query, {"input": input})
        payload = next(iter(body["data"].values()))
        assert payload["userErrors"] == (errors or []), payload
        return payload

    async def record() -> None:
        payload = await mutate(MANUAL, {"campaignId": watch.watched, "email": "ann@example.com",
                                        "type": "PURCHASED", "occurredAt": AT, "amount": "12.50"})  # fmt: skip
        recorded["recipient"] = payload["recipient"]["id"]

    change = await watch.observe(record)
    # ann bought by hand: a recipient with one purchase (no send is recorded).
    assert stats_of(change.after) == stats_of(change.before) | {"recipients": 1, "purchases": 1}
    assert moved_alone(change)

    async def update() -> None:
        await mutate(
            UPDATE, {"recipientId": recorded["recipient"], "type": "CLICKED", "occurredAt": AT}
        )

    change = await watch.observe(update)
    # A click proves an open and a delivery (so a send): opened, clicked, one click, sent,
    # delivered.
    assert stats_of(change.after) == stats_of(change.before) | {
        "opened": 1, "clicked": 1, "clicks": 1, "sent": 1, "delivered": 1,
    }  # fmt: skip
    assert moved_alone(change)

    contact = (await watch.answer())["campaign"]["recipients"]["edges"][0]["node"]["contact"]
    assert contact["email"] == "ann@example.com"
    async with watch.database.read() as connection:
        contact_pk = (
            await connection.execute(
                select(Recipient.contact_id).where(
                    Recipient.id == parse_pk(recorded["recipient"], "Recipient")
                )
            )
        ).scalar_one()
    delete_input = {"campaignId": watch.watched, "contactId": global_id("Contact", contact_pk)}

    async def delete() -> None:
        assert (await mutate(DELETE, delete_input))["deletedCount"] == 2

    change = await watch.observe(delete)
    # Her history is gone: still a recipient, nothing else counted.
    assert stats_of(change.after) == stats_of(change.before) | {
        "opened": 0, "clicked": 0, "clicks": 0, "purchases": 0, "sent": 0, "delivered": 0,
    }  # fmt: skip
    assert moved_alone(change)

    async def delete_again() -> None:
        assert (await mutate(DELETE, delete_input))["deletedCount"] == 0

    async def bad_inputs() -> None:
        await mutate(MANUAL, {"campaignId": watch.other, "email": "ann@example.com", "type": "CLICKED",
                              "occurredAt": AT, "linkId": global_id("Link", 999_999_999)}, [{"code": "NOT_FOUND"}])  # fmt: skip
        await mutate(UPDATE, {"recipientId": global_id("Recipient", 999_999_999), "type": "OPENED",
                              "occurredAt": AT}, [{"code": "NOT_FOUND"}])  # fmt: skip

    assert nothing_moved(await watch.observe(delete_again))
    assert nothing_moved(await watch.observe(bad_inputs))


UPSERT = """mutation($input: UpsertCampaignInput!) {
  upsertCampaign(input: $input) { campaign { id } userErrors { code } } }"""
ADD = """mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added userErrors { code } } }"""


async def test_campaign_and_recipient_mutations_change_the_answer(
    watch: Watch, client: httpx.AsyncClient, organization: Organization
) -> None:
    async def mutate(query: str, input: dict[str, Any], errors: list[Any] | None = None) -> Any:
        body = await graphql(client, organization, query, {"input": input})
        payload = next(iter(body["data"].values()))
        assert payload["userErrors"] == (errors or []), payload
        return payload

    async def upsert() -> None:
        await mutate(UPSERT, {
            "externalId": "spring", "name": "Spring sale", "cost": "250.00",
            "links": [{"url": "https://example.com/pricing"}, {"url": "https://example.com/faq"}],
            "variants": [{"name": "A", "isControl": True}, {"name": "B"}, {"name": "C"}],
        })  # fmt: skip

    change = await watch.observe(upsert)
    campaign = change.after["campaign"]
    assert (campaign["name"], campaign["cost"]) == ("Spring sale", "250.00")
    assert [link["url"] for link in campaign["links"]] == [
        "https://example.com/pricing", "https://example.com/faq",
    ]  # fmt: skip
    assert [variant["name"] for variant in campaign["variants"]] == ["A", "B", "C"]
    assert moved_alone(change)

    async def add() -> None:
        contacts = [{"email": "ann@example.com", "name": "Ann"}, {"email": "bob@example.com"}]
        assert (await mutate(ADD, {"campaignId": watch.watched, "contacts": contacts}))[
            "added"
        ] == 2

    change = await watch.observe(add)
    assert change.after["campaign"]["recipients"]["totalCount"] == 2
    assert stats_of(change.after)["recipients"] == 2
    assert moved_alone(change)

    # Ann renamed while added to autumn: spring's recipient table shows (and sorts by) the new
    # name, so spring moves too.
    async def rename() -> None:
        contacts = [{"email": "ann@example.com", "name": "Zoe"}]
        assert (await mutate(ADD, {"campaignId": watch.other, "contacts": contacts}))["added"] == 1

    change = await watch.observe(rename)
    names = [
        edge["node"]["contact"]["name"] for edge in change.after["campaign"]["recipients"]["edges"]
    ]
    assert sorted(names, key=str) == sorted([None, "Zoe"], key=str) and "Ann" not in names
    assert change.campaign_moved and change.other_moved and change.organization_moved

    async def bad_inputs() -> None:
        await mutate(UPSERT, {"externalId": "spring", "name": "Spring",
                              "links": [{"url": "ftp://example.com"}]}, [{"code": "INVALID"}])  # fmt: skip
        await mutate(ADD, {"campaignId": watch.watched, "variantName": "Z",
                           "contacts": [{"email": "cy@example.com"}]}, [{"code": "NOT_FOUND"}])  # fmt: skip

    assert nothing_moved(await watch.observe(bad_inputs))


async def test_events_kept_for_an_unknown_campaign_count_when_it_is_created(
    watch: Watch, client: httpx.AsyncClient, organization: Organization
) -> None:
    early = [event("SENT", "ann@example.com", campaign="winter", id="w1")]
    assert (await post_events(client, organization, early)).json()["unmatched"] == 1

    async def create() -> None:
        body = await graphql(
            client, organization, UPSERT, {"input": {"externalId": "winter", "name": "Winter"}}
        )
        assert body["data"]["upsertCampaign"]["userErrors"] == []

    listing = await watch.observe(create, CAMPAIGN_LIST)
    sent = {
        edge["node"]["externalId"]: edge["node"]["stats"]["sent"]
        for edge in listing.after["campaigns"]["edges"]
    }
    # winter appears with ann's kept send applied.
    assert sent == {"spring": 0, "autumn": 0, "winter": 1}
    assert listing.organization_moved and not (listing.campaign_moved or listing.other_moved)


async def test_reconcile_repair_and_reclassify_change_the_answer(
    watch: Watch, client: httpx.AsyncClient, database: Database, organization: Organization
) -> None:
    spring = parse_pk(watch.watched, "Campaign")
    assert spring is not None
    await post_events(client, organization, [
        event("SENT", "ann@example.com", id="r1"),
        event("CLICKED", "ann@example.com", minutes=30, url="https://example.com/pricing",
              userAgent="Mozilla/5.0 (compatible; Perception Point URL check)", id="r2"),
    ])  # fmt: skip
    # Drift, as a bug would leave it (not a write path): 5 sends too many.
    async with database.write() as connection:
        await connection.execute(
            update(CampaignStats)
            .where(CampaignStats.campaign_id == spring)
            .values(sent=CampaignStats.sent + 5)
        )

    async def repair() -> None:
        async with database.write() as connection:
            assert await reconcile(connection, spring, repair=True)

    change = await watch.observe(repair)
    assert (stats_of(change.before)["sent"], stats_of(change.after)["sent"]) == (6, 1)
    assert moved_alone(change)

    async def repair_again() -> None:
        async with database.write() as connection:
            assert await reconcile(connection, spring, repair=True) == []

    assert nothing_moved(await watch.observe(repair_again))

    async def reclassify_spring() -> None:
        with new_scanner_agent():
            await reclassify(database, spring)

    # The rules now know that gateway: ann's click is a scanner's.
    change = await watch.observe(reclassify_spring)
    assert (stats_of(change.before)["botClicks"], stats_of(change.after)["botClicks"]) == (0, 1)
    assert moved_alone(change)
    assert nothing_moved(await watch.observe(reclassify_spring))


async def test_the_command_line_s_ingest_changes_the_answer(
    watch: Watch, database: Database, organization: Organization, tmp_path: Path
) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(orjson.dumps([event("SENT", "ann@example.com", id="f1")]))

    async def ingest() -> None:
        assert (await ingest_file(database, organization.name, path, "canonical")).accepted == 1

    change = await watch.observe(ingest)
    assert stats_of(change.after) == stats_of(change.before) | {"recipients": 1, "sent": 1}
    assert moved_alone(change)


async def test_sqlite_subscribers_hear_other_processes_through_the_versions(
    database: Database, database_url: str, organization: Organization
) -> None:
    """The poller (SQLite): a write through another engine (as another worker or the CLI would
    make it) wakes this process's listener within a poll; the poller stops with the last
    listener."""
    if not database.sqlite:
        pytest.skip("PostgreSQL instances hear each other through NOTIFY")
    broker = pubsub.broker_for(database)
    assert isinstance(broker, pubsub.PollingBroker)
    elsewhere = Database.from_url(database_url)
    try:
        async with broker.listen(4242) as changed:
            await asyncio.wait_for(changed.wait(), 3)  # the first poll looks once
            changed.clear()
            async with elsewhere.write() as connection:
                await versions.bump(connection, organization.id, [4242])
            started = time.monotonic()
            await asyncio.wait_for(changed.wait(), 3)
            assert time.monotonic() - started <= pubsub.POLL_SECONDS + 0.5
            changed.clear()
            # Another campaign's write wakes no one here.
            async with elsewhere.write() as connection:
                await versions.bump(connection, organization.id, [4343])
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(changed.wait(), pubsub.POLL_SECONDS * 2.5)
        await asyncio.sleep(pubsub.POLL_SECONDS * 1.5)
        assert broker._task is not None and broker._task.done()
    finally:
        await elsewhere.dispose()
        await pubsub.stop_broker(database)
