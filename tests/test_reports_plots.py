"""The report's figures: hand-written SVG files under plots/, embedded in the page with their
captions, drawn without importing a plotting package."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hfsweep import reports

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots") / "index.html"
    return reports.build_report([FIX / "report_sweep", FIX / "report_decoding"], out=out,
                                options={"bootstrap_resamples": 200})


def test_every_figure_is_a_titled_svg_file(page):
    files = sorted((page.parent / "plots").glob("*.svg"))
    names = {f.name for f in files}
    assert {"pareto.svg", "lengths.svg", "effects_temperature.svg"} <= names
    assert any(n.startswith("heatmap_") for n in names) and any(n.startswith("model_deltas_") for n in names)
    assert not list((page.parent / "plots").glob("*.png"))
    for f in files:
        root = ET.fromstring(f.read_text(encoding="utf-8"))  # well-formed XML, text escaped
        assert root.tag == f"{SVG}svg" and float(root.get("width")) > 100 and float(root.get("height")) > 100
        assert root.find(f"{SVG}title").text


def test_page_embeds_each_figure_with_its_caption(page):
    html = page.read_text(encoding="utf-8")
    figures = re.findall(r'<figure[^>]*><img alt="([^"]+)" src="data:image/svg\+xml;base64,([^"]+)">'
                         r"<figcaption>(.*?)</figcaption></figure>", html)
    files = {f.name: f.read_bytes() for f in (page.parent / "plots").glob("*.svg")}
    assert len(figures) == len(files)
    for alt, data, caption in figures:
        name = re.search(r"<code>plots/([^<]+)</code>", caption).group(1)
        assert base64.b64decode(data) == files[name.replace("&amp;", "&")]
        assert alt and caption.startswith(alt)
    assert "img-src data:" in html  # the CSP is unchanged: SVG comes in as a data: image


def test_model_output_in_labels_is_escaped(tmp_path):
    from hfsweep.reports.svg import Axes, Svg

    svg = Svg(300, 200, 'title <script>alert(1)</script> & "q"')
    ax = Axes(svg, (40, 20, 240, 140), (0, 1), (0, 1))
    ax.frame(title="<b>x</b>", xlabel="a&b", yticks=[0, 1], yticklabels=["<i>", "'"])
    root = ET.fromstring(svg.render())
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "<b>x</b>" in texts and "a&b" in texts and "<i>" in texts
    assert root.find(f"{SVG}title").text == 'title <script>alert(1)</script> & "q"'
    assert not list(root.iter(f"{SVG}script"))


def test_report_imports_no_plotting_package(tmp_path):
    code = (f"import sys, reports; reports.build_report([{str(FIX / 'report_decoding')!r}], out={str(tmp_path / 'index.html')!r}, "
            "options={'bootstrap_resamples': 100}); "
            "bad = [m for m in ('matplotlib', 'PIL') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    assert list((tmp_path / "plots").glob("*.svg"))
