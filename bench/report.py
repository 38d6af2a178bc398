"""The results table: each measurement beside its floors, with the target it is held to."""

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Row:
    name: str
    unit: str  # "ms" (lower is better) or "/s" (higher is better) or "x"
    app: float | None
    floor_a: float | None = None
    floor_b: float | None = None
    statements: int | None = None
    floor_statements: int | None = None
    target: str = ""
    met: bool | None = None

    def ratio(self, floor: float | None) -> float | None:
        if self.app is None or not floor:
            return None
        return self.app / floor


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def row(self, name: str) -> Row:
        return next(row for row in self.rows if row.name == name)

    def markdown(self) -> str:
        if all(row.floor_a is None and row.floor_b is None for row in self.rows):
            return self.plain_markdown()
        lines = [
            "| measurement | app | floor (a) raw SQL + orjson | floor (b) graphql-core | "
            "app/(a) | app/(b) | SQL statements app (floor) | target | met |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            statements = ""
            if row.statements is not None:
                statements = f"{row.statements}"
                if row.floor_statements is not None:
                    statements += f" ({row.floor_statements})"
            met = "" if row.met is None else ("yes" if row.met else "**no**")
            lines.append(
                f"| {row.name} | {number(row.app, row.unit)} | {number(row.floor_a, row.unit)} | "
                f"{number(row.floor_b, row.unit)} | {ratio(row.ratio(row.floor_a))} | "
                f"{ratio(row.ratio(row.floor_b))} | {statements} | {row.target} | {met} |"
            )
        return "\n".join(lines)

    def plain_markdown(self) -> str:
        """Measures without floors (the soak): value, target, met."""
        lines = ["| measurement | value | target | met |", "|---|---|---|---|"]
        for row in self.rows:
            met = "" if row.met is None else ("yes" if row.met else "**no**")
            lines.append(f"| {row.name} | {number(row.app, row.unit)} | {row.target} | {met} |")
        return "\n".join(lines)


def number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "ms":
        return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "":
        return f"{value:,.0f}"
    return f"{value:.2f}{unit}"


def ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def machine() -> str:
    """One line naming the machine the numbers come from."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    return (
        f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} cores{memory}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def record(path: Path, table: Table, header_lines: list[str]) -> None:
    """Append the run to BENCHMARKS.md (created with a short preface when missing)."""
    if not path.exists():
        path.write_text(
            '# Benchmarks\n\nRuns of `python -m bench` (see README, "Benchmarks"), newest last. '
            "Latencies are medians; every ratio is against a floor measured in the same run.\n"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = [f"\n## {table.title} ({stamp})\n", *[f"- {line}" for line in header_lines], ""]
    text.append(table.markdown())
    if table.notes:
        text.append("")
        text += [f"- {note}" for note in table.notes]
    with path.open("a") as handle:
        handle.write("\n".join(text) + "\n")
