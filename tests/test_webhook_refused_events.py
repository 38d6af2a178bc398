"""A malformed event never costs its batch: the good events are applied once, the bad one is
kept as received with its reason (answered 2xx), listed, and applied once by a replay after the
code is fixed. Each provider, with its own sample shapes."""

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
import pytest

from app.cli import main
from app.database import Database
from app.enums import Role
from app.ingest.providers import adapter, mailgun, postmark, sendgrid, ses
from app.ingest.providers.ingest import ingest_provider_events
from app.ingest.refused import list_refused, replay_refused
from app.organizations import organization_by_name
from tests import test_webhook_mailgun as mg
from tests import test_webhook_postmark as pm
from tests import test_webhook_sendgrid as sg
from tests import test_webhook_ses as ss
from tests.factories import graphql, make_campaign
from tests.test_webhook_ses import aws, organization_with_ses  # noqa: F401, F811 (fixtures)
from tests.webhook_helpers import configure, stats, stored

# The malformed event of each case: a time written as an RFC 2822 date (tests.factories'
# BASE_TIME + 5 seconds), which no adapter reads yet. The "fix" below teaches the adapter to read it, as a code change would.
WORDY = "Fri, 20 Nov 2026 09:00:05 GMT"


def lenient(strict: Any) -> Any:
    """A timestamp reader that also reads RFC 2822 dates: the fix a replay runs with."""

    def read(value: Any, name: str, *args: Any, **kwargs: Any) -> datetime:
        if isinstance(value, str) and "," in value:
            return parsedate_to_datetime(value).astimezone(UTC)
        return strict(value, name, *args, **kwargs)  # type: ignore[no-any-return]

    return read


async def replay(database: Any, organization: Any) -> tuple[list[int], dict[int, str]]:
    async with database.write() as connection:
        done = await replay_refused(connection, organization.id, datetime.now(UTC))
    return done.replayed, done.still_refused


async def kept(database: Any, organization: Any, replayed: bool = False) -> list[Any]:
    async with database.read() as connection:
        return await list_refused(connection, organization.id, replayed=replayed)


async def stored_events(database: Any) -> dict[str, int]:
    """Stored rows but Mailgun's seen tokens (each retry is signed with a new token)."""
    return {name: count for name, count in (await stored(database)).items() if name != "tokens"}


def counted(numbers: dict[str, int]) -> tuple[int, int, int]:
    """sent, delivered (an open counts its recipient delivered too), opens."""
    return numbers["sent"], numbers["delivered"], numbers["opens"]


async def check_the_cycle(
    database: Any,
    organization: Any,
    client: Any,
    send: Any,
    fix: Any,
    good: int,
    answer: dict[str, int],
    before_fix: tuple[int, int, int],
    after_fix: tuple[int, int, int],
) -> None:
    """The batch sent, sent again, replayed before and after the fix, then sent again."""
    assert await send() == answer
    assert counted(await stats(client, organization)) == before_fix
    [refused] = await kept(database, organization)
    assert "timestamp" in refused.reason or "At" in refused.reason, refused.reason
    rows = await stored_events(database)

    # Sent again (a provider's retry): duplicates, nothing new stored.
    assert await send() == {"accepted": 0, "duplicates": good + 1, "unmatched": 0}
    assert await stored_events(database) == rows

    # A replay before the fix: still malformed, still kept, nothing applied.
    replayed, still = await replay(database, organization)
    assert (replayed, list(still)) == ([], [refused.id])
    assert refused.reason.split(": ", 1)[1] in still[refused.id]  # the same, but its position
    assert counted(await stats(client, organization)) == before_fix

    fix()
    assert await replay(database, organization) == ([refused.id], {})
    assert counted(await stats(client, organization)) == after_fix
    assert await kept(database, organization) == []
    [replayed] = await kept(database, organization, replayed=True)
    assert replayed.replayed_at is not None
    # Once: a second replay has nothing to do, and the batch again is all duplicates.
    assert await replay(database, organization) == ([], {})
    assert await send() == {"accepted": 0, "duplicates": good + 1, "unmatched": 0}
    assert counted(await stats(client, organization)) == after_fix


async def test_sendgrid(client, database, organization, monkeypatch) -> None:
    await configure(database, organization, "sendgrid", {"public_key": sg.PUBLIC_KEY})
    await make_campaign(client, organization, "spring")
    bad = sg.sendgrid_event("delivered", "bob@example.com", 5, 2)
    bad["timestamp"] = WORDY
    batch = [
        sg.sendgrid_event("processed", "ann@example.com", 0, 1),
        bad,
        sg.sendgrid_event("open", "ann@example.com", 600, 3, useragent=sg.BROWSER),
        sg.sendgrid_event("processed", "bob@example.com", 0, 4),
    ]

    async def send() -> dict[str, int]:
        response = await sg.post(client, organization, batch)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    await check_the_cycle(
        database, organization, client, send,
        lambda: monkeypatch.setattr(sendgrid, "from_unix", lenient(adapter.from_unix)),
        good=3, answer={"accepted": 3, "duplicates": 0, "unmatched": 1},
        before_fix=(2, 1, 1), after_fix=(2, 2, 1),
    )  # fmt: skip


async def test_mailgun(client, database, organization, monkeypatch) -> None:
    await configure(database, organization, "mailgun", {"signing_key": mg.SIGNING_KEY})
    await make_campaign(client, organization, "spring")
    bad = mg.event_data("delivered", "bob@example.com", 3, "mg-2")
    bad["timestamp"] = WORDY
    events = [
        mg.event_data("accepted", "ann@example.com", 0, "mg-1"),
        bad,
        mg.event_data("opened", "ann@example.com", 600, "mg-3",
                      **{"client-info": mg.client_info(mg.CHROME)}),
        mg.event_data("accepted", "bob@example.com", 0, "mg-4"),
    ]  # fmt: skip

    async def send() -> dict[str, int]:
        return await mg.post_all(client, organization, events)  # each 200, or it fails

    await check_the_cycle(
        database, organization, client, send,
        lambda: monkeypatch.setattr(mailgun, "from_unix", lenient(adapter.from_unix)),
        good=3, answer={"accepted": 3, "duplicates": 0, "unmatched": 1},
        before_fix=(2, 1, 1), after_fix=(2, 2, 1),
    )  # fmt: skip


async def test_postmark(client, database, organization, monkeypatch) -> None:
    await configure(
        database, organization, "postmark", pm.postmark_settings(pm.USERNAME, pm.PASSWORD)
    )
    await make_campaign(client, organization, "spring")
    bad = pm.delivery("bob@example.com", 5)
    bad["DeliveredAt"] = WORDY
    records = [
        pm.delivery("ann@example.com", 3),
        bad,
        pm.record("Open", "ann@example.com", Recipient="ann@example.com",
                  ReceivedAt=pm.at(600), FirstOpen=True, UserAgent=pm.CHROME),
    ]  # fmt: skip

    async def send() -> dict[str, int]:
        response = await pm.post(client, organization, records)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    await check_the_cycle(
        database, organization, client, send,
        lambda: monkeypatch.setattr(postmark, "from_iso", lenient(adapter.from_iso)),
        good=2, answer={"accepted": 2, "duplicates": 0, "unmatched": 1},
        before_fix=(1, 1, 1), after_fix=(2, 2, 1),
    )  # fmt: skip


async def test_ses(client, database, organization_with_ses, monkeypatch) -> None:  # noqa: F811
    organization = organization_with_ses
    bad = ss.ses("Delivery", "bob@example.com", delivery={
        "timestamp": WORDY, "recipients": ["bob@example.com"], "smtpResponse": "250 OK"})  # fmt: skip
    # SNS posts one SES event a request: the batch is these notifications, one malformed.
    notifications = [
        ss.notification(ss.ses("Send", "ann@example.com", send={})),
        ss.notification(bad),
        ss.notification(ss.ses("Open", "ann@example.com", open={
            "ipAddress": "192.0.2.1", "timestamp": ss.at(600), "userAgent": ss.IPHONE})),
        ss.notification(ss.ses("Send", "bob@example.com", send={})),
    ]  # fmt: skip

    async def send() -> dict[str, int]:
        totals = {"accepted": 0, "duplicates": 0, "unmatched": 0}
        for message in notifications:
            response = await ss.post(client, organization, message)
            assert response.status_code == 200, response.text
            totals = {name: totals[name] + value for name, value in response.json().items()}
        return totals

    await check_the_cycle(
        database, organization, client, send,
        lambda: monkeypatch.setattr(ses, "from_iso", lenient(adapter.from_iso)),
        good=3, answer={"accepted": 3, "duplicates": 0, "unmatched": 1},
        before_fix=(2, 1, 1), after_fix=(2, 2, 1),
    )  # fmt: skip


async def test_one_bad_recipient_of_an_ses_event(
    client,
    database,
    organization_with_ses,  # noqa: F811
) -> None:
    # A Delivery to three, one address malformed: the other two are delivered.
    event = ss.ses("Delivery", "ann@example.com", delivery={
        "timestamp": ss.at(2), "recipients": ["ann@example.com", "not an address", "bob@example.com"]})  # fmt: skip
    response = await ss.post(client, organization_with_ses, ss.notification(event))
    assert response.json() == {"accepted": 2, "duplicates": 0, "unmatched": 1}
    assert (await stats(client, organization_with_ses))["delivered"] == 2
    [refused] = await kept(database, organization_with_ses)
    assert (refused.provider, refused.kind) == ("ses", "Delivery")
    assert "not an email address" in refused.reason
    # No fix for that: a replay leaves it kept, with its reason.
    replayed, still = await replay(database, organization_with_ses)
    assert (replayed, list(still)) == ([], [refused.id])


async def test_the_request_as_a_whole_is_still_refused(client, database, organization) -> None:
    await configure(database, organization, "sendgrid", {"public_key": sg.PUBLIC_KEY})
    before = await stored(database)
    for body in (b"[{not json", orjson.dumps({"event": "open"})):
        response = await client.post(
            f"/webhooks/sendgrid/{organization.name}", content=body, headers=sg.signed(body)
        )
        assert response.status_code == 400, response.text
    # A good batch with a bad signature: refused, the bad event is not kept either.
    body = orjson.dumps([{"event": "open"}])
    response = await client.post(
        f"/webhooks/sendgrid/{organization.name}",
        content=body,
        headers=sg.signed(b"[]") | {"Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert await stored(database) == before


REFUSED_QUERY = """query($first: Int, $after: String, $replayed: Boolean!) {
  refusedEvents(first: $first, after: $after, replayed: $replayed) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id provider kind reason replayedAt payload } } } }"""


async def test_admins_read_refused_events_through_graphql(client, database, organization) -> None:
    await configure(database, organization, "sendgrid", {"public_key": sg.PUBLIC_KEY})
    bad = [{**sg.sendgrid_event("open", f"p{n}@example.com", 0, 50 + n), "timestamp": WORDY}
           for n in range(3)]  # fmt: skip
    assert (await sg.post(client, organization, bad)).json()["unmatched"] == 3
    variables = {"first": 2, "after": None, "replayed": False}
    body = await graphql(client, organization, REFUSED_QUERY, variables, role=Role.ADMIN)
    page = body["data"]["refusedEvents"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"] is True
    first = [edge["node"] for edge in page["edges"]]
    body = await graphql(
        client, organization, REFUSED_QUERY,
        {**variables, "after": page["pageInfo"]["endCursor"]}, role=Role.ADMIN,
    )  # fmt: skip
    rest = [edge["node"] for edge in body["data"]["refusedEvents"]["edges"]]
    nodes = first + rest
    assert [orjson.loads(node["payload"])["email"] for node in nodes] == [
        "p0@example.com",
        "p1@example.com",
        "p2@example.com",
    ]
    assert {(n["provider"], n["kind"], n["replayedAt"]) for n in nodes} == {
        ("sendgrid", "open", None)
    }
    assert all("timestamp" in node["reason"] for node in nodes)
    for role in (Role.INTEGRATION, Role.VIEWER):
        body = await graphql(
            client, organization, REFUSED_QUERY, variables, role=role, expect_errors=True
        )
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert body["data"] is None


def in_database(database_url: str, work: Any) -> Any:
    """Run `work(database)` on a Database of its own (the CLI tests are not async)."""

    async def go() -> Any:
        database = Database.from_url(database_url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(go())


@pytest.mark.fresh_database
def test_the_cli_lists_and_replays(database_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(["orgs", "create", "Acme"])
    capsys.readouterr()
    processed = sg.sendgrid_event("processed", "ann@example.com", 0, 1)
    bad = {**processed, "sg_event_id": "sg-event-2", "timestamp": WORDY}

    async def webhook(database: Database) -> int:
        # As the route does: the batch normalized for a webhook, applied not strict.
        async with database.write() as connection:
            org = await organization_by_name(connection, "Acme")
            assert org is not None
            events = adapter.normalize_each(sendgrid.normalize, [processed, bad], "sendgrid")
            result = await ingest_provider_events(
                connection, org, events, datetime.now(UTC), strict=False
            )
            # No campaign "spring" in Acme: the good event waits for it, the bad one is kept.
            assert result.as_json() == {"accepted": 0, "duplicates": 0, "unmatched": 2}
        return org

    in_database(database_url, webhook)
    main(["events", "refused", "--org", "Acme", "--json"])
    [line] = capsys.readouterr().out.splitlines()
    listed = orjson.loads(line)
    assert (listed["provider"], listed["kind"], listed["replayedAt"]) == (
        "sendgrid",
        "processed",
        None,
    )
    assert listed["raw"] == bad
    assert "timestamp" in listed["reason"]
    main(["events", "refused", "--org", "Acme"])
    assert "1 malformed event(s) kept" in capsys.readouterr().out

    main(["events", "replay", "--org", "Acme"])  # no fix yet
    assert "0 kept event(s) replayed" in capsys.readouterr().out
    monkeypatch.setattr(sendgrid, "from_unix", lenient(adapter.from_unix))
    main(["events", "replay", "--org", "Acme", "--id", str(listed["id"])])
    # Valid now: applied as a webhook's event would be (here kept for its unknown campaign).
    assert "1 kept event(s) replayed: 0 accepted, 0 duplicates, 1 unmatched" in (
        capsys.readouterr().out
    )
    main(["events", "replay", "--org", "Acme"])
    assert "0 kept event(s) replayed: 0 accepted" in capsys.readouterr().out
    main(["events", "refused", "--org", "Acme", "--json"])
    assert capsys.readouterr().out == ""
    main(["events", "refused", "--org", "Acme", "--json", "--all"])
    assert orjson.loads(capsys.readouterr().out)["replayedAt"] is not None


async def test_brevo(client, database, organization, monkeypatch) -> None:
    from app.credentials import brevo_settings
    from app.ingest.providers import brevo
    from tests import test_webhook_brevo as bv

    await configure(database, organization, "brevo", brevo_settings(bv.USERNAME, bv.PASSWORD))
    await make_campaign(client, organization, "spring")
    bad = bv.transactional("delivered", "bob@example.com", 5)
    bad["ts_event"] = WORDY  # the first time field Brevo's adapter reads
    events = [
        bv.transactional("request", "ann@example.com", 0),
        bad,
        bv.transactional("opened", "ann@example.com", 600),
    ]

    async def send() -> dict[str, int]:
        response = await bv.post(client, organization, events)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    await check_the_cycle(
        database, organization, client, send,
        lambda: monkeypatch.setattr(brevo, "from_unix", lenient(adapter.from_unix)),
        good=2, answer={"accepted": 2, "duplicates": 0, "unmatched": 1},
        before_fix=(1, 1, 1), after_fix=(2, 2, 1),
    )  # fmt: skip


async def test_sparkpost(client, database, organization, monkeypatch) -> None:
    from app.credentials import sparkpost_settings
    from app.ingest.providers import sparkpost
    from tests import test_webhook_sparkpost as sp

    await configure(
        database, organization, "sparkpost", sparkpost_settings(sp.USERNAME, sp.PASSWORD)
    )
    await make_campaign(client, organization, "spring")
    bad = sp.message("delivery", "bob@example.com", 5)
    bad["msys"]["message_event"]["timestamp"] = WORDY
    items = [
        sp.message("injection", "ann@example.com", 0),
        bad,
        sp.track("open", "ann@example.com", 600, sp.PERSON),
    ]

    async def send() -> dict[str, int]:
        response = await sp.post(client, organization, items)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    await check_the_cycle(
        database, organization, client, send,
        lambda: monkeypatch.setattr(sparkpost, "from_iso", lenient(adapter.from_iso)),
        good=2, answer={"accepted": 2, "duplicates": 0, "unmatched": 1},
        before_fix=(1, 1, 1), after_fix=(2, 2, 1),
    )  # fmt: skip
