"""What a run spent: requests and tokens per cell and in total, and, with the target's prices
(``runner.price``), their cost and what the adaptive search and the greedy copies saved.

The runner writes it as ``summary.json``'s ``usage`` (:func:`usage`); the CLI prints it
(:func:`lines`), the report shows it, and the search prices its budget with :func:`cost` and
:func:`request_bound`. A leaf: it imports nothing of hfsweep.

Definitions (per cell, and summed over the cells):

* ``requests``: the completions the target made (every record but the copies), sent in this run
  or replayed from the cache; ``sent``: those sent in this run; ``copies``: greedy samples
  copied from sample 0 (``copy_of``), which no target made.
* ``prompt_tokens``, ``completion_tokens``: the tokens of the requests, as the server reported
  them; ``cost``: those tokens at the prices; ``saved_by_copies``: what the copies' tokens would
  have cost as requests.
* For a search, ``full_grid_cost`` estimates the whole grid's cost: the requests made at their
  cost, every grid request not made at its cell's mean completion tokens and its prompt's prompt
  tokens (means over what was made); ``saved_by_search`` is the part not made. So
  ``cost = full_grid_cost - saved_by_search - saved_by_copies``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

_COUNTS = ("completions", "requests", "sent", "copies", "prompt_tokens", "completion_tokens", "copy_prompt_tokens",
           "copy_completion_tokens")
TEMPLATE_ALLOWANCE = 64  # tokens a chat template may add around a prompt, in a bound made before any is seen


def priced(price: Any) -> bool:
    """Whether ``price`` (``runner.price``) gives both prices."""
    return price is not None and price.input_per_mtok is not None and price.output_per_mtok is not None


def cost(prompt_tokens: float, completion_tokens: float, price: Any) -> float:
    """Dollars for that many tokens at ``price`` (dollars per million tokens each way).

    >>> from types import SimpleNamespace
    >>> cost(1_000_000, 500_000, SimpleNamespace(input_per_mtok=0.2, output_per_mtok=0.6))
    0.5
    """
    return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1e6


def request_bound(prompt_tokens: int | None, text: str, max_tokens: int, price: Any, least_seen: int | None = None) -> float:
    """The most one request can cost before it is sent: ``max_tokens`` completion tokens, and its
    prompt's tokens as seen before (``prompt_tokens``), else the UTF-8 bytes of the text it sends
    (a byte-level tokenizer never makes more tokens than bytes) plus what the chat template may
    add: at most ``least_seen``, the fewest prompt tokens any prompt of the target was seen to
    take (the template's part of it), else :data:`TEMPLATE_ALLOWANCE`.

    >>> from types import SimpleNamespace
    >>> price = SimpleNamespace(input_per_mtok=1e6, output_per_mtok=0.0)  # a dollar a prompt token
    >>> request_bound(None, "Hi?", 8, price), request_bound(None, "Hi?", 8, price, least_seen=9), request_bound(12, "Hi?", 8, price)
    (67.0, 12.0, 12.0)
    """
    allowance = least_seen if least_seen is not None else TEMPLATE_ALLOWANCE
    prompt = prompt_tokens if prompt_tokens is not None else len(text.encode("utf-8")) + allowance
    return cost(prompt, max_tokens, price)


def _tokens(row: Mapping, name: str) -> int:
    value = row.get(name)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else 0


def usage(rows: Iterable[Mapping], grid: list[tuple[str, str]], labels: Mapping[str, str], price: Any,
          searched: bool = False) -> dict:  # fmt: skip
    """``summary.json``'s ``usage`` for a run's records. ``grid``: (cell id, prompt id) of every
    request of the full grid; ``labels``: cell id -> its setting in words, in grid order;
    ``price``: ``runner.price`` (costs are null without both prices); ``searched``: an adaptive
    search ran, so the grid's requests not made were saved by it."""
    rows = list(rows)
    has_price = priced(price)
    cells = {cell: _empty(cell, label) for cell, label in labels.items()}
    made: dict[str, list[int]] = defaultdict(list)  # cell -> completion tokens of its requests
    prompt_seen: dict[str, list[int]] = defaultdict(list)  # prompt -> its prompt tokens, as reported
    done = set()
    for row in rows:
        cell = cells.setdefault(row["cell_id"], _empty(row["cell_id"], row["cell_id"]))
        done.add((row["cell_id"], row["prompt_id"], row["sample_index"]))
        cell["completions"] += 1
        prompt, completion = _tokens(row, "prompt_tokens"), _tokens(row, "completion_tokens")
        if row.get("copy_of") is not None:
            cell["copies"] += 1
            cell["copy_prompt_tokens"] += prompt
            cell["copy_completion_tokens"] += completion
            continue
        cell["requests"] += 1
        cell["sent"] += 0 if row.get("cached") else 1
        cell["prompt_tokens"] += prompt
        cell["completion_tokens"] += completion
        if row.get("completion_tokens") is not None:
            made[row["cell_id"]].append(completion)
            prompt_seen[row["prompt_id"]].append(prompt)
    for cell in cells.values():
        cell["cost"] = _round(cost(cell["prompt_tokens"], cell["completion_tokens"], price)) if has_price else None
        cell["saved_by_copies"] = _round(cost(cell["copy_prompt_tokens"], cell["copy_completion_tokens"], price)) if has_price else None
    total: dict[str, Any] = {name: sum(c[name] for c in cells.values()) for name in _COUNTS}
    total["cost"] = _round(sum(c["cost"] for c in cells.values())) if has_price else None
    total["saved_by_copies"] = _round(sum(c["saved_by_copies"] for c in cells.values())) if has_price else None
    total["full_grid_cost"] = total["saved_by_search"] = None
    if has_price and searched:
        saved = _unmade_cost(grid, done, made, prompt_seen, price)
        total["saved_by_search"] = _round(saved)
        total["full_grid_cost"] = _round(total["cost"] + total["saved_by_copies"] + saved)
    price_view = {"input_per_mtok": price.input_per_mtok, "output_per_mtok": price.output_per_mtok} if has_price else None
    return {"price": price_view, "cells": list(cells.values()), "total": total}


def setting_label(name: str, params: Mapping, swept: Iterable[str]) -> str:
    """A cell's setting in words: its preset name, then the swept parameters' values.

    >>> setting_label("greedy", {"temperature": 0.0, "top_p": 1.0}, ["temperature"])
    'greedy: temperature=0.0'
    """
    values = ", ".join(f"{param}={params[param]}" for param in swept)
    return f"{name}: {values}" if name and values else name or values or "the one setting"


def _empty(cell: str, label: str) -> dict:
    return {"cell_id": cell, "setting": label, **dict.fromkeys(_COUNTS, 0)}


def _unmade_cost(grid: list[tuple[str, str]], done: set, made: dict, prompt_seen: dict, price: Any) -> float:
    """The estimated cost of the grid's requests no record answers (see the module's docstring)."""
    everything = [t for tokens in made.values() for t in tokens]
    every_prompt = [t for tokens in prompt_seen.values() for t in tokens]
    overall = (sum(everything) / len(everything)) if everything else 0.0
    overall_prompt = (sum(every_prompt) / len(every_prompt)) if every_prompt else 0.0
    samples: dict[tuple[str, str], int] = defaultdict(int)
    for cell, prompt in grid:
        samples[(cell, prompt)] += 1
    completion_mean = {cell: sum(tokens) / len(tokens) for cell, tokens in made.items() if tokens}  # once per cell, not per request
    prompt_mean = {prompt: sum(tokens) / len(tokens) for prompt, tokens in prompt_seen.items() if tokens}
    saved = 0.0
    for (cell, prompt), count in samples.items():
        missing = sum(1 for index in range(count) if (cell, prompt, index) not in done)
        if not missing:
            continue
        saved += missing * cost(prompt_mean.get(prompt, overall_prompt), completion_mean.get(cell, overall), price)
    return saved


def _round(value: float) -> float:
    return round(value, 6)


def _dollars(value: float) -> str:
    """``$0.0123``: four significant figures below a dollar, cents above.

    >>> _dollars(0.000123456), _dollars(12.3456)
    ('$0.0001235', '$12.35')
    """
    return f"${value:.2f}" if abs(value) >= 1 else f"${value:.4g}"


def lines(view: dict | None, per_cell: bool, max_cells: int = 40) -> list[str]:
    """What ``hfsweep run`` prints of a run's ``usage``: requests and tokens per cell (with
    ``per_cell``) and in total, then the cost and what the search and the copies saved."""
    if not view:
        return []
    out = []
    priced_view = view.get("price") is not None
    if per_cell:
        out.append("requests and tokens per cell:")
        for cell in view["cells"][:max_cells]:
            spent = f", {_dollars(cell['cost'])}" if priced_view else ""
            copies = f" (+{cell['copies']} copies)" if cell["copies"] else ""
            out.append(f"  {cell['setting'] or cell['cell_id']}: {cell['requests']} requests{copies}, "
                       f"{cell['prompt_tokens']} prompt + {cell['completion_tokens']} completion tokens{spent}")  # fmt: skip
        if len(view["cells"]) > max_cells:
            out.append(f"  ... {len(view['cells']) - max_cells} more cells in summary.json (usage)")
    total = view["total"]
    copies = f" (+{total['copies']} copies)" if total["copies"] else ""
    out.append(f"total: {total['requests']} requests{copies}, {total['sent']} sent in this run, "
               f"{total['prompt_tokens']} prompt + {total['completion_tokens']} completion tokens")  # fmt: skip
    if priced_view:
        price = view["price"]
        line = (f"cost: {_dollars(total['cost'])} at ${price['input_per_mtok']:g} / ${price['output_per_mtok']:g} per million "
                f"prompt / completion tokens")  # fmt: skip
        if total.get("saved_by_search") is not None:
            line += (f"; the search saved {_dollars(total['saved_by_search'])} of the full grid's estimated "
                     f"{_dollars(total['full_grid_cost'])}")  # fmt: skip
        if total["copies"]:
            line += f"; copies saved {_dollars(total['saved_by_copies'])}"
        out.append(line)
    return out
