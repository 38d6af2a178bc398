"""Campaign.timeline: local hours and days in any time zone, from 15-minute UTC buckets."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from resolvers.timeline import boundaries, group
from schema.enums import Granularity
from tests.factories import event, graphql, make_campaign, make_organization, post_events

TIMELINE = """
query($externalId: String!, $granularity: Granularity, $timezone: String, $from: DateTime,
      $to: DateTime, $variantId: ID) {
  campaign(externalId: $externalId) {
    timeline(granularity: $granularity, timezone: $timezone, from: $from, to: $to,
             variantId: $variantId) {
      start end sent delivered opens clicks bounced unsubscribed
    }
  }
}
"""
COUNTERS = ("sent", "delivered", "opens", "clicks", "bounced", "unsubscribed")


def at(type: str, email: str, occurred_at: str, **extra: Any) -> dict[str, Any]:
    """A canonical event at an exact UTC time."""
    return event(type, email, occurredAt=occurred_at, **extra)


async def timeline(client, organization, external_id="spring", **arguments) -> list[dict]:
    body = await graphql(client, organization, TIMELINE, {"externalId": external_id, **arguments})
    return body["data"]["campaign"]["timeline"]


async def timeline_error(client, organization, external_id="spring", **arguments) -> dict:
    body = await graphql(
        client,
        organization,
        TIMELINE,
        {"externalId": external_id, **arguments},
        expect_errors=True,
    )
    assert body["data"]["campaign"] is None
    return body["errors"][0]


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def counts(bucket: dict) -> dict[str, int]:
    return {name: bucket[name] for name in COUNTERS if bucket[name]}


# Around both Europe/Berlin clock changes of 2026: forward on 29 March at 01:00 UTC (02:00 CET
# becomes 03:00 CEST), back on 25 October at 01:00 UTC (03:00 CEST becomes 02:00 CET).
DST_EVENTS = [
    at("SENT", "a@example.com", "2026-03-28T22:30:00Z"),  # 23:30 CET, 28 March
    at("SENT", "b@example.com", "2026-03-28T23:10:00Z"),  # 00:10 CET, 29 March
    at("OPENED", "a@example.com", "2026-03-29T01:30:00Z"),  # 03:30 CEST, 29 March
    at("CLICKED", "a@example.com", "2026-03-29T21:50:00Z"),  # 23:50 CEST, 29 March
    at("OPENED", "b@example.com", "2026-03-29T22:05:00Z"),  # 00:05 CEST, 30 March
    at("SENT", "c@example.com", "2026-10-24T21:59:00Z"),  # 23:59 CEST, 24 October
    at("DELIVERED", "c@example.com", "2026-10-24T22:00:00Z"),  # 00:00 CEST, 25 October
    at("OPENED", "c@example.com", "2026-10-25T00:30:00Z"),  # 02:30 CEST, the first 02:30
    at("OPENED", "c@example.com", "2026-10-25T01:30:00Z", id="second"),  # 02:30 CET, again
    at("UNSUBSCRIBED", "c@example.com", "2026-10-25T22:59:00Z"),  # 23:59 CET, 25 October
    at("SENT", "d@example.com", "2026-10-25T23:00:00Z"),  # 00:00 CET, 26 October
]


async def test_days_of_23_and_25_hours_at_the_clock_changes(client, organization):
    await make_campaign(client, organization, "spring")
    assert (await post_events(client, organization, DST_EVENTS)).status_code == 200

    march = await timeline(
        client,
        organization,
        granularity="DAY",
        timezone="Europe/Berlin",
        **{"from": "2026-03-28T00:00:00+01:00", "to": "2026-03-31T00:00:00+02:00"},
    )
    assert [(b["start"], b["end"]) for b in march] == [
        ("2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00"),
        ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"),
        ("2026-03-30T00:00:00+02:00", "2026-03-31T00:00:00+02:00"),
    ]
    lengths = [parse(b["end"]) - parse(b["start"]) for b in march]
    assert lengths == [timedelta(hours=24), timedelta(hours=23), timedelta(hours=24)]
    assert [counts(b) for b in march] == [
        {"sent": 1},
        {"sent": 1, "opens": 1, "clicks": 1},
        {"opens": 1},
    ]

    october = await timeline(
        client,
        organization,
        granularity="DAY",
        timezone="Europe/Berlin",
        **{"from": "2026-10-24T00:00:00+02:00", "to": "2026-10-27T00:00:00+01:00"},
    )
    assert [(b["start"], b["end"]) for b in october] == [
        ("2026-10-24T00:00:00+02:00", "2026-10-25T00:00:00+02:00"),
        ("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"),
        ("2026-10-26T00:00:00+01:00", "2026-10-27T00:00:00+01:00"),
    ]
    lengths = [parse(b["end"]) - parse(b["start"]) for b in october]
    assert lengths == [timedelta(hours=24), timedelta(hours=25), timedelta(hours=24)]
    assert [counts(b) for b in october] == [
        {"sent": 1},
        {"delivered": 1, "opens": 2, "unsubscribed": 1},
        {"sent": 1},
    ]

    # The local days hold every event exactly once: they sum to the UTC totals.
    for name, type in [("sent", "SENT"), ("opens", "OPENED"), ("clicks", "CLICKED")]:
        in_days = sum(b[name] for b in march + october)
        assert in_days == sum(1 for e in DST_EVENTS if e["type"] == type)


async def test_the_repeated_hour_is_two_local_hours(client, organization):
    await make_campaign(client, organization, "spring")
    await post_events(client, organization, DST_EVENTS)
    hours = await timeline(
        client,
        organization,
        granularity="HOUR",
        timezone="Europe/Berlin",
        **{"from": "2026-10-25T00:00:00Z", "to": "2026-10-25T02:00:00Z"},
    )
    # 02:00-03:00 happens twice that night: once in summer time, once in winter time.
    assert [(b["start"], b["end"], b["opens"]) for b in hours] == [
        ("2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", 1),
        ("2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00", 1),
    ]


async def test_default_range_is_first_to_last_event_with_empty_days_as_zeros(
    client, database, organization
):
    berlin = await make_organization(database, timezone="Europe/Berlin")
    await make_campaign(client, berlin, "spring")
    await post_events(client, berlin, DST_EVENTS)
    days = await timeline(client, berlin, granularity="DAY")  # the organization's zone
    # 28 March to 26 October inclusive: 4 + 30 + 31 + 30 + 31 + 31 + 30 + 26 days.
    assert len(days) == 213
    assert days[0]["start"] == "2026-03-28T00:00:00+01:00"
    assert days[-1]["end"] == "2026-10-27T00:00:00+01:00"
    assert all(parse(b["start"]).time().isoformat() == "00:00:00" for b in days)
    assert all(a["end"] == b["start"] for a, b in zip(days, days[1:], strict=False))
    assert counts(days[10]) == {}  # 7 April: nothing happened, a row of zeros
    assert sum(1 for b in days if counts(b)) == 6
    totals = {name: sum(b[name] for b in days) for name in COUNTERS}
    assert totals == {
        "sent": 4,
        "delivered": 1,
        "opens": 4,
        "clicks": 1,
        "bounced": 0,
        "unsubscribed": 1,
    }


async def test_half_hour_offset_hours_start_at_half_past_utc(client, database):
    kolkata = await make_organization(database, timezone="Asia/Kolkata")
    await make_campaign(client, kolkata, "spring")
    await post_events(
        client,
        kolkata,
        [
            at("SENT", "a@example.com", "2026-11-20T09:20:00Z"),  # 14:50 IST
            at("SENT", "b@example.com", "2026-11-20T09:40:00Z"),  # 15:10 IST
            at("SENT", "c@example.com", "2026-11-20T10:29:00Z"),  # 15:59 IST
            at("SENT", "d@example.com", "2026-11-20T10:30:00Z"),  # 16:00 IST
        ],
    )
    hours = await timeline(
        client,
        kolkata,
        **{"from": "2026-11-20T07:30:00Z", "to": "2026-11-20T12:30:00Z"},
    )
    assert [(b["start"], b["sent"]) for b in hours] == [
        ("2026-11-20T13:00:00+05:30", 0),
        ("2026-11-20T14:00:00+05:30", 1),
        ("2026-11-20T15:00:00+05:30", 2),
        ("2026-11-20T16:00:00+05:30", 1),
        ("2026-11-20T17:00:00+05:30", 0),
    ]
    assert {parse(b["start"]).astimezone(UTC).minute for b in hours} == {30}


async def test_quarter_to_offset_hours_and_days(client, organization):
    await make_campaign(client, organization, "spring")
    await post_events(
        client,
        organization,
        [
            at("OPENED", "a@example.com", "2026-11-20T09:10:00Z"),  # 14:55 in Kathmandu
            at("OPENED", "b@example.com", "2026-11-20T09:20:00Z"),  # 15:05
            at("OPENED", "c@example.com", "2026-11-20T10:14:00Z"),  # 15:59
            at("OPENED", "d@example.com", "2026-11-20T10:15:00Z"),  # 16:00
            at("OPENED", "e@example.com", "2026-11-20T18:14:00Z"),  # 23:59
            at("OPENED", "f@example.com", "2026-11-20T18:15:00Z"),  # 00:00, 21 November
        ],
    )
    hours = await timeline(client, organization, timezone="Asia/Kathmandu")
    assert {parse(b["start"]).astimezone(UTC).minute for b in hours} == {15}
    assert [(b["start"], b["opens"]) for b in hours[:3]] == [
        ("2026-11-20T14:00:00+05:45", 1),
        ("2026-11-20T15:00:00+05:45", 2),
        ("2026-11-20T16:00:00+05:45", 1),
    ]
    assert len(hours) == 11  # 14:00 to 00:00 local, zeros between
    quarters = await timeline(
        client,
        organization,
        granularity="QUARTER_HOUR",
        timezone="Asia/Kathmandu",
        **{"from": "2026-11-20T09:00:00Z", "to": "2026-11-20T09:45:00Z"},
    )
    assert [(b["start"], b["opens"]) for b in quarters] == [
        ("2026-11-20T14:45:00+05:45", 1),
        ("2026-11-20T15:00:00+05:45", 1),
        ("2026-11-20T15:15:00+05:45", 0),
    ]
    days = await timeline(client, organization, granularity="DAY", timezone="Asia/Kathmandu")
    assert [(b["start"], b["end"], b["opens"]) for b in days] == [
        ("2026-11-20T00:00:00+05:45", "2026-11-21T00:00:00+05:45", 5),
        ("2026-11-21T00:00:00+05:45", "2026-11-22T00:00:00+05:45", 1),
    ]
    assert parse(days[0]["start"]).astimezone(UTC).isoformat() == "2026-11-19T18:15:00+00:00"


async def test_one_variant(client, organization):
    await make_campaign(client, organization, "spring", variants=[{"name": "A"}, {"name": "B"}])
    await post_events(
        client,
        organization,
        [
            event("SENT", "a@example.com", variant="A"),
            event("SENT", "b@example.com", variant="B"),
            event("SENT", "c@example.com", variant="B", minutes=70),
        ],
    )
    body = await graphql(
        client, organization, 'query { campaign(externalId: "spring") { variants { id name } } }'
    )
    variant_b = next(v["id"] for v in body["data"]["campaign"]["variants"] if v["name"] == "B")
    both = await timeline(client, organization, timezone="UTC")
    only_b = await timeline(client, organization, timezone="UTC", variantId=variant_b)
    assert [b["sent"] for b in both] == [2, 1]
    assert [b["sent"] for b in only_b] == [1, 1]


async def test_at_most_5000_buckets(client, organization):
    await make_campaign(client, organization, "spring")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    exactly = await timeline(
        client,
        organization,
        granularity="QUARTER_HOUR",
        timezone="UTC",
        **{"from": start.isoformat(), "to": (start + timedelta(minutes=15 * 5000)).isoformat()},
    )
    assert len(exactly) == 5000
    assert all(counts(b) == {} for b in exactly)
    error = await timeline_error(
        client,
        organization,
        granularity="QUARTER_HOUR",
        timezone="UTC",
        **{"from": start.isoformat(), "to": (start + timedelta(minutes=15 * 5001)).isoformat()},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "5,000" in error["message"]


async def test_the_limit_holds_for_the_whole_request(client, organization):
    for name in ("spring", "summer"):
        await make_campaign(client, organization, name)
    query = """
    query($to: DateTime!) { campaigns(first: 2) { edges { node {
      timeline(granularity: QUARTER_HOUR, timezone: "UTC", from: "2026-01-01T00:00:00Z", to: $to)
      { start }
    } } } }
    """
    # 2 x 2,500 quarter hours is 5,000: fine; 2 x 2,501 is over the limit.
    for quarters, allowed in ((2500, True), (2501, False)):
        to = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * quarters)
        body = await graphql(
            client, organization, query, {"to": to.isoformat()}, expect_errors=not allowed
        )
        if allowed:
            edges = body["data"]["campaigns"]["edges"]
            assert [len(e["node"]["timeline"]) for e in edges] == [quarters, quarters]
        else:
            assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            assert "5,000" in body["errors"][0]["message"]


async def test_bad_arguments_are_clear_errors(client, organization):
    await make_campaign(client, organization, "spring")
    for zone in ("Mars/Olympus_Mons", "Europe", "../../etc/passwd", ""):
        error = await timeline_error(client, organization, timezone=zone)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert f"unknown time zone {zone!r}" in error["message"]
    error = await timeline_error(
        client,
        organization,
        **{"from": "2026-11-20T10:00:00Z", "to": "2026-11-20T09:00:00Z"},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await timeline_error(client, organization, variantId="not-an-id")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await timeline_error(client, organization, **{"from": "2026-11-20T10:00:00"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "offset" in error["message"]


async def test_no_events_no_buckets(client, organization):
    await make_campaign(client, organization, "spring")
    assert await timeline(client, organization) == []


LIST = """
query { campaigns(first: 20) { edges { node {
  name timeline(granularity: DAY, timezone: "Europe/Berlin") { start sent opens }
  byHour: timeline { start sent }
} } } }
"""


async def test_statements_do_not_grow_with_campaigns(client, organization, count_statements):
    async def statements_for(number: int) -> int:
        for index in range(number):
            name = f"campaign-{number}-{index}"
            await make_campaign(client, organization, name)
            await post_events(
                client,
                organization,
                [
                    event("SENT", "a@example.com", campaign=name),
                    event("OPENED", "a@example.com", campaign=name, minutes=90),
                ],
            )
        with count_statements() as counter:
            body = await graphql(client, organization, LIST)
        edges = body["data"]["campaigns"]["edges"]
        assert all(sum(b["sent"] for b in e["node"]["timeline"]) == 1 for e in edges)
        assert all(len(e["node"]["byHour"]) == 2 for e in edges)
        return counter.count

    one = await statements_for(1)
    many = await statements_for(4)
    assert many == one


# --- The grouping itself, for many zones and instants --------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",  # clocks change at midnight
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",  # a half-hour daylight-saving shift
    "Pacific/Chatham",  # +12:45 / +13:45
]


@settings(max_examples=200, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    granularity=st.sampled_from(list(Granularity)),
    first_day=st.integers(0, 364),
    quarters=st.lists(st.integers(0, 4 * 24 * 4), min_size=1, max_size=40),  # within 4 days
)
# Every quarter hour of two days around each clock change (day numbers of 2026, from 0).
@example("Europe/Berlin", Granularity.DAY, 86, list(range(4 * 24 * 3)))  # 28-30 March
@example("Europe/Berlin", Granularity.HOUR, 297, list(range(4 * 24 * 2)))  # 25 October
@example("Australia/Lord_Howe", Granularity.HOUR, 93, list(range(4 * 24 * 2)))  # 5 April
@example("Australia/Lord_Howe", Granularity.HOUR, 275, list(range(4 * 24 * 2)))  # 4 October
@example("America/Santiago", Granularity.DAY, 247, list(range(4 * 24 * 3)))  # 6 September
def test_every_stored_bucket_lands_in_the_local_period_holding_it(
    zone_name, granularity, first_day, quarters
):
    zone = ZoneInfo(zone_name)
    origin = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=first_day)
    rows = sorted(
        (origin + timedelta(minutes=15 * q), {"sent": 1, **dict.fromkeys(COUNTERS[1:], 0)})
        for q in quarters
    )
    edges = boundaries(rows[0][0], rows[-1][0] + timedelta(minutes=15), granularity, zone)
    buckets = group(rows, edges, zone)
    assert sum(b.sent for b in buckets) == len(rows)
    assert all(a < b for a, b in zip(edges, edges[1:], strict=False))
    for moment, _ in rows:
        bucket = next(b for b in buckets if b.start <= moment < b.end)
        local, start = moment.astimezone(zone), bucket.start
        assert local.date() == start.date()
        if granularity is not Granularity.DAY:
            assert local.hour == start.hour
        if granularity is Granularity.QUARTER_HOUR:
            assert local.minute - local.minute % 15 == start.minute
