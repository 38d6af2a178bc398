"""A stateful property test: ingest batches, replays, manual records, updates and deletions, in
any interleaving, keep every statistic equal to a recomputation from the non-deleted history.

The campaign has two variants (A, B) and two links; its recipients belong to two record owners,
and one more contact (no owner, no variant) becomes a recipient on its first response. The test
keeps its own model of the history (what it sent, what it deleted) and recomputes, with the
rules of docs/metrics.md written out here in plain Python, the campaign's statistics and
rates, each variant's, each owner's section, the funnel, every link's clicks and clickers (for
the campaign and per variant), the timeline per quarter hour (campaign and per variant) and
summed over the default range, and every recipient's status. After every step these must equal
what the API answers, and `reconcile` must find no drift.

Runs: CAMPAIGN_GRAPH_STATE_MACHINE_EXAMPLES (default 15) examples of at most
CAMPAIGN_GRAPH_STATE_MACHINE_STEPS (default 15) steps each, per database.
"""

import asyncio
import itertools
import os
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
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
from app.ids import global_id, parse_pk
from app.main import create_app
from app.models import Contact, Recipient, Response
from app.reconcile import reconcile
from app.settings import Settings
from tests.factories import (
    BASE_TIME,
    add_recipients,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)

PROFILE = "campaign-graph-state-machine"
settings.register_profile(
    PROFILE,
    max_examples=int(os.environ.get("CAMPAIGN_GRAPH_STATE_MACHINE_EXAMPLES", "10")),
    stateful_step_count=int(os.environ.get("CAMPAIGN_GRAPH_STATE_MACHINE_STEPS", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

OLGA, PETE = "olga@owners.example", "pete@owners.example"
# email -> (variant, record owner), as added before the first step.
MEMBERS = {
    "ann@example.com": ("A", OLGA),
    "bob@example.com": ("B", OLGA),
    "cy@example.com": ("A", PETE),
    "di@example.com": ("B", PETE),
}
LATE = "eve@example.com"  # no owner, no variant: a recipient from its first response on
EMAILS = [*MEMBERS, LATE]
VARIANTS = ["A", "B"]
LINKS = ["https://example.com/offer", "https://example.com/pricing"]
TRACKED_TYPES = [
    "SENT", "DELIVERED", "DEFERRED", "BOUNCED", "DROPPED", "NOT_SENT", "OPENED", "CLICKED",
    "COMPLAINED", "UNSUBSCRIBED", "PURCHASED",
]  # fmt: skip
MANUAL_TYPES = [*TRACKED_TYPES, "RESPONDED", "LEAD", "OPPORTUNITY"]
DELIVERY_RANK = {"SENT": 0, "DEFERRED": 1, "DROPPED": 2, "DELIVERED": 3, "BOUNCED": 4}
ENGAGEMENT = {"OPENED", "CLICKED", "COMPLAINED", "UNSUBSCRIBED"}
HARD_CATEGORIES = {"DOMAIN_NOT_FOUND", "USER_NOT_FOUND", "INVALID_ADDRESS"}
BOUNCE_CATEGORIES = [None, "USER_NOT_FOUND", "MAILBOX_FULL"]  # None: no bounce object (SOFT)
TIMELINE_FIELDS = {
    "SENT": "sent", "DELIVERED": "delivered", "OPENED": "opens", "CLICKED": "clicks",
    "BOUNCED": "bounced", "UNSUBSCRIBED": "unsubscribed",
}  # fmt: skip
MINUTES = 90
QUARTERS = MINUTES // 15 + 1  # buckets of the explicit range [BASE_TIME, +105 min)
DELETION_NOTE = "asked to"

COUNTS = (
    "recipients sent notSent delivered deferred dropped bounced hardBounced softBounced opened "
    "opens clicked clicks complained unsubscribed machineOpens responded leads opportunities "
    "purchases"
).split()
RATES = {  # name: (numerator, denominator), docs/metrics.md
    "deliveryRate": ("delivered", "sent"),
    "openRate": ("opened", "sent"),
    "confirmedOpenRate": ("opened", "delivered"),
    "clickRate": ("clicked", "sent"),
    "clickThroughRate": ("clicked", "delivered"),
    "clickToOpenRate": ("clicked", "opened"),
    "bounceRate": ("bounced", "sent"),
    "complaintRate": ("complained", "sent"),
    "unsubscribeRate": ("unsubscribed", "sent"),
    "conversionRate": ("purchases", "delivered"),
}
STATS = " ".join([*COUNTS, "revenue", *RATES])
BUCKET = " ".join(TIMELINE_FIELDS.values())
CAMPAIGN = f"""
query($id: ID!, $a: ID!, $b: ID!, $from: DateTime!, $to: DateTime!) {{
  node(id: $id) {{
    ... on Campaign {{
      stats {{ ...S }}
      funnel {{ notReceived received opened clicked optedOut }}
      links {{ id url clicks clicked topClickers(first: 10) {{ contact {{ email }} clicks }} }}
      variants {{ name stats {{ ...S }} links {{ url clicks clicked }} }}
      statsByOwner {{ owner {{ email }} stats {{ ...S }} }}
      quarters: timeline(granularity: QUARTER_HOUR, timezone: "UTC", from: $from, to: $to) {{
        ...B
      }}
      quartersA: timeline(granularity: QUARTER_HOUR, timezone: "UTC", from: $from, to: $to,
                          variantId: $a) {{ ...B }}
      quartersB: timeline(granularity: QUARTER_HOUR, timezone: "UTC", from: $from, to: $to,
                          variantId: $b) {{ ...B }}
      hours: timeline {{ ...B }}
      recipients(first: 10) {{ totalCount edges {{ node {{ status opens clicks
        contact {{ email }} }} }} }}
    }}
  }}
}}
fragment S on Stats {{ {STATS} }}
fragment B on TimelineBucket {{ {BUCKET} }}
"""
SETUP = """
query($id: ID!) { node(id: $id) { ... on Campaign { variants { id name } links { id url } } } }
"""
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
    link: int | None = None  # index into LINKS
    machine: bool = False
    hard: bool = False
    deleted: bool = False


@dataclass
class Member:
    """One recipient as the test knows it: where it counts, and its history."""

    variant: str | None
    owner: str | None
    entries: list[Entry] = field(default_factory=list)

    @property
    def live(self) -> list[Entry]:
        return [entry for entry in self.entries if not entry.deleted]


def delivery_state(live: list[Entry]) -> str | None:
    types = {entry.type for entry in live}
    stage = [entry for entry in live if entry.type in DELIVERY_RANK]
    if ENGAGEMENT & types:
        return "DELIVERED"
    if stage:
        return max(stage, key=lambda e: (e.minute, DELIVERY_RANK[e.type])).type
    return None


def status(live: list[Entry]) -> str:
    types = {entry.type for entry in live}
    for kind in ("COMPLAINED", "UNSUBSCRIBED", "CLICKED"):
        if kind in types:
            return kind
    if "OPENED" in types:
        return "OPENED"
    return delivery_state(live) or ("NOT_SENT" if "NOT_SENT" in types else "QUEUED")


def counts(live: list[Entry]) -> dict[str, int]:
    """One recipient's numbers in the statistics (revenue in cents)."""
    types = [entry.type for entry in live]
    delivery = delivery_state(live)
    bounced = delivery == "BOUNCED"
    hard = bounced and any(e.hard for e in live if e.type == "BOUNCED")
    return {
        "recipients": 1,
        "sent": delivery is not None,
        "notSent": delivery is None and "NOT_SENT" in types,
        "delivered": delivery == "DELIVERED",
        "deferred": delivery == "DEFERRED",
        "dropped": delivery == "DROPPED",
        "bounced": bounced,
        "hardBounced": hard,
        "softBounced": bounced and not hard,
        "opened": "OPENED" in types or "CLICKED" in types,
        "opens": types.count("OPENED"),
        "clicked": "CLICKED" in types,
        "clicks": types.count("CLICKED"),
        "complained": "COMPLAINED" in types,
        "unsubscribed": "UNSUBSCRIBED" in types,
        "machineOpens": sum(1 for e in live if e.type == "OPENED" and e.machine),
        "responded": "RESPONDED" in types,
        "leads": "LEAD" in types,
        "opportunities": "OPPORTUNITY" in types,
        "purchases": "PURCHASED" in types,
        "revenue": sum(e.amount_cents for e in live if e.type == "PURCHASED"),
    }


def stats_of(members: list[Member]) -> dict[str, Any]:
    """Summed statistics of some recipients, with rates (null when dividing by zero)."""
    total = dict.fromkeys([*COUNTS, "revenue"], 0)
    for member in members:
        for name, value in counts(member.live).items():
            total[name] += int(value)
    result: dict[str, Any] = {name: total[name] for name in COUNTS}
    result["revenue"] = str((Decimal(total["revenue"]) / 100).quantize(Decimal("0.01")))
    for name, (numerator, denominator) in RATES.items():
        result[name] = total[numerator] / total[denominator] if total[denominator] else None
    return result


def funnel_of(members: list[Member]) -> dict[str, int]:
    funnel = dict.fromkeys(["notReceived", "received", "opened", "clicked", "optedOut"], 0)
    for member in members:
        types = {entry.type for entry in member.live}
        if {"UNSUBSCRIBED", "COMPLAINED"} & types:
            funnel["optedOut"] += 1
        elif "CLICKED" in types:
            funnel["clicked"] += 1
        elif {"OPENED", "CLICKED"} & types:
            funnel["opened"] += 1
        elif delivery_state(member.live) == "DELIVERED":
            funnel["received"] += 1
        else:
            funnel["notReceived"] += 1
    return funnel


def links_of(members: dict[str, Member]) -> dict[str, dict[str, Any]]:
    """Per link url: clicks, clickers and clicks per clicking contact."""
    result = {}
    for index, url in enumerate(LINKS):
        per_contact = {
            email: sum(1 for e in member.live if e.type == "CLICKED" and e.link == index)
            for email, member in members.items()
        }
        per_contact = {email: n for email, n in per_contact.items() if n}
        result[url] = {
            "clicks": sum(per_contact.values()),
            "clicked": len(per_contact),
            "clickers": per_contact,
        }
    return result


def quarters_of(members: list[Member]) -> list[dict[str, int]]:
    buckets = [dict.fromkeys(TIMELINE_FIELDS.values(), 0) for _ in range(QUARTERS)]
    for member in members:
        for entry in member.live:
            if entry.type in TIMELINE_FIELDS:
                buckets[entry.minute // 15][TIMELINE_FIELDS[entry.type]] += 1
    return buckets


def summed(buckets: list[dict[str, int]]) -> dict[str, int]:
    return {name: sum(bucket[name] for bucket in buckets) for name in TIMELINE_FIELDS.values()}


def same_stats(got: dict[str, Any], expected: dict[str, Any]) -> None:
    """Counters and revenue exactly; rates to float precision (null exactly)."""
    assert {n: got[n] for n in [*COUNTS, "revenue"]} == {
        n: expected[n] for n in [*COUNTS, "revenue"]
    }
    for name in RATES:
        if expected[name] is None:
            assert got[name] is None, name
        else:
            assert got[name] == pytest.approx(expected[name], rel=1e-9), name


def occurred(minute: int) -> str:
    return (BASE_TIME + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")


tracked_event = st.fixed_dictionaries(
    {
        "email": st.sampled_from(EMAILS),
        # Half of them delivery-stage: otherwise engagement hides most bounces and deferrals.
        "type": st.one_of(
            st.sampled_from([*DELIVERY_RANK, "NOT_SENT"]), st.sampled_from(TRACKED_TYPES)
        ),
        "minute": st.integers(0, MINUTES),
        "machine": st.booleans(),  # OPENED: by a machine
        "link": st.sampled_from([None, 0, 1]),  # CLICKED: on which link, if any
        "category": st.sampled_from(BOUNCE_CATEGORIES),  # BOUNCED
        "amount_cents": st.integers(0, 50_000),  # PURCHASED
        "name_variant": st.booleans(),  # the event names its recipient's variant
    }
)


class CampaignMachine(RuleBasedStateMachine):
    """One campaign of a fresh organization, driven through the HTTP API."""

    database_url: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.numbers = itertools.count(1)
        self.members: dict[str, Member] = {
            email: Member(variant, owner) for email, (variant, owner) in MEMBERS.items()
        }
        self.batches: list[list[dict[str, Any]]] = []
        self.id_cache: dict[str, tuple[str, str]] = {}
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
            self.client,
            self.organization,
            "spring",
            variants=[{"name": name} for name in VARIANTS],
            links=[{"url": url} for url in LINKS],
        )
        for variant in VARIANTS:
            contacts = [
                {"email": email, "ownerEmail": owner}
                for email, (named, owner) in MEMBERS.items()
                if named == variant
            ]
            answer = await add_recipients(
                self.client, self.organization, self.campaign, contacts, variant
            )
            assert answer["added"] == len(contacts)
        body = await graphql(self.client, self.organization, SETUP, {"id": self.campaign})
        node = body["data"]["node"]
        self.variant_ids = {variant["name"]: variant["id"] for variant in node["variants"]}
        self.link_ids = {link["url"]: link["id"] for link in node["links"]}
        assert sorted(self.variant_ids) == VARIANTS and sorted(self.link_ids) == sorted(LINKS)

    def teardown(self) -> None:
        self.run(self.client.aclose())
        self.run(self.database.dispose())
        self.loop.close()

    async def call(self, query: str, input: dict[str, Any]) -> dict[str, Any]:
        body = await graphql(self.client, self.organization, query, {"input": input})
        payload = next(iter(body["data"].values()))
        assert payload["userErrors"] == [], payload
        return payload

    def member(self, email: str) -> Member:
        """The recipient with this email, once it is one (LATE: on its first response)."""
        return self.members.setdefault(email, Member(None, None))

    def ids(self, email: str) -> tuple[str, str]:
        """The global ids of the contact and of its recipient in the campaign."""
        if email not in self.id_cache:
            self.id_cache[email] = self.run(self.lookup_ids(email))
        return self.id_cache[email]

    async def lookup_ids(self, email: str) -> tuple[str, str]:
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
            kind, email = spec["type"], spec["email"]
            raw: dict[str, Any] = {
                "id": f"evt-{next(self.numbers)}",
                "type": kind,
                "occurredAt": occurred(spec["minute"]),
                "campaign": "spring",
                "contact": {"email": email},
            }
            entry = Entry(kind, spec["minute"])
            variant = MEMBERS.get(email, (None, None))[0]
            if variant and spec["name_variant"]:
                raw["variant"] = variant
            if kind == "CLICKED" and spec["link"] is not None:
                raw["url"], entry.link = LINKS[spec["link"]], spec["link"]
            if kind == "OPENED":
                raw["machine"] = entry.machine = spec["machine"]
            if kind == "BOUNCED" and spec["category"] is not None:
                raw["bounce"] = {"category": spec["category"]}
                entry.hard = spec["category"] in HARD_CATEGORIES
            if kind == "PURCHASED":
                raw["amount"] = str(Decimal(spec["amount_cents"]) / 100)
                entry.amount_cents = spec["amount_cents"]
            events.append(raw)
            self.member(email).entries.append(entry)
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
        minute=st.integers(0, MINUTES),
        amount_cents=st.integers(0, 50_000),
        link=st.sampled_from([None, 0, 1]),
        name_variant=st.booleans(),
    )
    def record(
        self,
        email: str,
        type: str,
        minute: int,
        amount_cents: int,
        link: int | None,
        name_variant: bool,
    ) -> None:
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
        if type == "CLICKED" and link is not None:
            input["linkId"], entry.link = self.link_ids[LINKS[link]], link
        variant = MEMBERS.get(email, (None, None))[0]
        if variant and name_variant:
            input["variantId"] = self.variant_ids[variant]
        # A manual BOUNCED is a soft bounce (no category to give): entry.hard stays False.
        self.run(self.call(RECORD, input))
        self.member(email).entries.append(entry)

    @rule(
        data=st.data(),
        type=st.sampled_from(MANUAL_TYPES),
        minute=st.integers(0, MINUTES),
        amount_cents=st.integers(0, 50_000),
    )
    def update(self, data: st.DataObject, type: str, minute: int, amount_cents: int) -> None:
        email = data.draw(st.sampled_from(sorted(self.members)))
        _, recipient = self.ids(email)
        input: dict[str, Any] = {
            "recipientId": recipient,
            "type": type,
            "occurredAt": occurred(minute),
        }
        entry = Entry(type, minute)
        if type == "PURCHASED":
            input["amount"] = str(Decimal(amount_cents) / 100)
            entry.amount_cents = amount_cents
        self.run(self.call(UPDATE, input))
        self.members[email].entries.append(entry)

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        email = data.draw(st.sampled_from(sorted(self.members)))
        contact, _ = self.ids(email)
        input = {"campaignId": self.campaign, "contactId": contact, "note": DELETION_NOTE}
        payload = self.run(self.call(DELETE, input))
        live = self.members[email].live
        assert payload["deletedCount"] == len(live)
        assert payload["recipient"]["status"] == "QUEUED"
        for entry in live:
            entry.deleted = True

    # --- After every step ----------------------------------------------------------------------

    @invariant()
    def statistics_equal_a_recomputation(self) -> None:
        variables = {
            "id": self.campaign,
            "a": self.variant_ids["A"],
            "b": self.variant_ids["B"],
            "from": occurred(0),
            "to": occurred(QUARTERS * 15),
        }
        body = self.run(graphql(self.client, self.organization, CAMPAIGN, variables))
        node = body["data"]["node"]
        members = self.members
        everyone = list(members.values())
        in_variant = {v: [m for m in everyone if m.variant == v] for v in VARIANTS}

        same_stats(node["stats"], stats_of(everyone))
        assert node["funnel"] == funnel_of(everyone)
        assert sum(node["funnel"].values()) == len(everyone)

        assert sorted(variant["name"] for variant in node["variants"]) == VARIANTS
        for variant in node["variants"]:
            same_stats(variant["stats"], stats_of(in_variant[variant["name"]]))
            expected_links = links_of(
                {e: m for e, m in members.items() if m.variant == variant["name"]}
            )
            assert {
                link["url"]: {"clicks": link["clicks"], "clicked": link["clicked"]}
                for link in variant["links"]
            } == {
                url: {"clicks": n["clicks"], "clicked": n["clicked"]}
                for url, n in expected_links.items()
            }

        owners: dict[str | None, list[Member]] = {}
        for member in everyone:
            owners.setdefault(member.owner, []).append(member)
        sections = {
            (section["owner"] or {}).get("email"): section["stats"]
            for section in node["statsByOwner"]
        }
        assert len(sections) == len(node["statsByOwner"])
        assert set(sections) == set(owners)
        for owner, section in sections.items():
            same_stats(section, stats_of(owners[owner]))

        expected_links = links_of(members)
        assert {link["url"] for link in node["links"]} == set(LINKS)
        for link in node["links"]:
            expected = expected_links[link["url"]]
            assert (link["clicks"], link["clicked"]) == (expected["clicks"], expected["clicked"])
            clickers = {row["contact"]["email"]: row["clicks"] for row in link["topClickers"]}
            assert clickers == expected["clickers"]

        quarters = quarters_of(everyone)
        assert node["quarters"] == quarters
        assert node["quartersA"] == quarters_of(in_variant["A"])
        assert node["quartersB"] == quarters_of(in_variant["B"])
        assert summed(node["hours"]) == summed(quarters)

        recipients = node["recipients"]
        assert recipients["totalCount"] == len(members)
        assert {
            edge["node"]["contact"]["email"]: (
                edge["node"]["status"],
                edge["node"]["opens"],
                edge["node"]["clicks"],
            )
            for edge in recipients["edges"]
        } == {
            email: (
                status(member.live),
                sum(1 for e in member.live if e.type == "OPENED"),
                sum(1 for e in member.live if e.type == "CLICKED"),
            )
            for email, member in members.items()
        }

    @invariant()
    def history_is_kept_audited_and_aggregates_do_not_drift(self) -> None:
        async def check() -> None:
            campaign_pk = parse_pk(self.campaign, "Campaign")
            async with self.database.read() as connection:
                rows = (
                    await connection.execute(
                        select(
                            Response.deleted_at.is_(None).label("live"),
                            Response.deleted_by.is_(None).label("no_deleter"),
                            Response.deletion_note,
                            func.count().label("n"),
                        )
                        .where(Response.campaign_id == campaign_pk)
                        .group_by(
                            Response.deleted_at.is_(None),
                            Response.deleted_by.is_(None),
                            Response.deletion_note,
                        )
                    )
                ).all()
                assert await reconcile(connection, campaign_pk) == []
            found = {(bool(r.live), bool(r.no_deleter), r.deletion_note): r.n for r in rows}
            entries = [entry for member in self.members.values() for entry in member.entries]
            expected = {
                (True, True, None): sum(1 for e in entries if not e.deleted),
                (False, False, DELETION_NOTE): sum(1 for e in entries if e.deleted),
            }
            assert found == {key: n for key, n in expected.items() if n}

        self.run(check())


def test_any_interleaving_keeps_statistics_exact(database_url: str) -> None:
    machine = type("Machine", (CampaignMachine,), {"database_url": database_url})
    run_state_machine_as_test(machine, settings=settings.get_profile(PROFILE))
