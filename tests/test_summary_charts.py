"""summary.xlsx's native charts: one chart part per chart, each series pointing at the workbook's
own cells, and those cells holding the numbers counted by hand.

The organization lives in Asia/Kolkata (UTC+05:30), so the events, from 09:00 to 11:52 UTC,
fall into four local hours, 14:00 to 17:00. Campaign "charts", variants A (control) and B,
links L1, L2, L3; minutes after 09:00 UTC (14:30 local):
- ann (A): sent 0, delivered 1, opened 40, clicked L1 45, clicked L2 100  -> clicked
- bob (A): sent 0, delivered 1, opened 50                                 -> opened, no click
- cat (A): sent 0, hard bounce 2                                          -> not received
- dan (B): sent 0, delivered 1, opened 95, opened 170, clicked L3 171, clicked L1 172 -> clicked
- eve (B): sent 0, delivered 1, unsubscribed 60                           -> opted out
- fay (B): sent 0, delivered 1                                            -> received

Per local hour (sent, opens, clicks): 14:00 (6, 0, 0); 15:00 (0, 2, 1): bob's and ann's opens,
ann's L1; 16:00 (0, 1, 1): dan's open, ann's L2; 17:00 (0, 1, 2): dan's open, L3 and L1.
Clicks per link: L1 2, L2 1, L3 1. A: sent 3, opened 2, clicked 1; B: sent 3, opened 1,
clicked 1.
"""

import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest

from app.exports.summary import Section, Summary, write_summary
from app.exports.summary_timeline import hourly
from app.models import STATS_COUNTERS
from tests.factories import (
    add_recipients,
    event,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)

L1, L2, L3 = "https://example.com/one", "https://example.com/two", "https://example.com/three"
KOLKATA_HOURS = [f"2026-11-20 {hour}:00+05:30" for hour in (14, 15, 16, 17)]

NS = {
    "c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
    "main": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
}


async def build_campaign(client: Any, organization: Any) -> str:
    campaign_id = await make_campaign(
        client,
        organization,
        "charts",
        variants=[{"name": "A", "isControl": True}, {"name": "B"}],
        links=[{"url": L1, "position": 1}, {"url": L2, "position": 2}, {"url": L3, "position": 3}],
    )
    for variant, names in {"A": ["ann", "bob", "cat"], "B": ["dan", "eve", "fay"]}.items():
        contacts = [{"email": f"{name}@example.com"} for name in names]
        await add_recipients(client, organization, campaign_id, contacts, variant)

    def at(minutes: float, type: str, name: str, **extra: Any) -> dict[str, Any]:
        return event(
            type, f"{name}@example.com", "charts", minutes, id=f"{name}-{minutes}", **extra
        )

    events = [at(0, "SENT", name) for name in ("ann", "bob", "cat", "dan", "eve", "fay")]
    events += [at(1, "DELIVERED", name) for name in ("ann", "bob", "dan", "eve", "fay")]
    events += [
        at(40, "OPENED", "ann"),
        at(45, "CLICKED", "ann", url=L1),
        at(100, "CLICKED", "ann", url=L2),
        at(50, "OPENED", "bob"),
        at(2, "BOUNCED", "cat", bounce={"type": "HARD", "category": "USER_NOT_FOUND"}),
        at(95, "OPENED", "dan"),
        at(170, "OPENED", "dan"),
        at(171, "CLICKED", "dan", url=L3),
        at(172, "CLICKED", "dan", url=L1),
        at(60, "UNSUBSCRIBED", "eve"),
    ]
    response = await post_events(client, organization, events)
    assert response.status_code == 200, response.text
    return campaign_id


async def build_plain_campaign(client: Any, organization: Any) -> str:
    """No variants; one link, clicked once by its one recipient (14:30 and 15:00 local)."""
    campaign_id = await make_campaign(client, organization, "plain", links=[{"url": L1}])
    await add_recipients(client, organization, campaign_id, [{"email": "zed@example.com"}])
    events = [
        event("SENT", "zed@example.com", "plain", 0, id="z1"),
        event("DELIVERED", "zed@example.com", "plain", 1, id="z2"),
        event("CLICKED", "zed@example.com", "plain", 30, id="z3", url=L1),
    ]
    response = await post_events(client, organization, events)
    assert response.status_code == 200, response.text
    return campaign_id


async def download(client: Any, organization: Any, campaign_id: str, path: Path) -> Path:
    response = await client.get(
        f"/exports/campaigns/{campaign_id}/summary.xlsx", headers=organization.headers()
    )
    assert response.status_code == 200, response.text
    path.write_bytes(response.content)
    return path


# --- Reading the package ------------------------------------------------------------------


@dataclass
class Series:
    name: str | None  # the formula of the series name, or its literal text
    categories: str
    values: str
    cached_categories: list[str]  # the chart's own copy, for apps that do not recalculate
    cached_values: list[str]


@dataclass
class Chart:
    part: str
    kind: str  # pie, line, bar (horizontal) or col (vertical)
    title: str
    series: list[Series]


def _xml(package: zipfile.ZipFile, part: str) -> ElementTree.Element:
    return ElementTree.fromstring(package.read(part))


def _targets(package: zipfile.ZipFile, part: str) -> dict[str, str]:
    """A part's relationships, id -> the target's path in the package."""
    folder, name = part.rsplit("/", 1)
    rels = _xml(package, f"{folder}/_rels/{name}.rels")
    found = {}
    for rel in rels.findall("rel:Relationship", NS):
        target = rel.get("Target", "")
        parts = folder.split("/")
        for piece in target.split("/"):
            if piece == "..":
                parts.pop()
            else:
                parts.append(piece)
        found[rel.get("Id", "")] = "/".join(parts).removeprefix("/")
    return found


def _series(element: ElementTree.Element) -> Series:
    name = element.find("c:tx/c:strRef/c:f", NS)
    literal = element.find("c:tx/c:v", NS)
    cat = element.find("c:cat/*/c:f", NS)
    val = element.find("c:val/*/c:f", NS)
    assert cat is not None and val is not None
    shown = name.text if name is not None else (literal.text if literal is not None else None)

    def cache(part: str) -> list[str]:
        return [point.text or "" for point in element.iterfind(f"c:{part}/*/*/c:pt/c:v", NS)]

    return Series(shown, cat.text or "", val.text or "", cache("cat"), cache("val"))


def charts_by_sheet(path: Path) -> dict[str, list[Chart]]:
    """Each worksheet's charts, found the way Excel finds them: sheet -> drawing -> chart."""
    with zipfile.ZipFile(path) as package:
        workbook = _xml(package, "xl/workbook.xml")
        sheet_parts = _targets(package, "xl/workbook.xml")
        found: dict[str, list[Chart]] = {}
        for sheet in workbook.findall("main:sheets/main:sheet", NS):
            part = sheet_parts[sheet.get(f"{{{NS['r']}}}id", "")]
            drawing = _xml(package, part).find("main:drawing", NS)
            if drawing is None:
                continue
            drawing_part = _targets(package, part)[drawing.get(f"{{{NS['r']}}}id", "")]
            for chart_part in _targets(package, drawing_part).values():
                root = _xml(package, chart_part)
                plot = root.find("c:chart/c:plotArea", NS)
                assert plot is not None
                (kind_element,) = [child for child in plot if child.tag.endswith("Chart")]
                kind = kind_element.tag.split("}")[1].removesuffix("Chart")
                if kind == "bar":
                    direction = kind_element.find("c:barDir", NS)
                    kind = direction.get("val", "") if direction is not None else kind
                title = "".join(t.text or "" for t in root.iterfind("c:chart/c:title//a:t", {
                    **NS, "a": "http://schemas.openxmlformats.org/drawingml/2006/main"
                }))  # fmt: skip
                series = [_series(s) for s in kind_element.findall("c:ser", NS)]
                found.setdefault(sheet.get("name", ""), []).append(
                    Chart(chart_part, kind, title, series)
                )
        # Exactly the chart parts the drawings use, no stray ones.
        every_part = sorted(
            n for n in package.namelist() if re.match(r"xl/charts/chart\d+\.xml", n)
        )
        used = sorted(chart.part for charts in found.values() for chart in charts)
        assert every_part == used
    return found


def cells(workbook: Any, formula: str) -> list[Any]:
    """The values of a one-column range formula such as Summary!$A$10:$A$14."""
    sheet, area = formula.rsplit("!", 1)
    found = workbook[sheet.strip("'")][area.replace("$", "")]
    if ":" not in area:  # a one-cell range is written as that cell
        return [found.value]
    return [row[0].value for row in found]


def ref(sheet: str, column: str, first: int, last: int) -> str:
    """How xlsxwriter writes a one-column range (1-based rows)."""
    return f"{sheet}!${column}${first}:${column}${last}"


def row_of(workbook: Any, sheet: str, text: str) -> int:
    """The 1-based row whose column A holds `text` (exactly one)."""
    rows = [cell.row for cell in workbook[sheet]["A"] if cell.value == text]
    assert len(rows) == 1, (text, rows)
    return rows[0]


def column_of(workbook: Any, sheet: str, header: str) -> str:
    (column,) = [cell.column_letter for cell in workbook[sheet][1] if cell.value == header]
    return column


# --- The tests ----------------------------------------------------------------------------


async def test_the_summary_charts_read_hand_counted_cells(client, database, tmp_path):
    organization = await make_organization(database, timezone="Asia/Kolkata")
    campaign_id = await build_campaign(client, organization)
    path = await download(client, organization, campaign_id, tmp_path / "summary.xlsx")

    found = charts_by_sheet(path)
    assert list(found) == ["Summary"]  # every chart on the Summary sheet
    charts = {chart.kind: chart for chart in found["Summary"]}
    assert len(found["Summary"]) == 4
    assert set(charts) == {"pie", "line", "bar", "col"}
    workbook = openpyxl.load_workbook(path)

    # Status: the funnel's five buckets, each recipient once.
    (status,) = charts["pie"].series
    first = row_of(workbook, "Summary", "Not received")
    assert status.categories == ref("Summary", "A", first, first + 4)
    assert status.values == ref("Summary", "B", first, first + 4)
    assert cells(workbook, status.categories) == [
        "Not received",
        "Received",
        "Opened (no click)",
        "Clicked",
        "Opted out",
    ]
    assert cells(workbook, status.values) == [1, 1, 1, 2, 1]

    # Timeline: four local hours of Kolkata, three counters.
    timeline = charts["line"].series
    header = row_of(workbook, "Summary", "Hour")
    assert [s.name for s in timeline] == [f"Summary!${c}${header}" for c in "BCD"]
    assert [workbook["Summary"][f"{c}{header}"].value for c in "BCD"] == [
        "Sent",
        "Opens",
        "Clicks",
    ]
    for series, column in zip(timeline, "BCD", strict=True):
        assert series.categories == ref("Summary", "A", header + 1, header + 4)
        assert series.values == ref("Summary", column, header + 1, header + 4)
    assert cells(workbook, timeline[0].categories) == KOLKATA_HOURS
    assert [cells(workbook, s.values) for s in timeline] == [
        [6, 0, 0, 0],
        [0, 2, 1, 1],
        [0, 1, 1, 2],
    ]
    assert workbook["Summary"].cell(header - 1, 1).value == "Events per hour (Asia/Kolkata)"
    assert workbook["Summary"].cell(header + 5, 1).value is None  # nothing after the last hour

    # The same numbers as the API's timeline (same aggregates, the organization's zone).
    body = await graphql(
        client,
        organization,
        "query($id: ID!) { campaign(id: $id) { timeline { start sent opens clicks } } }",
        {"id": campaign_id},
    )
    api = body["data"]["campaign"]["timeline"]
    assert [datetime.fromisoformat(b["start"]) for b in api] == [
        datetime.fromisoformat(label) for label in KOLKATA_HOURS
    ]
    assert [[b[name] for b in api] for name in ("sent", "opens", "clicks")] == [
        cells(workbook, s.values) for s in timeline
    ]

    # Clicks per link: the all-variants block at the top of the Links sheet.
    (clicks,) = charts["bar"].series
    assert clicks.categories == ref("Links", "A", 2, 4)
    assert clicks.values == ref("Links", "E", 2, 4)
    assert cells(workbook, clicks.categories) == [L1, L2, L3]
    assert cells(workbook, clicks.values) == [2, 1, 1]
    assert [row.value for row in workbook["Links"]["D"][1:4]] == ["All"] * 3

    # Rates per variant: the Variants sheet's Opened % and Clicked % columns.
    opened, clicked = charts["col"].series
    assert (opened.name, clicked.name) == (
        "Open rate (opened / sent)",
        "Click rate (clicked / sent)",
    )
    open_column = column_of(workbook, "Variants", "Opened %")
    click_column = column_of(workbook, "Variants", "Clicked %")
    assert opened.categories == clicked.categories == ref("Variants", "A", 2, 3)
    assert opened.values == ref("Variants", open_column, 2, 3)
    assert clicked.values == ref("Variants", click_column, 2, 3)
    assert cells(workbook, opened.categories) == ["A", "B"]
    assert cells(workbook, opened.values) == [pytest.approx(2 / 3), pytest.approx(1 / 3)]
    assert cells(workbook, clicked.values) == [pytest.approx(1 / 3), pytest.approx(1 / 3)]

    # Each chart's cached copy is the cells' values too.
    for chart in found["Summary"]:
        for series in chart.series:
            assert series.cached_categories == [str(v) for v in cells(workbook, series.categories)]
            assert [float(v) for v in series.cached_values] == [
                pytest.approx(v) for v in cells(workbook, series.values)
            ]


async def test_a_campaign_without_variants_has_no_variant_chart(client, organization, tmp_path):
    campaign_id = await build_plain_campaign(client, organization)
    path = await download(client, organization, campaign_id, tmp_path / "summary.xlsx")

    found = charts_by_sheet(path)
    kinds = sorted(chart.kind for chart in found["Summary"])
    assert kinds == ["bar", "line", "pie"]
    workbook = openpyxl.load_workbook(path)
    charts = {chart.kind: chart for chart in found["Summary"]}
    (status,) = charts["pie"].series
    assert cells(workbook, status.values) == [0, 0, 0, 1, 0]
    sent, opens, clicks = charts["line"].series
    # UTC: 09:00 and 09:30, one hour.
    assert cells(workbook, sent.categories) == ["2026-11-20 09:00+00:00"]
    assert [cells(workbook, s.values) for s in (sent, opens, clicks)] == [[1], [0], [1]]
    (link,) = charts["bar"].series
    assert cells(workbook, link.values) == [1]


async def test_a_campaign_without_events_or_links_has_only_the_status_chart(
    client, organization, tmp_path
):
    campaign_id = await make_campaign(client, organization, "empty")
    await add_recipients(client, organization, campaign_id, [{"email": "x@example.com"}])
    path = await download(client, organization, campaign_id, tmp_path / "summary.xlsx")
    found = charts_by_sheet(path)
    (status,) = found["Summary"]
    assert status.kind == "pie"
    workbook = openpyxl.load_workbook(path)
    assert cells(workbook, status.series[0].values) == [1, 0, 0, 0, 0]  # queued: not received
    assert row_of(workbook, "Summary", "No events yet") > 0


# --- Hours of the timeline (pure) ---------------------------------------------------------


def bucket(text: str, sent: int = 0, opens: int = 0, clicks: int = 0) -> tuple[datetime, Any]:
    start = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return start, {"sent": sent, "delivered": 0, "opens": opens, "clicks": clicks}


def test_hours_follow_the_zone_half_hour_offsets_and_the_night_clocks_go_back():
    # Kolkata: 08:15 and 08:45 UTC are 13:45 and 14:15 local, two hours; 10:00 is 15:30.
    kolkata = hourly(
        [bucket("2026-11-20T08:15", sent=2), bucket("2026-11-20T08:45", opens=1),
         bucket("2026-11-20T10:00", clicks=3)],
        "Asia/Kolkata",
    )  # fmt: skip
    assert [(h.label, h.sent, h.opens, h.clicks) for h in kolkata.hours] == [
        ("2026-11-20 13:00+05:30", 2, 0, 0),
        ("2026-11-20 14:00+05:30", 0, 1, 0),
        ("2026-11-20 15:00+05:30", 0, 0, 3),
    ]
    assert kolkata.later is None
    # Berlin, 25 October 2026: 02:00-03:00 happens twice (CEST, then CET at 01:00 UTC).
    berlin = hourly(
        [bucket("2026-10-25T00:15", sent=1), bucket("2026-10-25T01:15", sent=4)], "Europe/Berlin"
    )
    assert [(h.label, h.sent) for h in berlin.hours] == [
        ("2026-10-25 02:00+02:00", 1),
        ("2026-10-25 02:00+01:00", 4),
    ]


def test_a_long_campaign_shows_its_first_hours_and_sums_the_rest():
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    rows = [
        (start + timedelta(hours=hour), {"sent": 1, "opens": hour, "clicks": 0})
        for hour in (0, 1, 2, 3, 4, 100)
    ]
    timeline = hourly(rows, "UTC", limit=3)
    assert [(h.label, h.sent, h.opens) for h in timeline.hours] == [
        ("2026-11-20 09:00+00:00", 1, 0),
        ("2026-11-20 10:00+00:00", 1, 1),
        ("2026-11-20 11:00+00:00", 1, 2),
    ]
    assert timeline.later is not None
    # Hours 3, 4 and 100: three sent, 3 + 4 + 100 opens.
    assert (timeline.later.label, timeline.later.sent, timeline.later.opens) == (
        "2026-11-20 12:00+00:00",
        3,
        107,
    )


def test_the_rows_after_the_limit_are_summed_below_the_chart_range(tmp_path):
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    rows = [
        (start + timedelta(hours=hour), {"sent": 1, "opens": 0, "clicks": 2}) for hour in (0, 1, 5)
    ]
    summary = Summary(
        "Long", "long", None, Section("All recipients", dict.fromkeys(STATS_COUNTERS, 0))
    )
    summary.timeline = hourly(rows, "UTC", limit=2)
    path = tmp_path / "summary.xlsx"
    write_summary(summary, path)

    charts = {chart.kind: chart for chart in charts_by_sheet(path)["Summary"]}
    assert set(charts) == {"pie", "line"}  # no links, no variants
    workbook = openpyxl.load_workbook(path)
    sent, opens, clicks = charts["line"].series
    header = row_of(workbook, "Summary", "Hour")
    assert sent.values == ref("Summary", "B", header + 1, header + 2)
    assert cells(workbook, sent.categories) == ["2026-11-20 09:00+00:00", "2026-11-20 10:00+00:00"]
    assert cells(workbook, clicks.values) == [2, 2]
    # Hours 2 to 5 in one row under the range: one event of each hour that had one (hour 5).
    later = [cell.value for cell in workbook["Summary"][header + 3][:4]]
    assert later == ["From 2026-11-20 11:00+00:00 on", 1, 0, 2]
