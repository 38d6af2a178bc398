"""Downloads: recipients and activity as CSV, the summary as xlsx, and who may get them.

One small campaign, with numbers worked out by hand:
- ann  (owner Olivia, variant A): sent, delivered, opened, clicked /a, clicked /b
- bob  (owner Olivia, variant A): sent, delivered, opened (at a fraction of a second)
- cy   (owner Peter,  variant B): sent, hard bounce
- dee  (no owner,     variant B): sent, delivered, unsubscribed
- eve  (owner Peter,  variant B): sent, delivered, purchased 12.50; her name looks like a formula
"""

import asyncio
import csv
import io
import os
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from app.enums import Role
from app.exports.activity import activity_batches
from app.exports.filters import ActivityFilter, RecipientFilter
from app.exports.recipients import recipient_batches
from app.ids import global_id, parse_pk
from app.models import Response
from tests.factories import event, graphql, make_campaign, make_organization, post_events

FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'
A, B = "https://example.com/a", "https://example.com/b"

ADD_RECIPIENTS = """
mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { userErrors { field message code } }
}
"""

RECIPIENTS = """
query($id: ID!, $filter: RecipientFilter) {
  campaign(id: $id) {
    recipients(first: 100, filter: $filter) {
      edges { node {
        id status opens clicks skipReason firstOpenedAt lastOpenedAt
        bounce { type category }
        contact { id email name owner { id } }
        variant { id name }
        latestResponse { type occurredAt }
      } }
    }
  }
}
"""


async def build_campaign(client: Any, organization: Any) -> str:
    campaign_id = await make_campaign(
        client,
        organization,
        "spring",
        cost="100.00",
        variants=[{"name": "A", "isControl": True}, {"name": "B"}],
        links=[{"url": A}, {"url": B}],
    )
    groups = {
        "A": [
            {"email": "ann@example.com", "name": "Ann", "ownerEmail": "olivia@corp.example"},
            {"email": "bob@example.com", "name": "Bob", "ownerEmail": "olivia@corp.example"},
        ],
        "B": [
            {"email": "cy@example.com", "name": "Cy", "ownerEmail": "peter@corp.example"},
            {"email": "dee@example.com", "name": "Dee"},
            {"email": "eve@example.com", "name": FORMULA_NAME, "ownerEmail": "peter@corp.example"},
        ],
    }
    for variant, contacts in groups.items():
        body = await graphql(
            client,
            organization,
            ADD_RECIPIENTS,
            {"input": {"campaignId": campaign_id, "contacts": contacts, "variantName": variant}},
        )
        assert body["data"]["addRecipients"]["userErrors"] == []
    events = [
        event("SENT", "ann@example.com", id="1"),
        event("DELIVERED", "ann@example.com", minutes=1, id="2"),
        event("OPENED", "ann@example.com", minutes=2, id="3"),
        event("CLICKED", "ann@example.com", minutes=3, id="4", url=A),
        event("CLICKED", "ann@example.com", minutes=4, id="5", url=B),
        event("SENT", "bob@example.com", id="6"),
        event("DELIVERED", "bob@example.com", minutes=1, id="7"),
        event("OPENED", "bob@example.com", minutes=5.0042, id="8"),
        event("SENT", "cy@example.com", id="9"),
        event(
            "BOUNCED",
            "cy@example.com",
            minutes=1,
            id="10",
            bounce={"type": "HARD", "category": "USER_NOT_FOUND", "diagnostic": "550 5.1.1"},
        ),
        event("SENT", "dee@example.com", id="11"),
        event("DELIVERED", "dee@example.com", minutes=1, id="12"),
        event("UNSUBSCRIBED", "dee@example.com", minutes=6, id="13"),
        event("SENT", "eve@example.com", id="14"),
        event("DELIVERED", "eve@example.com", minutes=1, id="15"),
        event("PURCHASED", "eve@example.com", minutes=30, id="16", amount="12.50"),
    ]
    response = await post_events(client, organization, events)
    assert response.status_code == 200, response.text
    return campaign_id


def parse_csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


async def download(client: Any, organization: Any, path: str, role: Role = Role.VIEWER) -> Any:
    return await client.get(path, headers=organization.headers(role))


async def graphql_recipients(
    client: Any, organization: Any, campaign_id: str, filter: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    body = await graphql(client, organization, RECIPIENTS, {"id": campaign_id, "filter": filter})
    edges = body["data"]["campaign"]["recipients"]["edges"]
    return {edge["node"]["id"]: edge["node"] for edge in edges}


async def test_recipients_csv_has_the_rows_and_numbers_graphql_has(client, organization):
    campaign_id = await build_campaign(client, organization)
    response = await download(
        client, organization, f"/exports/campaigns/{campaign_id}/recipients.csv"
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "spring-recipients.csv" in response.headers["content-disposition"]
    rows = parse_csv(response.content)

    # By hand: five recipients, statuses as the story above has them.
    by_email = {row["email"]: row for row in rows}
    assert len(rows) == 5
    assert {email: row["status"] for email, row in by_email.items()} == {
        "ann@example.com": "CLICKED",
        "bob@example.com": "OPENED",
        "cy@example.com": "BOUNCED",
        "dee@example.com": "UNSUBSCRIBED",
        "eve@example.com": "DELIVERED",
    }
    assert by_email["ann@example.com"]["clicks"] == "2"
    assert by_email["ann@example.com"]["opens"] == "1"
    assert by_email["cy@example.com"]["bounce_type"] == "HARD"
    assert by_email["cy@example.com"]["bounce_category"] == "USER_NOT_FOUND"
    assert by_email["eve@example.com"]["latest_response"] == "PURCHASED"
    assert by_email["bob@example.com"]["first_opened_at"] == "2026-11-20T09:05:00.252000+00:00"
    assert by_email["dee@example.com"]["owner_email"] == ""
    assert by_email["ann@example.com"]["owner_email"] == "olivia@corp.example"
    assert Counter(row["variant"] for row in rows) == {"A": 2, "B": 3}
    # The formula-looking name is text to a spreadsheet: a leading quote, and nothing else lost.
    assert by_email["eve@example.com"]["name"] == "'" + FORMULA_NAME

    # Row by row, the same as the recipient table over GraphQL.
    nodes = await graphql_recipients(client, organization, campaign_id)
    assert set(nodes) == {row["recipient_id"] for row in rows}
    for row in rows:
        node = nodes[row["recipient_id"]]
        assert row["status"] == node["status"]
        assert int(row["opens"]) == node["opens"]
        assert int(row["clicks"]) == node["clicks"]
        assert row["email"] == node["contact"]["email"]
        assert row["contact_id"] == node["contact"]["id"]
        expected_name = node["contact"]["name"]
        if expected_name.startswith("="):
            expected_name = "'" + expected_name
        assert row["name"] == expected_name
        assert row["owner_id"] == ((node["contact"]["owner"] or {}).get("id") or "")
        assert row["variant"] == node["variant"]["name"]
        assert row["variant_id"] == node["variant"]["id"]
        assert row["skip_reason"] == (node["skipReason"] or "")
        assert row["bounce_type"] == ((node["bounce"] or {}).get("type") or "")
        assert moment(row["first_opened_at"]) == moment(node["firstOpenedAt"])
        assert moment(row["last_opened_at"]) == moment(node["lastOpenedAt"])
        assert row["latest_response"] == node["latestResponse"]["type"]
        assert moment(row["latest_response_at"]) == moment(node["latestResponse"]["occurredAt"])


@pytest.mark.parametrize(
    ("query", "graphql_filter", "expected"),
    [
        ("status=OPENED,CLICKED", {"status": ["OPENED", "CLICKED"]}, {"ann", "bob"}),
        ("status=OPENED&status=CLICKED", {"status": ["OPENED", "CLICKED"]}, {"ann", "bob"}),
        ("responded=CLICKED", {"responded": ["CLICKED"]}, {"ann"}),
        (
            "responded=SENT,DELIVERED",
            {"responded": ["SENT", "DELIVERED"]},
            {"ann", "bob", "dee", "eve"},
        ),
        ("search=EVE", {"search": "EVE"}, {"eve"}),
        ("variant", None, {"ann", "bob"}),
        ("owner", None, {"cy", "eve"}),
        ("link", None, {"ann"}),
    ],
)
async def test_recipients_csv_filters_like_the_recipient_table(
    client, organization, query, graphql_filter, expected
):
    campaign_id = await build_campaign(client, organization)
    ids = await graphql(
        client,
        organization,
        """query($id: ID!) { campaign(id: $id) {
             variants { id name } links { id url }
             recipients(first: 10) { edges { node { contact { email owner { id email } } } } }
        } }""",
        {"id": campaign_id},
    )
    campaign = ids["data"]["campaign"]
    variant_a = next(v["id"] for v in campaign["variants"] if v["name"] == "A")
    link_a = next(link["id"] for link in campaign["links"] if link["url"] == A)
    peter = next(
        edge["node"]["contact"]["owner"]["id"]
        for edge in campaign["recipients"]["edges"]
        if edge["node"]["contact"]["email"] == "cy@example.com"
    )
    if query == "variant":
        query, graphql_filter = f"variantId={variant_a}", {"variantId": variant_a}
    elif query == "owner":
        query, graphql_filter = f"ownerId={peter}", {"ownerId": peter}
    elif query == "link":
        query, graphql_filter = f"linkId={link_a}", {"linkId": link_a}

    response = await download(
        client, organization, f"/exports/campaigns/{campaign_id}/recipients.csv?{query}"
    )
    assert response.status_code == 200, response.text
    rows = parse_csv(response.content)
    assert {row["email"].split("@")[0] for row in rows} == expected
    nodes = await graphql_recipients(client, organization, campaign_id, graphql_filter)
    assert {row["recipient_id"] for row in rows} == set(nodes)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("status=GONE", "status"),
        ("variantId=nope", "variantId"),
        ("statuses=OPENED", "unknown query parameter"),
        ("search=a&search=b", "search"),
    ],
)
async def test_a_bad_filter_gets_400_with_its_reason_and_no_data(
    client, organization, query, reason
):
    campaign_id = await build_campaign(client, organization)
    response = await download(
        client, organization, f"/exports/campaigns/{campaign_id}/recipients.csv?{query}"
    )
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert b"@example.com" not in response.content


async def test_recipients_are_read_in_keyset_batches_without_gaps_or_repeats(
    client, organization, database
):
    campaign_id = await build_campaign(client, organization)
    campaign_pk = parse_pk(campaign_id, "Campaign")
    batches = [
        batch
        async for batch in recipient_batches(database, campaign_pk, RecipientFilter(), batch_size=2)
    ]
    assert [len(batch) for batch in batches] == [2, 2, 1]
    emails = [row[3] for batch in batches for row in batch]
    assert sorted(emails) == sorted(set(emails)) and len(emails) == 5


async def test_activity_is_read_in_keyset_batches_across_tied_timestamps(
    client, organization, database
):
    campaign_id = await build_campaign(client, organization)
    campaign_pk = parse_pk(campaign_id, "Campaign")
    async with database.read() as connection:
        stored = (
            await connection.execute(
                select(Response.id, Response.occurred_at).where(
                    Response.campaign_id == campaign_pk, Response.deleted_at.is_(None)
                )
            )
        ).all()
    moments = Counter(row.occurred_at for row in stored)
    # Five SENT at minute 0 and five DELIVERED/BOUNCED at minute 1: batches of 2 split the ties.
    assert len(stored) == 16 and sorted(moments.values())[-2:] == [5, 5]
    batches = [
        batch
        async for batch in activity_batches(database, campaign_pk, ActivityFilter(), batch_size=2)
    ]
    assert [len(batch) for batch in batches] == [2] * 8
    ids = [parse_pk(row[0], "Response") for batch in batches for row in batch]
    # Every event exactly once, in (occurred_at, id) order.
    assert sorted(ids) == sorted(row.id for row in stored) and len(set(ids)) == len(ids)
    order = {row.id: (row.occurred_at, row.id) for row in stored}
    assert ids == sorted(ids, key=order.__getitem__)


async def test_activity_csv_is_the_event_log_filtered_by_type_and_time(client, organization):
    campaign_id = await build_campaign(client, organization)
    path = f"/exports/campaigns/{campaign_id}/activity.csv"
    rows = parse_csv((await download(client, organization, path)).content)
    # 16 events were posted, by type: 5 SENT, 4 DELIVERED, 2 OPENED, 2 CLICKED, ...
    assert len(rows) == 16
    assert Counter(row["type"] for row in rows) == {
        "SENT": 5,
        "DELIVERED": 4,
        "OPENED": 2,
        "CLICKED": 2,
        "BOUNCED": 1,
        "UNSUBSCRIBED": 1,
        "PURCHASED": 1,
    }
    times = [moment(row["occurred_at"]) for row in rows]
    assert times == sorted(times)
    purchase = next(row for row in rows if row["type"] == "PURCHASED")
    assert purchase["amount"] == "12.50" and purchase["email"] == "eve@example.com"
    assert {row["link_url"] for row in rows if row["type"] == "CLICKED"} == {A, B}

    # The same responses as the activity log over GraphQL.
    body = await graphql(
        client,
        organization,
        "query($id: ID!) { campaign(id: $id) { activity(first: 100) { edges { node { id type } } } } }",
        {"id": campaign_id},
    )
    nodes = {
        e["node"]["id"]: e["node"]["type"] for e in body["data"]["campaign"]["activity"]["edges"]
    }
    assert nodes == {row["response_id"]: row["type"] for row in rows}

    clicks = parse_csv((await download(client, organization, path + "?types=CLICKED")).content)
    assert [row["email"] for row in clicks] == ["ann@example.com", "ann@example.com"]
    # Events from minute 5 (bob's open) up to, not including, minute 30 (eve's purchase).
    window = "?since=2026-11-20T09:05:00Z&until=2026-11-20T09:30:00Z"
    late = parse_csv((await download(client, organization, path + window)).content)
    assert [(row["type"], row["email"]) for row in late] == [
        ("OPENED", "bob@example.com"),
        ("UNSUBSCRIBED", "dee@example.com"),
    ]
    bad = await download(client, organization, path + "?since=yesterday")
    assert bad.status_code == 400 and "since" in bad.json()["error"]


def metric_table(sheet: Any, title: str) -> dict[str, tuple[Any, Any]]:
    """{metric: (count, %)} of the first section whose title starts with `title`."""
    rows = list(sheet.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if str(row[0]).startswith(title))
    table: dict[str, tuple[Any, Any]] = {}
    for row in rows[start + 2 :]:
        if row[0] is None:
            break
        table[row[0]] = (row[1], row[2] if len(row) > 2 else None)
    return table


async def test_summary_xlsx_has_the_numbers_per_campaign_owner_variant_and_link(
    client, organization, tmp_path
):
    campaign_id = await build_campaign(client, organization)
    response = await download(
        client, organization, f"/exports/campaigns/{campaign_id}/summary.xlsx"
    )
    assert response.status_code == 200, response.text
    path = tmp_path / "summary.xlsx"
    path.write_bytes(response.content)
    workbook = openpyxl.load_workbook(path, read_only=True)
    assert workbook.sheetnames[0] == "Summary"
    assert {"Variants", "Links"} <= set(workbook.sheetnames)
    owner_sheets = [name for name in workbook.sheetnames if name.startswith("Owner ")]
    assert len(owner_sheets) == 3  # Olivia, Peter, no owner

    total = metric_table(workbook["Summary"], "All recipients")
    assert total["Recipients"][0] == 5
    assert total["Sent"] == (5, pytest.approx(1.0))
    assert total["Delivered"] == (4, pytest.approx(4 / 5))
    assert total["Opened"] == (2, pytest.approx(2 / 5))
    assert total["Opened (confirmed)"] == (2, pytest.approx(2 / 4))
    assert total["Clicked"] == (1, pytest.approx(1 / 5))
    assert total["Clicked (to open)"] == (1, pytest.approx(1 / 2))
    assert total["Clicks"][0] == 2
    assert total["Unsubscribed"] == (1, pytest.approx(1 / 5))
    assert total["Rejected"] == (1, pytest.approx(1 / 5))
    assert total["Hard rejections"] == (1, pytest.approx(1 / 5))
    assert total["Soft rejections"] == (0, 0)
    assert total["Purchases"] == (1, pytest.approx(1 / 4))
    assert total["Revenue"][0] == pytest.approx(12.50)
    assert total["Cost"][0] == pytest.approx(100.00)
    assert total["Profit"][0] == pytest.approx(-87.50)

    # The same numbers as GraphQL's stats.
    body = await graphql(
        client,
        organization,
        "query($id: ID!) { campaign(id: $id) { stats { sent delivered opened clicked openRate clickRate bounceRate } } }",
        {"id": campaign_id},
    )
    stats = body["data"]["campaign"]["stats"]
    assert total["Opened"] == (stats["opened"], pytest.approx(stats["openRate"]))
    assert total["Clicked"] == (stats["clicked"], pytest.approx(stats["clickRate"]))
    assert total["Rejected"][1] == pytest.approx(stats["bounceRate"])

    olivia = metric_table(workbook["Summary"], "Record owner: olivia")
    assert olivia["Recipients"][0] == 2
    assert olivia["Opened"] == (2, pytest.approx(1.0))
    assert olivia["Clicked"] == (1, pytest.approx(1 / 2))
    peter_sheet = next(name for name in owner_sheets if "peter" in name)
    peter = metric_table(workbook[peter_sheet], "peter")
    assert peter["Sent"][0] == 2
    assert peter["Rejected"] == (1, pytest.approx(1 / 2))
    assert peter["Purchases"] == (1, pytest.approx(1 / 1))
    no_owner = metric_table(workbook["Summary"], "Record owner: No owner")
    assert no_owner["Unsubscribed"] == (1, pytest.approx(1.0))

    variants = list(workbook["Variants"].iter_rows(values_only=True))
    header = variants[0]
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in variants[1:]}
    assert by_name["A"]["Control"] == "yes"
    assert by_name["A"]["Opened"] == 2 and by_name["A"]["Opened %"] == pytest.approx(1.0)
    assert by_name["B"]["Sent"] == 3 and by_name["B"]["Rejected %"] == pytest.approx(1 / 3)

    links = list(workbook["Links"].iter_rows(values_only=True))
    link_header = links[0]
    link_rows = [dict(zip(link_header, row, strict=True)) for row in links[1:]]
    overall = {row["URL"]: row for row in link_rows if row["Variant"] == "All"}
    assert overall[A]["Clicks"] == 1 and overall[A]["Unique clickers"] == 1
    assert overall[A]["Click rate"] == pytest.approx(1 / 4)  # clicked / delivered
    assert overall[B]["Share of clicks"] == pytest.approx(1 / 2)
    in_b = {row["URL"]: row for row in link_rows if row["Variant"] == "B"}
    assert in_b[A]["Clicks"] == 0


async def test_a_wrong_key_or_another_organizations_campaign_gets_no_data(
    client, organization, database
):
    campaign_id = await build_campaign(client, organization)
    other = await make_organization(database)
    for kind in ("recipients.csv", "activity.csv", "summary.xlsx"):
        path = f"/exports/campaigns/{campaign_id}/{kind}"
        anonymous = await client.get(path)
        assert anonymous.status_code == 401
        wrong = await client.get(path, headers={"Authorization": "Bearer cg_not-a-key"})
        assert wrong.status_code == 401
        foreign = await client.get(path, headers=other.headers(Role.ADMIN))
        assert foreign.status_code == 404
        assert "no campaign" in foreign.json()["error"]
        missing = await client.get(
            f"/exports/campaigns/{global_id('Campaign', 999_999)}/{kind}",
            headers=organization.headers(Role.VIEWER),
        )
        assert missing.status_code == 404
        malformed = await client.get(
            f"/exports/campaigns/not-an-id/{kind}", headers=organization.headers(Role.VIEWER)
        )
        assert malformed.status_code == 404
        for refused in (anonymous, wrong, foreign, missing, malformed):
            assert refused.headers["content-type"].startswith("application/json")
            assert b"example.com" not in refused.content


async def test_cli_export_writes_the_same_file(client, organization, database_url, tmp_path):
    campaign_id = await build_campaign(client, organization)
    http_rows = parse_csv(
        (
            await download(
                client,
                organization,
                f"/exports/campaigns/{campaign_id}/recipients.csv?status=OPENED",
            )
        ).content
    )
    output = tmp_path / "opened.csv"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "export", "recipients",
        "--org", organization.name, "--campaign", "spring", "--status", "OPENED",
        "-o", str(output),
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=Path(__file__).resolve().parent.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert parse_csv(output.read_bytes()) == http_rows
    assert [row["email"] for row in http_rows] == ["bob@example.com"]
