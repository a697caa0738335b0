"""Long report tables (more rows than report.page_rows) in a real headless Chromium: the page
holds one page of rows, drawn from the table's data; sorting orders every row."""

from __future__ import annotations

from pathlib import Path

import pytest

from hfsweep import reports
from tests.browser_helpers import browser, problems

FIX = Path(__file__).resolve().parents[1] / "tests" / "fixtures"

pytest.importorskip("playwright.sync_api")


def test_long_tables_draw_one_page_from_their_data_and_sort_every_row(tmp_path_factory):
    """page_rows 3: every long table carries its rows as data; the page holds 3 rows at a time,
    sorting orders all of them (not only the page shown), and Next shows the following rows."""
    out = tmp_path_factory.mktemp("paged") / "index.html"
    page_path = reports.build_report([FIX / "report_sweep", FIX / "report_decoding"], out=out,
                                     options={"bootstrap_resamples": 500, "page_rows": 3})
    assert page_path.read_text().count('class="table-rows"') >= 3
    with browser(tmp_path_factory.mktemp("profile")) as new_page:
        page, events = new_page(page_path.as_uri())
        table = page.locator("#leaderboard table")
        col = page.evaluate("Array.from(document.querySelectorAll('#leaderboard th')).findIndex(h => h.textContent === 'distinct_2')")
        values = page.evaluate(f"""JSON.parse(document.querySelector('#leaderboard script.table-rows').textContent)
                                   .rows.map(r => r[{col}][1]).filter(v => v !== '').map(Number)""")
        assert len(values) > 3 and table.locator("tbody tr").count() == 3
        header = table.locator("th", has_text="distinct_2")
        header.click()
        assert float(table.locator("tbody tr").first.locator("td").nth(col).get_attribute("data-v")) == min(values)
        header.click()
        assert float(table.locator("tbody tr").first.locator("td").nth(col).get_attribute("data-v")) == max(values)
        page.locator("#leaderboard .pager button", has_text="Next").click()
        assert page.locator("#leaderboard .pager .range").text_content().startswith("Rows 4-")
        assert page.locator("#leaderboard table tbody tr a").first.get_attribute("href").startswith("#compare/cell=")
        assert problems(events, page_path) == ([], [])
