"""The campaign summary as an Excel workbook, written by xlsxwriter in constant-memory mode.

Sheets: "Summary" (the whole campaign, its status table, a section per record owner, each metric
with its Count and % columns as campaign reports show them, then the campaign's events per hour
in the organization's time zone), one sheet per record owner, "Variants" and "Links" (all
variants together first, then a block per variant). Every number comes from the pre-aggregated
tables through app.metrics, the same functions GraphQL's Stats uses, so the workbook and the API
always agree. Native Excel charts on the Summary sheet (app/exports/summary_charts.py) read
those cells: status, timeline, clicks per link and, with variants, rates per variant.
"""

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import xlsxwriter
from sqlalchemy import func, select

from app.database import Database
from app.exports import summary_charts
from app.exports.summary_charts import Column
from app.exports.summary_timeline import HourlyTimeline, hourly
from app.metrics import funnel, metrics, rate
from app.models import (
    STATS_COUNTERS,
    TIMELINE_COUNTERS,
    Campaign,
    CampaignStats,
    Link,
    LinkStats,
    Organization,
    TimelineBucket,
    User,
    Variant,
)

# An owner sheet each, up to this many; beyond it owners are still in the Summary sheet.
MAX_OWNER_SHEETS = 250


@dataclass
class Section:
    """One block of counters: the campaign, an owner or a variant."""

    title: str
    counters: dict[str, int]
    cost_cents: int | None = None

    @property
    def stats(self) -> dict[str, Any]:
        return metrics(self.counters, self.cost_cents, human_only=False)


@dataclass
class LinkRow:
    url: str
    label: str | None
    position: int | None
    variant: str
    clicks: int
    clicked: int
    click_rate: float | None
    share: float | None


@dataclass
class Summary:
    campaign_name: str
    external_id: str
    sent_at: datetime | None
    total: Section
    owners: list[Section] = field(default_factory=list)
    variants: list[tuple[Section, bool]] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)  # all variants together, one per link
    variant_links: list[LinkRow] = field(default_factory=list)  # per variant, then per link
    timeline: HourlyTimeline = field(default_factory=lambda: HourlyTimeline("UTC", [], None))


# (label, counter, how the % is computed, what the % is of). None: no % for that row.
Percent = Callable[[dict[str, Any]], float | None]
METRIC_ROWS: list[tuple[str, str, Percent | None, str]] = [
    ("Recipients", "recipients", None, ""),
    ("Sent", "sent", lambda s: rate(s["sent"], s["recipients"]), "recipients"),
    ("Not sent", "not_sent", lambda s: rate(s["not_sent"], s["recipients"]), "recipients"),
    ("Delivered", "delivered", lambda s: s["delivery_rate"], "sent"),
    ("Opened", "opened", lambda s: s["open_rate"], "sent"),
    ("Opened (confirmed)", "opened", lambda s: s["confirmed_open_rate"], "delivered"),
    ("Clicked", "clicked", lambda s: s["click_rate"], "sent"),
    ("Clicked (through)", "clicked", lambda s: s["click_through_rate"], "delivered"),
    ("Clicked (to open)", "clicked", lambda s: s["click_to_open_rate"], "opened"),
    ("Opens", "opens", None, ""),
    ("Clicks", "clicks", None, ""),
    ("Machine opens", "machine_opens", None, ""),
    ("Bot clicks", "bot_clicks", None, ""),
    ("Unsubscribed", "unsubscribed", lambda s: s["unsubscribe_rate"], "sent"),
    ("Complained", "complained", lambda s: s["complaint_rate"], "sent"),
    ("Rejected", "bounced", lambda s: s["bounce_rate"], "sent"),
    ("Hard rejections", "hard_bounced", lambda s: rate(s["hard_bounced"], s["sent"]), "sent"),
    ("Soft rejections", "soft_bounced", lambda s: rate(s["soft_bounced"], s["sent"]), "sent"),
    ("Deferred", "deferred", lambda s: rate(s["deferred"], s["sent"]), "sent"),
    ("Dropped", "dropped", lambda s: rate(s["dropped"], s["sent"]), "sent"),
    ("Responded", "responded", lambda s: rate(s["responded"], s["sent"]), "sent"),
    ("Leads", "leads", lambda s: rate(s["leads"], s["sent"]), "sent"),
    ("Opportunities", "opportunities", lambda s: rate(s["opportunities"], s["sent"]), "sent"),
    ("Purchases", "purchases", lambda s: s["conversion_rate"], "delivered"),
]
# The funnel's exclusive buckets (docs/metrics.md, Funnel): each recipient in exactly one.
STATUS_ROWS = [
    ("Not received", "not_received"),
    ("Received", "received"),
    ("Opened (no click)", "opened"),
    ("Clicked", "clicked"),
    ("Opted out", "opted_out"),
]
MONEY_ROWS = [
    ("Revenue", "revenue"),
    ("Cost", "cost"),
    ("Profit", "profit"),
    ("Cost per lead", "cost_per_lead"),
    ("Cost per purchase", "cost_per_purchase"),
]
VARIANT_METRICS = [
    (label, counter, percent)
    for label, counter, percent, _ in METRIC_ROWS
    if label
    in {
        "Recipients",
        "Sent",
        "Delivered",
        "Opened",
        "Clicked",
        "Clicked (to open)",
        "Unsubscribed",
        "Complained",
        "Rejected",
        "Leads",
        "Opportunities",
        "Purchases",
    }
]


def _sum_columns() -> list[Any]:
    return [
        func.coalesce(func.sum(CampaignStats.__table__.c[name]), 0).label(name)
        for name in STATS_COUNTERS
    ]


def _counters(row: Any) -> dict[str, int]:
    return {name: int(getattr(row, name) or 0) for name in STATS_COUNTERS}


def _person(name: str | None, email: str | None) -> str:
    if name and email:
        return f"{name} <{email}>"
    return name or email or "?"


def _zone_name(name: str | None) -> str:
    """The organization's time zone, or UTC if it cannot be loaded (the table says which)."""
    try:
        ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return "UTC"
    return name or "UTC"


async def load_summary(database: Database, campaign_pk: int) -> Summary:
    """Everything the workbook shows, read in a handful of statements."""
    async with database.read() as connection:
        campaign = (
            await connection.execute(
                select(Campaign, Organization.timezone.label("organization_timezone"))
                .join(Organization, Organization.id == Campaign.organization_id)
                .where(Campaign.id == campaign_pk)
            )
        ).one()
        where = CampaignStats.campaign_id == campaign_pk
        total = (await connection.execute(select(*_sum_columns()).where(where))).one()
        by_owner = (
            await connection.execute(
                select(CampaignStats.owner_id, User.name, User.email, *_sum_columns())
                .outerjoin(User, User.id == CampaignStats.owner_id)
                .where(where)
                .group_by(CampaignStats.owner_id, User.name, User.email)
                .order_by(User.name, User.email, CampaignStats.owner_id)
            )
        ).all()
        by_variant = {
            row.variant_id: row
            for row in (
                await connection.execute(
                    select(CampaignStats.variant_id, *_sum_columns())
                    .where(where)
                    .group_by(CampaignStats.variant_id)
                )
            ).all()
        }
        variants = (
            await connection.execute(
                select(Variant.id, Variant.name, Variant.is_control)
                .where(Variant.campaign_id == campaign_pk)
                .order_by(Variant.is_control.desc(), Variant.name, Variant.id)
            )
        ).all()
        links = (
            await connection.execute(
                select(Link.id, Link.url, Link.label, Link.position)
                .where(Link.campaign_id == campaign_pk)
                .order_by(Link.position.is_(None), Link.position, Link.id)
            )
        ).all()
        link_counts = (
            await connection.execute(
                select(LinkStats.link_id, LinkStats.variant_id, LinkStats.clicks, LinkStats.clicked)
                .join(Link, Link.id == LinkStats.link_id)
                .where(Link.campaign_id == campaign_pk)
            )
        ).all()
        # The same stored buckets as Campaign.timeline, summed over variants.
        buckets = TimelineBucket.__table__
        timeline_rows = (
            await connection.execute(
                select(
                    buckets.c.bucket_start,
                    *[func.sum(buckets.c[name]).label(name) for name in TIMELINE_COUNTERS],
                )
                .where(buckets.c.campaign_id == campaign_pk)
                .group_by(buckets.c.bucket_start)
            )
        ).all()

    summary = Summary(
        campaign_name=campaign.name,
        external_id=campaign.external_id,
        sent_at=campaign.sent_at,
        total=Section("All recipients", _counters(total), campaign.cost_cents),
    )
    counted = [
        (row.bucket_start, {name: int(getattr(row, name) or 0) for name in TIMELINE_COUNTERS})
        for row in timeline_rows
    ]
    # A bucket emptied by deletions holds no event (as in Campaign.timeline).
    summary.timeline = hourly(
        [(start, counters) for start, counters in counted if any(counters.values())],
        _zone_name(campaign.organization_timezone),
    )
    for row in by_owner:
        title = "No owner" if row.owner_id == 0 else _person(row.name, row.email)
        summary.owners.append(Section(title, _counters(row)))
    empty = dict.fromkeys(STATS_COUNTERS, 0)
    for variant in variants:
        found = by_variant.get(variant.id)
        counters = _counters(found) if found is not None else dict(empty)
        summary.variants.append((Section(variant.name, counters), bool(variant.is_control)))

    # Links: all variants together (one contiguous block, which the chart reads), then a block
    # per variant (when the campaign has variants).
    per_link: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    for row in link_counts:
        per_link[row.link_id][row.variant_id] = (int(row.clicks), int(row.clicked))
    total_counters = summary.total.counters
    variant_sections = {
        variant.id: section
        for variant, (section, _) in zip(variants, summary.variants, strict=True)
    }
    for link in links:
        counts = per_link.get(link.id, {})
        clicks = sum(value[0] for value in counts.values())
        clicked = sum(value[1] for value in counts.values())
        summary.links.append(
            LinkRow(
                link.url,
                link.label,
                link.position,
                "All",
                clicks,
                clicked,
                rate(clicked, total_counters["delivered"]),
                rate(clicks, total_counters["clicks"]),
            )
        )
    for variant_id, section in variant_sections.items():
        for link in links:
            variant_clicks, variant_clicked = per_link.get(link.id, {}).get(variant_id, (0, 0))
            summary.variant_links.append(
                LinkRow(
                    link.url,
                    link.label,
                    link.position,
                    section.title,
                    variant_clicks,
                    variant_clicked,
                    rate(variant_clicked, section.counters["delivered"]),
                    rate(variant_clicks, section.counters["clicks"]),
                )
            )
    return summary


# --- Writing -------------------------------------------------------------------------------

# Excel's rules for a worksheet name: at most 31 characters, none of []:*?/\, no apostrophe
# first or last, not "History" (reserved), unique regardless of case. Control characters and
# line breaks are replaced too: Excel shows them as garbage in the tab.
SHEET_NAME_LENGTH = 31
_BAD_SHEET_CHARACTERS = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
_RESERVED_SHEET_NAMES = {"history"}


def _fit(text: str, width: int) -> str:
    """`text` cut to `width` characters, without apostrophes or spaces at either end (cutting
    can leave an apostrophe last, which Excel refuses)."""
    return text[:width].strip(" '")


def sheet_name(title: str, taken: set[str]) -> str:
    """A valid worksheet name for `title`, unique among `taken` (lower-cased names; the new name
    is added): a name already taken gets a number, " (2)", " (3)"..., within the 31 characters."""
    base = _fit(_BAD_SHEET_CHARACTERS.sub("_", title).strip(" '"), SHEET_NAME_LENGTH) or "Sheet"
    name = base
    number = 2
    while name.lower() in taken or name.lower() in _RESERVED_SHEET_NAMES:
        suffix = f" ({number})"
        name = (_fit(base, SHEET_NAME_LENGTH - len(suffix)) or "Sheet") + suffix
        number += 1
    taken.add(name.lower())
    return name


class _Writer:
    """One worksheet written top to bottom (constant-memory mode needs rows in order)."""

    def __init__(self, workbook: Any, sheet: Any, formats: dict[str, Any]) -> None:
        self.sheet = sheet
        self.formats = formats
        self.row = 0

    def cells(self, *values: Any, style: str | None = None) -> None:
        for column, value in enumerate(values):
            self.cell(column, value, style)
        self.row += 1

    def cell(self, column: int, value: Any, style: str | None = None) -> None:
        form = self.formats.get(style) if style else None
        if value is None:
            self.sheet.write_blank(self.row, column, None, form)
        elif isinstance(value, str):
            # write_string, never write(): text that looks like a formula stays text.
            self.sheet.write_string(self.row, column, value, form)
        elif isinstance(value, datetime):
            self.sheet.write_string(self.row, column, value.isoformat(), form)
        elif isinstance(value, Decimal):
            self.sheet.write_number(self.row, column, float(value), self.formats["money"])
        else:
            self.sheet.write_number(self.row, column, value, form)

    def skip(self) -> None:
        self.row += 1


def _metric_table(writer: _Writer, section: Section) -> None:
    stats = section.stats
    writer.cells(section.title, style="section")
    writer.cells("Metric", "Count", "%", "% of", style="header")
    for label, counter, percent, of in METRIC_ROWS:
        value = percent(stats) if percent else None
        writer.cell(0, label)
        writer.cell(1, stats[counter])
        writer.cell(2, value, "percent")
        writer.cell(3, of if percent else None)
        writer.skip()
    for label, name in MONEY_ROWS:
        if stats[name] is None:
            continue
        writer.cells(label, stats[name])
    if stats["roi"] is not None:
        writer.cell(0, "ROI")
        writer.cell(2, stats["roi"], "percent")
        writer.skip()
    writer.skip()


def _status_table(writer: _Writer, section: Section) -> tuple[Column, Column]:
    """The funnel's exclusive buckets; the cells of its labels and its counts."""
    stages = funnel(section.counters)
    writer.cells("Status (each recipient once)", style="section")
    writer.cells("Status", "Count", "%", "% of", style="header")
    first = writer.row
    for label, stage in STATUS_ROWS:
        writer.cell(0, label)
        writer.cell(1, stages[stage])
        writer.cell(2, rate(stages[stage], section.counters["recipients"]), "percent")
        writer.cell(3, "recipients")
        writer.skip()
    last = writer.row - 1
    writer.skip()
    name = writer.sheet.get_name()
    labels = [label for label, _ in STATUS_ROWS]
    counts = [stages[stage] for _, stage in STATUS_ROWS]
    return (
        Column(name, 0, first, last, labels, "Status"),
        Column(name, 1, first, last, counts, "Count"),
    )


def _timeline_table(
    writer: _Writer, timeline: HourlyTimeline
) -> tuple[Column, list[Column]] | None:
    """Events per local hour; the cells of the hours and of each counter (None: no events)."""
    writer.cells(f"Events per hour ({timeline.zone})", style="section")
    if not timeline.hours:
        writer.cells("No events yet")
        return None
    titles = ("Sent", "Opens", "Clicks")
    writer.cells("Hour", *titles, style="header")
    first = writer.row
    rows = [(hour.label, hour.sent, hour.opens, hour.clicks) for hour in timeline.hours]
    for row in rows:
        writer.cells(*row)
    last = writer.row - 1
    if timeline.later is not None:
        later = timeline.later
        writer.cells(f"From {later.label} on", later.sent, later.opens, later.clicks)
    name = writer.sheet.get_name()
    hours = Column(name, 0, first, last, [row[0] for row in rows], "Hour")
    counters = [
        Column(name, column, first, last, [row[column] for row in rows], title)
        for column, title in enumerate(titles, start=1)
    ]
    return hours, counters


def write_summary(summary: Summary, path: Path) -> None:
    """Write the workbook to `path` (blocking: run it in a thread from async code)."""
    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False}
    )
    try:
        formats = {
            "section": workbook.add_format({"bold": True, "font_size": 12}),
            "header": workbook.add_format({"bold": True, "bottom": 1}),
            "percent": workbook.add_format({"num_format": "0.00%"}),
            "money": workbook.add_format({"num_format": "#,##0.00"}),
        }
        taken: set[str] = set()

        summary_sheet = workbook.add_worksheet(sheet_name("Summary", taken))
        summary_sheet.set_column(0, 0, 34)
        summary_sheet.set_column(1, 3, 14)
        writer = _Writer(workbook, summary_sheet, formats)
        writer.cells(summary.campaign_name, style="section")
        writer.cells("Campaign", summary.external_id)
        writer.cells("Sent at", summary.sent_at)
        writer.cells("Generated at", datetime.now(UTC).replace(microsecond=0))
        writer.skip()
        _metric_table(writer, summary.total)
        status = _status_table(writer, summary.total)
        for owner in summary.owners:
            _metric_table(writer, Section(f"Record owner: {owner.title}", owner.counters))
        # Last, so that the owner sections stay next to the campaign's numbers.
        timeline = _timeline_table(writer, summary.timeline)

        for owner in summary.owners[:MAX_OWNER_SHEETS]:
            sheet = workbook.add_worksheet(sheet_name(f"Owner {owner.title}", taken))
            sheet.set_column(0, 0, 34)
            sheet.set_column(1, 3, 14)
            _metric_table(_Writer(workbook, sheet, formats), owner)

        variants_sheet = workbook.add_worksheet(sheet_name("Variants", taken))
        variants_sheet.set_column(0, 0, 24)
        writer = _Writer(workbook, variants_sheet, formats)
        header: list[str] = ["Variant", "Control"]
        for label, _, percent in VARIANT_METRICS:
            header += [label] + ([f"{label} %"] if percent else [])
        writer.cells(*header, style="header")
        for section, is_control in summary.variants:
            stats = section.stats
            writer.cell(0, section.title)
            writer.cell(1, "yes" if is_control else "no")
            column = 2
            for _, counter, percent in VARIANT_METRICS:
                writer.cell(column, stats[counter])
                column += 1
                if percent:
                    writer.cell(column, percent(stats), "percent")
                    column += 1
            writer.skip()

        links_sheet = workbook.add_worksheet(sheet_name("Links", taken))
        links_sheet.set_column(0, 0, 50)
        writer = _Writer(workbook, links_sheet, formats)
        writer.cells(
            "URL", "Label", "Position", "Variant", "Clicks", "Unique clickers",
            "Click rate", "Share of clicks", style="header",
        )  # fmt: skip
        for link in summary.links + summary.variant_links:
            writer.cell(0, link.url)
            writer.cell(1, link.label)
            writer.cell(2, link.position)
            writer.cell(3, link.variant)
            writer.cell(4, link.clicks)
            writer.cell(5, link.clicked)
            writer.cell(6, link.click_rate, "percent")
            writer.cell(7, link.share, "percent")
            writer.skip()

        charts = [summary_charts.status_chart(workbook, *status)]
        if timeline is not None:
            hours, counters = timeline
            charts.append(
                summary_charts.timeline_chart(workbook, hours, counters, summary.timeline.zone)
            )
        if summary.links:
            # The "All" rows: the first block of the Links sheet, under its header.
            name, count = links_sheet.get_name(), len(summary.links)
            urls = Column(name, 0, 1, count, [link.url for link in summary.links], "URL")
            clicks = Column(name, 4, 1, count, [link.clicks for link in summary.links], "Clicks")
            charts.append(summary_charts.links_chart(workbook, urls, clicks))
        if summary.variants:
            name, count = variants_sheet.get_name(), len(summary.variants)
            percents = {label: percent for label, _, percent in VARIANT_METRICS if percent}
            sections = [section for section, _ in summary.variants]
            names = Column(name, 0, 1, count, [section.title for section in sections], "Variant")
            rates = [
                (
                    f"{rate_name} ({label.lower()} / sent)",
                    Column(
                        name,
                        header.index(f"{label} %"),
                        1,
                        count,
                        [percents[label](section.stats) for section in sections],
                        f"{label} %",
                    ),
                )
                for rate_name, label in (("Open rate", "Opened"), ("Click rate", "Clicked"))
            ]
            charts.append(summary_charts.variants_chart(workbook, names, rates))
        summary_charts.place(summary_sheet, charts)
    finally:
        workbook.close()
