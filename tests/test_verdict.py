"""The answer first: the page opens with the verdict, the terminal prints it after the paths,
and verdict.json holds it for scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hfsweep.cli import main
from hfsweep.core import records

FIX = Path(__file__).parent / "fixtures"


def test_report_prints_the_verdict_and_the_page_opens_with_it(tmp_path, capsys):
    page = tmp_path / "index.html"
    assert main(["report", str(FIX / "report_sweep"), "--out", str(page)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"report: {page}"
    verdict = json.loads((tmp_path / records.VERDICT).read_text())
    assert out[1:] == [f"  {line}" for line in verdict["lines"]]
    chosen = [line for line in verdict["lines"] if ": set " in line]
    assert len(chosen) == 2 and all(re.search(r"set temperature=[\d.]+, top_p=[\d.]+: distinct_2 ", line) for line in chosen)
    # the fixture's top cells are tied on 4 prompts: the verdict says so, with the prompts that would separate them
    assert sum("The data do not single out one setting: it is statistically tied with" in line for line in verdict["lines"]) == 2
    assert sum(line.startswith("  Against ") and "would separate them" in line for line in verdict["lines"]) == 2
    assert any(line.startswith("warning: ") and "max_tokens" in line for line in verdict["lines"])
    assert [row["target"] for row in verdict["recommendation"]] == ["tiny-a", "tiny-bb"]
    html = page.read_text(encoding="utf-8")
    sections = re.findall(r'<section id="([a-z_]+)"', html)
    assert sections[0] == "verdict" and sections[-1] == "summary", sections
    assert sections.index("leaderboard") < sections.index("pareto")
    assert "decoding" not in sections and "models" in sections  # no named settings: no section; two models: compared


def test_a_section_with_nothing_to_show_is_absent(tmp_path):
    page = tmp_path / "index.html"
    assert main(["report", str(FIX / "report_decoding"), "--out", str(page)]) == 0
    sections = re.findall(r'<section id="([a-z_]+)"', page.read_text(encoding="utf-8"))
    assert "decoding" in sections and "models" not in sections and "search" not in sections  # one model, no search
