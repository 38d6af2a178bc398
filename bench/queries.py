"""The measured GraphQL queries and their two floors.

Floor (a): plain SQL over the same pre-aggregated rows (stdlib sqlite3, or asyncpg on PostgreSQL),
the response built as dicts by hand, then orjson. Floor (b): the same rows and dicts, then
graphql-core `execute` of the pre-parsed query over a schema whose resolvers are graphql-core's
default ones reading those dicts (the schema is built from the app's own SDL), then orjson.

Each floor builds exactly the JSON the app returns (the smoke test compares them), so a ratio
app/floor is the cost of everything the app adds on top of reading the rows.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from graphql import build_schema, execute, parse

from app.ids import global_id
from bench.raw import RawDatabase, as_datetime

STATS_SUM = ", ".join(
    f"CAST(COALESCE(SUM({name}), 0) AS BIGINT)"
    for name in (
        "recipients", "sent", "delivered", "bounced", "opened", "opens", "clicked", "clicks",
        "unsubscribed", "complained", "revenue_cents", "funnel_not_received", "funnel_received",
        "funnel_opened", "funnel_clicked", "funnel_opted_out",
    )
)  # fmt: skip

DASHBOARD_STATS = (
    "recipients sent delivered bounced opened opens clicked clicks unsubscribed complained "
    "revenue deliveryRate openRate clickRate clickToOpenRate bounceRate"
)
VARIANT_STATS = "sent delivered opened clicked openRate clickRate"
TIMELINE_FIELDS = "start sent delivered opens clicks bounced unsubscribed"


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def iso(value: Any) -> str | None:
    moment = as_datetime(value)
    return moment.isoformat() if moment else None


def counters_of(row: tuple[Any, ...]) -> dict[str, int]:
    names = (
        "recipients", "sent", "delivered", "bounced", "opened", "opens", "clicked", "clicks",
        "unsubscribed", "complained", "revenue_cents", "funnel_not_received", "funnel_received",
        "funnel_opened", "funnel_clicked", "funnel_opted_out",
    )  # fmt: skip
    return dict(zip(names, (int(value) for value in row), strict=True))


def dashboard_stats(c: dict[str, int]) -> dict[str, Any]:
    return {
        "recipients": c["recipients"], "sent": c["sent"], "delivered": c["delivered"],
        "bounced": c["bounced"], "opened": c["opened"], "opens": c["opens"],
        "clicked": c["clicked"], "clicks": c["clicks"], "unsubscribed": c["unsubscribed"],
        "complained": c["complained"], "revenue": money(c["revenue_cents"]),
        "deliveryRate": rate(c["delivered"], c["sent"]), "openRate": rate(c["opened"], c["sent"]),
        "clickRate": rate(c["clicked"], c["sent"]),
        "clickToOpenRate": rate(c["clicked"], c["opened"]),
        "bounceRate": rate(c["bounced"], c["sent"]),
    }  # fmt: skip


def variant_stats(c: dict[str, int]) -> dict[str, Any]:
    return {
        "sent": c["sent"], "delivered": c["delivered"], "opened": c["opened"],
        "clicked": c["clicked"], "openRate": rate(c["opened"], c["sent"]),
        "clickRate": rate(c["clicked"], c["sent"]),
    }  # fmt: skip


def funnel(c: dict[str, int]) -> dict[str, int]:
    return {
        "notReceived": c["funnel_not_received"], "received": c["funnel_received"],
        "opened": c["funnel_opened"], "clicked": c["funnel_clicked"],
        "optedOut": c["funnel_opted_out"],
    }  # fmt: skip


EMPTY = counters_of((0,) * 16)


# --- The dashboard ----------------------------------------------------------------------------


def dashboard_query(with_timeline: bool) -> str:
    timeline = (
        f"timeline(granularity: HOUR, from: $from, to: $to) {{ {TIMELINE_FIELDS} }}"
        if with_timeline
        else ""
    )
    variables = "$id: ID!, $from: DateTime, $to: DateTime" if with_timeline else "$id: ID!"
    return f"""query Dashboard({variables}) {{
  campaign(id: $id) {{
    id name status sentAt
    stats {{ {DASHBOARD_STATS} }}
    funnel {{ notReceived received opened clicked optedOut }}
    {timeline}
    variants {{ id name isControl stats {{ {VARIANT_STATS} }} }}
    links {{ id url clicks clicked }}
  }}
}}"""


@dataclass(frozen=True)
class Dashboard:
    campaign_id: int
    organization_id: int
    start: datetime  # the first of 48 hourly buckets
    with_timeline: bool

    @property
    def variables(self) -> dict[str, Any]:
        variables: dict[str, Any] = {"id": global_id("Campaign", self.campaign_id)}
        if self.with_timeline:
            variables["from"] = self.start.isoformat()
            variables["to"] = (self.start + timedelta(hours=48)).isoformat()
        return variables


async def dashboard_data(raw: RawDatabase, query: Dashboard) -> dict[str, Any]:
    """The dashboard's `data`, from plain SQL over the pre-aggregated rows."""
    campaign_id = query.campaign_id
    found = await raw.fetch(
        "SELECT id, name, status, sent_at FROM campaigns WHERE id = ? AND organization_id = ?",
        campaign_id,
        query.organization_id,
    )
    if not found:
        return {"campaign": None}
    campaign = found[0]
    totals = counters_of(
        (
            await raw.fetch(
                f"SELECT {STATS_SUM} FROM campaign_stats WHERE campaign_id = ?", campaign_id
            )
        )[0]  # fmt: skip
    )
    variant_rows = await raw.fetch(
        f"SELECT v.id, v.name, v.is_control, {STATS_SUM} FROM variants v "
        "LEFT JOIN campaign_stats s ON s.campaign_id = v.campaign_id AND s.variant_id = v.id "
        "WHERE v.campaign_id = ? GROUP BY v.id, v.name, v.is_control "
        "ORDER BY v.is_control DESC, v.name, v.id",
        campaign_id,
    )
    link_rows = await raw.fetch(
        "SELECT l.id, l.url, CAST(COALESCE(SUM(s.clicks), 0) AS BIGINT), "
        "CAST(COALESCE(SUM(s.clicked), 0) AS BIGINT) FROM links l "
        "LEFT JOIN link_stats s ON s.link_id = l.id WHERE l.campaign_id = ? "
        "GROUP BY l.id, l.url, l.position ORDER BY l.position IS NULL, l.position, l.id",
        campaign_id,
    )
    data: dict[str, Any] = {
        "id": global_id("Campaign", campaign[0]),
        "name": campaign[1],
        "status": campaign[2],
        "sentAt": iso(campaign[3]),
        "stats": dashboard_stats(totals),
        "funnel": funnel(totals),
    }
    if query.with_timeline:
        end = query.start + timedelta(hours=48)
        bucket_rows = await raw.fetch(
            "SELECT bucket_start, SUM(sent), SUM(delivered), SUM(opens), SUM(clicks), "
            "SUM(bounced), SUM(unsubscribed) FROM timeline_buckets WHERE campaign_id = ? "
            "AND bucket_start >= ? AND bucket_start < ? GROUP BY bucket_start",
            campaign_id,
            query.start,
            end,
        )
        hours: dict[datetime, list[int]] = {}
        for row in bucket_rows:
            moment = as_datetime(row[0])
            assert moment is not None
            hour = hours.setdefault(moment.replace(minute=0), [0] * 6)
            for index in range(6):
                hour[index] += int(row[index + 1])
        timeline = []
        for number in range(48):
            start = query.start + timedelta(hours=number)
            sent, delivered, opens, clicks, bounced, unsubscribed = hours.get(start, [0] * 6)
            timeline.append(
                {
                    "start": start.isoformat(),
                    "sent": sent,
                    "delivered": delivered,
                    "opens": opens,
                    "clicks": clicks,
                    "bounced": bounced,
                    "unsubscribed": unsubscribed,
                }  # fmt: skip
            )
        data["timeline"] = timeline
    data["variants"] = [
        {
            "id": global_id("Variant", row[0]),
            "name": row[1],
            "isControl": bool(row[2]),
            "stats": variant_stats(counters_of(row[3:])),
        }  # fmt: skip
        for row in variant_rows
    ]
    data["links"] = [
        {
            "id": global_id("Link", row[0]),
            "url": row[1],
            "clicks": int(row[2]),
            "clicked": int(row[3]),
        }  # fmt: skip
        for row in link_rows
    ]
    return {"campaign": data}


# --- The campaign list ------------------------------------------------------------------------

CAMPAIGNS_QUERY = f"""query Campaigns {{
  campaigns(first: 100) {{
    edges {{ node {{
      id name sentAt
      stats {{ {VARIANT_STATS} }}
      variants {{ id name stats {{ {VARIANT_STATS} }} }}
      links {{ id url clicks clicked }}
    }} }}
  }}
}}"""


def _ids(values: list[int]) -> str:
    return ", ".join(str(int(value)) for value in values) or "NULL"


async def campaigns_data(raw: RawDatabase, organization_id: int) -> dict[str, Any]:
    """campaigns(first: 100) with stats, variants with stats, links with clicks."""
    campaigns = await raw.fetch(
        "SELECT id, name, sent_at FROM campaigns WHERE organization_id = ? "
        "ORDER BY created_at DESC, id DESC LIMIT 100",
        organization_id,
    )
    ids = _ids([row[0] for row in campaigns])
    stats = {
        row[0]: counters_of(row[1:])
        for row in await raw.fetch(
            f"SELECT campaign_id, {STATS_SUM} FROM campaign_stats "
            f"WHERE campaign_id IN ({ids}) GROUP BY campaign_id"
        )
    }
    variant_stats_rows = {
        row[0]: counters_of(row[1:])
        for row in await raw.fetch(
            f"SELECT variant_id, {STATS_SUM} FROM campaign_stats "
            f"WHERE campaign_id IN ({ids}) GROUP BY variant_id"
        )
    }
    variants: dict[int, list[dict[str, Any]]] = {}
    for row in await raw.fetch(
        f"SELECT id, campaign_id, name FROM variants WHERE campaign_id IN ({ids}) "
        "ORDER BY is_control DESC, name, id"
    ):
        variants.setdefault(row[1], []).append(
            {
                "id": global_id("Variant", row[0]),
                "name": row[2],
                "stats": variant_stats(variant_stats_rows.get(row[0], EMPTY)),
            }  # fmt: skip
        )
    links: dict[int, list[dict[str, Any]]] = {}
    for row in await raw.fetch(
        "SELECT l.id, l.campaign_id, l.url, CAST(COALESCE(SUM(s.clicks), 0) AS BIGINT), "
        "CAST(COALESCE(SUM(s.clicked), 0) AS BIGINT) FROM links l "
        f"LEFT JOIN link_stats s ON s.link_id = l.id WHERE l.campaign_id IN ({ids}) "
        "GROUP BY l.id, l.campaign_id, l.url, l.position "
        "ORDER BY l.position IS NULL, l.position, l.id"
    ):
        links.setdefault(row[1], []).append(
            {
                "id": global_id("Link", row[0]),
                "url": row[2],
                "clicks": int(row[3]),
                "clicked": int(row[4]),
            }  # fmt: skip
        )
    edges = [
        {"node": {"id": global_id("Campaign", row[0]), "name": row[1], "sentAt": iso(row[2]),
                  "stats": variant_stats(stats.get(row[0], EMPTY)),
                  "variants": variants.get(row[0], []), "links": links.get(row[0], [])}}
        for row in campaigns
    ]  # fmt: skip
    return {"campaigns": {"edges": edges}}


# --- A 500-row recipients page ----------------------------------------------------------------

RECIPIENTS_QUERY = """query Recipients($id: ID!) {
  campaign(id: $id) {
    recipients(first: 500) {
      edges { node {
        id status opens clicks sentAt firstOpenedAt
        contact { id email name }
      } }
      pageInfo { hasNextPage }
    }
  }
}"""


async def recipients_data(
    raw: RawDatabase, campaign_id: int, organization_id: int
) -> dict[str, Any]:
    """The first 500 recipients by name (the table's default order) with their contacts, read
    in the recipients' copied name order (recipients.sort_name), as the app reads them."""
    found = await raw.fetch(
        "SELECT r.id, r.status, r.opens, r.clicks, r.sent_at, r.first_opened_at, c.id, c.email, "
        "c.name FROM recipients r JOIN contacts c ON c.id = r.contact_id "
        "WHERE r.campaign_id = ? AND c.organization_id = ? "
        "ORDER BY r.sort_name, r.id LIMIT 501",
        campaign_id,
        organization_id,
    )
    edges = [
        {"node": {"id": global_id("Recipient", row[0]), "status": row[1], "opens": row[2],
                  "clicks": row[3], "sentAt": iso(row[4]), "firstOpenedAt": iso(row[5]),
                  "contact": {"id": global_id("Contact", row[6]), "email": row[7],
                              "name": row[8]}}}
        for row in found[:500]
    ]  # fmt: skip
    return {
        "campaign": {"recipients": {"edges": edges, "pageInfo": {"hasNextPage": len(found) > 500}}}
    }


# --- Floor (b): graphql-core over plain dicts -------------------------------------------------


class ExecutionFloor:
    """graphql-core `execute` of pre-parsed queries over the app's SDL with default resolvers."""

    def __init__(self, sdl: str) -> None:
        self.schema = build_schema(sdl)
        self._documents: dict[str, Any] = {}

    def run(self, query: str, variables: dict[str, Any], data: dict[str, Any]) -> bytes:
        document = self._documents.get(query)
        if document is None:
            document = self._documents[query] = parse(query)
        result = execute(self.schema, document, root_value=data, variable_values=variables)
        assert not result.errors, result.errors
        return orjson.dumps(result.data)


Measure = Callable[[], Awaitable[Any]]


def floors(
    raw: RawDatabase,
    execution: ExecutionFloor,
    query: str,
    variables: dict[str, Any],
    data: Callable[[], Awaitable[dict[str, Any]]],
) -> tuple[Measure, Measure]:
    """Floor (a) and floor (b) of one query, as callables to time."""

    async def floor_a() -> bytes:
        return orjson.dumps(await data())

    async def floor_b() -> bytes:
        return execution.run(query, variables, await data())

    return floor_a, floor_b


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
