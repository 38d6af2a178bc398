"""Inputs at the edges of the API: `first: null` costs the page it serves, instants at the
calendar's edges are refused clearly at every entry point, and a bad event gets every problem
named. Each refusal changes nothing."""

from typing import Any

import pytest
from graphql import parse

from app.enums import ResponseType, Role
from app.ingest.events import EventError, parse_datetime, parse_event
from app.ingest.providers.adapter import PayloadError, from_iso, from_unix
from resolvers.pagination import DEFAULT_PAGE
from schema.query_cost import query_cost
from schema.root import schema
from tests.factories import BASE_TIME, event, graphql, make_campaign, post_events
from tests.test_webhook_postmark import (
    delivery,
    postmark,  # noqa: F401  (fixture)
)
from tests.test_webhook_postmark import post as post_postmark
from tests.test_webhook_sendgrid import (
    BATCH,
    sendgrid,  # noqa: F401  (fixture)
)
from tests.test_webhook_sendgrid import post as post_sendgrid
from tests.webhook_helpers import refused_reasons, stats, stored

RANGE = "on or after 1970-01-01T00:00:00Z and before 3000-01-01T00:00:00Z"
EARLY_EDGE = "0001-01-01T00:00:00+14:00"  # 1 Dec 31 of year 0 in UTC: not a Python date
LATE_EDGE = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC: not a Python date either
BEFORE_EPOCH = "1969-12-31T23:59:59Z"


def cost_of(query: str, variables: dict[str, Any] | None = None) -> int:
    return query_cost(schema._schema, parse(query), None, variables)


# --- 4. `first: null` costs what it serves ---------------------------------------------------

ONE_LEVEL = "campaigns(first: {n}) { edges { node { id } } }"
# campaigns 1, edges 50, node 50, id 50
ONE_LEVEL_AT_DEFAULT = 1 + 3 * 50


def test_null_first_costs_the_default_page_literal_or_variable():
    literal = "{ " + ONE_LEVEL.replace("{n}", "null") + " }"
    by_variable = "query($n: Int) { " + ONE_LEVEL.replace("{n}", "$n") + " }"
    defaulted_null = "query($n: Int = null) { " + ONE_LEVEL.replace("{n}", "$n") + " }"
    assert cost_of(literal) == ONE_LEVEL_AT_DEFAULT
    assert cost_of(by_variable, {"n": None}) == ONE_LEVEL_AT_DEFAULT
    assert cost_of(by_variable, {}) == ONE_LEVEL_AT_DEFAULT  # not given: the argument's default
    assert cost_of(defaulted_null, {}) == ONE_LEVEL_AT_DEFAULT
    # A variable's own default is what execution uses, so it is what is counted.
    defaulted_7 = "query($n: Int = 7) { " + ONE_LEVEL.replace("{n}", "$n") + " }"
    assert cost_of(defaulted_7, {}) == 1 + 3 * 7
    assert cost_of(defaulted_7, {"n": None}) == ONE_LEVEL_AT_DEFAULT


def test_null_first_on_nested_lists_multiplies_by_what_each_serves():
    # topClickers serves 5 for null. campaigns 1, edges 50, node 50, links 50 (a plain list),
    # topClickers 50, and under it 50 x 5 clicks = 250.
    query = (
        "{ campaigns(first: null) { edges { node { links { topClickers(first: null) { clicks }"
        " } } } } }"
    )
    assert cost_of(query) == 1 + 50 + 50 + 50 + 50 + 250


def test_every_first_argument_has_the_size_its_resolver_serves_for_null():
    """The cost counts null as the argument's default: that holds while every `first` has a
    positive default and every connection's default is the page pagination serves for None."""
    firsts = []
    for type_ in schema._schema.type_map.values():
        for name, field in getattr(type_, "fields", {}).items():
            argument = getattr(field, "args", {}).get("first")
            if argument is not None:
                firsts.append((type_.name, name, argument.default_value))
    assert len(firsts) >= 8
    for type_name, name, default in firsts:
        assert isinstance(default, int) and default > 0, (type_name, name, default)
        if name not in ("topClickers", "engagement"):  # these serve 5 and 10 for null
            assert default == DEFAULT_PAGE, (type_name, name, default)


NESTED = """
query($n: Int) {
  campaigns(first: $n) { edges { node {
    recipients(first: $n) { edges { node {
      responses(first: $n) { edges { node { id } } } } } } } } }
}"""
# campaigns 1; edges, node, recipients 50 each; under recipients x2,500: edges, node, responses;
# under responses x125,000: edges, node, id.
NESTED_AT_DEFAULT = 1 + 3 * 50 + 3 * 2_500 + 3 * 125_000


async def test_nested_null_firsts_are_refused_as_too_costly(client, organization):
    assert NESTED_AT_DEFAULT == 382_651
    literal = NESTED.replace("$n", "null").replace("query(null: Int)", "query")
    for query, variables in ((NESTED, {"n": None}), (NESTED, {}), (literal, {})):
        body = await graphql(
            client, organization, query, variables, role=Role.VIEWER, expect_errors=True
        )
        assert body["data"] is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
        assert error["extensions"]["cost"] == NESTED_AT_DEFAULT
        assert error["message"].startswith(
            f"query cost {NESTED_AT_DEFAULT} is over the limit of 100000"
        )


async def test_a_null_first_serves_and_costs_the_default_page(client, organization):
    for number in range(DEFAULT_PAGE + 1):
        await make_campaign(client, organization, f"c{number}")
    body = await graphql(
        client, organization, "{ " + ONE_LEVEL.replace("{n}", "null") + " }", role=Role.VIEWER
    )
    assert len(body["data"]["campaigns"]["edges"]) == DEFAULT_PAGE
    assert body["extensions"]["cost"]["requested"] == ONE_LEVEL_AT_DEFAULT


# --- 5. instants at the calendar's edges -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("1970-01-01T00:00:00Z", True),
        ("1970-01-01T01:00:00+01:00", True),  # the epoch too
        ("1970-01-01T00:59:59+01:00", False),
        (BEFORE_EPOCH, False),
        (EARLY_EDGE, False),
        (LATE_EDGE, False),
        ("2999-12-31T23:59:59Z", True),
        ("3000-01-01T00:00:00Z", False),
    ],
)
def test_the_valid_instant_rule(text, accepted):
    for parse_one, error in ((parse_datetime, EventError), (from_iso, PayloadError)):
        if accepted:
            parse_one(text, "at")
        else:
            with pytest.raises(error, match="^at must be on or after 1970-01-01T00:00:00Z"):
                parse_one(text, "at")


@pytest.mark.parametrize(
    "value", [-1, -(10**12), 1e20, 32_503_680_000, "NaN", "Infinity", "-inf", 10**400]
)
def test_unix_timestamps_out_of_range_are_refused(value):
    with pytest.raises(PayloadError, match="^timestamp must be a Unix timestamp"):
        from_unix(value, "timestamp")
    assert from_unix(0, "timestamp").isoformat() == "1970-01-01T00:00:00+00:00"
    assert from_unix(32_503_679_999, "timestamp").isoformat() == "2999-12-31T23:59:59+00:00"


STATS = 'query { campaign(externalId: "spring") { stats { recipients sent delivered } } }'


async def spring_stats(client, organization) -> dict[str, int]:
    body = await graphql(client, organization, STATS)
    return body["data"]["campaign"]["stats"]


async def test_events_at_the_calendar_edges_are_400_with_each_named(client, database, organization):
    await make_campaign(client, organization, "spring")
    assert (await post_events(client, organization, [event("SENT", "ann@example.com")])).json()[
        "accepted"
    ] == 1
    before = (await spring_stats(client, organization), await stored(database))
    batch = [
        event("DELIVERED", "ann@example.com", minutes=1),  # 0: good
        event("SENT", "bob@example.com", occurredAt=EARLY_EDGE),  # 1
        event("SENT", "cy@example.com", occurredAt=LATE_EDGE),  # 2
        event("SENT", "dee@example.com", occurredAt=BEFORE_EPOCH),  # 3
    ]
    response = await post_events(client, organization, batch)
    assert response.status_code == 400
    assert response.json() == {
        "error": "3 bad event(s); nothing of the batch was applied",
        "problems": [
            {"index": 1, "reason": f"occurredAt must be {RANGE}: {EARLY_EDGE}"},
            {"index": 2, "reason": f"occurredAt must be {RANGE}: {LATE_EDGE}"},
            {"index": 3, "reason": f"occurredAt must be {RANGE}: 1969-12-31T23:59:59+00:00"},
        ],
    }
    assert (await spring_stats(client, organization), await stored(database)) == before
    assert before[0] == {"recipients": 1, "sent": 1, "delivered": 0}


async def test_postmark_records_at_the_calendar_edges_are_kept_aside(client, postmark, database):  # noqa: F811
    # A provider's malformed event is kept with its reason, never refused (it would be retried,
    # then dropped): counted nowhere, statistics unchanged.
    before = (await stats(client, postmark), await stored(database))
    for edge in (EARLY_EDGE, LATE_EDGE, BEFORE_EPOCH):
        record = {**delivery("ann@example.com", 0), "DeliveredAt": edge}
        response = await post_postmark(client, postmark, record)
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 1}
    reasons = await refused_reasons(database, postmark.id)
    assert len(reasons) == 3
    assert all(f"DeliveredAt must be {RANGE}: " in reason for reason in reasons), reasons
    after = (await stats(client, postmark), await stored(database))
    assert after[0] == before[0]
    assert after[1] == before[1] | {"unmatched": before[1]["unmatched"] + 3}


async def test_sendgrid_timestamps_out_of_range_are_kept_aside_each_named(
    client,
    sendgrid,  # noqa: F811
    database,
):
    before = (await stats(client, sendgrid), await stored(database))
    events = [
        {**BATCH[1], "timestamp": -1},
        {**BATCH[2], "timestamp": 1e20},
        {**BATCH[3], "timestamp": "NaN"},
    ]
    response = await post_sendgrid(client, sendgrid, events)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 3}
    unix = f"must be a Unix timestamp {RANGE}"
    reasons = sorted(await refused_reasons(database, sendgrid.id))
    assert [reason.split(": ", 1)[1] for reason in reasons] == [
        f"timestamp {unix}: -1.0",
        f"timestamp {unix}: 1e+17 (read as milliseconds: 1e+20)",
        f"timestamp {unix}: nan",
    ]
    after = (await stats(client, sendgrid), await stored(database))
    assert after[0] == before[0]
    assert after[1] == before[1] | {"unmatched": before[1]["unmatched"] + 3}


RECORD = """
mutation($input: RecordResponseInput!) {
  recordResponse(input: $input) { response { id } userErrors { field message code } }
}"""
UPSERT = """
mutation($input: UpsertCampaignInput!) {
  upsertCampaign(input: $input) { campaign { id } userErrors { field message code } }
}"""


async def test_mutations_refuse_instants_out_of_range_as_user_errors(
    client, database, organization
):
    campaign_id = await make_campaign(client, organization, "spring")
    await post_events(client, organization, [event("SENT", "ann@example.com")])
    before = (await spring_stats(client, organization), await stored(database))
    for edge, shown in ((EARLY_EDGE, EARLY_EDGE), (LATE_EDGE, LATE_EDGE),
                        (BEFORE_EPOCH, "1969-12-31T23:59:59+00:00")):  # fmt: skip
        input = {"campaignId": campaign_id, "email": "ann@example.com", "type": "OPENED",
                 "occurredAt": edge}  # fmt: skip
        payload = (await graphql(client, organization, RECORD, {"input": input}))["data"][
            "recordResponse"
        ]
        assert payload == {
            "response": None,
            "userErrors": [
                {
                    "field": ["input", "occurredAt"],
                    "message": f"occurredAt must be {RANGE}: {shown}",
                    "code": "INVALID",
                }
            ],
        }
        input = {"externalId": "autumn", "name": "Autumn", "sentAt": edge}
        payload = (await graphql(client, organization, UPSERT, {"input": input}))["data"][
            "upsertCampaign"
        ]
        assert payload == {
            "campaign": None,
            "userErrors": [
                {
                    "field": ["input", "sentAt"],
                    "message": f"sentAt must be {RANGE}: {shown}",
                    "code": "INVALID",
                }
            ],
        }
    assert (await spring_stats(client, organization), await stored(database)) == before


ARGUMENTS = """
query($from: DateTime, $since: DateTime) {
  campaign(externalId: "spring") {
    timeline(from: $from) { start }
    activity(since: $since) { edges { node { id } } }
  }
}"""


@pytest.mark.parametrize("argument", ["from", "since"])
async def test_query_arguments_out_of_range_are_bad_user_input(client, organization, argument):
    await make_campaign(client, organization, "spring")
    for edge, shown in ((EARLY_EDGE, EARLY_EDGE), (LATE_EDGE, LATE_EDGE),
                        (BEFORE_EPOCH, "1969-12-31T23:59:59+00:00")):  # fmt: skip
        body = await graphql(client, organization, ARGUMENTS, {argument: edge}, expect_errors=True)
        assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
            (f"{argument} must be {RANGE}: {shown}", "BAD_USER_INPUT")
        ]


# --- 9. every problem of an event ------------------------------------------------------------


async def test_every_problem_of_one_event_is_listed(client, database, organization):
    await make_campaign(client, organization, "spring")
    before = (await spring_stats(client, organization), await stored(database))
    # A click carrying what only bounces, drops and purchases carry.
    click = event(
        "CLICKED", "ann@example.com", url="https://example.com/a",
        bounce={"type": "HARD"}, skipReason="UNSUBSCRIBED", amount="12.50",
    )  # fmt: skip
    # Four unrelated problems in one event, and a good event between.
    broken = {**event("OPENED", "not-an-email", occurredAt=EARLY_EDGE), "colour": "blue",
              "machine": "yes"}  # fmt: skip
    response = await post_events(
        client, organization, [click, event("SENT", "bob@example.com"), broken]
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "2 bad event(s); nothing of the batch was applied",
        "problems": [
            {"index": 0, "reason": "bounce is only for BOUNCED events"},
            {"index": 0, "reason": "skipReason is only for NOT_SENT and DROPPED events"},
            {"index": 0, "reason": "amount is only for PURCHASED events"},
            {"index": 2, "reason": "unknown field(s): colour"},
            {"index": 2, "reason": f"occurredAt must be {RANGE}: {EARLY_EDGE}"},
            {"index": 2, "reason": "contact.email is not an email address: 'not-an-email'"},
            {"index": 2, "reason": "machine must be true or false"},
        ],
    }
    assert (await spring_stats(client, organization), await stored(database)) == before


def test_an_unknown_type_skips_the_checks_that_depend_on_the_type():
    raw = {**event("CLIKED", "ann@example.com"), "amount": "1.00", "contact": {}}
    with pytest.raises(EventError) as refused:
        parse_event(raw, BASE_TIME)
    types = ", ".join(kind.value for kind in ResponseType)
    assert refused.value.reasons == [
        f"type must be one of {types}: 'CLIKED'",
        "contact needs an email or an externalId",
    ]


async def test_campaign_filter_and_export_instants_out_of_range_are_refused(client, organization):
    campaign_id = await make_campaign(client, organization, "spring")
    query = "query($f: CampaignFilter) { campaigns(filter: $f) { totalCount } }"
    for edge, shown in ((EARLY_EDGE, EARLY_EDGE), (LATE_EDGE, LATE_EDGE),
                        (BEFORE_EPOCH, "1969-12-31T23:59:59+00:00")):  # fmt: skip
        for name in ("sentAfter", "sentBefore"):
            body = await graphql(
                client, organization, query, {"f": {name: edge}}, expect_errors=True
            )
            assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
                (f"{name} must be {RANGE}: {shown}", "BAD_USER_INPUT")
            ]
        for name in ("since", "until"):
            response = await client.get(
                f"/exports/campaigns/{campaign_id}/activity.csv",
                params={name: edge},
                headers=organization.headers(),
            )
            assert response.status_code == 400
            assert response.json() == {"error": f"{name} must be {RANGE}: {shown}"}
