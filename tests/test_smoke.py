"""The core path end to end: a campaign, events, statistics."""

from tests.factories import event, graphql, make_campaign, post_events

STATS = "query { campaigns(first: 5) { totalCount edges { node { stats { recipients sent delivered opened clicks } } } } }"


async def test_events_become_statistics(client, organization):
    await make_campaign(client, organization, "spring", links=[{"url": "https://example.com/a"}])
    events = [
        event("SENT", "ann@example.com", id="1"),
        event("DELIVERED", "ann@example.com", minutes=1, id="2"),
        event("OPENED", "ann@example.com", minutes=2, id="3"),
        event("CLICKED", "ann@example.com", minutes=3, id="4", url="https://example.com/a"),
        event("CLICKED", "ann@example.com", minutes=4, id="5", url="https://example.com/a"),
        event("SENT", "bob@example.com", id="6"),
    ]
    response = await post_events(client, organization, events)
    assert response.json() == {"accepted": 6, "duplicates": 0, "unmatched": 0}
    body = await graphql(client, organization, STATS)
    campaigns = body["data"]["campaigns"]
    assert campaigns["totalCount"] == 1
    # ann: sent, delivered, opened, 2 clicks; bob: sent only
    assert campaigns["edges"][0]["node"]["stats"] == {
        "recipients": 2,
        "sent": 2,
        "delivered": 1,
        "opened": 1,
        "clicks": 2,
    }
