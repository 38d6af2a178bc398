"""GraphQL over HTTP on /graphql: the media type the client accepts, the spec's status codes
(request errors are 4xx with application/graphql-response+json), GraphQL-shaped refusals (401,
405, 406, 413, 415) that change nothing, and WebSocket messages in text frames."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect

from app.database import Database
from app.enums import Role
from app.main import create_app
from app.models import Campaign
from app.settings import Settings
from tests.clients.live import LiveServer
from tests.factories import UPSERT_CAMPAIGN, Organization, make_campaign

SPEC = "application/graphql-response+json"
LEGACY = "application/json"
VIEWER_QUERY = "{ viewer { organization { name } } }"


async def campaign_count(database: Database, organization: Organization) -> int:
    async with database.read() as connection:
        count = await connection.execute(
            select(func.count())
            .select_from(Campaign)
            .where(Campaign.organization_id == organization.id)
        )
        return int(count.scalar_one())


async def post(
    client: httpx.AsyncClient,
    organization: Organization,
    body: dict[str, Any],
    accept: str | None,
    role: Role = Role.VIEWER,
) -> httpx.Response:
    headers = organization.headers(role)
    if accept is not None:
        headers["Accept"] = accept
    return await client.post("/graphql", json=body, headers=headers)


def upsert(name: str) -> dict[str, Any]:
    return {"query": UPSERT_CAMPAIGN, "variables": {"input": {"externalId": "x", "name": name}}}


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, LEGACY),
        ("*/*", LEGACY),
        (LEGACY, LEGACY),
        (SPEC, SPEC),
        (f"{SPEC}, {LEGACY};q=0.9", SPEC),
        (f"{LEGACY}, {SPEC};q=0.5", LEGACY),
        (f"text/html, {SPEC};q=0.8, */*;q=0.1", SPEC),
        (f"{SPEC};q=0, */*", LEGACY),
    ],
)
async def test_the_answer_comes_in_the_media_type_the_client_prefers(
    client, organization, accept, media_type
):
    answer = await post(client, organization, {"query": VIEWER_QUERY}, accept)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == media_type
    assert answer.json() == {
        "data": {"viewer": {"organization": {"name": organization.name}}},
        "extensions": answer.json()["extensions"],  # the operation's cost, not at issue here
    }


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml, text/plain", f"{SPEC};q=0, {LEGACY};q=0"]
)
async def test_an_accept_that_allows_neither_media_type_is_406(client, organization, accept):
    answer = await post(client, organization, {"query": VIEWER_QUERY}, accept)
    assert answer.status_code == 406
    assert answer.headers["content-type"] == LEGACY
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == "NOT_ACCEPTABLE"
    assert SPEC in error["message"]


# Each is a request error: nothing runs, so there is no data.
REQUEST_ERRORS = {
    "does not parse": {"query": "{"},
    "does not validate": {"query": "{ noSuchField }"},
    "variables do not coerce": {"query": "query($id: ID!) { __typename }", "variables": {}},
}
# strawberry refuses this one before executing, with a 400 whatever the media type.
NO_SUCH_OPERATION = {"query": "query A { __typename }", "operationName": "B"}


@pytest.mark.parametrize(
    "body",
    [*REQUEST_ERRORS.values(), NO_SUCH_OPERATION],
    ids=[*REQUEST_ERRORS.keys(), "no such operation"],
)
async def test_request_errors_are_400_with_the_spec_media_type(client, organization, body):
    answer = await post(client, organization, body, SPEC)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == SPEC
    result = answer.json()
    assert "data" not in result
    assert len(result["errors"]) >= 1
    assert all("path" not in error for error in result["errors"])


@pytest.mark.parametrize("body", REQUEST_ERRORS.values(), ids=REQUEST_ERRORS.keys())
async def test_request_errors_are_200_with_legacy_json(client, organization, body):
    answer = await post(client, organization, body, LEGACY)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == LEGACY
    result = answer.json()
    assert result["data"] is None  # as strawberry always answered: legacy clients are unchanged
    assert len(result["errors"]) >= 1


async def test_field_errors_are_200_with_their_data(client, organization):
    body = {"query": '{ viewer { role } campaign(id: "nonsense") { id } }'}
    answer = await post(client, organization, body, SPEC)
    assert answer.status_code == 200
    result = answer.json()
    assert result["data"] == {"viewer": {"role": "VIEWER"}, "campaign": None}
    [error] = result["errors"]
    assert error["path"] == ["campaign"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_refused_mutation_is_200_with_null_data(client, database, organization):
    # A viewer may not upsert: a field error that nulls the whole data, which is still present.
    answer = await post(client, organization, upsert("Spring"), SPEC)
    assert answer.status_code == 200
    result = answer.json()
    assert result["data"] is None
    assert [error["extensions"]["code"] for error in result["errors"]] == ["FORBIDDEN"]
    assert await campaign_count(database, organization) == 0


@pytest.mark.parametrize("accept", [None, SPEC])
async def test_a_mutation_over_get_is_405_and_changes_nothing(
    client, database, organization, accept
):
    headers = organization.headers(Role.ADMIN) | ({"Accept": accept} if accept else {})
    params = {
        "query": "mutation($input: UpsertCampaignInput!) { upsertCampaign(input: $input) { "
        "campaign { id } } }",
        "variables": json.dumps({"input": {"externalId": "x", "name": "X"}}),
    }
    answer = await client.get("/graphql", params=params, headers=headers)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.headers["content-type"] == (accept or LEGACY)
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert await campaign_count(database, organization) == 0
    # A query over GET is fine.
    answer = await client.get("/graphql", params={"query": VIEWER_QUERY}, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["data"] == {"viewer": {"organization": {"name": organization.name}}}


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", json.dumps({"query": VIEWER_QUERY}), 415),
        (None, json.dumps({"query": VIEWER_QUERY}), 415),
        (LEGACY, '{ "not JSON', 400),
        (LEGACY, "", 400),
        (LEGACY, '"a string"', 400),
        (LEGACY, "1", 400),
        (LEGACY, json.dumps({"query": VIEWER_QUERY, "operationName": 0}), 400),
    ],
    ids=["text", "no-type", "broken", "empty", "string", "number", "operation-name"],
)
async def test_a_body_that_is_not_a_graphql_request_is_refused(
    client, organization, content_type, body, status
):
    headers = organization.headers(Role.VIEWER) | {"Accept": SPEC}
    if content_type is not None:
        headers["Content-Type"] = content_type
    answer = await client.post("/graphql", content=body.encode(), headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == SPEC
    [error] = answer.json()["errors"]
    assert error["message"]


@pytest.mark.parametrize("accept", [None, SPEC])
@pytest.mark.parametrize(
    "authorization", [None, "Bearer cg_not-a-key-of-anyone", "Basic dXNlcjpwYXNz"]
)
async def test_no_valid_key_is_a_graphql_shaped_401(client, accept, authorization):
    headers = {"Accept": accept} if accept else {}
    if authorization:
        headers["Authorization"] = authorization
    answer = await client.post("/graphql", json={"query": VIEWER_QUERY}, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.headers["content-type"] == (accept or LEGACY)
    assert answer.json() == {
        "errors": [
            {
                "message": "a valid API key is required: Authorization: Bearer <key>",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }


@pytest.fixture
async def small_limit_client(database: Database, database_url: str) -> AsyncIterator[Any]:
    """The app with a 1,000-byte body limit."""
    app = create_app(Settings(database_url=database_url, max_body_bytes=1000), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


def padded(size: int) -> bytes:
    """An upsert of a campaign whose JSON body is exactly `size` bytes (its query padded with
    blanks)."""
    body = upsert("Spring")
    body["query"] += " " * (size - len(json.dumps(body).encode()))
    return json.dumps(body).encode()


async def test_a_body_over_the_limit_is_413_and_changes_nothing(
    small_limit_client, database, organization
):
    headers = organization.headers(Role.ADMIN) | {"Content-Type": LEGACY}

    async def chunked(body: bytes) -> AsyncIterator[bytes]:
        # No Content-Length: the limit is counted as the body arrives.
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    for content in (padded(1001), chunked(padded(1001))):
        answer = await small_limit_client.post("/graphql", content=content, headers=headers)
        assert answer.status_code == 413
        assert answer.json() == {
            "errors": [
                {
                    "message": "the body is larger than 1000 bytes",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                }
            ]
        }
    assert await campaign_count(database, organization) == 0

    # 1,000 bytes exactly, in chunks too, is within the limit.
    answer = await small_limit_client.post(
        "/graphql", content=chunked(padded(1000)), headers=headers
    )
    assert answer.status_code == 200
    assert answer.json()["data"]["upsertCampaign"]["userErrors"] == []
    assert await campaign_count(database, organization) == 1


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_websocket_messages_are_text_frames(database_url, organization, protocol):
    # Browsers' and Node's graphql-ws read text frames only: a binary one is "missing the type".
    with LiveServer(database_url) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            campaign_id = await make_campaign(client, organization, "spring")
        url = server.url.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=[protocol]) as socket:
            key = organization.keys[Role.VIEWER]
            await socket.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
                )
            )
            frame = await socket.recv()
            assert isinstance(frame, str)  # websockets gives text frames as str, binary as bytes
            assert json.loads(frame)["type"] == "connection_ack"
            start = "subscribe" if protocol == "graphql-transport-ws" else "start"
            query = "subscription($id: ID!) { campaignStats(campaignId: $id) { sent } }"
            payload = {"query": query, "variables": {"id": campaign_id}}
            await socket.send(json.dumps({"id": "1", "type": start, "payload": payload}))
            frame = await socket.recv()
            assert isinstance(frame, str)
            message = json.loads(frame)
            assert message["type"] in ("next", "data")  # the newer and the legacy protocol
            assert message["payload"]["data"] == {"campaignStats": {"sent": 0}}
