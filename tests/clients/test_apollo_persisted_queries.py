"""Apollo Client's own automatic persisted queries (PersistedQueryLink, GET for hashed queries):
the first hash is unknown, the client sends the document once, then the hash alone over GET."""

from app.enums import Role
from tests.clients.live import LiveServer, run_node
from tests.factories import Organization

QUERY = (
    "query Viewer($with: Boolean!) { viewer { role organization @include(if: $with) { name } } }"
)


def test_apollo_client_registers_then_sends_only_the_hash(
    live_server: LiveServer, organization: Organization
) -> None:
    report = run_node(
        "apollo_apq.mjs",
        {
            "GRAPHQL_URL": f"{live_server.url}/graphql",
            "API_KEY": organization.keys[Role.VIEWER],
            "QUERY": QUERY,
            "VARIABLES": '{"with": true}',
        },
    )
    expected = {"viewer": {"role": "VIEWER", "organization": {"name": organization.name}}}
    assert [_without_typenames(answer) for answer in report["answers"]] == [expected, expected]
    assert report["exchanges"] == [
        # The hash alone: unknown, PERSISTED_QUERY_NOT_FOUND (a 400 with the spec's media
        # type, which Apollo asks for), so the client sends the document with it.
        {"method": "GET", "sentDocument": False, "status": 400},
        {"method": "POST", "sentDocument": True, "status": 200},
        # From then on the hash is enough, over GET.
        {"method": "GET", "sentDocument": False, "status": 200},
    ]


def _without_typenames(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_typenames(v) for k, v in value.items() if k != "__typename"}
    return value
