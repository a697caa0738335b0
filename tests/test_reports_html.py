"""The report page in a real headless Chromium (Debian's ``chromium``, driven by playwright).

Checks: it renders, no console error, no network request (only the page's own file and
data: URLs), model output carrying ``<script>`` / ``<img onerror>`` payloads shows as text
and runs nothing, tables sort. Saves ``tests/artifacts/report.png`` for people to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import reports

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        msg = "Debian's chromium is not installed: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    out = tmp_path_factory.mktemp("html") / "index.html"
    page_path = reports.build_report([FIX / "report_sweep", FIX / "report_decoding"], out=out,
                                     options={"bootstrap_resamples": 500})
    events = {"requests": [], "console": [], "dialogs": []}
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("profile")), executable_path=CHROMIUM, args=ARGS, headless=True,
            viewport={"width": 1300, "height": 1000})
        page = ctx.new_page()
        page.on("request", lambda r: events["requests"].append(r.url))
        page.on("console", lambda m: events["console"].append((m.type, m.text)))
        page.on("pageerror", lambda e: events["console"].append(("pageerror", str(e))))
        page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
        yield page, page_path, events
        ctx.close()


def test_renders_without_errors_or_requests(browser_page):
    page, path, events = browser_page
    assert page.title().startswith("hfsweep report")
    assert page.locator("#leaderboard table tbody tr").count() > 0
    errors = [c for c in events["console"] if c[0] in ("error", "pageerror", "warning")]
    assert errors == []
    others = [u for u in events["requests"] if u != path.as_uri() and not u.startswith("data:")]
    assert others == [], f"unexpected requests: {others}"
    assert page.evaluate("document.images.length") > 3
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


def test_payloads_show_as_text_and_run_nothing(browser_page):
    page, _, events = browser_page
    # pick the cell and prompt holding the <script> payload in the sample browser
    options = page.locator("#sb-cell option").all_text_contents()
    idx = next(i for i, t in enumerate(options) if t == "tiny-a | temperature=1, top_k=0, top_p=1")
    page.select_option("#sb-cell", str(idx))
    page.select_option("#sb-prompt", "p1")
    assert "<script>alert(1)</script>" in page.locator("#sb-out").inner_text()
    idx = next(i for i, t in enumerate(options) if t == "tiny-a | temperature=0.7, top_k=0, top_p=0.9")
    page.select_option("#sb-cell", str(idx))
    page.select_option("#sb-prompt", "p2")
    assert 'onerror="window.__xss=1;alert(1)"' in page.locator("#sb-out").inner_text()
    page.wait_for_timeout(200)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert events["dialogs"] == []
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 2


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
