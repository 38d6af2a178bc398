"""GraphiQL in a real browser, offline: headless Chromium opens GET /graphql, runs a query with a
viewer key typed into the Headers pane, and shows the organization's name."""

import json

import pytest

from app.enums import Role
from tests.clients.live import LiveServer, artifacts_folder, require_chromium, run_node
from tests.factories import Organization


# SQLite only: a browser run costs ~30 s, and the database under the page is not what it tests
# (tests/clients/test_live_server.py runs the same query over a socket on both databases).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_graphiql_runs_a_query_offline(live_server: LiveServer, organization: Organization) -> None:
    chromium = require_chromium()
    artifacts = artifacts_folder()
    screenshot = artifacts / "graphiql.png"
    screenshot.unlink(missing_ok=True)

    report = run_node(
        "graphiql.mjs",
        {
            "SERVER_URL": live_server.url,
            "API_KEY": organization.keys[Role.VIEWER],
            "QUERY": "{ viewer { organization { name } } }",
            "ARTIFACTS": str(artifacts),
            "CHROMIUM": chromium,
        },
    )

    answer = json.loads(report["answer"])
    assert answer["data"] == {"viewer": {"organization": {"name": organization.name}}}
    assert report["outsideRequests"] == []
    assert report["failedRequests"] == []
    assert report["cspViolations"] == []
    assert report["consoleErrors"] == []
    # Before the key is typed, GraphiQL's introspection (and its fallback) is refused: 401.
    assert (
        report["consoleErrorsWithoutKey"]
        == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"] * 2
    )
    assert report["responses"].count("POST /graphql introspection 401") == 2
    assert report["responses"].count("POST /graphql query 200") == 1
    assert report["responses"].count("POST /graphql introspection 200") == 1
    assert report["schemaLoaded"] and report["docsShown"] and report["settingsShown"]
    assert report["pageErrors"] == []
    # The page, its 9 files, the schema's introspection and the query: all from the live server.
    assert all(" http://127.0.0.1:" in request for request in report["requests"])
    assert json.loads(report["headersHint"]) == {"Authorization": "Bearer <key>"}
    assert report["websocketOpened"] is True
    assert screenshot.stat().st_size > 10_000
