"""The self-contained HTML page: inline CSS, base64 PNGs, one small script (CSP-pinned by hash).

Every value from a run (model output, prompts, error messages, model names, settings) goes
through :func:`esc`; the output viewer's data is JSON with ``<``, ``>``, ``&`` escaped as
``\\u003c`` etc. inside a non-executed ``application/json`` script, read by the page script
with ``textContent`` and inserted as text nodes. Rows of cell tables link to their cell in the
viewer (``#compare/cell=CELL_ID``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from hfsweep.reports.html_assets import CSS, JS
from hfsweep.reports.paper import PAPER
from hfsweep.reports.power import MIN_PROMPTS
from hfsweep.reports.viewer import viewer_data
from hfsweep.reports.viewer_assets import VIEWER_HTML


def esc(x) -> str:
    """HTML-escape anything (quotes included)."""
    return html.escape("" if x is None else str(x), quote=True)


def fnum(v, digits: int = 3) -> str:
    """Compact number: NaN/None as an en dash, integers plain, else ``digits`` significant."""
    if v is None or isinstance(v, str):
        return "" if v is None else v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "\u2013"
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return f"{f:.{digits}g}"


def json_for_script(obj) -> str:
    """JSON safe inside a ``<script type="application/json">`` element."""
    s = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=str)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def table(df: pd.DataFrame, cols: list[str] | None = None, *, sortable: bool = True, page: int = 0,
          highlight=None, headers: dict | None = None, ci: dict | None = None, links: dict | None = None) -> str:
    """An escaped HTML table. ``ci`` maps a column to its (low, high) columns, shown as
    ``mean [low, high]`` and sorted by the mean; ``highlight`` is a boolean mask of rows;
    ``links`` maps a text column to a function of the row giving a link target (or None).

    A table longer than ``page`` rows is written as its first page of rows plus every row as
    data (``<script type="application/json">``, cells as [text, sort value, link, class]):
    the page's script draws one page at a time and sorts the data, so a 2,000-cell report
    does not make the browser build (and hide) tens of thousands of rows."""
    cols = cols or list(df.columns)
    ci, headers, links = ci or {}, headers or {}, links or {}
    hl = list(highlight) if highlight is not None else [False] * len(df)
    rows = [[_cell(rec, c, ci, links) for c in cols] for rec in df.to_dict("records")]
    paged = bool(page) and len(rows) > page
    attrs = (' class="sortable"' if sortable else "") + (f' data-page="{int(page)}"' if paged else "")
    out = [f'<div class="scroll"><table{attrs}><thead><tr>']
    out += [f"<th>{esc(headers.get(c, c))}</th>" for c in cols]
    out.append("</tr></thead><tbody>")
    for cells, h in zip(rows[:page] if paged else rows, hl):
        out.append('<tr class="hl">' if h else "<tr>")
        for text, v, href, cls in cells:
            body = f'<a href="{esc(href)}">{esc(text)}</a>' if href else esc(text)
            cls_attr = f' class="{cls}"' if cls else ""
            v_attr = f' data-v="{esc(v)}"' if v is not None else ""
            out.append(f"<td{cls_attr}{v_attr}>{body}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    if paged:
        data = {"rows": rows, "hl": [i for i, h in enumerate(hl) if h]}
        out.append(f'<script type="application/json" class="table-rows">{json_for_script(data)}</script>')
    out.append("</div>")
    return "".join(out)


def _cell(rec: dict, c: str, ci: dict, links: dict) -> list:
    """[text, sort value (None: the text), link (None), class (None)] of one table cell."""
    v = rec.get(c)
    if c in ci:
        lo, hi = rec.get(ci[c][0]), rec.get(ci[c][1])
        txt = fnum(v) + (f" [{fnum(lo)}, {fnum(hi)}]" if lo is not None and not _nan(lo) else "")
        return [txt, _dv(v), None, "num"]
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return [fnum(v), _dv(v), None, "num"]
    txt = "" if v is None or _nan(v) else str(v)
    return [txt, None, links[c](rec) if c in links else None, "long" if len(txt) > 48 else None]


def _nan(v) -> bool:
    try:
        return isinstance(v, float) and math.isnan(v) or v is pd.NA
    except TypeError:
        return False


def _dv(v) -> str:
    try:
        f = float(v)
        return "" if math.isnan(f) else repr(f)
    except (TypeError, ValueError):
        return ""


def figure(path: Path, caption: str, small: bool = False) -> str:
    """The figure file embedded as a data: image (SVG or PNG; the page's CSP allows data: images)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    mime = "image/svg+xml" if Path(path).suffix == ".svg" else "image/png"
    cls = ' class="small"' if small else ""
    return (f'<figure{cls}><img alt="{esc(caption)}" src="data:{mime};base64,{data}">'
            f"<figcaption>{esc(caption)} (<code>plots/{esc(Path(path).name)}</code>)</figcaption></figure>")


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{esc(title)}</h2>{body}</section>'


def _p(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{esc(text)}</p>'


def _summary(rep) -> str:
    s = rep.summary
    facts = [
        ("Runs", ", ".join(s["runs"])), ("Run ids", ", ".join(s["run_ids"])), ("Sweep", ", ".join(s["sweeps"]) or "\u2013"),
        ("Models", ", ".join(rep.targets)), ("Cells", s["cells"]), ("Prompts", s["prompts"]),
        ("Samples per prompt", s["samples"]), ("Completions", s["completions"]),
        ("Errors", f"{s['errors']} ({100 * s['errors'] / max(1, s['completions']):.1f}%)"),
        ("Cache hits", s["cached"]), ("Retries", s["retries"]),
        ("Tokens", f"{s['prompt_tokens']} prompt + {s['completion_tokens']} completion"),
        ("Wall time", f"{s['wall_s']:.1f} s" if s["wall_s"] is not None else "\u2013"),
        ("Started / finished", f"{s['started_at'] or '?'} / {s['finished_at'] or '?'}"),
        ("Swept parameters", ", ".join(rep.swept) or "none"),
    ]
    out = ['<dl class="facts">'] + [f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts] + ["</dl>"]
    out.append("<h3>Targets</h3>" + table(pd.DataFrame(s["targets"]), sortable=False))
    grid = pd.DataFrame([{"parameter": k, "values": ", ".join(fnum(v, 6) for v in vals)} for k, vals in s["grid"].items()])
    out.append("<h3>Grid (distinct values among cells)</h3>" + table(grid, sortable=False))
    if s["failed"]:
        out.append('<h3 class="warn">Failed jobs</h3>' + _p(f"{len(s['failed'])} job(s) of the sweep failed and are not in this report:", "warn"))
        out.append(table(pd.DataFrame(s["failed"]), sortable=False))
    if s["warnings"]:
        out.append('<h3>Warnings</h3><ul>' + "".join(f"<li>{esc(w)}</li>" for w in s["warnings"]) + "</ul>")
    return "".join(out)


def _leaderboard(rep) -> str:
    cm = rep.tables["cell_metrics"]
    keys = rep.key_metrics
    df = rep.cells[["cell_id", "target", "setting"]].copy()
    for m in keys:
        d = cm[cm["metric"] == m].set_index("cell_id")
        df[m], df[m + "_lo"], df[m + "_hi"] = (df["cell_id"].map(d[c]) for c in ("mean", "ci_low", "ci_high"))
    n = cm.groupby("cell_id")["n"].max()
    df["prompts (n)"] = df["cell_id"].map(n)
    err = rep.tables["errors"].set_index("cell_id")
    df["error_rate"] = df["cell_id"].map(err["error_rate"])
    df["truncated_rate"] = df["cell_id"].map(err["truncated_rate"])
    hl = rep.tables["pareto"]["recommended"].tolist() if "recommended" in rep.tables["pareto"] else None
    cols = ["target", "setting", *keys, "prompts (n)", "error_rate", "truncated_rate"]
    if "search" in rep.tables:  # an adaptive search: dropped cells were sampled on fewer prompts
        df["search"] = df["cell_id"].map(rep.tables["search"].set_index("cell_id")["status"])
        cols.append("search")
    conf = int(round(rep.opts["confidence"] * 100))
    few = cm[cm["note"].str.startswith("fewer")]
    body = _p(f"One row per cell: mean over prompts [{conf}% BCa bootstrap CI over prompts]. Click a header to sort. "
              "Highlighted: the recommended cell. Every metric is in tables/cell_metrics.csv.")
    if len(few):
        body += _p(f"{few['cell_id'].nunique()} cell(s) have fewer than 2 prompts with a value: no CI (shown as a bare mean).", "warn")
    return body + table(df, cols, page=rep.opts["page_rows"], highlight=hl,
                        ci={m: (m + "_lo", m + "_hi") for m in keys}, links=TO_CELL)


def _effects(rep, figs) -> str:
    fr = rep.tables["friedman"]
    out = [_p("A parameter's effect is measured only on its crossed part: the levels that appear with the same "
              "values of the other parameters (all of them in a full grid). A level's value per prompt is the mean "
              "over those cells; a prompt missing any cell of the part is dropped (column dropped). Friedman test "
              "over the levels with prompts as blocks, for parts with at least 3 levels. p_adj: Benjamini-Hochberg "
              "over every p-value in this report.")]
    dz = rep.tables["design"]
    if len(dz):
        out.append("<h3>Design: where each parameter is crossed</h3>")
        out.append(table(dz, ["target", "parameter", "levels", "part_levels", "held", "cells_used", "cells", "note"],
                         sortable=False))
        none = dz[dz["part_levels"] == ""]
        if len(none):
            out.append(_p(f"No per-parameter effect for {', '.join(sorted(set(none['parameter'])))}: no two of its levels "
                          "were run with the same values of the other parameters (presets change several at once), so "
                          "any difference could come from the others. The settings themselves are compared pairwise "
                          "below (Settings compared pairwise).", "warn"))
    if rep.notes.get("duplicates"):
        out.append(_p(f"Tested once, not twice: {rep.notes['duplicates']}."))
    if fr.empty:
        out.append(_p("No parameter has a crossed part with 3 or more levels: no Friedman test."))
    else:
        d = fr[fr["metric"].isin(rep.key_metrics)]
        out.append(table(d, ["target", "parameter", "levels", "metric", "n", "dropped", "statistic", "p", "p_adj", "note"],
                         page=rep.opts["page_rows"]))
    out += [figure(p, f"Effect of {k[len('effects_'):]}") for k, p in figs.items() if k.startswith("effects_")]
    if not rep.swept:
        out.append(_p("No parameter takes more than one value: nothing is swept."))
    return "".join(out)


def _heatmaps(rep, figs) -> str:
    hm = [figure(p, k.replace("heatmap_", "Heatmap "), small=True) for k, p in figs.items() if k.startswith("heatmap_")]
    if not hm:
        return _p("Fewer than two swept parameters: no heatmap.")
    note = _p(f"At most {rep.opts['max_heatmaps']} heatmaps (report.max_heatmaps); data in tables/heatmaps.csv.")
    return note + '<div class="figs">' + "".join(hm) + "</div>"


_MDD = ("mdd: the smallest difference this comparison could detect (alpha 0.05, power 0.8, from the paired SD and "
        f"n; inf below {MIN_PROMPTS} prompts, where the signed-rank test cannot reach p < 0.05); a non-significant diff smaller "
        "than mdd is not evidence of no effect. hfsweep plan RUN_DIR --metric M --difference D: prompts needed.")


def _paired(rep) -> str:
    pb = rep.tables["paired_baseline"]
    d = pb[pb["metric"].isin(rep.key_metrics)]
    cols = ["target", "setting", "metric", "diff", "n", "p", "p_adj", "mdd", "note"]
    return (_p(f"Every cell minus the baseline setting ({rep.notes['baseline']}) of the same model, paired by prompt; "
               "diff with bootstrap CI, Wilcoxon signed-rank p, BH-adjusted p. Key metrics shown; all in tables/paired_baseline.csv. "
               + _MDD)
            + (table(d, cols, page=rep.opts["page_rows"], ci={"diff": ("ci_low", "ci_high")}, links=_baseline_links(rep))
               if len(d) else _p("No other cell to compare.")))


def _settings(rep) -> str:
    sp = rep.tables["setting_pairs"]
    if rep.notes.get("setting_pairs"):
        return _p(rep.notes["setting_pairs"], "warn") + (_settings_table(rep, sp) if len(sp) else "")
    if sp.empty:
        return _p("Every swept parameter has a crossed part and no setting is a named preset: parameters are compared "
                  "above, not settings pairwise.")
    return _settings_table(rep, sp)


def _settings_table(rep, sp) -> str:
    d = sp[sp["metric"].isin(rep.key_metrics)]
    cols = ["target", "setting_a", "setting_b", "metric", "diff", "n", "p", "p_adj", "mdd"]
    return (_p("Every pair of settings of a model (presets, or designs where a parameter is not crossed): setting_b minus "
               "setting_a, paired by prompt; the difference with its bootstrap CI is the effect size (metric units). "
               "Wilcoxon signed-rank p, BH-adjusted with every other p-value. Key metrics shown; all in tables/setting_pairs.csv. "
               + _MDD)
            + table(d, cols, page=rep.opts["page_rows"], ci={"diff": ("ci_low", "ci_high")}))


def _models(rep, figs) -> str:
    mp = rep.tables["model_pairs"]
    if mp.empty:
        return _p("One model (target) in these runs, or no setting shared between models: no model comparison.")
    d = mp[mp["metric"].isin(rep.key_metrics)]
    cols = ["target_a", "target_b", "setting", "metric", "diff", "n", "p", "p_adj", "mdd"]
    out = [_p("target_b minus target_a, paired on (setting, prompt). The 'all shared settings' rows average the "
              "per-prompt differences over settings first (prompts missing any shared setting are dropped). " + _MDD),
           table(d, cols, page=rep.opts["page_rows"], ci={"diff": ("ci_low", "ci_high")}, links=_model_links(rep))]
    out += [figure(p, k.replace("model_deltas_", "Model deltas ")) for k, p in figs.items() if k.startswith("model_deltas_")]
    return "".join(out)


def _pareto(rep, figs) -> str:
    pa = rep.tables["pareto"]
    out = [f'<div class="box"><strong>Recommendation.</strong> {esc(rep.notes["recommendation"])}</div>']
    rec = rep.tables["recommendation"]
    if len(rec):
        out.append(_p("Per model: the best cell on the objective among cells meeting the constraints, taken from their "
                      "Pareto front (ties: better on the constraint metrics, then grid order), with its CI and the paired "
                      "test against the runner-up (p_holm: Holm over these tests only; the winner was picked because it "
                      "scored best, so this says whether it is distinguishable from the next, no more). "
                      "tables/recommendation.csv."))
        out.append(table(rec, ["target", "setting", "metric", "value", "constraints", "runner_up", "diff", "n", "p",
                               "p_holm", "note"], sortable=False,
                         ci={"value": ("ci_low", "ci_high"), "diff": ("diff_ci_low", "diff_ci_high")}))
    if not pa.empty:
        up, down = rep.opts["pareto"]["up"], rep.opts["pareto"]["down"]
        front = pa[pa["on_front"]].sort_values(down, kind="stable")
        out.append(_p(f"{len(front)} of {len(pa)} cells are Pareto-optimal among their model's cells ({up} up, {down} down):"))
        out.append(table(front, ["target", "setting", up, down, "recommended"], ci={up: (f"{up}_ci_low", f"{up}_ci_high")},
                         links=TO_CELL))
    if "pareto" in figs:
        out.append(figure(figs["pareto"], "Pareto scatter"))
    return "".join(out)


def _quality(rep, figs) -> str:
    er = rep.tables["errors"]
    bad = er[er["errors"] > 0]
    out = [_p(f"{len(bad)} of {len(er)} cells had errors. Truncated = finish_reason 'length' among non-error outputs.")]
    out.append(table(er, ["target", "setting", "requests", "errors", "error_rate", "top_error", "top_error_count",
                          "top_error_message", "truncated_rate", "empty_rate"], page=rep.opts["page_rows"], links=TO_CELL))
    out.append("<h3>Tokens and latency per cell</h3>")
    us = rep.tables["usage"]
    out.append(table(us, [c for c in us.columns if c != "cell_id"], page=rep.opts["page_rows"], links=TO_CELL))
    if "lengths" in figs:
        out.append(figure(figs["lengths"], "Completion lengths"))
    return "".join(out)


def _decoding(rep) -> str:
    dec = rep.tables["decoding"]
    out = [_p(rep.notes["decoding"])]
    if not dec.empty:
        out.append(table(dec, ["target", "setting_name", "texts", "perplexity", "self_bleu4", "zipf", "repetition_pct",
                               "paper_method", "paper_perplexity", "paper_self_bleu4", "paper_zipf",
                               "paper_repetition_pct"], page=rep.opts["page_rows"],
                         links={"setting_name": _to_cell}))
    out.append("<h3>Paper: Holtzman et al. 2020, Table 1 (GPT-2 Large, WebText, 5000 texts)</h3>")
    out.append(table(PAPER.drop(columns=["setting_name"]), sortable=False))
    return "".join(out)


def _identical(rep) -> str:
    ic = rep.tables["identical_cells"]
    if ic.empty:
        return _p("No two cells produced identical outputs for every prompt and sample.")
    msg = (f"{ic['group'].nunique()} group(s) of cells produced identical outputs for every prompt and seed: "
           "their settings did not change the output (e.g. top_p at temperature 0, or a parameter the server "
           "ignores). Differences between them are not effects.")
    return f'<div class="box warnbox">{esc(msg)}</div>' + table(ic, ["group", "target", "setting", "outputs"], links=TO_CELL)


def _search(rep) -> str:
    """The adaptive search's allocation (only for search runs): spend against the full grid,
    why it stopped, its leader, and requests per cell per round with each drop's evidence."""
    out = []
    for f in rep.summary["searches"]:
        est = f["leader_estimate"]
        ci = f", {f['metric']} {fnum(est[0])} [{fnum(est[1])}, {fnum(est[2])}] over {est[3]} prompts" if est else ""
        share = f["share_of_grid"]
        out.append(_p(f"search={f['strategy']} ({f['goal']} {f['metric']}): {f['requests']} of the full grid's "
                      f"{f['full_grid_requests']} requests ({fnum(100 * share, 3)}%, {fnum(100 * (1 - share), 3)}% saved) in "
                      f"{f['rounds']} round(s), {f['tokens']} completion tokens; {f['dropped']} cell(s) dropped. "
                      f"Stopped: {f['stopped'] or 'not yet'}. Leader: {f['leader'] or 'none'}{ci}.", "box"))
    out.append(_p("Requests per cell per round. A dropped cell was sampled on fewer prompts: its rows elsewhere "
                  "rest on what was sampled, and it is not a candidate for the recommendation."))
    alloc = rep.tables["search"]
    cols = [c for c in alloc.columns if c != "cell_id"]
    return "".join(out) + table(alloc, cols, page=rep.opts["page_rows"], links=TO_CELL)


def view_link(cell_id, base=None) -> str | None:
    """The fragment that opens the output viewer on a cell (diffed against ``base``)."""
    if not isinstance(cell_id, str) or not cell_id:
        return None
    return f"#compare/cell={quote(cell_id, safe='')}" + (f"&base={quote(base, safe='')}" if isinstance(base, str) else "")


def _to_cell(rec) -> str | None:
    return view_link(rec.get("cell_id"))


TO_CELL = {"setting": _to_cell}


def _baseline_links(rep) -> dict:
    cells = rep.cells[rep.cells["setting"] == rep.notes.get("baseline")]
    base = dict(zip(cells["target"], cells["cell_id"]))
    return {"setting": lambda rec: view_link(rec.get("cell_id"), base.get(rec.get("target")))}


def _model_links(rep) -> dict:
    cell = {(r.target, r.setting_id): r.cell_id for r in rep.cells.itertuples()}

    def link(rec):
        sid = rec.get("setting_id")
        return view_link(cell.get((rec.get("target_b"), sid)), cell.get((rec.get("target_a"), sid)))
    return {"setting": link}


def _compare(rep) -> str:
    data, note = viewer_data(rep)
    intro = ("Every cell's outputs for one prompt, side by side; identical samples of a cell shown once with their "
             "count, each output diffed word by word against the baseline cell's output for the same sample. "
             "Left/right arrow keys change the prompt; the address bar keeps a permalink. ")
    return (_p(intro + note) + VIEWER_HTML
            + f'<script type="application/json" id="compare-data">{json_for_script(data)}</script>')


SECTIONS = [("summary", "Run summary"),
            ("server", "Server"),  # what served each target and its defaults (reports/server.py)
            ("leaderboard", "Leaderboard"), ("effects", "Effects of parameters"),
            ("heatmaps", "Heatmaps"), ("baseline", "Cells vs baseline"), ("settings", "Settings compared pairwise"),
            ("models", "Model comparison"),
            ("search", "Adaptive search"), ("pareto", "Pareto front and recommendation"), ("quality", "Errors, truncation, tokens, latency"),
            ("decoding", "Decoding strategies vs the paper"), ("identical", "Identical cells"), ("compare", "Compare outputs")]


def render(rep, figs: dict[str, Path]) -> str:
    """The whole page as one string."""
    from hfsweep.reports.server import server_section  # it renders with this module's table()

    bodies = {
        "server": server_section(rep),
        "summary": _summary(rep), "leaderboard": _leaderboard(rep), "effects": _effects(rep, figs),
        "heatmaps": _heatmaps(rep, figs), "baseline": _paired(rep), "settings": _settings(rep),
        "models": _models(rep, figs),
        "search": _search(rep) if "search" in rep.tables else "",
        "pareto": _pareto(rep, figs), "quality": _quality(rep, figs), "decoding": _decoding(rep),
        "identical": _identical(rep), "compare": _compare(rep),
    }
    script_hash = base64.b64encode(hashlib.sha256(JS.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; "
           "base-uri 'none'; form-action 'none'")
    title = f"hfsweep report: {', '.join(rep.summary['run_ids'])}"
    files = rep.notes.get("files", "")
    shown = [(sid, t) for sid, t in SECTIONS if bodies[sid]]
    nav = "".join(f'<a href="#{sid}">{esc(t)}</a>' for sid, t in shown)
    sections = "".join(_section(sid, t, bodies[sid]) for sid, t in shown)
    sub = (f"{len(rep.targets)} model(s), {rep.summary['cells']} cells, {rep.summary['prompts']} prompts, "
           f"{rep.summary['completions']} completions")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{esc(title)}</h1><p>{esc(sub)}</p></header><nav>{nav}</nav><main>{sections}"
            f"{_p(f'Tables: {files}tables/*.csv; plots: {files}plots/ next to this page. Statistics: prompt = unit; BCa bootstrap CIs and Wilcoxon signed-rank p-values (equal to scipy.stats.bootstrap and scipy.stats.wilcoxon); Benjamini-Hochberg; Friedman on crossed parts only.')}"
            f"</main><script>{JS}</script></body></html>\n")
