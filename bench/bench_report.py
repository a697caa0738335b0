"""Benchmark: report build time, page size and page opening time on synthetic runs.

    python bench/bench_report.py [--scale 10k|100k|1m ...] [--keep DIR] [--no-browser]

Scales (cells = temperature x top_p levels; 5 samples per prompt):

* ``10k``: 200 cells (20 x 10) x 10 prompts = 10,000 completions.
* ``100k``: 2,000 cells (40 x 50) x 10 prompts = 100,000 completions.
* ``1m``: 2,000 cells (40 x 50) x 100 prompts = 1,000,000 completions (issue 13: build
  < 60 s, page < 15 MB, opens in Chromium < 3 s).

Each run is generated with numpy and pyarrow (texts drawn from a pool per sampling
"spread", 0.2% error rows), scored with ``evaluators.scoring.score_run`` (timed apart: the
report reads the scores), then ``build_report`` is timed with its own phase timings, the
page size printed, and the page opened in Debian's Chromium (playwright): time to the
``load`` event, then the time to show another cell in the sample browser, to sort the
leaderboard and to page it.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfsweep.core import records  # noqa: E402
from hfsweep.evaluators.scoring import score_run  # noqa: E402
from hfsweep.reports.build import build_report  # noqa: E402

VOCAB = np.array(("the a of and to in river bread city light old village people will make water time slowly "
                  "bright quiet market night small warm stone road morning dough salt flour future green "
                  "machine dream house window story garden winter summer <b> & \" ' < >").split())
SCALES = {"10k": (20, 10, 10), "100k": (40, 50, 10), "1m": (40, 50, 100)}


def synth_run(out: Path, temps: int, top_ps: int, prompts: int, samples: int = 5, seed: int = 0) -> int:
    """Write ``out/completions.parquet``: temps x top_ps cells x prompts x samples rows."""
    rng = np.random.default_rng(seed)
    t_levels = np.round(np.linspace(0.0, 1.9, temps), 3)
    p_levels = np.round(np.linspace(0.55, 1.0, top_ps), 3)
    cell_t = np.repeat(t_levels, top_ps)
    cell_p = np.tile(p_levels, temps)
    n_cells = len(cell_t)
    setting = np.array([hashlib.sha256(f"{t}|{p}".encode()).hexdigest()[:16] for t, p in zip(cell_t, cell_p)], dtype=object)
    cell = np.array([hashlib.sha256(f"m|{s}".encode()).hexdigest()[:16] for s in setting], dtype=object)
    per_cell = prompts * samples
    n = n_cells * per_cell
    ci = np.repeat(np.arange(n_cells), per_cell)  # cell index of each row
    pj = np.tile(np.repeat(np.arange(prompts), samples), n_cells)  # prompt index
    si = np.tile(np.arange(samples), n_cells * prompts)  # sample index
    # a text pool per spread class (how much of the vocabulary a setting samples from)
    classes = 8
    spread = np.clip(0.15 + cell_t * cell_p / 1.5, 0, 1)
    klass = np.minimum(classes - 1, (spread * classes).astype(int))
    pool_size = 4000
    lengths = rng.integers(40, 150, (classes, pool_size))
    pools = [[" ".join(VOCAB[rng.integers(0, max(3, int(len(VOCAB) * (k + 1) / classes)), m)]) for m in lengths[k]]
             for k in range(classes)]
    pick = rng.integers(0, pool_size, n)
    row_class = klass[ci]
    text = np.empty(n, dtype=object)
    tokens = np.empty(n, dtype=np.int64)
    for k in range(classes):
        rows = np.flatnonzero(row_class == k)
        text[rows] = np.array(pools[k], dtype=object)[pick[rows]]
        tokens[rows] = lengths[k][pick[rows]]
    greedy = cell_t[ci] == 0
    greedy_texts = np.array([" ".join(VOCAB[[j % 7, 8, 9, 10]].tolist() * 40)[:600] for j in range(prompts)], dtype=object)
    text[greedy] = greedy_texts[pj[greedy]]
    tokens[greedy] = 128
    tokens = np.minimum(tokens, 128)
    err = rng.random(n) < 0.002
    fin = np.where(tokens >= 128, "length", "stop").astype(object)
    text[err] = None
    fin[err] = None
    prompt_ids = np.array([f"p{j}" for j in range(prompts)], dtype=object)
    cols = {
        "run_id": np.full(n, "bench", dtype=object), "cell_id": cell[ci], "setting_id": setting[ci],
        "setting_name": np.full(n, "", dtype=object), "target_kind": np.full(n, "embedded", dtype=object),
        "model": np.full(n, "synthetic", dtype=object), "endpoint": np.full(n, None, dtype=object),
        "provider": np.full(n, None, dtype=object), "mode": np.full(n, "chat", dtype=object),
        "temperature": cell_t[ci], "top_k": np.zeros(n, dtype=np.int64), "top_p": cell_p[ci],
        "frequency_penalty": np.zeros(n), "presence_penalty": np.zeros(n), "max_tokens": np.full(n, 128),
        "seed": si.astype(np.int64), "prompt_id": prompt_ids[pj],
        "prompt": np.array([f"Prompt number {j}: tell a story" for j in range(prompts)], dtype=object)[pj],
        "sample_index": si.astype(np.int64), "text": text, "finish_reason": fin,
        "prompt_tokens": np.full(n, 12), "completion_tokens": pa.array(tokens, mask=err),
        "logprob_sum": pa.nulls(n, pa.float64()), "logprob_tokens": pa.nulls(n, pa.int64()),
        "latency_s": rng.uniform(0.1, 2.0, n), "total_s": rng.uniform(0.1, 2.0, n), "retries": np.zeros(n, dtype=np.int64),
        "error": np.where(err, "http_503", None).astype(object),
        "error_message": np.where(err, "Service Unavailable", None).astype(object),
        "request_params": np.full(n, "{}", dtype=object),
        "cache_key": np.char.add(cell[ci].astype(str), (pj * samples + si).astype(str)).astype(object),
        "cached": np.zeros(n, dtype=bool), "started_at": np.full(n, "2025-01-01T00:00:00Z", dtype=object),
        "finished_at": np.full(n, "2025-01-01T00:00:01Z", dtype=object),
        "schema_version": np.full(n, records.SCHEMA_VERSION, dtype=np.int64),
    }
    kinds = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    schema = pa.schema([(name, kinds[kind]) for name, kind in records.field_types().items()])
    table = pa.table({name: pa.array(cols[name], type=schema.field(name).type) if not isinstance(cols[name], pa.Array)
                      else cols[name] for name in records.FIELDS}, schema=schema)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out / records.COMPLETIONS)
    return n


def open_in_chromium(page_path: Path) -> dict[str, float]:
    """Seconds to the load event, and to the first interactions (where the page has them)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=chromium, args=args, headless=True,
                                                    viewport={"width": 1300, "height": 1000})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto("about:blank")
        start = time.perf_counter()
        page.goto(page_path.as_uri(), wait_until="load", timeout=120_000)
        out["load_s"] = time.perf_counter() - start
        out["nav_to_load_s"] = page.evaluate("performance.timing.loadEventEnd - performance.timing.navigationStart") / 1000
        if page.locator("#sb-cell").count():
            n = page.locator("#sb-cell option").count()
            start = time.perf_counter()
            page.select_option("#sb-cell", str(n - 1))
            page.locator("#sb-out .sample, #sb-out p").first.wait_for()
            out["browser_cell_s"] = time.perf_counter() - start
        header = page.locator("#leaderboard table th").nth(2)
        if header.count():
            start = time.perf_counter()
            header.click()
            page.evaluate("0")
            out["sort_leaderboard_s"] = time.perf_counter() - start
        nxt = page.locator("#leaderboard .pager button", has_text="Next")
        if nxt.count():
            start = time.perf_counter()
            nxt.first.click()
            page.evaluate("0")
            out["page_leaderboard_s"] = time.perf_counter() - start
        if errors:
            out["page_errors"] = float(len(errors))
        ctx.close()
    return out


def bench(root: Path, scale: str, browser: bool) -> None:


    temps, top_ps, prompts = SCALES[scale]
    run = root / f"run_{scale}"
    t0 = time.perf_counter()
    n = synth_run(run, temps, top_ps, prompts)
    t1 = time.perf_counter()
    score_run(run)
    t2 = time.perf_counter()
    timings: dict[str, float] = {}
    page = build_report([run], timings=timings)
    t3 = time.perf_counter()
    size = page.stat().st_size
    print(f"{scale}: {n} completions, {temps * top_ps} cells x {prompts} prompts x 5 samples")
    print(f"  synth {t1 - t0:.1f} s, score_run {t2 - t1:.1f} s, build_report {t3 - t2:.1f} s "
          f"({', '.join(f'{k} {v:.1f}' for k, v in timings.items())})")
    print(f"  page {size / 1e6:.2f} MB ({page}), plots {len(list((page.parent / 'plots').glob('*.svg')))}")
    verdict = [f"build < 60 s {'OK' if t3 - t2 < 60 else 'MISSED'}", f"page < 15 MB {'OK' if size < 15e6 else 'MISSED'}"]
    if browser:
        opened = open_in_chromium(page)
        print("  chromium: " + ", ".join(f"{k} {v:.2f}" for k, v in opened.items()))
        verdict.append(f"opens < 3 s {'OK' if opened['load_s'] < 3 else 'MISSED'}")
    print("  targets: " + ", ".join(verdict))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", nargs="+", choices=list(SCALES), default=["10k", "1m"])
    ap.add_argument("--keep", type=Path, help="write runs here instead of a temporary directory")
    ap.add_argument("--no-browser", action="store_true", help="do not open the pages in Chromium")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for scale in args.scale:
            bench(root, scale, not args.no_browser)


if __name__ == "__main__":
    main()
