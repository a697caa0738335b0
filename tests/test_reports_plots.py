"""The report's figures: SVG files drawn by matplotlib under plots/, embedded in the page with
their captions; deterministic, with untrusted names shown literally and escaped."""

from __future__ import annotations

import base64
import gc
import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from hfsweep import reports
from hfsweep.reports import build, plots
from tests import report_synth as rs

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures"
SVG = "{http://www.w3.org/2000/svg}"
DC = "{http://purl.org/dc/elements/1.1/}"
HOSTILE_MODELS = ['m <script>alert(1)</script> & "q"', "_it's $x^2$ </svg>"]
HOSTILE_METRIC = "<b>score</b> & $\\alpha$ 'q'"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots") / "index.html"
    return reports.build_report([FIX / "report_sweep", FIX / "report_decoding"], out=out,
                                options={"bootstrap_resamples": 200})


def _size(value: str) -> float:
    """An SVG length in CSS pixels (matplotlib writes points)."""
    number, unit = re.fullmatch(r"([0-9.]+)(pt|px)?", value).groups()
    return float(number) * (4 / 3 if unit == "pt" else 1)


def test_every_figure_is_a_titled_svg_file(page):
    files = sorted((page.parent / "plots").glob("*.svg"))
    names = {f.name for f in files}
    assert {"pareto.svg", "lengths.svg", "effects_temperature.svg"} <= names
    assert any(n.startswith("heatmap_") for n in names) and any(n.startswith("model_deltas_") for n in names)
    assert not list((page.parent / "plots").glob("*.png"))
    for svg_file in files:
        root = ET.fromstring(svg_file.read_text(encoding="utf-8"))  # well-formed XML, text escaped
        assert root.tag == f"{SVG}svg" and _size(root.get("width")) > 100 and _size(root.get("height")) > 100
        assert root.find(f"{SVG}title").text


def test_figures_are_drawn_by_matplotlib_as_svg_with_text(page):
    """The retired 'no plotting package' target: the figures come from matplotlib's SVG backend
    (its generator metadata), text kept as text elements, no date in the metadata."""
    for svg_file in (page.parent / "plots").glob("*.svg"):
        root = ET.fromstring(svg_file.read_text(encoding="utf-8"))
        creator = root.find(f".//{DC}creator//{DC}title").text
        assert creator == f"Matplotlib v{matplotlib.__version__}, https://matplotlib.org/"
        assert root.find(f".//{DC}date") is None
        assert any(text.text for text in root.iter(f"{SVG}text"))  # svg.fonttype none: searchable text, not glyph paths
        assert not list(root.iter(f"{SVG}script"))
    effects = ET.parse(page.parent / "plots" / "effects_temperature.svg").getroot()
    assert "temperature (unitless)" in [text.text for text in effects.iter(f"{SVG}text")]


def test_page_embeds_each_figure_with_its_caption(page):
    html = page.read_text(encoding="utf-8")
    figures = re.findall(r'<figure[^>]*><img alt="([^"]+)" src="data:image/svg\+xml;base64,([^"]+)">'
                         r"<figcaption>(.*?)</figcaption></figure>", html)
    files = {svg_file.name: svg_file.read_bytes() for svg_file in (page.parent / "plots").glob("*.svg")}
    assert len(figures) == len(files)
    for alt, data, caption in figures:
        name = re.search(r"<code>plots/([^<]+)</code>", caption).group(1)
        assert base64.b64decode(data) == files[name.replace("&amp;", "&")]
        assert alt and caption.startswith(alt)
    assert "img-src data:" in html  # the CSP is unchanged: SVG comes in as a data: image


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Two models with hostile names, settings with hostile names, a metric with a hostile name
    (XML markup, quotes, '&', mathtext '$...$', a leading '_' that legends would drop)."""
    root = tmp_path_factory.mktemp("hostile")
    settings = [dict(rs.BASE, name=f"<i>s{i}</i> & '$y$'", temperature=t, top_p=p)
                for i, (t, p) in enumerate(itertools.product((0.3, 0.7, 1.0), (0.9, 1.0)))]
    rng = np.random.default_rng(0)
    runs = []
    for index, model in enumerate(HOSTILE_MODELS):
        values = {HOSTILE_METRIC: rng.random((len(settings), 4, 2)) + index, "words": rng.random((len(settings), 4, 2)) * 10}
        runs.append(rs.write_planted_run(root / f"run{index}", settings, values, model=model))
    opts = {"bootstrap_resamples": 100, "key_metrics": [HOSTILE_METRIC, "words"],
            "pareto": {"up": HOSTILE_METRIC, "down": "words"}}
    page = reports.build_report(runs, out=root / "report" / "index.html", options=opts)
    return sorted((page.parent / "plots").glob("*.svg"))


def test_untrusted_names_are_escaped_and_shown_literally(hostile):
    kinds = {svg_file.stem.split("_")[0] for svg_file in hostile}
    assert {"effects", "heatmap", "pareto", "lengths", "model"} <= kinds
    texts, titles = [], []
    for svg_file in hostile:
        raw = svg_file.read_text(encoding="utf-8")
        assert "<script" not in raw and "<b>" not in raw and "<i>" not in raw  # escaped in the file
        root = ET.fromstring(raw)
        assert not list(root.iter(f"{SVG}script"))
        texts += [text.text or "" for text in root.iter(f"{SVG}text")]
        titles.append(root.find(f"{SVG}title").text)
    shown = "\n".join(texts)  # what the figures show: '$x^2$' not typeset, the leading '_' kept
    for model in HOSTILE_MODELS:
        assert model in shown
    assert HOSTILE_METRIC in shown
    assert any(text.startswith("<i>s0</i> & '$y$'") for text in texts)  # the model comparison's setting rows
    assert f"Model comparison {HOSTILE_MODELS[1]} minus {HOSTILE_MODELS[0]}" in "\n".join(titles)


def test_svg_is_deterministic_and_rcparams_are_left_alone(tmp_path):
    rep = build.compute([FIX / "report_sweep"], {"bootstrap_resamples": 100})
    before = dict(matplotlib.rcParams)
    first = {path.name: path.read_bytes() for path in plots.draw_all(rep, tmp_path / "a").values()}
    second = {path.name: path.read_bytes() for path in plots.draw_all(rep, tmp_path / "b").values()}
    assert first == second and len(first) > 3
    assert dict(matplotlib.rcParams) == before  # a style context, not a global change


def test_figures_do_not_outlive_the_report(tmp_path):
    rep = build.compute([FIX / "report_sweep"], {"bootstrap_resamples": 100})
    assert plots.draw_all(rep, tmp_path)
    gc.collect()
    assert not [obj for obj in gc.get_objects() if isinstance(obj, Figure)]
