"""The campaign list: exact totals, filters, every order both ways, paging, rates and money."""

from typing import Any

import pytest

from tests.factories import event, graphql, make_campaign, post_events

# In creation order (which is also id order): (external id, name, status, sentAt, subject, cost).
CAMPAIGNS = [
    ("c-delta", "Delta", "SENT", "2026-11-01T10:00:00Z", "Winter boots", None),
    ("c-alpha", "Alpha", "SENT", "2026-11-10T10:00:00Z", "Spring sale", "100.00"),
    ("c-echo", "Echo", "DRAFT", None, None, None),
    ("c-bravo", "Bravo", "SCHEDULED", "2026-11-21T08:00:00+01:00", None, None),
    ("c-charlie", "Charlie", "SENT", "2026-11-15T10:00:00Z", "Last days: SALE ends", "80.00"),
    ("c-foxtrot", "Foxtrot", "CANCELLED", None, None, None),
    ("c-golf", "Golf", "SENT", "2026-11-05T10:00:00Z", None, "0"),
]
NAMES = {external_id: name for external_id, name, *_ in CAMPAIGNS}
CREATION = [external_id for external_id, *_ in CAMPAIGNS]
# (sent, opened, clicked) by campaign, as the events below make them.
RESULTS = {
    "c-alpha": (4, 3, 1),
    "c-charlie": (2, 1, 1),
    "c-delta": (5, 1, 0),
    "c-golf": (1, 1, 1),
    "c-bravo": (0, 0, 0),  # one contact, not sent
    "c-echo": (0, 0, 0),
    "c-foxtrot": (0, 0, 0),
}

PAGE = """
query($first: Int, $after: String, $filter: CampaignFilter, $orderBy: CampaignOrder) {
  campaigns(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { externalId } }
  }
}
"""
MONEY = """
query {
  campaigns(first: 50) {
    edges { node {
      externalId
      stats {
        sent delivered opened clicked purchases leads revenue
        deliveryRate openRate confirmedOpenRate clickRate clickThroughRate clickToOpenRate
        bounceRate complaintRate unsubscribeRate conversionRate
        cost profit roi costPerLead costPerPurchase
      }
    } }
  }
}
"""


def events() -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []

    def add(kind: str, campaign: str, person: int, minutes: int = 0, **extra: Any) -> None:
        made.append(
            event(kind, f"p{person}@example.com", campaign, minutes, id=f"{len(made)}", **extra)
        )

    for campaign, (sent, opened, clicked) in RESULTS.items():
        for person in range(sent):
            add("SENT", campaign, person)
            add("DELIVERED", campaign, person, 1)
        for person in range(opened):
            add("OPENED", campaign, person, 2, machine=False)
        for person in range(clicked):
            add("CLICKED", campaign, person, 3, bot=False)
    add("NOT_SENT", "c-bravo", 0, skipReason="UNSUBSCRIBED")
    # Alpha: three leads and two purchases (150.00 + 100.00) against a cost of 100.00.
    for person in range(3):
        add("LEAD", "c-alpha", person, 10)
    add("PURCHASED", "c-alpha", 0, 20, amount="150.00")
    add("PURCHASED", "c-alpha", 1, 20, amount="60.00")
    add("PURCHASED", "c-alpha", 1, 21, amount="40")
    # Delta: a lead but no cost; Golf: a cost of 0.
    add("LEAD", "c-delta", 0, 10)
    return made


@pytest.fixture
async def campaigns(client, organization) -> None:
    for external_id, name, status, sent_at, subject, cost in CAMPAIGNS:
        fields: dict[str, Any] = {"name": name, "status": status}
        if sent_at:
            fields["sentAt"] = sent_at
        if subject:
            fields["subject"] = subject
        if cost is not None:
            fields["cost"] = cost
        await make_campaign(client, organization, external_id, **fields)
    response = await post_events(client, organization, events())
    assert response.status_code == 200, response.text
    assert response.json()["unmatched"] == 0


async def listed(client: Any, organization: Any, **variables: Any) -> list[str]:
    body = await graphql(client, organization, PAGE, {"first": 50, **variables})
    return [edge["node"]["externalId"] for edge in body["data"]["campaigns"]["edges"]]


async def all_pages(client: Any, organization: Any, size: int, **variables: Any) -> list[str]:
    """Every campaign, following `after` from page to page."""
    seen: list[str] = []
    after = None
    for _ in range(20):
        body = await graphql(
            client, organization, PAGE, {"first": size, "after": after, **variables}
        )
        page = body["data"]["campaigns"]
        assert page["totalCount"] == len(CAMPAIGNS)
        seen += [edge["node"]["externalId"] for edge in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        if page["edges"]:
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("paging never ended")


def rate_of(external_id: str, field: str) -> float:
    sent, opened, clicked = RESULTS[external_id]
    numerator = opened if field == "OPEN_RATE" else clicked
    # Campaigns with nothing sent have no rate; they sort below every rate.
    return numerator / sent if sent else -1.0


def expected_order(field: str, direction: str) -> list[str]:
    key = {
        "NAME": lambda x: (NAMES[x],),
        "CREATED_AT": lambda x: (CREATION.index(x),),
        "OPEN_RATE": lambda x: (rate_of(x, field), CREATION.index(x)),
        "CLICK_RATE": lambda x: (rate_of(x, field), CREATION.index(x)),
    }[field]
    return sorted(CREATION, key=key, reverse=direction == "DESC")


async def test_total_count_is_exact_and_the_default_order_is_newest_first(
    client, organization, campaigns
):
    body = await graphql(client, organization, PAGE, {"first": 2})
    page = body["data"]["campaigns"]
    assert page["totalCount"] == 7
    assert [edge["node"]["externalId"] for edge in page["edges"]] == ["c-golf", "c-foxtrot"]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    body = await graphql(client, organization, PAGE, {"first": 0})
    assert body["data"]["campaigns"]["totalCount"] == 7
    assert body["data"]["campaigns"]["edges"] == []


@pytest.mark.parametrize("field", ["NAME", "CREATED_AT", "OPEN_RATE", "CLICK_RATE", "SENT_AT"])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_every_order_both_ways_pages_through_every_campaign_once(
    client, organization, campaigns, field, direction
):
    order = {"field": field, "direction": direction}
    whole = await listed(client, organization, orderBy=order)
    if field == "SENT_AT":
        # Unsent campaigns sort by their creation time (the clock's), so only the sent ones have
        # a known place relative to each other.
        assert sorted(whole) == sorted(CREATION)
        by_sent_at = ["c-delta", "c-golf", "c-alpha", "c-charlie", "c-bravo"]
        if direction == "DESC":
            by_sent_at.reverse()
        assert [x for x in whole if x in by_sent_at] == by_sent_at
    else:
        assert whole == expected_order(field, direction)
    for size in (1, 2, 3):
        assert await all_pages(client, organization, size, orderBy=order) == whole


async def test_filters(client, organization, campaigns):
    async def matching(**filter: Any) -> tuple[int, list[str]]:
        body = await graphql(
            client,
            organization,
            PAGE,
            {"first": 50, "filter": filter, "orderBy": {"field": "NAME", "direction": "ASC"}},
        )
        page = body["data"]["campaigns"]
        return page["totalCount"], [edge["node"]["externalId"] for edge in page["edges"]]

    assert await matching(status=["SENT"]) == (4, ["c-alpha", "c-charlie", "c-delta", "c-golf"])
    assert await matching(status=["DRAFT", "CANCELLED"]) == (2, ["c-echo", "c-foxtrot"])
    # Search is a case-insensitive substring of name, subject or external id.
    assert await matching(search="sale") == (2, ["c-alpha", "c-charlie"])
    assert await matching(search="ECHO") == (1, ["c-echo"])
    assert await matching(search="boots") == (1, ["c-delta"])
    assert await matching(search="nothing like it") == (0, [])
    # sentAfter includes the instant itself; Bravo's 08:00+01:00 is 07:00 UTC.
    assert await matching(sentAfter="2026-11-10T10:00:00Z") == (
        3,
        ["c-alpha", "c-bravo", "c-charlie"],
    )
    assert await matching(sentAfter="2026-11-21T07:00:00Z") == (1, ["c-bravo"])
    assert await matching(sentAfter="2026-11-21T07:00:01Z") == (0, [])
    assert await matching(status=["SENT"], sentAfter="2026-11-05T00:00:00Z", search="a") == (
        2,
        ["c-alpha", "c-charlie"],
    )
    # Filters page like the whole list.
    assert await all_pages_filtered(client, organization) == [
        "c-golf",
        "c-alpha",
        "c-charlie",
        "c-delta",
    ]


async def all_pages_filtered(client: Any, organization: Any) -> list[str]:
    seen: list[str] = []
    after = None
    for _ in range(20):
        body = await graphql(
            client,
            organization,
            PAGE,
            {
                "first": 1,
                "after": after,
                "filter": {"status": ["SENT"], "sentAfter": "2026-11-01T00:00:00Z"},
                "orderBy": {"field": "OPEN_RATE", "direction": "DESC"},
            },
        )
        page = body["data"]["campaigns"]
        assert page["totalCount"] == 4
        seen += [edge["node"]["externalId"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("paging never ended")


async def test_rates_and_money_by_hand(client, organization, campaigns):
    body = await graphql(client, organization, MONEY)
    stats = {
        edge["node"]["externalId"]: edge["node"]["stats"]
        for edge in body["data"]["campaigns"]["edges"]
    }

    alpha = stats["c-alpha"]
    # 4 sent and delivered, 3 opened, 1 clicked, 3 leads, 2 purchases worth 250.00, cost 100.00.
    assert alpha == {
        "sent": 4,
        "delivered": 4,
        "opened": 3,
        "clicked": 1,
        "purchases": 2,
        "leads": 3,
        "revenue": "250.00",
        "deliveryRate": 1.0,
        "openRate": 0.75,
        "confirmedOpenRate": 0.75,
        "clickRate": 0.25,
        "clickThroughRate": 0.25,
        "clickToOpenRate": pytest.approx(1 / 3),
        "bounceRate": 0.0,
        "complaintRate": 0.0,
        "unsubscribeRate": 0.0,
        "conversionRate": 0.5,
        "cost": "100.00",
        "profit": "150.00",
        "roi": 1.5,
        "costPerLead": "33.33",
        "costPerPurchase": "50.00",
    }
    charlie = stats["c-charlie"]
    assert (charlie["cost"], charlie["profit"], charlie["roi"]) == ("80.00", "-80.00", -1.0)
    assert (charlie["costPerLead"], charlie["costPerPurchase"]) == (None, None)
    assert charlie["conversionRate"] == 0.0
    # Delta has a lead but no known cost: no money figures at all.
    delta = stats["c-delta"]
    assert (delta["leads"], delta["cost"], delta["profit"], delta["roi"]) == (1, None, None, None)
    assert (delta["costPerLead"], delta["costPerPurchase"]) == (None, None)
    # Golf cost nothing: profit is its revenue; the roi divides by zero.
    golf = stats["c-golf"]
    assert (golf["cost"], golf["profit"], golf["roi"]) == ("0.00", "0.00", None)

    # Nothing sent: every rate divides by zero and is null.
    rates = [
        "deliveryRate", "openRate", "confirmedOpenRate", "clickRate", "clickThroughRate",
        "clickToOpenRate", "bounceRate", "complaintRate", "unsubscribeRate", "conversionRate",
    ]  # fmt: skip
    for external_id in ("c-bravo", "c-echo", "c-foxtrot"):
        assert [stats[external_id][name] for name in rates] == [None] * len(rates)
        assert stats[external_id]["revenue"] == "0.00"
