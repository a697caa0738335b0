"""Small hand-written SVG for the report's figures: standard library only, no plotting package.

A figure is an :class:`Svg` canvas holding one or more :class:`Axes` (a plot area with data
limits); marks are added in data coordinates and written as plain SVG elements. Text is
escaped; sizes are estimated from the character count (no font metrics), which is enough
to leave room for labels. The output is deterministic (same data, same bytes).

>>> s = Svg(200, 120, "demo & test")
>>> ax = Axes(s, (40, 10, 150, 80), (0, 1), (0, 10))
>>> ax.frame(xlabel="x", ylabel="y")
>>> ax.line([0, 0.5, 1], [0, 5, float("nan")], "#0072B2")
>>> out = s.render()
>>> out.startswith("<svg") and "demo &amp; test" in out and out.endswith("</svg>\\n")
True
"""

from __future__ import annotations

import math
from html import escape

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v"]
GRID = "#e3e3e3"
INK = "#222"
MUTED = "#555"
# matplotlib's cividis (perceptually uniform, colour-blind safe) at 0, 0.1, ..., 1.
CIVIDIS = ["#00224e", "#083370", "#35456c", "#4f576c", "#666970", "#7d7c78", "#948e77", "#aea371", "#c8b866",
           "#e5cf52", "#fee838"]


def esc(text) -> str:
    """XML-escape text (quotes included)."""
    return escape(str(text), quote=True)


def n(v: float) -> str:
    """A coordinate with one decimal, without a trailing ``.0``."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else ("0" if s == "-0" else s)


def finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def text_width(text: str, size: float) -> float:
    """Estimated width of ``text`` in pixels at font ``size`` (average glyph 0.56 em)."""
    return 0.56 * size * len(text)


def color(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def marker(i: int) -> str:
    return MARKERS[i % len(MARKERS)]


def cividis(t: float) -> str:
    """Colour of ``t`` in [0, 1] on the cividis map (linear between its 11 anchors).

    >>> cividis(0), cividis(1), cividis(0.05)
    ('#00224e', '#fee838', '#042a5f')
    """
    t = min(1.0, max(0.0, t)) * (len(CIVIDIS) - 1)
    i = min(int(t), len(CIVIDIS) - 2)
    f = t - i
    a, b = CIVIDIS[i], CIVIDIS[i + 1]
    rgb = [round(int(a[k:k + 2], 16) * (1 - f) + int(b[k:k + 2], 16) * f) for k in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (steps of 1, 2, 2.5 or 5 times a power of ten).

    >>> nice_ticks(0, 1)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(0.55, 1.0)
    [0.6, 0.7, 0.8, 0.9, 1.0]
    """
    if not (finite(lo) and finite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [float(lo)]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def tick_label(v: float, ticks: list[float]) -> str:
    """``v`` with as many decimals as the tick spacing needs (large or tiny: 3 significant)."""
    if not finite(v):
        return ""
    if abs(v) >= 1e5 or (v != 0 and abs(v) < 1e-3):
        return f"{v:.3g}"
    step = min((abs(b - a) for a, b in zip(ticks, ticks[1:]) if b != a), default=abs(v) or 1)
    for d in range(0, 7):
        if abs(round(step * 10 ** d) - step * 10 ** d) < 1e-6:
            break
    return f"{v:.{d}f}"


def padded(values, frac: float = 0.05, include: tuple = ()) -> tuple[float, float]:
    """(lo, hi) of the finite ``values`` (and ``include``), widened by ``frac`` of the range."""
    vals = [float(v) for v in (*values, *include) if finite(v)]
    if not vals:
        return 0.0, 1.0
    lo, hi = min(vals), max(vals)
    if hi == lo:
        pad = abs(lo) * 0.1 or 0.5
        return lo - pad, hi + pad
    pad = (hi - lo) * frac
    return lo - pad, hi + pad


class Svg:
    """A canvas of ``width`` x ``height`` pixels; ``render()`` gives the SVG document."""

    def __init__(self, width: float, height: float, title: str):
        self.width, self.height, self.title = width, height, title
        self.parts: list[str] = []
        self.defs: list[str] = []

    def add(self, element: str) -> None:
        self.parts.append(element)

    def line(self, x1, y1, x2, y2, stroke=INK, width=1.0, dash: str | None = None, opacity: float | None = None) -> None:
        extra = (f' stroke-dasharray="{dash}"' if dash else "") + (f' stroke-opacity="{opacity}"' if opacity is not None else "")
        self.add(f'<line x1="{n(x1)}" y1="{n(y1)}" x2="{n(x2)}" y2="{n(y2)}" stroke="{stroke}" stroke-width="{width}"{extra}/>')

    def path(self, d: str, stroke=INK, width=1.0, fill="none", opacity: float | None = None, dash: str | None = None) -> None:
        extra = (f' fill-opacity="{opacity}"' if opacity is not None else "") + (f' stroke-dasharray="{dash}"' if dash else "")
        self.add(f'<path d="{d}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"{extra}/>')

    def rect(self, x, y, w, h, fill, stroke: str | None = None, opacity: float | None = None) -> None:
        extra = (f' stroke="{stroke}"' if stroke else "") + (f' fill-opacity="{opacity}"' if opacity is not None else "")
        self.add(f'<rect x="{n(x)}" y="{n(y)}" width="{n(w)}" height="{n(h)}" fill="{fill}"{extra}/>')

    def text(self, x, y, s, size: float = 11, anchor: str = "start", fill=INK, weight: str | None = None,
             rotate: float | None = None, middle: bool = False) -> None:
        attrs = f'x="{n(x)}" y="{n(y)}" font-size="{size}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if fill != INK:
            attrs += f' fill="{fill}"'
        if weight:
            attrs += f' font-weight="{weight}"'
        if middle:
            attrs += ' dominant-baseline="central"'
        if rotate is not None:
            attrs += f' transform="rotate({rotate} {n(x)} {n(y)})"'
        self.add(f"<text {attrs}>{esc(s)}</text>")

    def marker(self, x, y, kind: str, r: float, fill, stroke: str | None = None, opacity: float | None = None) -> None:
        """A point mark: o circle, s square, ^ / v triangle, D diamond, * star."""
        extra = (f' stroke="{stroke}"' if stroke else "") + (f' fill-opacity="{opacity}"' if opacity is not None else "")
        if kind == "o":
            self.add(f'<circle cx="{n(x)}" cy="{n(y)}" r="{r}" fill="{fill}"{extra}/>')
            return
        if kind == "s":
            pts = [(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r)]
        elif kind == "^":
            pts = [(x, y - 1.2 * r), (x + 1.1 * r, y + 0.8 * r), (x - 1.1 * r, y + 0.8 * r)]
        elif kind == "v":
            pts = [(x, y + 1.2 * r), (x + 1.1 * r, y - 0.8 * r), (x - 1.1 * r, y - 0.8 * r)]
        elif kind == "D":
            pts = [(x, y - 1.3 * r), (x + 1.3 * r, y), (x, y + 1.3 * r), (x - 1.3 * r, y)]
        else:  # star
            pts = [(x + (r if k % 2 == 0 else 0.45 * r) * math.sin(k * math.pi / 5),
                    y - (r if k % 2 == 0 else 0.45 * r) * math.cos(k * math.pi / 5)) for k in range(10)]
        self.add(f'<polygon points="{" ".join(f"{n(a)},{n(b)}" for a, b in pts)}" fill="{fill}"{extra}/>')

    def legend(self, x, y, entries: list[tuple[str, str, str]], size: float = 11, max_width: float | None = None) -> float:
        """Entries (label, colour, marker or '-' for a line) in rows from (x, y); returns the y below."""
        max_width = max_width or self.width - x
        cx, cy = x, y
        for label, col, kind in entries:
            w = 22 + text_width(label, size) + 14
            if cx > x and cx + w > x + max_width:
                cx, cy = x, cy + size + 6
            if kind == "-":
                self.line(cx, cy, cx + 16, cy, col, 2)
            elif kind == "--":
                self.line(cx, cy, cx + 16, cy, col, 1.2, dash="4 3")
            else:
                self.marker(cx + 8, cy, kind, 4, col)
            self.text(cx + 22, cy, label, size, middle=True)
            cx += w
        return cy + size + 4

    def render(self) -> str:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{n(self.width)}" height="{n(self.height)}" '
                f'viewBox="0 0 {n(self.width)} {n(self.height)}" font-family="{esc(FONT)}" role="img">'
                f"<title>{esc(self.title)}</title>")
        defs = f"<defs>{''.join(self.defs)}</defs>" if self.defs else ""
        return head + defs + f'<rect width="100%" height="100%" fill="#fff"/>' + "\n".join(self.parts) + "</svg>\n"


class Axes:
    """A plot area ``box`` = (x, y, width, height) of an :class:`Svg` with data limits.

    ``xcat`` / ``ycat``: category labels placed at 0, 1, ...; the limits then span them.
    """

    def __init__(self, svg: Svg, box, xlim, ylim):
        self.svg = svg
        self.x, self.y, self.w, self.h = box
        self.x0, self.x1 = xlim
        self.y0, self.y1 = ylim

    def px(self, v: float) -> float:
        return self.x + (float(v) - self.x0) / ((self.x1 - self.x0) or 1) * self.w

    def py(self, v: float) -> float:
        return self.y + self.h - (float(v) - self.y0) / ((self.y1 - self.y0) or 1) * self.h

    def frame(self, *, title: str = "", xlabel: str = "", ylabel: str = "", xticks=None, yticks=None,
              xticklabels=None, yticklabels=None, grid: str = "xy", size: float = 10, rotate_x: bool = False) -> None:
        """Grid lines, the box, tick labels, axis labels and the title."""
        s = self.svg
        xt = nice_ticks(self.x0, self.x1) if xticks is None else list(xticks)
        yt = nice_ticks(self.y0, self.y1) if yticks is None else list(yticks)
        xl = xticklabels if xticklabels is not None else [tick_label(v, xt) for v in xt]
        yl = yticklabels if yticklabels is not None else [tick_label(v, yt) for v in yt]
        for v, lab in zip(xt, xl):
            px = self.px(v)
            if "x" in grid:
                s.line(px, self.y, px, self.y + self.h, GRID, 1)
            s.line(px, self.y + self.h, px, self.y + self.h + 4, MUTED, 1)
            if lab:
                if rotate_x:
                    s.text(px, self.y + self.h + 8, lab, size - 1, anchor="end", fill=MUTED, rotate=-45, middle=True)
                else:
                    s.text(px, self.y + self.h + 7 + size, lab, size - 1, anchor="middle", fill=MUTED)
        for v, lab in zip(yt, yl):
            py = self.py(v)
            if "y" in grid:
                s.line(self.x, py, self.x + self.w, py, GRID, 1)
            s.line(self.x - 4, py, self.x, py, MUTED, 1)
            if lab:
                s.text(self.x - 6, py, lab, size - 1, anchor="end", fill=MUTED, middle=True)
        s.rect(self.x, self.y, self.w, self.h, "none", stroke="#999")
        if title:
            s.text(self.x + self.w / 2, self.y - 7, title, size + 1, anchor="middle", weight="600")
        if xlabel:
            drop = (8 + text_width(max(xl, key=len) if xl else "", size - 1) * 0.71 + 8) if rotate_x else size + 12
            s.text(self.x + self.w / 2, self.y + self.h + drop + size, xlabel, size, anchor="middle")
        if ylabel:
            width = max((text_width(t, size - 1) for t in yl), default=0)
            s.text(self.x - 12 - width - 4, self.y + self.h / 2, ylabel, size, anchor="middle", rotate=-90)

    def line(self, xs, ys, stroke, width: float = 1.6, dash: str | None = None) -> None:
        """A polyline through the finite points (a NaN breaks it)."""
        d, pen = [], "M"
        for x, y in zip(xs, ys):
            if finite(x) and finite(y):
                d.append(f"{pen}{n(self.px(x))} {n(self.py(y))}")
                pen = "L"
            else:
                pen = "M"
        if d:
            self.svg.path("".join(d), stroke, width, dash=dash)

    def band(self, xs, lo, hi, fill, opacity: float = 0.2) -> None:
        """The area between ``lo`` and ``hi`` (each run of finite points its own polygon)."""
        run: list[tuple[float, float, float]] = []
        for x, a, b in [*zip(xs, lo, hi), (float("nan"),) * 3]:
            if finite(x) and finite(a) and finite(b):
                run.append((self.px(x), self.py(a), self.py(b)))
                continue
            if len(run) > 1:
                top = " ".join(f"{n(px)},{n(pb)}" for px, _, pb in run)
                bottom = " ".join(f"{n(px)},{n(pa)}" for px, pa, _ in reversed(run))
                self.svg.add(f'<polygon points="{top} {bottom}" fill="{fill}" fill-opacity="{opacity}"/>')
            run = []

    def points(self, xs, ys, kind: str, r: float, fill, stroke: str | None = None, opacity: float | None = None) -> None:
        for x, y in zip(xs, ys):
            if finite(x) and finite(y):
                self.svg.marker(self.px(x), self.py(y), kind, r, fill, stroke, opacity)


def panels(n_panels: int, ncols: int, pw: float, ph: float, left: float, top: float, gap_x: float, gap_y: float):
    """Boxes (x, y, w, h) of ``n_panels`` plot areas in rows of ``ncols``; and the total size."""
    ncols = max(1, min(ncols, n_panels))
    nrows = -(-n_panels // ncols)
    boxes = [(left + (i % ncols) * (pw + gap_x), top + (i // ncols) * (ph + gap_y), pw, ph) for i in range(n_panels)]
    return boxes, left + ncols * (pw + gap_x), top + nrows * (ph + gap_y)
