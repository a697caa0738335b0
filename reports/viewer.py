"""Data for the page's output viewer (section ``#compare``), bounded in size.

The viewer shows, for one prompt, every cell's outputs side by side. Its data is one JSON
object (read by ``reports/templates/viewer.js``):

* ``cells``: ``[cell_id, target, setting]`` in grid order; ``baseline``: index of the
  default baseline cell (the report's baseline setting, first target);
* ``metrics``: the per-sample metric names present among :data:`VIEWER_METRICS`;
* ``prompts``: ``[prompt_id, prompt text]`` for the embedded prompts;
* ``texts``: every distinct output once (an error row's text is its message); ``cut`` maps
  the index of a text shortened for the page to its full length;
* ``outputs``: ``{cell index: {prompt_id: [[sample_index, text index, finish_reason, error,
  [metric values]], ...]}}``; two outputs with the same text index have the same full text;
* ``more``: ``{cell index: {prompt_id: total}}`` where samples were left out.

``report.browser`` (max_prompts, max_samples, max_chars, max_bytes) bounds it; when the data
(as the page embeds it, ``<``, ``>`` and ``&`` escaped) is over ``max_bytes`` texts are cut
first, then samples per prompt, then prompts, and the note says which and how many. Every
output stays in ``completions.parquet``.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring_ascii as _encode_str

import numpy as np
import pandas as pd

#: Per-sample metrics shown as badges and offered to the viewer's filters (those present).
VIEWER_METRICS = ("loop", "seq_rep_4", "words", "truncated", "check_pass", "perplexity")
KEYS = ["cell_id", "prompt_id", "sample_index"]
SHOWN = ["prompt", "text", "finish_reason", "error", "error_message"]  # the completions' columns used


def _round(v):
    if v is None or isinstance(v, str):
        return None
    f = float(v)
    return None if math.isnan(f) else float(f"{f:.4g}")


def _rounded(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_round` of every value of a float column and its length as JSON, each distinct
    value rounded once.

    >>> v, n = _rounded(pd.Series([0.123456, float("nan"), 0.123456, -0.0, 12345.6]))
    >>> v.tolist(), n.tolist()
    ([0.1235, None, 0.1235, -0.0, 12350.0], [6, 4, 6, 4, 7])
    """
    bits = np.ascontiguousarray(col.to_numpy(dtype=float, na_value=np.nan)).view(np.int64)
    codes, uniq = pd.factorize(bits)  # by bit pattern: -0.0 stays -0.0
    rounded = [_round(u) for u in uniq.view(np.float64)]
    return (np.array(rounded + [None], dtype=object)[codes],
            np.array([len(json.dumps(r)) for r in rounded] + [4], dtype=np.int64)[codes])


def _str(v) -> str | None:
    return v if isinstance(v, str) and v else None


def _embedded(text: str) -> int:
    """Characters of JSON text as the page embeds it (``reports.html.json_for_script`` writes
    each ``<``, ``>`` and ``&`` as a 6-character escape)."""
    return len(text) + 5 * (text.count("<") + text.count(">") + text.count("&"))


def _jlen(s: str | None) -> int:
    """Characters of ``s`` as JSON (``ensure_ascii``) in the page."""
    return 4 if s is None else _embedded(_encode_str(s))


def _digits(a) -> np.ndarray:
    """Characters of each integer of ``a`` written in decimal.

    >>> _digits([0, 9, 10, 12345, -7]).tolist()
    [1, 1, 2, 5, 2]
    """
    a = np.asarray(a, dtype=np.int64)
    out = 1 + (a < 0)
    a, p = np.abs(a), 10
    while len(a) and (m := a >= p).any():
        out += m
        p *= 10
    return out


def _codes(values, norm) -> tuple[np.ndarray, list]:
    """Per row, the code of ``norm(value)`` among the distinct normalised values (in order of
    first appearance), and those values; each distinct raw value is normalised once."""
    codes, uniq = pd.factorize(pd.Series(values, dtype=object) if isinstance(values, list) else values,
                               use_na_sentinel=False)
    ids: dict = {}
    remap = np.array([ids.setdefault(norm(u), len(ids)) for u in uniq], dtype=np.int64)
    return remap[codes] if len(codes) else np.zeros(0, dtype=np.int64), list(ids)


def _joined(report, metrics: list[str]) -> pd.DataFrame:
    """Completions in file order (the columns the viewer shows) with their per-sample metric
    values (NaN where none)."""
    completions = report.data.completions
    completions = completions[[c for c in dict.fromkeys(KEYS + SHOWN) if c in completions and c not in metrics]].copy()
    completions["prompt_id"] = completions["prompt_id"].astype(str)
    completions["sample_index"] = pd.to_numeric(completions["sample_index"]).astype(int)
    if not metrics:
        return completions
    s = report.data.scores[KEYS + metrics].copy()
    s["prompt_id"] = s["prompt_id"].astype(str)
    s["sample_index"] = pd.to_numeric(s["sample_index"]).astype(int)
    s = s.drop_duplicates(KEYS)
    s[metrics] = s[metrics].astype(float)
    return completions.merge(s, on=KEYS, how="left", suffixes=("", "_score"))


class _Outputs:
    """The outputs of the first ``n_prompts`` prompts as arrays, to size the viewer's data
    for any limits without building it (:meth:`size`) and to build it once (:meth:`build`)."""

    def __init__(self, df: pd.DataFrame, cells: pd.DataFrame, prompt_code: np.ndarray, prompts: list[str],
                 metrics: list[str]):
        # columns are coded whole (no copy of the texts), then the rows of these prompts kept
        self.prompts = prompts
        mask = prompt_code < len(prompts)
        self.pr = prompt_code[mask].astype(np.int64)
        cell_code, cell_ids = pd.factorize(df["cell_id"])
        index = {c: i for i, c in enumerate(cells["cell_id"])}
        self.ci = np.array([index[c] for c in cell_ids], dtype=np.int64)[cell_code[mask]]
        self.si = df["sample_index"].to_numpy(dtype=np.int64)[mask]

        def column(name, norm):
            codes, values = _codes(df[name] if name in df else [None] * len(df), norm)
            return codes[mask], values
        fin, fins = column("finish_reason", _str)
        err, errs = column("error", _str)
        msg, msgs = column("error_message", _str)
        self.fin, self.err = np.array(fins, dtype=object)[fin], np.array(errs, dtype=object)[err]
        # the text key of each row: its text, or (error, message) for an error row
        is_err = self.err != None  # noqa: E711 (elementwise)
        text, texts = column("text", lambda t: t if isinstance(t, str) else "")
        pair, pairs = _codes(list(zip(err[is_err].tolist(), msg[is_err].tolist())), lambda x: x)
        text[is_err] = len(texts) + pair
        self.key, used = pd.factorize(text)
        self.bodies = [texts[k] if k < len(texts) else msgs[pairs[k - len(texts)][1]] or "(no text: error)"
                       for k in used.tolist()]
        self.body_len = np.array([len(b) for b in self.bodies], dtype=np.int64)
        self.body_json = np.array([_jlen(b) for b in self.bodies], dtype=np.int64)
        self._cut_json: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # an output row [sample_index, text index, finish_reason, error, [metric values]]
        # without its text index: 1 + si + 1 + (ti) + 1 + fin + 1 + err + 1 + [values] + 1
        rounded = [_rounded(df[m]) for m in metrics]
        self.values = [v[mask] for v, _ in rounded]
        self.fixed = 8 + _digits(self.si) + max(len(metrics) - 1, 0) + sum(n[mask] for _, n in rounded)
        self.fixed += np.array([_jlen(f) for f in fins], dtype=np.int64)[fin]
        self.fixed += np.array([_jlen(e) for e in errs], dtype=np.int64)[err]
        self.pid_json = np.array([_jlen(p) for p in prompts], dtype=np.int64)

    def rows(self, n_prompts: int, max_samples: int) -> np.ndarray:
        """The rows shown, in the viewer's order (by sample index, then file order)."""
        rows = np.flatnonzero((self.pr < n_prompts) & (self.si < max_samples))
        return rows[np.argsort(self.si[rows], kind="stable")]

    def _texts_json(self, keys: np.ndarray, max_chars: int) -> int:
        """Characters of the texts of ``keys`` as JSON strings, cut at ``max_chars``."""
        sizes, done = self._cut_json.setdefault(max_chars, (self.body_json.copy(), self.body_len <= max_chars))
        for k in keys[~done[keys]]:
            sizes[k] = _jlen(self.bodies[k][:max_chars])
            done[k] = True
        return int(sizes[keys].sum())

    def _groups(self, rows: np.ndarray, n_prompts: int) -> tuple[np.ndarray, np.ndarray]:
        """The distinct (cell, prompt) groups of ``rows`` (as cell * n_prompts + prompt) and their sizes."""
        return np.unique(self.ci[rows] * n_prompts + self.pr[rows], return_counts=True)

    def _nested_json(self, groups: np.ndarray, n_prompts: int, entries: np.ndarray) -> int:
        """Characters of ``{"cell": {"prompt_id": entry, ...}, ...}`` with the entries' sizes."""
        cells = np.unique(groups // n_prompts)
        return int(2 + (_digits(cells) + 5).sum() + max(len(cells) - 1, 0)
                   + (self.pid_json[groups % n_prompts] + 1 + entries).sum() + len(groups) - len(cells))

    def size(self, n_prompts: int, max_samples: int, max_chars: int) -> tuple[int, int, int, int]:
        """Characters of the built ``texts``, ``cut``, ``outputs`` and ``more`` as JSON."""
        rows = self.rows(n_prompts, max_samples)
        ti, keys = pd.factorize(self.key[rows])
        texts = 2 + self._texts_json(keys, max_chars) + max(len(keys) - 1, 0)
        cut = np.flatnonzero(self.body_len[keys] > max_chars)
        cuts = 2 + int((_digits(cut) + 3 + _digits(self.body_len[keys[cut]])).sum()) + max(len(cut) - 1, 0)
        groups, shown = self._groups(rows, n_prompts)
        # each group's rows: [row,row,...]
        rows_json = 2 * len(groups) + int((self.fixed[rows] + _digits(ti)).sum()) + len(rows) - len(groups)
        outputs = self._nested_json(groups, n_prompts, np.zeros(len(groups), dtype=np.int64)) + rows_json if len(groups) else 2
        total, count = self._groups(np.flatnonzero(self.pr < n_prompts), n_prompts)
        shown_of = np.zeros(len(total), dtype=np.int64)
        shown_of[np.searchsorted(total, groups)] = shown
        over = shown_of < count
        more = self._nested_json(total[over], n_prompts, _digits(count[over])) if over.any() else 2
        return texts, cuts, outputs, more

    def build(self, n_prompts: int, max_samples: int, max_chars: int) -> dict:
        rows = self.rows(n_prompts, max_samples)
        ti, keys = pd.factorize(self.key[rows])
        texts: list[str] = []
        cut: dict[str, int] = {}
        for i, k in enumerate(keys.tolist()):
            body = self.bodies[k]
            if len(body) > max_chars:
                cut[str(i)] = len(body)
                body = body[:max_chars]
            texts.append(body)
        cis = [str(c) for c in self.ci[rows].tolist()]
        pids = [self.prompts[p] for p in self.pr[rows].tolist()]
        values = zip(*(v[rows].tolist() for v in self.values)) if self.values else [()] * len(rows)
        outputs: dict[str, dict[str, list]] = {}
        for ci, pid, si, t, fin, err, vals in zip(cis, pids, self.si[rows].tolist(), ti.tolist(),
                                                   self.fin[rows].tolist(), self.err[rows].tolist(), values):
            outputs.setdefault(ci, {}).setdefault(pid, []).append([si, t, fin, err, list(vals)])
        # groups left incomplete, in order of first appearance in the file
        every = np.flatnonzero(self.pr < n_prompts)
        group = self.ci[every] * n_prompts + self.pr[every]
        codes, order = pd.factorize(group)
        count = np.bincount(codes, minlength=len(order))
        more: dict[str, dict[str, int]] = {}
        for g, n in zip(order.tolist(), count.tolist()):
            ci, pid = str(g // n_prompts), self.prompts[g % n_prompts]
            if len(outputs.get(ci, {}).get(pid, [])) < n:
                more.setdefault(ci, {})[pid] = n
        return {"texts": texts, "cut": cut, "outputs": outputs, "more": more, "shown": len(rows)}


def _baseline_index(report) -> int:
    label = report.notes.get("baseline")
    hits = [i for i, s in enumerate(report.cells["setting"]) if s == label]
    return hits[0] if hits else 0


def _shrink(n_prompts: int, max_samples: int, max_chars: int) -> tuple[int, int, int] | None:
    """The next, smaller limits, in the order that keeps the page most useful: long texts first
    (to 300 characters), then samples per prompt (to 2), then texts (to 150), then prompts;
    None at the smallest."""
    if max_chars > 300:
        return n_prompts, max_samples, max(300, int(max_chars * 0.75))
    if max_samples > 2:
        return n_prompts, max_samples - 1, max_chars
    if max_chars > 150:
        return n_prompts, max_samples, 150
    if n_prompts > 1:
        return max(1, int(n_prompts * 0.75)), max_samples, max_chars
    if max_samples > 1:
        return n_prompts, 1, max_chars
    return None


def _dumps(data: dict) -> str:
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"))


def _prepare(report):
    """(completions joined with their scores, prompt ids in file order, the initial limits
    (n_prompts, max_samples, max_chars), ``estimate(*limits)``: the data's size as JSON
    computed without building it, ``build(*limits)``: (data, what :meth:`_Outputs.build` gives))."""
    b = report.opts.browser
    cells = report.cells
    metrics = [m for m in VIEWER_METRICS if m in report.data.scores.columns]
    df = _joined(report, metrics)
    prompt_code, all_prompts = pd.factorize(df["prompt_id"])  # in file order
    all_prompts = [str(p) for p in all_prompts]
    prompt_text = df.drop_duplicates("prompt_id").set_index("prompt_id")["prompt"]
    limits = (min(len(all_prompts), b.max_prompts), b.max_samples, b.max_chars)
    out = _Outputs(df, cells, prompt_code, all_prompts[:limits[0]], metrics)
    head = {
        "cells": [[r.cell_id, r.target, r.setting] for r in cells.itertuples()],
        "baseline": _baseline_index(report),
        "metrics": metrics,
    }
    prompts = [[p, str(prompt_text.get(p, ""))[:2000]] for p in out.prompts]
    prompt_json = [_embedded(_dumps(p)) for p in prompts]
    # the five containers below are sized apart: 2 characters each when empty
    fixed = _embedded(_dumps({**head, "prompts": [], "texts": [], "cut": {}, "outputs": {}, "more": {}})) - 10

    def estimate(n_prompts, max_samples, max_chars):
        return (fixed + 2 + sum(prompt_json[:n_prompts]) + max(n_prompts - 1, 0)
                + sum(out.size(n_prompts, max_samples, max_chars)))

    def build(n_prompts, max_samples, max_chars):
        built = out.build(n_prompts, max_samples, max_chars)
        return {**head, "prompts": prompts[:n_prompts], **{k: built[k] for k in ("texts", "cut", "outputs", "more")}}, built
    return df, all_prompts, limits, estimate, build


def viewer_data(report) -> tuple[dict, str]:
    """(data for the viewer script, note on what is embedded) within ``report.browser`` limits.

    The limits are chosen from the data's size computed without building it (each output row
    and text sized once), then the data is built once and its size checked.
    """
    budget = report.opts.browser.max_bytes
    df, all_prompts, limits, estimate, build = _prepare(report)
    while estimate(*limits) > budget and (smaller := _shrink(*limits)):
        limits = smaller
    while True:
        data, built = build(*limits)
        size = _embedded(_dumps(data))
        # the estimate is exact (tested); should it not be, the budget still holds
        if size <= budget or not (smaller := _shrink(*limits)):
            break
        limits = smaller
    return data, _note(df, all_prompts, *limits, built, size, budget)


def _size(n: int) -> str:
    """A byte count for people.

    >>> _size(6000), _size(10_000_000)
    ('6 kB', '10 MB')
    """
    return f"{n / 1e6:.3g} MB" if n >= 1e6 else f"{n / 1e3:.3g} kB"


def _note(df, all_prompts, n_prompts, max_samples, max_chars, built, size, max_bytes) -> str:
    parts = [f"Embedded {built['shown']} of {len(df)} outputs"]
    if n_prompts < len(all_prompts):
        left = all_prompts[n_prompts:]
        named = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        parts.append(f"the first {n_prompts} of {len(all_prompts)} prompts (left out: {named})")
    if len(df) and df["sample_index"].max() >= max_samples:
        parts.append(f"samples 0-{max_samples - 1} of each prompt (of up to {int(df['sample_index'].max()) + 1})")
    if built["cut"]:
        parts.append(f"{len(built['cut'])} distinct texts cut at {max_chars} characters (marked)")
    return (", ".join(parts) + f". Data: {_size(size)} of the {_size(max_bytes)} budget (report.browser). "
            "Every output is in completions.parquet (hfsweep export writes it with its scores as JSONL or CSV). "
            "Model output is shown as plain text; bidirectional control characters are shown as [U+....].")
