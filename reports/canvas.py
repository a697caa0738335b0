"""The report's matplotlib figures laid out in CSS pixels: the style, the palette, the canvas.

A :class:`Canvas` is a ``matplotlib.figure.Figure`` on an Agg canvas (no pyplot: no GUI backend
and no global figure registry, so a figure is freed once written) sized in CSS pixels, with
plot areas, texts and legends placed from its top-left corner. Sizes are planned from
estimated text widths, so drawing takes one pass (no layout engine). The SVG is written
with :data:`STYLE`, which :func:`style` applies as a style context over matplotlib's defaults:
the output does not depend on the user's matplotlibrc, and the global rcParams are restored.

The style makes the SVG deterministic (``svg.hashsalt``, and no date in the metadata), keeps
text as text (``svg.fonttype: none``) and shows labels literally: model names, setting and
metric names are untrusted, so mathtext (``$...$``) and TeX are off; matplotlib XML-escapes
the text it writes.

>>> with style():
...     canvas = Canvas(200, 120, "demo & $x$")
...     ax = canvas.axes((40, 10, 150, 80))
...     _ = ax.plot([0, 1], [0, 1])
...     svg = canvas.svg()
>>> "<title>demo &amp; $x$</title>" in svg, "<dc:title>Matplotlib v" in svg, "<dc:date>" in svg
(True, True, False)
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

PX = 1 / 96  # inches per CSS pixel: the page shows each SVG at the size its layout was planned in
PT = 0.75  # points per CSS pixel (font sizes, line widths, marker sizes)
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v"]
INK, MUTED, FRAME = "#222222", "#555555", "#999999"

STYLE = {
    "svg.fonttype": "none", "svg.hashsalt": "hfsweep", "text.usetex": False, "text.parse_math": False,
    "font.family": "sans-serif", "font.size": 10 * PT, "axes.titlesize": 11 * PT, "axes.titleweight": "bold",
    "axes.labelsize": 10 * PT, "xtick.labelsize": 9 * PT, "ytick.labelsize": 9 * PT,
    "figure.facecolor": "white", "savefig.facecolor": "white", "text.color": INK, "axes.labelcolor": INK,
    "axes.edgecolor": FRAME, "axes.linewidth": 1 * PT, "xtick.color": MUTED, "ytick.color": MUTED,
    "xtick.major.size": 4 * PT, "ytick.major.size": 4 * PT, "xtick.major.width": 1 * PT, "ytick.major.width": 1 * PT,
    "axes.grid": True, "axes.axisbelow": True, "grid.color": "#e3e3e3", "grid.linewidth": 1 * PT,
    "axes.formatter.useoffset": False, "lines.linewidth": 1.6 * PT, "legend.frameon": False,
}


def style():
    """The report's style as a context (over matplotlib's defaults; rcParams restored after)."""
    return matplotlib.style.context(STYLE, after_reset=True)


def color(index: int) -> str:
    return OKABE_ITO[index % len(OKABE_ITO)]


def marker(index: int) -> str:
    return MARKERS[index % len(MARKERS)]


def text_width(text: str, size: float) -> float:
    """Estimated width of ``text`` in pixels at font ``size`` pixels (average glyph 0.56 em)."""
    return 0.56 * size * len(text)


def panels(n_panels: int, ncols: int, pw: float, ph: float, left: float, top: float, gap_x: float, gap_y: float):
    """Boxes (x, y, w, h) of ``n_panels`` plot areas in rows of ``ncols``; and the total size."""
    ncols = max(1, min(ncols, n_panels))
    nrows = -(-n_panels // ncols)
    boxes = [(left + (i % ncols) * (pw + gap_x), top + (i // ncols) * (ph + gap_y), pw, ph) for i in range(n_panels)]
    return boxes, left + ncols * (pw + gap_x), top + nrows * (ph + gap_y)


def legend_rows(labels: list[str], size: float, width: float) -> list[list[int]]:
    """The legend's entries (indices into ``labels``) in rows that fit ``width`` pixels at font
    ``size``, in order, left to right.

    >>> legend_rows(["a", "b", "c"], 10, 90), legend_rows(["a", "b", "c"], 10, 1000)
    ([[0, 1], [2]], [[0, 1, 2]])
    """
    rows: list[list[int]] = [[]]
    used = 0.0
    for index, label in enumerate(labels):
        entry = 22 + text_width(label, size) + 14
        if rows[-1] and used + entry > width:
            rows.append([])
            used = 0.0
        rows[-1].append(index)
        used += entry
    return rows


def row_height(size: float) -> float:
    """Pixels between the legend's rows at font ``size``."""
    return size * 1.45


class Canvas:
    """A figure of ``width`` x ``height`` CSS pixels titled ``title`` (the SVG's ``<title>``)."""

    def __init__(self, width: float, height: float, title: str):
        self.width, self.height, self.title = width, height, title
        self.figure = Figure(figsize=(width * PX, height * PX))
        FigureCanvasAgg(self.figure)

    def axes(self, box) -> Axes:
        """A plot area at ``box`` = (left, top, width, height) pixels from the top-left corner."""
        left, top, width, height = box
        ax = self.figure.add_axes((left / self.width, 1 - (top + height) / self.height, width / self.width,
                                   height / self.height))
        for axis in (ax.xaxis, ax.yaxis):  # about five round ticks (steps of 1, 2, 2.5 or 5 times a power of ten)
            axis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
        return ax

    def text(self, left: float, baseline: float, text: str, size: float, **kwargs) -> None:
        """``text`` from (left, baseline) pixels, font ``size`` pixels."""
        self.figure.text(left / self.width, 1 - baseline / self.height, text, fontsize=size * PT, va="baseline", **kwargs)

    def legend(self, left: float, top: float, entries: list[tuple[str, str, str]], size: float) -> None:
        """Entries (label, colour, marker, or '-' / '--' for a line) in rows from (left, top) pixels,
        as :func:`legend_rows` fits them in the width."""
        labels = [label for label, _, _ in entries]
        handles = [Line2D([], [], color=col, linewidth=2 * PT) if kind == "-" else
                   Line2D([], [], color=col, linewidth=1.2 * PT, linestyle=(0, (4, 3))) if kind == "--" else
                   Line2D([], [], color=col, marker=kind, linestyle="none", markersize=8 * PT, markeredgewidth=0)
                   for _, col, kind in entries]
        for number, row in enumerate(legend_rows(labels, size, self.width - left)):
            row_top = 1 - (top + number * row_height(size)) / self.height
            self.figure.legend([handles[i] for i in row], [labels[i] for i in row], loc="upper left",
                               bbox_to_anchor=(left / self.width, row_top), ncols=len(row), fontsize=size * PT, borderpad=0,
                               borderaxespad=0, handlelength=1.6, handletextpad=0.5, columnspacing=1.2)

    def svg(self) -> str:
        """The SVG document (matplotlib's SVG backend, with the title and no date). Artists drawn
        ``rasterized`` (a heatmap's cells) become an image at twice the pixel grid (192 dpi)."""
        out = io.StringIO()
        self.figure.savefig(out, format="svg", dpi=2 * 96, metadata={"Title": self.title, "Date": None})
        return out.getvalue()

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.svg(), encoding="utf-8")
        return path

