"""The report page in a real headless Chromium (Debian's ``chromium``, driven by playwright).

Checks: it renders, no console error, no network request (only the page's own file and
data: URLs), model output carrying ``<script>`` / ``<img onerror>`` payloads shows as text
and runs nothing, tables sort and their cell rows link to the output viewer. Saves
``tests/artifacts/report.png`` for people to look at. The output viewer itself:
test_reports_viewer.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hfsweep import reports
from tests.browser_helpers import browser, problems

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures"
ARTIFACTS = ROOT / "tests" / "artifacts"

pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "index.html"
    page_path = reports.build_report([FIX / "report_sweep", FIX / "report_decoding"], out=out,
                                     options={"bootstrap_resamples": 500})
    with browser(tmp_path_factory.mktemp("profile")) as new_page:
        page, events = new_page(page_path.as_uri())
        yield page, page_path, events


def test_renders_without_errors_or_requests(browser_page):
    page, path, events = browser_page
    assert page.title().startswith("hfsweep report")
    assert page.locator("#leaderboard table tbody tr").count() > 0
    errors, others = problems(events, path)
    assert errors == []
    assert others == [], f"unexpected requests: {others}"
    assert page.evaluate("document.images.length") > 3
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


def _column(page, label: str):
    return page.locator("#cmp-grid .cmp-col").filter(has=page.locator(".cmp-title", has_text=label))


def test_payloads_show_as_text_and_run_nothing(browser_page):
    page, _, events = browser_page
    # the output viewer, plain text (no diff), on the prompts holding the payloads
    page.evaluate("location.hash = '#compare/prompt=p1&diff=0'")
    col = _column(page, "tiny-a | temperature=1, top_k=0, top_p=1")
    assert "<script>alert(1)</script>" in col.inner_text()
    page.evaluate("location.hash = '#compare/prompt=p2&diff=0'")
    col = _column(page, "tiny-a | temperature=0.7, top_k=0, top_p=0.9")
    assert 'onerror="window.__xss=1;alert(1)"' in col.inner_text()
    page.wait_for_timeout(200)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert events["dialogs"] == []
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.evaluate("document.querySelectorAll('script:not([type=\"application/json\"])').length") == 1  # data scripts aside, the page's own


def test_sorting_and_screenshot(browser_page):
    page, _, _ = browser_page
    table = page.locator("#leaderboard table")
    header = table.locator("th", has_text="distinct_2")
    header.click()
    first_asc = table.locator("tbody tr:visible").first.locator("td").nth(2).get_attribute("data-v")
    header.click()
    first_desc = table.locator("tbody tr:visible").first.locator("td").nth(2).get_attribute("data-v")
    assert float(first_asc) < float(first_desc)
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_cell_rows_link_to_the_viewer(browser_page):
    page, _, _ = browser_page
    for sid in ("leaderboard", "baseline", "models", "pareto", "quality", "decoding", "identical"):
        assert page.locator(f"#{sid} table a[href^='#compare/cell=']").count() > 0, sid
    link = page.locator("#baseline table tbody tr:visible a").first
    href = link.get_attribute("href")
    cell, base = href.split("cell=")[1].split("&base=")
    link.click()
    page.wait_for_timeout(200)
    assert f"cell={cell}" in page.evaluate("location.hash")
    focused = page.locator("#cmp-grid .cmp-col.focus")
    assert focused.get_attribute("data-cell") == cell
    assert page.locator("#cmp-grid .cmp-col.base").get_attribute("data-cell") == base
    box = page.locator("#compare").bounding_box()
    assert box["y"] < 200  # the viewer was scrolled into view

