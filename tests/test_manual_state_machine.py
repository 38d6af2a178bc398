"""A stateful property test: ingest batches, replays, manual records, updates and deletions, in
any interleaving, keep every statistic equal to a recomputation from the non-deleted history.

The test keeps its own model of the history (what it sent, what it deleted) and recomputes the
campaign's statistics from it with the rules of DESIGN.md, "Metrics"; after every step these
must equal what the API answers, and `reconcile` must find no drift.
"""

import asyncio
import itertools
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from app.database import Database
from app.main import create_app
from app.models import Contact, Recipient, Response
from app.reconcile import reconcile
from app.settings import Settings
from schema.node import global_id, parse_pk
from tests.factories import BASE_TIME, graphql, make_campaign, make_organization, post_events

EMAILS = ["ann@example.com", "bob@example.com", "cy@example.com", "di@example.com"]
TRACKED_TYPES = [
    "SENT", "DELIVERED", "DEFERRED", "BOUNCED", "DROPPED", "NOT_SENT", "OPENED", "CLICKED",
    "COMPLAINED", "UNSUBSCRIBED", "PURCHASED",
]  # fmt: skip
MANUAL_TYPES = [*TRACKED_TYPES, "RESPONDED", "LEAD", "OPPORTUNITY"]
DELIVERY_RANK = {"SENT": 0, "DEFERRED": 1, "DROPPED": 2, "DELIVERED": 3, "BOUNCED": 4}
ENGAGEMENT = {"OPENED", "CLICKED", "COMPLAINED", "UNSUBSCRIBED"}
LINK_URL = "https://example.com/offer"

STATS = (
    "recipients sent notSent delivered deferred dropped bounced opened opens clicked clicks "
    "complained unsubscribed machineOpens responded leads opportunities purchases revenue"
)
CAMPAIGN = f"""
query($id: ID!) {{
  node(id: $id) {{
    ... on Campaign {{
      stats {{ {STATS} }}
      funnel {{ notReceived received opened clicked optedOut }}
      links {{ id clicks clicked }}
    }}
  }}
}}"""
RECORD = """
mutation($input: RecordResponseInput!) {
  recordResponse(input: $input) { response { id } recipient { id } userErrors { code } }
}"""
UPDATE = """
mutation($input: UpdateResponseStatusInput!) {
  updateResponseStatus(input: $input) { response { id } userErrors { code } }
}"""
DELETE = """
mutation($input: DeleteResponsesInput!) {
  deleteResponses(input: $input) { deletedCount recipient { status } userErrors { code } }
}"""


@dataclass
class Entry:
    """One response as the test knows it."""

    type: str
    minute: int
    amount_cents: int = 0
    link: bool = False
    machine: bool = False
    deleted: bool = False


def recompute(history: dict[str, list[Entry]]) -> dict[str, Any]:
    """The campaign's statistics from each recipient's non-deleted entries."""
    stats: dict[str, Any] = dict.fromkeys(STATS.split(), 0)
    funnel = dict.fromkeys(["notReceived", "received", "opened", "clicked", "optedOut"], 0)
    links = {"clicks": 0, "clicked": 0}
    revenue = 0
    for entries in history.values():
        live = [entry for entry in entries if not entry.deleted]
        types = [entry.type for entry in live]
        stage = [entry for entry in live if entry.type in DELIVERY_RANK]
        if ENGAGEMENT & set(types):
            delivery = "DELIVERED"
        elif stage:
            delivery = max(stage, key=lambda e: (e.minute, DELIVERY_RANK[e.type])).type
        else:
            delivery = None
        opened = bool({"OPENED", "CLICKED"} & set(types))
        clicked = "CLICKED" in types
        opted_out = bool({"UNSUBSCRIBED", "COMPLAINED"} & set(types))
        stats["recipients"] += 1
        stats["sent"] += delivery is not None
        stats["notSent"] += delivery is None and "NOT_SENT" in types
        for kind, name in (("DELIVERED", "delivered"), ("DEFERRED", "deferred"),
                           ("DROPPED", "dropped"), ("BOUNCED", "bounced")):  # fmt: skip
            stats[name] += delivery == kind
        stats["opened"] += opened
        stats["opens"] += types.count("OPENED")
        stats["clicked"] += clicked
        stats["clicks"] += types.count("CLICKED")
        stats["machineOpens"] += sum(1 for e in live if e.type == "OPENED" and e.machine)
        stats["complained"] += "COMPLAINED" in types
        stats["unsubscribed"] += "UNSUBSCRIBED" in types
        stats["responded"] += "RESPONDED" in types
        stats["leads"] += "LEAD" in types
        stats["opportunities"] += "OPPORTUNITY" in types
        stats["purchases"] += "PURCHASED" in types
        revenue += sum(e.amount_cents for e in live if e.type == "PURCHASED")
        if opted_out:
            funnel["optedOut"] += 1
        elif clicked:
            funnel["clicked"] += 1
        elif opened:
            funnel["opened"] += 1
        elif delivery == "DELIVERED":
            funnel["received"] += 1
        else:
            funnel["notReceived"] += 1
        link_clicks = sum(1 for e in live if e.type == "CLICKED" and e.link)
        links["clicks"] += link_clicks
        links["clicked"] += link_clicks > 0
    stats["revenue"] = str((Decimal(revenue) / 100).quantize(Decimal("0.01")))
    return {"stats": stats, "funnel": funnel, "links": links}


def occurred(minute: int) -> str:
    return (BASE_TIME + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")


tracked_event = st.fixed_dictionaries(
    {
        "email": st.sampled_from(EMAILS),
        "type": st.sampled_from(TRACKED_TYPES),
        "minute": st.integers(0, 90),
        "flag": st.booleans(),  # CLICKED: on the link; OPENED: by a machine
        "amount_cents": st.integers(0, 50_000),
    }
)


class CampaignMachine(RuleBasedStateMachine):
    """One campaign of a fresh organization, driven through the HTTP API."""

    database_url: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.numbers = itertools.count(1)
        self.history: dict[str, list[Entry]] = {}
        self.batches: list[list[dict[str, Any]]] = []
        self.run(self.setup())

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    async def setup(self) -> None:
        self.database = Database.from_url(self.database_url)
        app = create_app(Settings(database_url=self.database_url), self.database)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        self.organization = await make_organization(self.database)
        self.campaign = await make_campaign(
            self.client, self.organization, "spring", links=[{"url": LINK_URL}]
        )

    def teardown(self) -> None:
        self.run(self.client.aclose())
        self.run(self.database.dispose())
        self.loop.close()

    async def call(self, query: str, input: dict[str, Any]) -> dict[str, Any]:
        body = await graphql(self.client, self.organization, query, {"input": input})
        payload = next(iter(body["data"].values()))
        assert payload["userErrors"] == [], payload
        return payload

    async def ids(self, email: str) -> tuple[str, str]:
        """The global ids of the contact and of its recipient in the campaign."""
        async with self.database.read() as connection:
            row = (
                await connection.execute(
                    select(Contact.id, Recipient.id.label("recipient_id"))
                    .join(Recipient, Recipient.contact_id == Contact.id)
                    .where(
                        Contact.organization_id == self.organization.id,
                        Contact.email == email,
                        Recipient.campaign_id == parse_pk(self.campaign, "Campaign"),
                    )
                )
            ).one()
        return str(global_id("Contact", row.id)), str(global_id("Recipient", row.recipient_id))

    # --- Steps ---------------------------------------------------------------------------------

    @rule(batch=st.lists(tracked_event, min_size=1, max_size=6), duplicate=st.booleans())
    def ingest(self, batch: list[dict[str, Any]], duplicate: bool) -> None:
        events = []
        for spec in batch:
            raw: dict[str, Any] = {
                "id": f"evt-{next(self.numbers)}",
                "type": spec["type"],
                "occurredAt": occurred(spec["minute"]),
                "campaign": "spring",
                "contact": {"email": spec["email"]},
            }
            entry = Entry(spec["type"], spec["minute"])
            if spec["type"] == "CLICKED" and spec["flag"]:
                raw["url"], entry.link = LINK_URL, True
            if spec["type"] == "OPENED":
                raw["machine"] = entry.machine = spec["flag"]
            if spec["type"] == "PURCHASED":
                raw["amount"] = str(Decimal(spec["amount_cents"]) / 100)
                entry.amount_cents = spec["amount_cents"]
            events.append(raw)
            self.history.setdefault(spec["email"], []).append(entry)
        sent = events + events[:1] if duplicate else events
        answer = self.run(post_events(self.client, self.organization, sent)).json()
        assert answer == {"accepted": len(events), "duplicates": int(duplicate), "unmatched": 0}
        self.batches.append(events)

    @precondition(lambda self: self.batches)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """A provider retries a batch it already sent: nothing changes."""
        batch = data.draw(st.sampled_from(self.batches))
        answer = self.run(post_events(self.client, self.organization, batch)).json()
        assert answer == {"accepted": 0, "duplicates": len(batch), "unmatched": 0}

    @rule(
        email=st.sampled_from(EMAILS),
        type=st.sampled_from(MANUAL_TYPES),
        minute=st.integers(0, 90),
        amount_cents=st.integers(0, 50_000),
        on_link=st.booleans(),
    )
    def record(self, email: str, type: str, minute: int, amount_cents: int, on_link: bool) -> None:
        input: dict[str, Any] = {
            "campaignId": self.campaign,
            "email": email,
            "type": type,
            "occurredAt": occurred(minute),
        }
        entry = Entry(type, minute)
        if type == "PURCHASED":
            input["amount"] = str(Decimal(amount_cents) / 100)
            entry.amount_cents = amount_cents
        if type == "CLICKED" and on_link:
            body = self.run(
                graphql(self.client, self.organization, CAMPAIGN, {"id": self.campaign})
            )
            input["linkId"] = body["data"]["node"]["links"][0]["id"]
            entry.link = True
        self.run(self.call(RECORD, input))
        self.history.setdefault(email, []).append(entry)

    @precondition(lambda self: self.history)
    @rule(data=st.data(), type=st.sampled_from(MANUAL_TYPES), minute=st.integers(0, 90))
    def update(self, data: st.DataObject, type: str, minute: int) -> None:
        email = data.draw(st.sampled_from(sorted(self.history)))
        _, recipient = self.run(self.ids(email))
        input = {"recipientId": recipient, "type": type, "occurredAt": occurred(minute)}
        self.run(self.call(UPDATE, input))
        self.history[email].append(Entry(type, minute))

    @precondition(lambda self: self.history)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        email = data.draw(st.sampled_from(sorted(self.history)))
        contact, _ = self.run(self.ids(email))
        input = {"campaignId": self.campaign, "contactId": contact, "note": "asked to"}
        payload = self.run(self.call(DELETE, input))
        live = [entry for entry in self.history[email] if not entry.deleted]
        assert payload["deletedCount"] == len(live)
        assert payload["recipient"]["status"] == "QUEUED"
        for entry in live:
            entry.deleted = True

    # --- After every step ----------------------------------------------------------------------

    @invariant()
    def statistics_equal_a_recomputation(self) -> None:
        body = self.run(graphql(self.client, self.organization, CAMPAIGN, {"id": self.campaign}))
        node = body["data"]["node"]
        expected = recompute(self.history)
        assert node["stats"] == expected["stats"]
        assert node["funnel"] == expected["funnel"]
        link = node["links"][0]
        assert {"clicks": link["clicks"], "clicked": link["clicked"]} == expected["links"]

    @invariant()
    def history_is_kept_and_aggregates_do_not_drift(self) -> None:
        async def check() -> None:
            campaign_pk = parse_pk(self.campaign, "Campaign")
            async with self.database.read() as connection:
                counts = dict(
                    (
                        await connection.execute(
                            select(Response.deleted_at.is_(None), func.count())
                            .where(Response.campaign_id == campaign_pk)
                            .group_by(Response.deleted_at.is_(None))
                        )
                    ).all()
                )
                assert await reconcile(connection, campaign_pk) == []
            entries = [entry for entries in self.history.values() for entry in entries]
            assert counts.get(True, 0) == sum(1 for e in entries if not e.deleted)
            assert counts.get(False, 0) == sum(1 for e in entries if e.deleted)

        self.run(check())


def test_any_interleaving_keeps_statistics_exact(database_url: str) -> None:
    machine = type("Machine", (CampaignMachine,), {"database_url": database_url})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=12,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
