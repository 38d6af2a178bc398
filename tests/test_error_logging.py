"""Refusals (bad input, forbidden, too costly, invalid documents) are logged as one INFO line
without a traceback; a fault (an unexpected exception) as one ERROR record with its traceback and
the request id the caller sees."""

import logging
import re
from typing import Any

import pytest

from app.enums import Role
from resolvers import nodes
from tests.factories import graphql, make_campaign

STATS = 'query { campaign(externalId: "spring") { stats { recipients } } }'
ADD = """mutation { addRecipients(input: {campaignId: "spring", contacts: [{email: "a@example.com"}]})
  { added } }"""
COSTLY = "{ campaigns(first: 500) { edges { node { recipients(first: 500) { edges { node { id } } } } } } }"
REFUSALS = [
    ("query { campaign { id } }", Role.VIEWER, "BAD_USER_INPUT", "campaign",
     "give exactly one of id and externalId"),
    (ADD, Role.VIEWER, "FORBIDDEN", "addRecipients",
     "this needs the INTEGRATION role; the key has VIEWER"),
    (COSTLY, Role.VIEWER, "QUERY_TOO_COSTLY", "-", "query cost"),
    ("query { nothing }", Role.VIEWER, "GRAPHQL_INVALID", "-",
     "Cannot query field 'nothing' on type 'Query'."),
    ("query {", Role.VIEWER, "GRAPHQL_PARSE_FAILED", "-", "Syntax Error"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "role", "code", "path", "message"), REFUSALS)
async def test_a_refusal_is_one_info_line(
    client, organization, caplog, query: str, role: Role, code: str, path: str, message: str
):
    await make_campaign(client, organization, "spring")
    before = await graphql(client, organization, STATS)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        body = await graphql(client, organization, query, role=role, expect_errors=True)
    assert len(body["errors"]) == 1
    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []
    [line] = [record for record in caplog.records if record.name == "campaign_graph.graphql"]
    assert line.levelno == logging.INFO
    assert line.exc_info is None
    text = line.getMessage()
    assert re.fullmatch(rf"request [0-9a-f]{{16}}: refused {code} at {re.escape(path)}: .+", text)
    assert message in text
    assert await graphql(client, organization, STATS) == before


async def test_a_fault_is_one_error_record_with_the_request_id(
    client, organization, caplog, monkeypatch
):
    async def broken(info: Any) -> Any:
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr(nodes, "viewer", broken)
    with caplog.at_level(logging.DEBUG):
        body = await graphql(client, organization, "query { viewer { role } }", expect_errors=True)
    [error] = body["errors"]
    request_id = error["extensions"]["requestId"]
    assert error["extensions"]["code"] == "INTERNAL"
    assert error["message"] == f"Unexpected error (request id {request_id})."
    assert "fire" not in str(body)
    [record] = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        f"request {request_id}: unexpected error at viewer: the database caught fire"
    )
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_strawberry_refusing_an_operation_type_is_a_refusal(caplog):
    # A query sent over the legacy graphql-ws protocol: strawberry refuses it, no bug of ours.
    from graphql import GraphQLError
    from graphql.language import OperationType
    from strawberry.schema.exceptions import InvalidOperationTypeError

    from schema.extensions import is_unexpected, log_errors

    refusal = GraphQLError(
        "queries are not allowed",
        original_error=InvalidOperationTypeError(OperationType.QUERY),
    )
    assert not is_unexpected(refusal)
    with caplog.at_level(logging.DEBUG):
        log_errors([refusal], None)
    [line] = caplog.records
    assert line.levelno == logging.INFO and line.exc_info is None
    assert line.getMessage().endswith("queries are not allowed")
    assert is_unexpected(GraphQLError("boom", original_error=RuntimeError("boom")))
