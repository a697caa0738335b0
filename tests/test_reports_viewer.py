"""The output viewer (section ``#compare``) in a real headless Chromium.

The run is the checked-in tiny-a fixture (6 cells x 4 prompts x 3 samples; the two greedy
cells are identical and repeat themselves) copied to a temporary directory with hostile
outputs and a hostile prompt written into it, scored by the real evaluators, plus
``check_pass`` and ``perplexity`` columns as other evaluators will add them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from hfsweep import reports
from hfsweep.evaluators.scoring import score_run
from tests.browser_helpers import browser, problems
from tests.run_dirs import write_run

pytest.importorskip("playwright.sync_api")

FIX = Path(__file__).resolve().parent / "fixtures"
GREEDY = "temperature=0, top_p=0.9"  # the default baseline (first setting)
GREEDY_TWIN = "temperature=0, top_p=1"
HOT = "temperature=0.7, top_p=0.9"
HOSTILE = ('<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> '
           '<a href="javascript:window.__xss=3">click me</a> \u202Etxt.exe done')
HOSTILE_2 = '<svg onload="window.__xss=4"></svg> plain \u202Ereversed <iframe src="javascript:alert(5)"></iframe>'
HOSTILE_PROMPT = 'Tell me <b onmouseover="window.__xss=6">bold</b> \u202Eevil'
LOOPING = "Bread is what" + " I said yes" * 8


def _hostile_run(run: Path) -> None:
    shutil.copytree(FIX / "report_sweep" / "0", run)
    for name in ("scores.parquet", "group_scores.parquet"):
        (run / name).unlink()
    comp = pd.read_parquet(run / "completions.parquet")
    temp, top_p = comp["temperature"], comp["top_p"]

    def at(t, p, pid, i):
        return (temp == t) & (top_p == p) & (comp["prompt_id"] == pid) & (comp["sample_index"] == i)
    comp.loc[at(0.7, 0.9, "p1", 0), "text"] = HOSTILE
    comp.loc[at(1.0, 1.0, "p1", 1), "text"] = HOSTILE_2
    comp.loc[at(1.0, 0.9, "p2", 0), "text"] = LOOPING
    comp.loc[comp["prompt_id"] == "p3", "prompt"] = HOSTILE_PROMPT
    write_run(run, comp)
    score_run(run)
    scores = pd.read_parquet(run / "scores.parquet")
    scores["check_pass"] = (scores["words"] < 20).astype(float)
    scores["perplexity"] = 5.0 + 10 * scores["seq_rep_4"] + scores["words"] / 10
    scores.to_parquet(run / "scores.parquet", index=False)


@pytest.fixture(scope="module")
def viewer(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("viewer")
    _hostile_run(tmp / "run")
    page_path = reports.build_report(tmp / "run", out=tmp / "page" / "index.html",
                                     options={"bootstrap_resamples": 200, "plots": False})
    small = reports.build_report(tmp / "run", out=tmp / "page" / "small.html",
                                 options={"bootstrap_resamples": 200, "plots": False,
                                          "browser": {"max_samples": 2, "max_chars": 100}})
    with browser(tmp_path_factory.mktemp("profile")) as new_page:
        page, events = new_page(page_path.as_uri())
        yield page, page_path, events, small, new_page
        errors, others = problems(events, page_path)
        assert errors == [] and others == [] and events["dialogs"] == []


def go(page, fragment: str) -> None:
    page.evaluate("f => { location.hash = f; }", fragment)
    page.wait_for_timeout(100)


def column(page, setting: str):
    return page.locator("#cmp-grid .cmp-col").filter(has=page.locator(".cmp-title", has_text=f"tiny-a | {setting}"))


def outputs(page):
    """Per visible column (in order): title, data-cell and its outputs' text, badges and samples."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('#cmp-grid .cmp-col')).map(c => ({
        title: c.querySelector('.cmp-title').textContent, cell: c.getAttribute('data-cell'),
        base: c.classList.contains('base'), head: c.querySelector('.cmp-head').textContent,
        outs: Array.from(c.querySelectorAll('.cmp-out')).map(o => ({
            samples: o.getAttribute('data-samples'), text: o.querySelector('pre').textContent,
            badges: Array.from(o.querySelectorAll('.badge')).map(b => b.textContent),
            title: Object.fromEntries(Array.from(o.querySelectorAll('.badge[title]')).map(b => b.title.split(' = ')))}))}))""")


def test_every_cell_side_by_side_with_counts(viewer):
    page, _, _, _, _ = viewer
    go(page, "#compare/prompt=p0")
    assert page.locator("#cmp-prompt").input_value() == "p0"
    cols = outputs(page)
    assert len(cols) == 6 and cols[0]["base"] and cols[0]["title"].endswith(GREEDY)
    greedy = cols[0]["outs"]
    assert len(greedy) == 1 and greedy[0]["samples"] == "0,1,2" and "\u00d73" in greedy[0]["badges"]
    assert {"loop", "truncated"} <= set(greedy[0]["badges"])
    assert greedy[0]["title"]["seq_rep_4"] and greedy[0]["title"]["perplexity"]
    twin = next(c for c in cols if c["title"].endswith(GREEDY_TWIN))
    assert "identical to baseline" in twin["head"] and "identical outputs in 1 other cell(s)" in twin["head"]
    assert "= baseline" in twin["outs"][0]["badges"]
    hot = next(c for c in cols if c["title"].endswith(HOT))
    assert [o["samples"] for o in hot["outs"]] == ["0", "1", "2"]  # sampled: three different outputs


def test_word_diff_against_the_baseline(viewer):
    page, _, _, _, _ = viewer
    go(page, "#compare/prompt=p0")
    pre = column(page, HOT).locator(".cmp-out pre").first
    assert pre.locator("ins").count() > 0 and pre.locator("del").count() > 0
    # the diff holds both texts: without <del> it is the output, without <ins> the baseline's
    side = "(pre, drop) => { const c = pre.cloneNode(true); c.querySelectorAll(drop).forEach(e => e.remove()); return c.textContent; }"
    base_text = column(page, GREEDY).locator(".cmp-out pre").first.text_content()
    assert pre.evaluate(side, "ins") == base_text
    page.locator("#cmp-diff").uncheck()
    plain = column(page, HOT).locator(".cmp-out pre").first
    assert plain.locator("ins, del").count() == 0
    assert "diff=0" in page.evaluate("location.hash")
    text = plain.text_content()
    page.locator("#cmp-diff").check()
    assert column(page, HOT).locator(".cmp-out pre").first.evaluate(side, "del") == text


def test_search_navigation_and_keyboard(viewer):
    page, _, _, _, _ = viewer
    go(page, "#compare/prompt=p0")
    page.locator("#cmp-q").fill("bread")
    assert page.locator("#cmp-prompt option").all_text_contents() == ["p1  The recipe for a good loaf of bread"]
    assert "prompt 1 of 1 matching (4 embedded)" in page.locator("#cmp-pos").text_content()
    page.locator("#cmp-q").fill("")
    page.locator("#cmp-next").click()
    assert page.locator("#cmp-prompt").input_value() == "p2"
    page.locator("#compare h2").click()  # focus out of the inputs; the viewer is on screen
    page.keyboard.press("ArrowRight")
    assert page.locator("#cmp-prompt").input_value() == "p3"
    page.keyboard.press("ArrowRight")  # the last prompt: stays
    assert page.locator("#cmp-prompt").input_value() == "p3"
    page.keyboard.press("ArrowLeft")
    assert page.locator("#cmp-prompt").input_value() == "p2"
    assert page.evaluate("location.hash") == "#compare/prompt=p2"


def test_filters(viewer):
    page, _, _, _, _ = viewer
    go(page, "#compare/prompt=p0&loop=1")
    cols = outputs(page)  # the baseline (in full) and the looping twin only
    assert [c["title"].split(" | ")[1] for c in cols] == [GREEDY, GREEDY_TWIN]
    assert page.locator("#cmp-prompt option").count() == 4
    go(page, "#compare/prompt=p0&loop=1&differ=1")  # only one sampled output loops: p2
    assert page.locator("#cmp-prompt option").all_text_contents()[0].startswith("p2")
    cols = outputs(page)
    assert len(cols) == 2 and cols[1]["title"].endswith("temperature=1, top_p=0.9")
    assert [o["samples"] for o in cols[1]["outs"]] == ["0"] and "loop" in cols[1]["outs"][0]["badges"]
    assert "2 distinct output(s) hidden by the filters" in page.locator("#cmp-grid").text_content()
    go(page, "#compare/prompt=p0&differ=1")
    assert GREEDY_TWIN not in [c["title"].split(" | ")[1] for c in outputs(page)]
    go(page, "#compare/prompt=p0&fail=1")
    for c in outputs(page)[1:]:
        assert c["outs"] and all("checks fail" in o["badges"] for o in c["outs"])
    go(page, "#compare/prompt=p0")
    page.select_option("#cmp-metric", "words")
    page.select_option("#cmp-op", "le")
    page.locator("#cmp-thr").fill("12")
    cols = outputs(page)
    assert len(cols) > 1
    for c in cols[1:]:
        assert all(float(o["title"]["words"]) <= 12 for o in c["outs"])
    assert page.evaluate("location.hash") == "#compare/prompt=p0&metric=words&op=le&thr=12"


def test_permalink_restores_the_view(viewer):
    page, path, _, _, new_page = viewer
    go(page, "#compare/prompt=p0")
    page.select_option("#cmp-prompt", "p2")
    hot = column(page, HOT)
    hot_id = hot.get_attribute("data-cell")
    hot.locator(".cmp-title").click()
    twin_id = column(page, GREEDY_TWIN).get_attribute("data-cell")
    column(page, GREEDY_TWIN).locator("button.setbase").click()
    page.locator("#cmp-loop").check()
    link = page.evaluate("location.hash")
    assert link == f"#compare/prompt=p2&cell={hot_id}&base={twin_id}&loop=1"
    assert page.locator("#cmp-link").get_attribute("href") == link
    other, events = new_page(path.as_uri() + link)
    assert other.locator("#cmp-prompt").input_value() == "p2"
    assert other.locator("#cmp-loop").is_checked()
    assert other.locator("#cmp-grid .cmp-col.base").get_attribute("data-cell") == twin_id
    assert other.locator("#cmp-status").text_content().endswith("the focused cell is hidden by the filters.")
    other.locator("#cmp-loop").uncheck()
    assert other.locator("#cmp-grid .cmp-col.focus").get_attribute("data-cell") == hot_id
    assert other.evaluate("location.hash") == f"#compare/prompt=p2&cell={hot_id}&base={twin_id}"
    assert problems(events, path) == ([], [])
    other.close()


@pytest.mark.parametrize("fragment", [
    "#compare/prompt=p1",  # as a diff (inserted words) against the greedy baseline
    "#compare/prompt=p1&diff=0",  # as plain text
    "#compare/prompt=p1&base={hot}",  # as the baseline: deleted words in every other cell
    "#compare/prompt=p3",  # the hostile prompt
])
def test_hostile_output_is_inert(viewer, fragment):
    page, _, events, _, _ = viewer
    go(page, "#compare/prompt=p0")
    go(page, fragment.format(hot=column(page, HOT).get_attribute("data-cell")))
    page.wait_for_timeout(200)
    text = page.locator("#compare").text_content()
    if "p1" in fragment:
        for piece in ("<script>window.__xss=1</script>", 'onerror="window.__xss=2"', 'href="javascript:window.__xss=3"',
                      '<svg onload="window.__xss=4"></svg>', "[U+202E]txt.exe", "[U+202E]reversed"):
            assert piece in text.replace("\n", "")
    else:
        assert '<b onmouseover="window.__xss=6">bold</b> [U+202E]evil' in page.locator("#cmp-prompt-text").text_content()
        assert "[U+202E]evil" in page.locator("#cmp-prompt option:checked").text_content()
    assert "\u202e" not in page.evaluate("document.body.innerText")
    found = page.evaluate("""() => ({
        scripts: document.querySelectorAll('script').length,
        tags: document.querySelectorAll('#compare img, #compare svg, #compare iframe, #compare a:not(#cmp-link), #compare b, #compare script:not(#compare-data)').length,
        handlers: Array.from(document.querySelectorAll('#compare *')).filter(e => Array.from(e.attributes).some(a => a.name.startsWith('on'))).length,
        xss: typeof window.__xss})""")
    assert found == {"scripts": 2, "tags": 0, "handlers": 0, "xss": "undefined"}
    assert events["dialogs"] == []


def test_data_budget_says_what_was_left_out(viewer):
    _, _, _, small, new_page = viewer
    page, events = new_page(small.as_uri() + "#compare/prompt=p0")
    note = page.locator("#compare p.note").first.text_content()
    assert "samples 0-1 of each prompt (of up to 3)" in note and "distinct texts cut at 100 characters" in note
    head = column(page, HOT).locator(".cmp-head").text_content()
    assert "2 of 3 samples embedded" in head
    cut = column(page, HOT).locator(".cmp-out .cut").first.text_content()
    assert cut.startswith("\u2026 cut for the page at 100 of ") and cut.endswith(" characters")
    page.close()
    assert problems(events, small) == ([], [])


def test_data_budget_shrinks_texts_samples_then_prompts(tmp_path):
    from hfsweep.reports.build import compute
    from hfsweep.reports.viewer import viewer_data

    rep = compute([FIX / "report_sweep" / "0"], {"bootstrap_resamples": 200, "browser": {"max_bytes": 6000}})
    data, note = viewer_data(rep)
    assert [p[0] for p in data["prompts"]] == ["p0", "p1", "p2"]
    assert "the first 3 of 4 prompts (left out: p3), samples 0-1 of each prompt (of up to 3)" in note
    assert "of the 6 kB budget" in note
    assert all(len(rows) == 2 for cell in data["outputs"].values() for rows in cell.values())
    assert data["more"]["0"] == {"p0": 3, "p1": 3, "p2": 3}


def _reference(rep, n_prompts: int, max_samples: int, max_chars: int) -> dict:
    """The viewer's data as its first version built it: row by row, each value rounded by _round."""
    from hfsweep.reports.viewer import VIEWER_METRICS, _baseline_index, _joined, _round, _str

    metrics = [m for m in VIEWER_METRICS if m in rep.data.scores.columns]
    df = _joined(rep, metrics)
    pids = list(dict.fromkeys(df["prompt_id"]))[:n_prompts]
    index = {c: i for i, c in enumerate(rep.cells["cell_id"])}
    keep = df[df["prompt_id"].isin(pids) & (df["sample_index"] < max_samples)].sort_values("sample_index", kind="stable")
    texts, ids, cut, outs = [], {}, {}, {}
    for r in keep.to_dict("records"):
        err = _str(r.get("error"))
        key = ("error", err, _str(r.get("error_message"))) if err else ("text", r["text"] if isinstance(r["text"], str) else "")
        if key not in ids:
            ids[key] = len(texts)
            body = (key[2] or "(no text: error)") if err else key[1]
            if len(body) > max_chars:
                cut[str(ids[key])] = len(body)
                body = body[:max_chars]
            texts.append(body)
        row = [int(r["sample_index"]), ids[key], _str(r.get("finish_reason")), err, [_round(r[m]) for m in metrics]]
        outs.setdefault(str(index[r["cell_id"]]), {}).setdefault(r["prompt_id"], []).append(row)
    more = {}
    for (cid, pid), n in df[df["prompt_id"].isin(pids)].groupby(["cell_id", "prompt_id"], sort=False).size().items():
        if len(outs.get(str(index[cid]), {}).get(pid, [])) < n:
            more.setdefault(str(index[cid]), {})[pid] = int(n)
    prompt_text = df.drop_duplicates("prompt_id").set_index("prompt_id")["prompt"]
    return {"cells": [[r.cell_id, r.target, r.setting] for r in rep.cells.itertuples()],
            "baseline": _baseline_index(rep), "metrics": metrics,
            "prompts": [[p, str(prompt_text.get(p, ""))[:2000]] for p in pids],
            "texts": texts, "cut": cut, "outputs": outs, "more": more}


@pytest.fixture(scope="module")
def odd_rep(tmp_path_factory):
    """The hostile run with error rows (with and without a message, and an empty error), a
    missing text, a non-ASCII text, and metric values that round oddly (-0.0, NaN, huge, tiny)."""
    from hfsweep.reports.build import compute

    run = tmp_path_factory.mktemp("odd") / "run"
    _hostile_run(run)
    comp = pd.read_parquet(run / "completions.parquet")
    comp.loc[3, ["error", "error_message", "text"]] = ["http_500", "Internal \u00e9rror <b>", None]
    comp.loc[4, ["error", "error_message", "text"]] = ["http_500", None, None]
    comp.loc[5, ["error", "error_message", "text"]] = ["", None, "an \"empty\" error\nis no error \U0001F600"]
    comp.loc[6, "text"] = None
    write_run(run, comp)
    scores = pd.read_parquet(run / "scores.parquet")
    scores.loc[0, "perplexity"] = -0.0
    scores.loc[1, "perplexity"] = float("nan")
    scores.loc[2, "perplexity"] = 123456789.0
    scores.loc[3, "perplexity"] = 1.23456e-7
    scores.to_parquet(run / "scores.parquet", index=False)
    return compute([run], {"bootstrap_resamples": 200, "plots": False})


@pytest.mark.parametrize("limits", [(4, 3, 600), (4, 3, 30), (3, 2, 300), (2, 1, 150), (4, 2, 1), (1, 1, 5)])
def test_data_as_built_row_by_row_and_sized_exactly(odd_rep, limits):
    """The vectorised data equals the first version's, and its size in the page is known
    before building it."""
    import json

    from hfsweep.reports.html import json_for_script
    from hfsweep.reports.viewer import _prepare

    _, _, _, estimate, build = _prepare(odd_rep)
    data, built = build(*limits)
    text = json_for_script(data)
    assert json.loads(text) == _reference(odd_rep, *limits) and estimate(*limits) == len(text)
    assert built["shown"] == sum(len(rows) for cell in data["outputs"].values() for rows in cell.values())


def test_data_budget_picks_the_first_limits_that_fit(odd_rep):
    """Over a range of budgets, the data (as embedded in the page) is within budget and its
    limits are the first, in the shrinking order, whose data fits (as building the data at
    every step would find)."""
    from hfsweep.reports.html import json_for_script
    from hfsweep.reports.viewer import _prepare, _shrink, viewer_data

    _, _, start, _, build = _prepare(odd_rep)
    steps = [start]
    while smaller := _shrink(*steps[-1]):
        steps.append(smaller)
    sizes = [len(json_for_script(build(*s)[0])) for s in steps]
    for budget in sorted(set(sizes)) + [min(sizes) - 1, max(sizes) + 1]:
        odd_rep.opts.browser.max_bytes = budget
        data, note = viewer_data(odd_rep)
        first = next((i for i, n in enumerate(sizes) if n <= budget), len(steps) - 1)
        assert data == build(*steps[first])[0] and (sizes[first] <= budget or first == len(steps) - 1)
