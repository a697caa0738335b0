"""A report table as data for the ``table`` macro of ``templates/macros.html``, and the links
from a table's rows to the output viewer (``#compare/cell=CELL_ID``).

Every cell is ``[text, sort value (None: the text), link (None), class (None)]``; the macro
escapes all of it (Jinja's autoescape). A table longer than ``page`` rows is written as its
first page of rows plus every row as data (``<script type="application/json">``): the page's
script draws one page at a time and sorts the data, so a 2,000-cell report does not make the
browser build (and hide) tens of thousands of rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import pandas as pd

from hfsweep.reports.formatting import fnum


@dataclass
class Table:
    """What the ``table`` macro draws."""

    headers: list[str]
    rows: list[tuple[list, bool]]  # the rows in the markup: (cells, highlighted)
    sortable: bool
    page: int  # rows per page (0: not paged)
    data: dict | None  # a paged table's every row: {"rows": [cells, ...], "hl": [highlighted row indices]}


def table(df: pd.DataFrame, cols: list[str] | None = None, *, sortable: bool = True, page: int = 0,
          highlight=None, headers: dict | None = None, ci: dict | None = None, links: dict | None = None) -> Table:
    """``df``'s columns ``cols`` (default all) as a :class:`Table`. ``ci`` maps a column to its
    (low, high) columns, shown as ``mean [low, high]`` and sorted by the mean; ``highlight`` is
    a boolean mask of rows; ``headers`` renames columns; ``links`` maps a text column to a
    function of the row giving a link target (or None).

    >>> shown = table(pd.DataFrame({"a": [1.0, 0.25], "lo": [0.5, None], "b": ["x", "y"]}), ["a", "b"],
    ...               ci={"a": ("lo", "lo")})
    >>> shown.headers, shown.data
    (['a', 'b'], None)
    >>> shown.rows
    [([['1 [0.5, 0.5]', '1.0', None, 'num'], ['x', None, None, None]], False), ([['0.25', '0.25', None, 'num'], ['y', None, None, None]], False)]
    >>> table(pd.DataFrame({"a": [1, 2, 3]}), page=2, highlight=[False, True, False]).data
    {'rows': [[['1', '1.0', None, 'num']], [['2', '2.0', None, 'num']], [['3', '3.0', None, 'num']]], 'hl': [1]}
    """
    cols = cols or list(df.columns)
    ci, headers, links = ci or {}, headers or {}, links or {}
    highlighted = [bool(h) for h in highlight] if highlight is not None else [False] * len(df)
    rows = [[_cell(rec, col, ci, links) for col in cols] for rec in df.to_dict("records")]
    paged = bool(page) and len(rows) > page
    data = {"rows": rows, "hl": [i for i, h in enumerate(highlighted) if h]} if paged else None
    shown = list(zip(rows[:page] if paged else rows, highlighted))
    return Table(headers=[str(headers.get(col, col)) for col in cols], rows=shown, sortable=sortable,
                 page=int(page) if paged else 0, data=data)


def _cell(rec: dict, col: str, ci: dict, links: dict) -> list:
    """[text, sort value (None: the text), link (None), class (None)] of one table cell."""
    value = rec.get(col)
    if col in ci:
        low, high = rec.get(ci[col][0]), rec.get(ci[col][1])
        text = fnum(value) + (f" [{fnum(low)}, {fnum(high)}]" if low is not None and not _nan(low) else "")
        return [text, _sort_value(value), None, "num"]
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return [fnum(value), _sort_value(value), None, "num"]
    text = "" if value is None or _nan(value) else str(value)
    return [text, None, links[col](rec) if col in links else None, "long" if len(text) > 48 else None]


def _nan(v) -> bool:
    try:
        return isinstance(v, float) and math.isnan(v) or v is pd.NA
    except TypeError:
        return False


def _sort_value(v) -> str:
    try:
        f = float(v)
        return "" if math.isnan(f) else repr(f)
    except (TypeError, ValueError):
        return ""


def view_link(cell_id, base=None) -> str | None:
    """The fragment that opens the output viewer on a cell (diffed against ``base``).

    >>> view_link("c 1", "b&2"), view_link(None)
    ('#compare/cell=c%201&base=b%262', None)
    """
    if not isinstance(cell_id, str) or not cell_id:
        return None
    return f"#compare/cell={quote(cell_id, safe='')}" + (f"&base={quote(base, safe='')}" if isinstance(base, str) else "")


def _to_cell(rec) -> str | None:
    return view_link(rec.get("cell_id"))


TO_CELL = {"setting": _to_cell}  # a table of cells: its setting links to the cell in the viewer
TO_CELL_BY_NAME = {"setting_name": _to_cell}


def baseline_links(report) -> dict:
    """Cells vs baseline: each row's setting opens its cell, diffed against its model's baseline cell."""
    cells = report.cells[report.cells["setting"] == report.notes.get("baseline")]
    base = dict(zip(cells["target"], cells["cell_id"]))
    return {"setting": lambda rec: view_link(rec.get("cell_id"), base.get(rec.get("target")))}


def model_links(report) -> dict:
    """Model comparison: each row's setting opens target_b's cell, diffed against target_a's."""
    cell = {(r.target, r.setting_id): r.cell_id for r in report.cells.itertuples()}

    def link(rec):
        setting_id = rec.get("setting_id")
        return view_link(cell.get((rec.get("target_b"), setting_id)), cell.get((rec.get("target_a"), setting_id)))
    return {"setting": link}
