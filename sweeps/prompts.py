"""Prompt sets: the default set from config, or a user's JSONL, CSV or text file.

A prompt may carry checks (``evaluators.checks``): in a JSONL object or a config item, a
``checks`` list of ``{"type": ..., "value": ...}`` and/or ``expected: X`` (= contains X); in a
CSV, a ``checks`` column holding that list as JSON and/or an ``expected`` column. A .txt file
has one prompt per line and no checks. A malformed check stops the run before any request,
naming the file, the line (or row, or item) and the check.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hfsweep.core import records
from hfsweep.core.errors import ConfigError
from hfsweep.evaluators.checks import parse_checks, problems
from hfsweep.sweeps.config import Prompts

if TYPE_CHECKING:
    from hfsweep.evaluators.checks import Check

TEXT_KEYS = ("prompt", "text")
#: The fields of a prompt that carry its checks.
CHECK_KEYS = ("checks", "expected")


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True)
class _Row:
    """One prompt as read, before validation; ``where`` names it in error messages."""
    id: Any
    text: Any
    checks: Any
    expected: Any
    where: str


def load_prompts(spec: Prompts) -> list[Prompt]:
    """Load, check and limit the prompts a run uses.

    Ids come from the file's ``id`` field when present, else ``p001``, ``p002``, ...
    """
    if spec.file:
        rows = _read_file(Path(spec.file).expanduser())
        source = f"prompts.file = {spec.file!r}"
    else:
        rows = [_item(index, item) for index, item in enumerate(spec.items)]
        source = "prompts.items"
    prompts = []
    for index, row in enumerate(rows, start=1):
        if not isinstance(row.text, str) or not row.text.strip():
            raise ConfigError(f"{source}: prompt {index} is empty or not text: accepted a non-empty string")
        checks: tuple = ()
        if row.checks is not None or row.expected is not None:  # evaluators (and numpy) only for prompts with checks

            found = problems(row.checks, row.expected)
            if found:
                raise ConfigError(f"{row.where}: {found[0]}")
            checks = parse_checks(row.checks, row.expected)
        prompt_id = str(row.id) if row.id not in (None, "") else f"p{index:03d}"
        prompts.append(Prompt(prompt_id, row.text, checks))
    if not prompts:
        raise ConfigError(f"{source} holds no prompts: accepted a .jsonl, .csv or .txt file with at least one prompt")
    ids = [p.id for p in prompts]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"{source}: prompt id {duplicate!r} appears twice: accepted unique ids")
    return prompts[: spec.limit] if spec.limit else prompts


def write_prompts_file(prompts: list[Prompt], run_dir: str | os.PathLike[str]) -> Path:
    """Write a run's prompts with their checks to ``RUN_DIR/prompts.jsonl`` (atomically).

    One JSON object per line, ``{"id": ..., "text": ..., "checks": [...]}``, which scoring
    reads to compute ``check_pass`` and ``pass_rate``.
    """
    path = Path(run_dir) / records.PROMPTS
    tmp = path.with_name(path.name + ".tmp")
    lines = (json.dumps({"id": p.id, "text": p.text, "checks": [c.as_dict() for c in p.checks]},
                        ensure_ascii=False) for p in prompts)
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _misspelt(where: str, keys: Any) -> None:
    """A field that is almost ``checks`` or ``expected`` is a typo, not metadata to ignore."""
    for key in keys:
        if key in CHECK_KEYS:
            continue
        close = difflib.get_close_matches(str(key), CHECK_KEYS, n=1, cutoff=0.75)
        if close:
            raise ConfigError(f"{where}: unknown field {key!r}. Did you mean: {close[0]}?")


def _item(index: int, item: Any) -> _Row:
    where = f"prompts.items[{index}]"
    if not isinstance(item, Mapping):
        return _Row(None, item, None, None, where)
    if item.get("id") is not None:
        where += f" (id {item['id']!r})"
    _misspelt(where, item)
    return _Row(item.get("id"), item.get("text"), item.get("checks"), item.get("expected"), where)


def _read_file(path: Path) -> list[_Row]:
    key = f"prompts.file = {str(path)!r}"
    if not path.is_file():
        raise ConfigError(f"{key} does not exist: accepted a path to a .jsonl, .csv or .txt file")
    suffix = path.suffix.lower()
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{key} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    if suffix == ".jsonl":
        return [_jsonl_row(key, number, line) for number, line in enumerate(content.splitlines(), 1) if line.strip()]
    if suffix == ".csv":
        return _csv_rows(key, content)
    if suffix in (".txt", ".text", ""):
        return [_Row(None, line, None, None, key) for line in content.splitlines() if line.strip()]
    raise ConfigError(f"{key} has an unknown type {suffix!r}: accepted .jsonl, .csv or .txt")


def _csv_rows(key: str, content: str) -> list[_Row]:
    reader = csv.DictReader(content.splitlines())
    fields = reader.fieldnames or []
    column = next((c for c in TEXT_KEYS if c in fields), None)
    if column is None:
        raise ConfigError(f"{key} has no 'prompt' or 'text' column: found {reader.fieldnames}")
    _misspelt(f"{key} header", fields)
    rows = []
    for number, row in enumerate(reader, start=1):
        where = f"{key} row {number} (line {reader.line_num})"
        checks = (row.get("checks") or "").strip() or None
        if checks is not None:
            try:
                checks = json.loads(checks)
            except json.JSONDecodeError as error:
                raise ConfigError(
                    f"{where}: the checks cell is not valid JSON ({error.msg}): accepted a JSON "
                    'list like [{"type": "contains", "value": "Paris"}]') from None
        expected = row.get("expected") or None
        rows.append(_Row(row.get("id"), row[column], checks, expected, where))
    return rows


def _jsonl_row(key: str, number: int, line: str) -> _Row:
    where = f"{key} line {number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{where} is not valid JSON ({error.msg}): accepted one object per line") from None
    if isinstance(row, str):
        return _Row(None, row, None, None, where)
    if not isinstance(row, dict):
        raise ConfigError(f"{where} is not accepted: an object with a 'prompt' or 'text' field")
    text = next((row[k] for k in TEXT_KEYS if k in row), None)
    if text is None:
        raise ConfigError(f"{where} has no 'prompt' or 'text' field: found {sorted(row)}")
    _misspelt(where, row)
    return _Row(row.get("id"), text, row.get("checks"), row.get("expected"), where)
