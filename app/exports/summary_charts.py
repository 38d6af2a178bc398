"""The summary workbook's native Excel charts, each drawn from cell ranges of the workbook.

A chart's series point at the cells the summary writes (the Status and Timeline tables of the
Summary sheet, the Links and Variants sheets), so what a chart shows and what the tables say are
the same numbers. In constant-memory mode xlsxwriter cannot read those cells back for the
chart's cached copy, so each Column also carries the values just written there: apps that draw
from the cache without recalculating (PowerPoint, previewers) show the same chart as Excel.
"""

from dataclasses import dataclass, field
from typing import Any

# Where the charts go on the Summary sheet: right of the tables (columns A-D), one under another.
CHART_COLUMN = 5
CHART_ROWS = 17  # a chart is about 15 rows high at the default size, plus a gap


@dataclass(frozen=True, slots=True)
class Column:
    """Rows `first`..`last` (0-based, inclusive) of one column of a sheet, the values written
    there, and the header cell just above them."""

    sheet: str
    column: int
    first: int
    last: int
    values: list[Any] = field(default_factory=list)  # what the cells hold, top to bottom
    title: str = ""  # what the header cell holds

    def cells(self) -> list[Any]:
        return [self.sheet, self.first, self.column, self.last, self.column]

    def series(self, categories: "Column", name: "str | Column") -> dict[str, Any]:
        """add_series options for these values over `categories`, named by a text or by a
        column's header cell, with the cached copy of every range."""
        options: dict[str, Any] = {
            "categories": categories.cells(),
            "categories_data": categories.values,
            "values": self.cells(),
            "values_data": self.values,
        }
        if isinstance(name, Column):
            options["name"] = [name.sheet, name.first - 1, name.column]
            options["name_data"] = [name.title]
        else:
            options["name"] = name
        return options


def status_chart(workbook: Any, labels: Column, counts: Column) -> Any:
    """The funnel's exclusive buckets: every recipient in exactly one slice."""
    chart = workbook.add_chart({"type": "pie"})
    chart.add_series({**counts.series(labels, "Recipients"), "data_labels": {"value": True}})
    chart.set_title({"name": "Status of recipients"})
    return chart


def timeline_chart(workbook: Any, hours: Column, series: list[Column], zone: str) -> Any:
    """Events per local hour, one line per counter."""
    chart = workbook.add_chart({"type": "line"})
    for values in series:
        chart.add_series(values.series(hours, values))
    chart.set_title({"name": "Events per hour"})
    chart.set_x_axis({"name": f"Hour ({zone})", "num_font": {"rotation": -45}})
    chart.set_y_axis({"name": "Events", "min": 0})
    return chart


def links_chart(workbook: Any, urls: Column, clicks: Column) -> Any:
    """Clicks per link, all variants together."""
    chart = workbook.add_chart({"type": "bar"})
    chart.add_series(clicks.series(urls, clicks))
    chart.set_title({"name": "Clicks per link"})
    chart.set_legend({"none": True})
    return chart


def variants_chart(workbook: Any, names: Column, rates: list[tuple[str, Column]]) -> Any:
    """Open and click rate per variant, side by side."""
    chart = workbook.add_chart({"type": "column"})
    for name, values in rates:
        chart.add_series(values.series(names, name))
    chart.set_title({"name": "Rates per variant"})
    chart.set_y_axis({"num_format": "0%", "min": 0})
    return chart


def place(sheet: Any, charts: list[Any]) -> None:
    """Put the charts right of the Summary sheet's tables, one under another."""
    for number, chart in enumerate(charts):
        sheet.insert_chart(number * CHART_ROWS, CHART_COLUMN, chart, {"x_scale": 1.3})
