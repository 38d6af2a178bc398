"""Automatic persisted queries (Apollo's protocol, version 1): an unknown hash asks for the
document (PERSISTED_QUERY_NOT_FOUND), a hash with its document registers it, then the hash alone
runs it, over POST or GET; a hash that is not the document's is a 400; mutations never run over
GET, persisted or not."""

import hashlib
from typing import Any

import orjson
from sqlalchemy import func, select

from app.enums import Role
from app.models import Campaign
from tests.cache_helpers import DASHBOARD, campaign_with_events
from tests.factories import UPSERT_CAMPAIGN, make_organization

SPEC = "application/graphql-response+json"


def persisted(document: str) -> dict[str, Any]:
    digest = hashlib.sha256(document.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_an_unknown_hash_then_the_document_then_the_hash_alone(client, database):
    organization = await make_organization(database)
    campaign_id = await campaign_with_events(client, organization)
    headers = organization.headers(Role.VIEWER)
    variables = {"id": campaign_id, "zone": None}
    by_hash = {
        "variables": variables,
        "operationName": "Dashboard",
        "extensions": persisted(DASHBOARD),
    }

    unknown = await client.post("/graphql", json=by_hash, headers=headers)
    assert unknown.status_code == 200
    assert unknown.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }

    registered = await client.post(
        "/graphql", json={**by_hash, "query": DASHBOARD}, headers=headers
    )
    assert registered.status_code == 200
    assert registered.json()["data"]["campaign"]["stats"]["sent"] == 1

    hashed = await client.post("/graphql", json=by_hash, headers=headers)
    assert hashed.status_code == 200
    assert hashed.content == registered.content

    got = await client.get(
        "/graphql",
        params={
            "variables": orjson.dumps(variables).decode(),
            "extensions": orjson.dumps(persisted(DASHBOARD)).decode(),
            "operationName": "Dashboard",
        },
        headers=headers,
    )
    assert got.status_code == 200
    assert got.json() == registered.json()
    assert got.headers["etag"] == registered.headers["etag"]


async def test_with_the_spec_media_type_an_unknown_hash_is_a_400(client, database):
    organization = await make_organization(database)
    answer = await client.post(
        "/graphql",
        json={"extensions": persisted("{ viewer { role } }")},
        headers={**organization.headers(), "Accept": SPEC},
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == SPEC
    assert answer.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_hash_that_is_not_the_documents_is_refused_and_not_kept(client, database):
    organization = await make_organization(database)
    headers = organization.headers()
    lying = {"query": "{ viewer { role } }", "extensions": persisted("{ __typename }")}
    refused = await client.post("/graphql", json=lying, headers=headers)
    assert refused.status_code == 400
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "not the SHA-256 of the query" in error["message"]
    # Nothing was registered under the hash.
    alone = await client.post(
        "/graphql", json={"extensions": persisted("{ __typename }")}, headers=headers
    )
    assert alone.json()["errors"][0]["message"] == "PersistedQueryNotFound"


async def test_a_malformed_persisted_query_is_a_400_with_its_reason(client, database):
    organization = await make_organization(database)
    for extension, reason in (
        ({"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}, "version must be 1"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "xyz"}}, "64 hex digits"),
        ({"persistedQuery": "abc"}, "must be an object"),
    ):
        answer = await client.post(
            "/graphql", json={"extensions": extension}, headers=organization.headers()
        )
        assert answer.status_code == 400
        assert reason in answer.json()["errors"][0]["message"]


async def test_a_persisted_mutation_never_runs_over_get(client, database):
    organization = await make_organization(database)
    headers = organization.headers(Role.ADMIN)
    variables = {"input": {"externalId": "by-get", "name": "By GET"}}
    extensions = persisted(UPSERT_CAMPAIGN)
    # Registered (and run) over POST, as Apollo's client does for mutations.
    posted = await client.post(
        "/graphql",
        json={"query": UPSERT_CAMPAIGN, "variables": variables, "extensions": extensions},
        headers=headers,
    )
    assert posted.json()["data"]["upsertCampaign"]["campaign"]["name"] == "By GET"

    variables["input"]["name"] = "Renamed by GET"
    answer = await client.get(
        "/graphql",
        params={
            "variables": orjson.dumps(variables).decode(),
            "extensions": orjson.dumps(extensions).decode(),
        },
        headers=headers,
    )
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    async with database.read() as connection:
        names = (
            await connection.execute(
                select(Campaign.name, func.count())
                .where(Campaign.organization_id == organization.id)
                .group_by(Campaign.name)
            )
        ).all()
    assert [tuple(row) for row in names] == [("By GET", 1)]
