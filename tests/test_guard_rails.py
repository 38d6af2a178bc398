"""Limits for public traffic: depth, aliases, tokens and cost; unexpected errors masked."""

import pytest

from app.enums import Role
from resolvers import campaigns as campaign_resolvers
from schema.extensions import QueryCostLimiter
from schema.query_cost import query_cost
from schema.root import MAX_ALIASES, MAX_DEPTH, schema
from tests.factories import graphql, make_campaign


def cost_of(query: str, variables: dict | None = None) -> int:
    from graphql import parse

    return query_cost(schema._schema, parse(query), None, variables)


def test_connection_sizes_multiply_the_cost():
    # 1 (campaigns) + 10 x [edges + node + name + links] + 10 x links' 1 field x 5 topClickers x 2 fields
    # campaigns: 1; edges: 10; node: 10; name: 10; links: 10; url: 10;
    # topClickers(first: 5): 10; under it 10 x 5 x (clicks 1) = 50
    query = "{ campaigns(first: 10) { edges { node { name links { url topClickers(first: 5) { clicks } } } } } }"
    assert cost_of(query) == 1 + 10 + 10 + 10 + 10 + 10 + 10 + 50


def test_defaults_and_variables_size_connections():
    # default first = 50: campaigns 1 + edges 50 + node 50 + id 50
    assert cost_of("{ campaigns { edges { node { id } } } }") == 1 + 50 * 3
    query = "query($n: Int) { campaigns(first: $n) { edges { node { id } } } }"
    assert cost_of(query, {"n": 7}) == 1 + 7 * 3


def test_fragments_count_like_inline_fields():
    inline = "{ campaigns(first: 3) { edges { node { id name } } } }"
    spread = (
        "{ campaigns(first: 3) { edges { node { ...F } } } } fragment F on Campaign { id name }"
    )
    assert cost_of(inline) == cost_of(spread) == 1 + 3 * 4


async def test_a_query_over_the_cost_limit_is_refused_with_its_cost(
    client, organization, monkeypatch
):
    monkeypatch.setattr(QueryCostLimiter, "max_cost", 100)
    body = await graphql(
        client,
        organization,
        "{ campaigns(first: 200) { edges { node { id } } } }",
        expect_errors=True,
    )
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] == 1 + 200 * 3
    assert "limit of 100" in error["message"]


async def test_cost_is_reported_on_every_answer(client, organization):
    body = await graphql(client, organization, "{ campaigns(first: 4) { totalCount } }")
    assert body["extensions"]["cost"]["requested"] == 1 + 4


async def test_depth_limit(client, organization):
    # variants { campaign { variants { campaign ... } } } goes as deep as one likes
    nested = "variants { campaign { " * (MAX_DEPTH // 2) + "id" + " } }" * (MAX_DEPTH // 2)
    query = "{ campaigns { edges { node { " + nested + " } } } }"
    body = await graphql(client, organization, query, expect_errors=True)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_alias_limit(client, organization):
    aliases = " ".join(f"a{n}: viewer {{ role }}" for n in range(MAX_ALIASES + 1))
    body = await graphql(client, organization, "{ " + aliases + " }", expect_errors=True)
    assert "aliases" in body["errors"][0]["message"].lower()


async def test_token_limit(client, organization):
    body = await graphql(
        client, organization, "{ " + "viewer { role } " * 2000 + "}", expect_errors=True
    )
    assert "token" in body["errors"][0]["message"].lower()


async def test_unexpected_errors_are_masked_with_a_request_id(
    client, organization, monkeypatch, caplog
):
    await make_campaign(client, organization, "spring")

    async def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(campaign_resolvers, "campaign_stats", broken)
    body = await graphql(
        client,
        organization,
        "{ campaigns { edges { node { name stats { sent } } } } }",
        expect_errors=True,
    )
    error = body["errors"][0]
    assert "secret" not in error["message"]
    assert error["extensions"]["code"] == "INTERNAL"
    request_id = error["extensions"]["requestId"]
    assert request_id in error["message"]
    assert any(request_id in record.getMessage() for record in caplog.records)


async def test_a_role_too_low_is_forbidden(client, organization):
    body = await graphql(
        client,
        organization,
        'mutation { upsertCampaign(input: {externalId: "x", name: "X"}) { campaign { id } } }',
        role=Role.VIEWER,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "INTEGRATION" in body["errors"][0]["message"]
    listed = await graphql(client, organization, "{ campaigns { totalCount } }")
    assert listed["data"]["campaigns"]["totalCount"] == 0


@pytest.mark.parametrize("first", [-1, 501])
async def test_page_sizes_out_of_range_are_refused(client, organization, first):
    body = await graphql(
        client,
        organization,
        f"{{ campaigns(first: {first}) {{ totalCount }} }}",
        expect_errors=True,
    )
    assert "first must be between 0 and 500" in body["errors"][0]["message"]
