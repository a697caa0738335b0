"""Every value on the report page is escaped by the template engine, wherever it appears.

The fixture report is computed, then every string it holds (table cells, cell labels, notes,
run facts, a figure's caption) is prefixed with markup, and the page rendered: the page must
hold exactly its own elements (one executable script, the JSON data scripts, no element or
event handler from the markup) and the markup as text, in each section that shows strings.
The browser tests (test_reports_html.py, test_reports_viewer.py) check model output in Chromium.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from hfsweep.reports.build import compute
from hfsweep.reports.html import json_for_script, render

FIX = Path(__file__).resolve().parent / "fixtures"
PAYLOAD = '<script>window.__xss=1</script><img src=x onerror="alert(1)"><b title=\'t\'>&amp;'
ESCAPED = "&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"
KEEP = {"cell_id", "setting_id", "metric"}  # the keys the page joins tables on


def _poison(value):
    if isinstance(value, str):
        return PAYLOAD + value
    if isinstance(value, list):
        return [_poison(v) for v in value]
    if isinstance(value, dict):
        return {k: v if k in KEEP else _poison(v) for k, v in value.items()}
    return value


def _poison_frame(df):
    for col in df.columns:
        if col not in KEEP and df[col].map(lambda v: isinstance(v, str)).any():
            df[col] = df[col].map(_poison)


class _Elements(HTMLParser):
    """The tags of a page and the event-handler attributes on them."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    rep = compute([FIX / "report_sweep", FIX / "report_decoding"], {"bootstrap_resamples": 200, "page_rows": 3})
    for df in [*rep.tables.values(), rep.cells]:
        _poison_frame(df)
    rep.notes = _poison(rep.notes)
    rep.summary = _poison(rep.summary)
    rep.summary["grid"] = {PAYLOAD + k: v for k, v in rep.summary["grid"].items()}
    rep.targets, rep.swept = _poison(rep.targets), _poison(rep.swept)
    svg = tmp_path_factory.mktemp("plots") / "effects_x.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>')
    return rep, render(rep, {"effects_" + PAYLOAD: svg})


def test_the_page_holds_only_its_own_elements(poisoned):
    _, page = poisoned
    parser = _Elements()
    parser.feed(page)
    tags = parser.tags
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert len(scripts) > 1 and [a for a in scripts if a.get("type") != "application/json"] == [{}]
    assert not [tag for tag, attrs in tags if tag == "img" and attrs.get("src") == "x"]
    assert not [tag for tag, attrs in tags if tag == "b"]
    assert not [(tag, attrs) for tag, attrs in tags if any(name.startswith("on") for name in attrs)]
    assert PAYLOAD not in page and "window.__xss=1</script>" not in page


@pytest.mark.parametrize("section", ["summary", "server", "leaderboard", "effects", "baseline", "models", "pareto",
                                     "quality", "decoding", "identical"])
def test_each_section_shows_the_markup_as_text(poisoned, section):
    _, page = poisoned
    start = page.index(f'<section id="{section}">')
    body = page[start:page.index("</section>", start)]
    assert ESCAPED in body


def test_data_scripts_hold_the_markup_as_escaped_json(poisoned):
    """The viewer's data and a long table's rows (page_rows 3: the leaderboard is paged)."""
    _, page = poisoned
    for opening in ('<script type="application/json" id="compare-data">',
                    '<section id="leaderboard">'):
        start = page.index('<script type="application/json"', page.index(opening))
        data = page[page.index(">", start) + 1:page.index("</script>", start)]
        assert json_for_script(PAYLOAD)[1:-1] in data and "<" not in data and "&" not in data
