"""The graphql-http server audit (GraphQL over HTTP conformance): every audit passes, no warning."""

from app.enums import Role
from tests.clients.live import LiveServer, run_node
from tests.factories import Organization

# serverAudits() of graphql-http 1.23: the audits this version runs (a newer version with more
# audits would make this fail loudly rather than pass a partial audit).
AUDIT_COUNT = 61


def test_every_graphql_over_http_audit_passes(
    live_server: LiveServer, organization: Organization
) -> None:
    report = run_node(
        "audit.mjs",
        {
            "GRAPHQL_URL": f"{live_server.url}/graphql",
            "API_KEY": organization.keys[Role.VIEWER],
        },
    )
    audits = report["audits"]
    failures = [
        f"{audit['status']}: {audit['id']} {audit['name']}: {audit['reason']}"
        for audit in audits
        if audit["status"] != "ok"
    ]
    assert failures == [], "\n".join(failures)
    assert len(audits) == AUDIT_COUNT
