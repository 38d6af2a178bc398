"""`campaign-graph demo`: a demo organization loaded through the ingest path."""

import io
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from sqlalchemy import func, select

from app.auth import authenticate
from app.demo.generator import address_book, campaign_scripts
from app.demo.loader import DemoError, load_demo
from app.demo.plans import CAMPAIGNS, HORIZON
from app.enums import ResponseType, Role
from app.models import Campaign, Contact, Recipient, Response
from app.models import Organization as OrganizationModel
from app.reconcile import reconcile
from tests.factories import Organization, graphql

# The demo makes its own organization by name and the tests count every row.
pytestmark = pytest.mark.fresh_database

CAMPAIGN_LIST = """
query {
  campaigns(first: 20) {
    totalCount
    edges { node {
      externalId status sentAt cost
      variants { name isControl factors { name value } }
      links { url position }
      stats { recipients sent opened clicked }
    } }
  }
}
"""


def quiet_console() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, width=200), output


async def demo_organization(database, key: str) -> Organization:
    async with database.read() as connection:
        principal = await authenticate(connection, key)
    assert principal is not None
    assert principal.role is Role.ADMIN
    return Organization(principal.organization_id, "Demo", {Role.ADMIN: key})


async def test_demo_loads_campaigns_with_every_kind_of_event(database, client):
    console, _ = quiet_console()
    before = datetime.now(UTC)
    key = await load_demo(database, 300, "Demo", console)
    organization = await demo_organization(database, key)

    body = await graphql(client, organization, CAMPAIGN_LIST)
    campaigns = [edge["node"] for edge in body["data"]["campaigns"]["edges"]]
    assert len(campaigns) == len(CAMPAIGNS) >= 4
    # The recipients asked for, spread over the campaigns.
    assert sum(c["stats"]["recipients"] for c in campaigns) == 300
    for campaign in campaigns:
        assert campaign["status"] == "SENT"
        assert campaign["cost"] is not None
        assert datetime.fromisoformat(campaign["sentAt"]) < before - timedelta(days=2)
        assert 3 <= len(campaign["links"]) <= 5
        assert [link["position"] for link in campaign["links"]] == list(
            range(1, len(campaign["links"]) + 1)
        )
        stats = campaign["stats"]
        assert stats["sent"] > 0 and stats["opened"] > 0 and stats["clicked"] > 0, campaign
    variant_counts = sorted(len(c["variants"]) for c in campaigns)
    assert 2 in variant_counts and 4 in variant_counts  # a simple A/B and a 2x2 test
    two_by_two = next(c for c in campaigns if len(c["variants"]) == 4)
    factor_pairs = {
        tuple((f["name"], f["value"]) for f in variant["factors"])
        for variant in two_by_two["variants"]
    }
    assert len(factor_pairs) == 4
    assert sum(variant["isControl"] for variant in two_by_two["variants"]) == 1

    async with database.read() as connection:
        types = set(
            (
                await connection.execute(
                    select(Response.type)
                    .where(Response.organization_id == organization.id)
                    .distinct()
                )
            ).scalars()
        )
        assert types == {kind.value for kind in ResponseType}
        rows = (
            await connection.execute(
                select(
                    Response.occurred_at,
                    Response.machine,
                    Response.bot,
                    Response.classified_by,
                    Campaign.sent_at,
                ).join(Campaign, Campaign.id == Response.campaign_id)
            )
        ).all()
        owners = (
            await connection.execute(select(func.count(func.distinct(Recipient.owner_id))))
        ).scalar_one()
        assert owners >= 3  # record owners
        assert await reconcile(connection) == []
    assert any(row.machine for row in rows) and any(row.bot for row in rows)
    # Privacy-proxy opens carry no flag: the rule names them; the scanner's clicks are flagged.
    assert {"PRIVACY_PROXY", "REPORTED"} <= {row.classified_by for row in rows}
    # Every event happened after its campaign was sent (NOT_SENT just before), and in the past.
    for row in rows:
        assert row.sent_at - timedelta(minutes=5) <= row.occurred_at < before, row


async def test_not_sent_only_for_contacts_suppressed_by_an_earlier_campaign(database):
    console, _ = quiet_console()
    await load_demo(database, 400, "Demo", console)
    async with database.read() as connection:
        rows = (
            await connection.execute(
                select(
                    Response.contact_id,
                    Response.type,
                    Response.bounce_type,
                    Response.skip_reason,
                    Campaign.sent_at,
                ).join(Campaign, Campaign.id == Response.campaign_id)
            )
        ).all()
        suppressed = dict(
            (
                await connection.execute(
                    select(Contact.id, Contact.suppression_reason).where(
                        Contact.suppression_reason.is_not(None)
                    )
                )
            ).all()
        )
    reasons = {"COMPLAINED": "COMPLAINED", "UNSUBSCRIBED": "UNSUBSCRIBED"}
    suppressing: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for row in rows:
        reason = "PREVIOUSLY_BOUNCED" if row.bounce_type == "HARD" else reasons.get(row.type)
        if reason:
            suppressing[row.contact_id].append((row.sent_at, reason))
    not_sent = [row for row in rows if row.type == "NOT_SENT"]
    assert not_sent
    for row in not_sent:
        earlier = sorted(entry for entry in suppressing[row.contact_id] if entry[0] < row.sent_at)
        assert earlier, row
        assert row.skip_reason == earlier[0][1] == suppressed[row.contact_id]


async def test_a_second_run_only_makes_a_new_key(database):
    console, output = quiet_console()
    first = await load_demo(database, 200, "Demo", console)

    async def recipients() -> int:
        async with database.read() as connection:
            return (await connection.execute(select(func.count(Recipient.id)))).scalar_one()

    loaded = await recipients()
    second = await load_demo(database, 200, "Demo", console)
    assert second != first
    first_org = await demo_organization(database, first)
    second_org = await demo_organization(database, second)
    assert first_org.id == second_org.id
    assert await recipients() == loaded == 200
    assert "exists already" in output.getvalue()


async def test_too_few_recipients_is_refused_and_creates_nothing(database):
    console, _ = quiet_console()
    with pytest.raises(DemoError, match="at least"):
        await load_demo(database, 10, "Demo", console)
    async with database.read() as connection:
        assert (await connection.execute(select(func.count(OrganizationModel.id)))).scalar() == 0


def test_variant_b_gets_more_clicks_than_a():
    """A pure check of the generator: the simple A/B tests are worth looking at."""
    rng = random.Random(7)
    contacts = address_book(rng, 9000)
    now = datetime.now(UTC)
    for plan in CAMPAIGNS:
        if len(plan.variants) != 2:
            continue
        sent_at = now - timedelta(days=5)
        scripts = campaign_scripts(rng, plan, contacts, 8000, sent_at, sent_at + HORIZON, ())
        delivered: dict[str, int] = defaultdict(int)
        clicked: dict[str, int] = defaultdict(int)
        for events in scripts:
            kinds = {event["type"] for event in events if not event.get("bot")}
            variant = events[0]["variant"]
            delivered[variant] += "DELIVERED" in kinds
            clicked[variant] += "CLICKED" in kinds
        rate = {name: clicked[name] / delivered[name] for name in delivered}
        assert rate["B"] > rate["A"] * 1.2, (plan.external_id, rate)
