"""The same events in any order, in any batches, any number of times, give the same numbers."""

from typing import Any

from app.database import Database
from tests.factories import event, graphql, make_campaign, make_organization, post_events

LINK = "https://example.com/pricing"
OTHER_LINK = "https://example.com/about"

QUERY = """
query {
  campaign(externalId: "spring") {
    stats {
      recipients sent notSent delivered deferred dropped bounced hardBounced softBounced
      opened opens clicked clicks complained unsubscribed machineOpens botClicks
      responded leads opportunities purchases revenue openRate clickRate
    }
    funnel { notReceived received opened clicked optedOut }
    variants { name stats { sent opened clicked } }
    links { url clicks clicked }
  }
}
"""


def history() -> list[dict[str, Any]]:
    """A story per contact in which the order of arrival would matter to a naive counter."""
    return [
        # ann: a soft bounce, then delivered: delivered, not bounced
        event("SENT", "ann@example.com", minutes=0, id="a1", variant="A"),
        event("BOUNCED", "ann@example.com", minutes=1, id="a2", bounce={"type": "SOFT"}),
        event("DELIVERED", "ann@example.com", minutes=5, id="a3", variant="A"),
        event("OPENED", "ann@example.com", minutes=6, id="a4", machine=False),
        event("CLICKED", "ann@example.com", minutes=7, id="a5", url=LINK, bot=False),
        event("CLICKED", "ann@example.com", minutes=9, id="a6", url=LINK, bot=False),
        # bob: delivered and bounced at the same instant: the bounce wins; hard
        event("SENT", "bob@example.com", minutes=0, id="b1", variant="B"),
        event("DELIVERED", "bob@example.com", minutes=2, id="b2"),
        event("BOUNCED", "bob@example.com", minutes=2, id="b3", bounce={"type": "HARD"}),
        # cat: an unsubscribe proves delivery; a purchase
        event("SENT", "cat@example.com", minutes=0, id="c1", variant="B"),
        event("DEFERRED", "cat@example.com", minutes=1, id="c2"),
        event("UNSUBSCRIBED", "cat@example.com", minutes=30, id="c3"),
        event("PURCHASED", "cat@example.com", minutes=40, id="c4", amount="19.99"),
        event("CLICKED", "cat@example.com", minutes=20, id="c5", url=OTHER_LINK, bot=False),
        # dan: not sent
        event("NOT_SENT", "dan@example.com", minutes=0, id="d1", skipReason="UNSUBSCRIBED"),
    ]


# Worked out by hand from the stories above.
EXPECTED_STATS = {
    "recipients": 4,
    "sent": 3,
    "notSent": 1,
    "delivered": 2,  # ann, cat
    "deferred": 0,
    "dropped": 0,
    "bounced": 1,  # bob
    "hardBounced": 1,
    "softBounced": 0,
    "opened": 2,  # ann, cat (a click proves an open)
    "opens": 1,
    "clicked": 2,
    "clicks": 3,
    "complained": 0,
    "unsubscribed": 1,
    "machineOpens": 0,
    "botClicks": 0,
    "responded": 0,
    "leads": 0,
    "opportunities": 0,
    "purchases": 1,
    "revenue": "19.99",
    "openRate": 2 / 3,
    "clickRate": 2 / 3,
}
EXPECTED_FUNNEL = {"notReceived": 2, "received": 0, "opened": 0, "clicked": 1, "optedOut": 1}
EXPECTED_VARIANTS = [
    {"name": "A", "stats": {"sent": 1, "opened": 1, "clicked": 1}},
    {"name": "B", "stats": {"sent": 2, "opened": 1, "clicked": 1}},
]
EXPECTED_LINKS = [
    {"url": LINK, "clicks": 2, "clicked": 1},
    {"url": OTHER_LINK, "clicks": 1, "clicked": 1},
]


async def served(client: Any, organization: Any) -> dict[str, Any]:
    body = await graphql(client, organization, QUERY)
    return body["data"]["campaign"]


async def fresh_campaign(client: Any, database: Database) -> Any:
    organization = await make_organization(database)
    await make_campaign(
        client,
        organization,
        "spring",
        variants=[{"name": "A"}, {"name": "B"}],
        links=[{"url": LINK}, {"url": OTHER_LINK}],
    )
    return organization


def assert_expected(campaign: dict[str, Any]) -> None:
    assert campaign["stats"] == EXPECTED_STATS
    assert campaign["funnel"] == EXPECTED_FUNNEL
    assert campaign["variants"] == EXPECTED_VARIANTS
    assert campaign["links"] == EXPECTED_LINKS


async def test_any_order_and_any_batching_give_the_same_statistics(client, database):
    events = history()
    forward = await fresh_campaign(client, database)
    response = await post_events(client, forward, events)
    assert response.json() == {"accepted": 15, "duplicates": 0, "unmatched": 0}

    backward = await fresh_campaign(client, database)
    reversed_events = list(reversed(events))
    for start in range(0, len(reversed_events), 4):  # four batches
        response = await post_events(client, backward, reversed_events[start : start + 4])
        assert response.status_code == 200, response.text

    interleaved = await fresh_campaign(client, database)
    odd_first = events[1::2] + events[0::2]
    for single in odd_first:  # one event a request
        response = await post_events(client, interleaved, [single])
        assert response.status_code == 200, response.text

    first = await served(client, forward)
    assert_expected(first)
    assert await served(client, backward) == first
    assert await served(client, interleaved) == first


async def test_replaying_a_batch_changes_nothing(client, organization):
    await make_campaign(
        client,
        organization,
        "spring",
        variants=[{"name": "A"}, {"name": "B"}],
        links=[{"url": LINK}, {"url": OTHER_LINK}],
    )
    events = history()
    response = await post_events(client, organization, events)
    assert response.json() == {"accepted": 15, "duplicates": 0, "unmatched": 0}
    before = await served(client, organization)
    assert_expected(before)

    response = await post_events(client, organization, events)
    assert response.json() == {"accepted": 0, "duplicates": 15, "unmatched": 0}
    # A batch that resends some events alongside their own duplicates.
    response = await post_events(client, organization, events[:5] + events[:5])
    assert response.json() == {"accepted": 0, "duplicates": 10, "unmatched": 0}
    after = await served(client, organization)
    # updatedAt is not asked for, so the whole answer is the same.
    assert after == before


async def test_a_late_event_changes_only_what_it_should(client, organization):
    await make_campaign(client, organization, "spring", variants=[{"name": "A"}, {"name": "B"}])
    events = history()
    late, early = events[2], events[:2] + events[3:]  # ann's DELIVERED arrives last
    await post_events(client, organization, early)
    partial = await served(client, organization)
    # Without it ann's open still proves delivery.
    assert partial["stats"]["delivered"] == 2
    await post_events(client, organization, [late])
    campaign = await served(client, organization)
    assert campaign["stats"] == EXPECTED_STATS
    assert campaign["funnel"] == EXPECTED_FUNNEL
