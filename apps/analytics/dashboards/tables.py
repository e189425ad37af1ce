"""A panel's numbers as one table: what the page shows under its chart, and what the CSV and XLSX
exports write, cell for cell (one object renders all three, so they cannot drift apart)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Table:
    key: str  # the panel's id in URLs (``…/export/<key>.csv``)
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    note: str = ""
    chart: dict = field(default_factory=dict)  # what the page's script draws (ECharts option parts)

    def cells(self) -> list[list[str]]:
        """Every row as the strings shown in the page and written to the CSV."""
        return [[cell_text(value) for value in row] for row in self.rows]

    def values(self) -> list[list]:
        """Every row for a spreadsheet: numbers stay numbers, the rest as the page shows it."""
        return [[value if isinstance(value, int | float) and not isinstance(value, bool) else cell_text(value)
                 for value in row] for row in self.rows]


def cell_text(value) -> str:
    if value is None:
        return "—"
    return str(value)


def pct(part: float, whole: float) -> float | None:
    """``part`` of ``whole`` in %, one decimal; None when there is nothing to measure."""
    return round(100.0 * part / whole, 1) if whole else None


def yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"
