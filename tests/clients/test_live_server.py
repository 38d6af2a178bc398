"""The live server answers over a real socket, with keys made through the shared database."""

import httpx

from app.enums import Role
from tests.clients.live import LiveServer
from tests.factories import Organization


async def test_live_server_serves_graphql(
    live_server: LiveServer, organization: Organization
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        answer = await client.post(
            "/graphql",
            json={"query": "{ viewer { organization { name } } }"},
            headers=organization.headers(Role.VIEWER),
        )
    assert answer.status_code == 200
    assert answer.json()["data"] == {"viewer": {"organization": {"name": organization.name}}}
