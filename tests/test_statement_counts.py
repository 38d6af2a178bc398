"""N+1-free: the campaign list costs the same number of SQL statements for 5 or 50 campaigns."""

from typing import Any

import httpx

from app.database import Database
from tests.factories import (
    Organization,
    event,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)

QUERY = """
query {
  campaigns(first: 50) {
    edges { node { stats { sent openRate } variants { stats { opened } } links { clicks } } }
  }
}
"""
DEEPER = """
query {
  campaigns(first: 50) {
    totalCount
    edges {
      node {
        name
        stats { sent openRate }
        humanStats: stats(humanOnly: true) { opened }
        funnel { clicked }
        variants { name stats { opened } links { clicks clicked } }
        links { url clicks clicked clickRate share }
      }
    }
  }
}
"""


async def organization_with_campaigns(
    client: httpx.AsyncClient, database: Database, count: int
) -> Organization:
    """`count` campaigns, each with 2 or 3 variants and links, and events on every one."""
    organization = await make_organization(database)
    events: list[dict[str, Any]] = []
    for number in range(count):
        external_id = f"campaign-{number}"
        width = 2 + number % 2
        variants = [f"V{v}" for v in range(width)]
        links = [f"https://example.com/{number}/{link}" for link in range(width)]
        await make_campaign(
            client,
            organization,
            external_id,
            variants=[{"name": name} for name in variants],
            links=[{"url": url} for url in links],
        )
        for index, variant in enumerate(variants):
            email = f"person{index}@example.com"
            common = {"campaign": external_id, "variant": variant}
            events += [
                event("SENT", email, id=f"{external_id}-{index}-s", **common),
                event("OPENED", email, minutes=2, id=f"{external_id}-{index}-o", **common),
                event(
                    "CLICKED",
                    email,
                    minutes=3,
                    id=f"{external_id}-{index}-c",
                    url=links[index],
                    **common,
                ),
            ]
    response = await post_events(client, organization, events)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events)
    return organization


async def statements_for(
    client: httpx.AsyncClient, organization: Organization, query: str, count_statements: Any
) -> tuple[int, list[Any]]:
    with count_statements() as counter:
        body = await graphql(client, organization, query)
    return counter.count, body["data"]["campaigns"]["edges"]


async def test_the_campaign_list_costs_the_same_for_5_and_50_campaigns(
    client, database, count_statements
):
    few = await organization_with_campaigns(client, database, 5)
    many = await organization_with_campaigns(client, database, 50)

    few_count, few_edges = await statements_for(client, few, QUERY, count_statements)
    many_count, many_edges = await statements_for(client, many, QUERY, count_statements)
    assert (len(few_edges), len(many_edges)) == (5, 50)
    # Every campaign answered with its own numbers: 2 or 3 recipients, all sent, all opened.
    for edge in many_edges:
        node = edge["node"]
        assert node["stats"]["sent"] == len(node["variants"]) == len(node["links"])
        assert node["stats"]["openRate"] == 1.0
        assert [v["stats"]["opened"] for v in node["variants"]] == [1] * len(node["variants"])
        assert [link["clicks"] for link in node["links"]] == [1] * len(node["links"])
    assert many_count == few_count
    # The key lookup, then one statement per kind of thing: nothing near one per campaign.
    assert few_count < 10


async def test_a_deeper_campaign_list_costs_the_same_too(client, database, count_statements):
    few = await organization_with_campaigns(client, database, 5)
    many = await organization_with_campaigns(client, database, 50)
    few_count, _ = await statements_for(client, few, DEEPER, count_statements)
    many_count, many_edges = await statements_for(client, many, DEEPER, count_statements)
    assert len(many_edges) == 50
    assert many_count == few_count
