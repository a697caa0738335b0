"""Prompt sets: the default set from config, or a user's JSONL, CSV, Parquet or text file,
local or on the Hub (``hf://datasets/OWNER/NAME/PATH``, :mod:`hfsweep.sweeps.hub_files`).

A prompt may carry checks (``evaluators.checks``): in a JSONL object or a config item, a
``checks`` list of ``{"type": ..., "value": ...}`` and/or ``expected: X`` (= contains X); in a
CSV, a ``checks`` column holding that list as JSON and/or an ``expected`` column; in Parquet,
either. ``prompts.column``, ``prompts.id_column`` and ``prompts.checks_column`` name the fields
of a file that hold the text, the id and the checks when they are called something else. A .txt
file has one prompt per line and no checks. A malformed check stops the run before any request,
naming the file, the line (or row, or item) and the check.

Loading takes time linear in the file: ``prompts.limit`` keeps the first N prompts, and the rows
after them are not parsed or checked. A UTF-8 byte order mark (as spreadsheets write) is dropped.
"""

from __future__ import annotations

import csv
import difflib
import functools
import itertools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from hfsweep.core import records, secrets
from hfsweep.core.errors import ConfigError
from hfsweep.evaluators.checks import parse_checks, problems
from hfsweep.sweeps.config import Prompts
from hfsweep.sweeps.hub_files import fetch, is_hub_path

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
class Columns:
    """The fields of a file's rows that hold the text, the id and the checks (``prompts.column``,
    ``prompts.id_column``, ``prompts.checks_column``); None = the usual names, when present."""

    text: str | None = None
    id: str | None = None
    checks: str | None = None

    def named(self) -> dict[str, str]:
        """The config key of each field the user named, by the field's name."""
        keys = {self.text: "prompts.column", self.id: "prompts.id_column", self.checks: "prompts.checks_column"}
        return {name: key for name, key in keys.items() if name is not None}

    def check(self, where: str, fields: Any, only_text: bool = False) -> None:
        """Every named field (``only_text``: the text's) is among ``fields`` (a file's header, a row's keys)."""
        for name, key in self.named().items():
            if name not in fields and (key == "prompts.column" or not only_text):
                raise ConfigError(f"{key} = {name!r} is not a field of {where}: found {sorted(map(str, fields))}")

    def row(self, where: str, row: Mapping, checks_as_text: bool = True) -> _Row:
        """A file's row (a JSON object, a CSV or Parquet row) as a prompt read; ``checks_as_text``:
        a string of checks is their list as JSON (a CSV cell, a Parquet string), not a malformed list."""
        text = self.text or next((k for k in TEXT_KEYS if k in row), None)
        if text is None:
            raise ConfigError(f"{where} has no 'prompt' or 'text' field: found {sorted(map(str, row))} "
                              "(prompts.column=NAME names another)")  # fmt: skip
        _misspelt(where, row, skip=self.named())
        checks = row.get(self.checks or "checks")
        checks = _json_checks(where, checks) if checks_as_text else checks
        expected = row.get("expected")
        return _Row(row.get(self.id or "id"), row[text], checks, None if expected in ("", None) else expected, where)


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

    Ids come from the file's ``id`` field (``prompts.id_column``) when present, else ``p001``, ``p002``, ...
    """
    if spec.file:
        source = f"prompts.file = {spec.file!r}"
        path = fetch(spec.file, "prompts.file") if is_hub_path(spec.file) else Path(spec.file).expanduser()
        rows = _read_file(path, source, Columns(spec.column, spec.id_column, spec.checks_column), spec.limit)
    else:
        rows = [_item(index, item) for index, item in enumerate(spec.items[: spec.limit])]
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
        raise ConfigError(f"{source} holds no prompts: accepted a .jsonl, .csv, .parquet or .txt file with at least one prompt")
    seen: set[str] = set()
    for prompt in prompts:
        if prompt.id in seen:
            raise ConfigError(f"{source}: prompt id {prompt.id!r} appears twice: accepted unique ids")
        seen.add(prompt.id)
    return prompts


def write_prompts_file(prompts: list[Prompt], run_dir: str | os.PathLike[str]) -> Path:
    """Write a run's prompts with their checks to ``RUN_DIR/prompts.jsonl`` (atomically).

    One JSON object per line, ``{"id": ..., "text": ..., "checks": [...]}``, which scoring
    reads to compute ``check_pass`` and ``pass_rate``.
    """
    path = Path(run_dir) / records.PROMPTS
    tmp = path.with_name(path.name + ".tmp")
    lines = (json.dumps(secrets.redact({"id": p.id, "text": p.text, "checks": [c.as_dict() for c in p.checks]}),
                        ensure_ascii=False) for p in prompts)  # a secret interpolated into prompts.items too
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _misspelt(where: str, keys: Any, skip: Any = ()) -> None:
    """A field that is almost ``checks`` or ``expected`` is a typo, not metadata to ignore
    (fields named by ``prompts.*_column``, in ``skip``, are meant)."""
    for key in keys:
        if key in CHECK_KEYS or key in skip:
            continue
        close = _close_check_key(str(key))
        if close:
            raise ConfigError(f"{where}: unknown field {key!r}. Did you mean: {close}?")


@functools.lru_cache(maxsize=1024)
def _close_check_key(key: str) -> str | None:
    """The check field ``key`` is almost (once per distinct key: every row of a file has the same)."""
    close = difflib.get_close_matches(key, CHECK_KEYS, n=1, cutoff=0.75)
    return close[0] if close else None


def _json_checks(where: str, checks: Any) -> Any:
    """A row's checks: the list itself, or the list as JSON text (a CSV cell, a Parquet string); None for none."""
    if not isinstance(checks, str):
        return checks
    if not checks.strip():
        return None
    try:
        return json.loads(checks)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{where}: the checks cell is not valid JSON ({error.msg}): accepted a JSON "
            'list like [{"type": "contains", "value": "Paris"}]') from None


def _item(index: int, item: Any) -> _Row:
    where = f"prompts.items[{index}]"
    if not isinstance(item, Mapping):
        return _Row(None, item, None, None, where)
    if item.get("id") is not None:
        where += f" (id {item['id']!r})"
    _misspelt(where, item)
    return _Row(item.get("id"), item.get("text"), item.get("checks"), item.get("expected"), where)


ACCEPTED_FILES = "a path to a .jsonl, .csv, .parquet or .txt file, or hf://datasets/OWNER/NAME/PATH"


def _read_file(path: Path, key: str, columns: Columns, limit: int | None) -> list[_Row]:
    """The first ``limit`` rows of the file (every row for None)."""
    if path.is_dir():
        raise ConfigError(f"{key} is a directory: accepted {ACCEPTED_FILES}")
    if not path.is_file():
        raise ConfigError(f"{key} does not exist: accepted {ACCEPTED_FILES}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet_rows(path, key, columns, limit)
    try:
        content = path.read_text(encoding="utf-8-sig")  # -sig: a byte order mark is not part of the first field
    except UnicodeDecodeError as error:
        raise ConfigError(f"{key} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise ConfigError(f"{key} cannot be read ({error.strerror or error}): accepted a readable file") from None
    if suffix == ".jsonl":
        return _jsonl_rows(key, content, columns, limit)
    if suffix == ".csv":
        return _csv_rows(key, content, columns, limit)
    if suffix in (".txt", ".text", ""):
        lines = (line for line in content.splitlines() if line.strip())
        return [_Row(None, line, None, None, key) for line in itertools.islice(lines, limit)]
    raise ConfigError(f"{key} has an unknown type {suffix!r}: accepted .jsonl, .csv, .parquet or .txt")


def _jsonl_rows(key: str, content: str, columns: Columns, limit: int | None) -> list[_Row]:
    lines = ((number, line) for number, line in enumerate(content.splitlines(), 1) if line.strip())
    rows, seen = [], set()
    for number, line in itertools.islice(lines, limit):
        row, fields = _jsonl_row(key, number, line, columns)
        rows.append(row)
        seen.update(fields)
    columns.check(key, seen)  # an id or checks field may be absent from a line, not from every line
    return rows


def _csv_rows(key: str, content: str, columns: Columns, limit: int | None) -> list[_Row]:
    reader = csv.DictReader(content.splitlines())
    fields = reader.fieldnames or []
    columns.check(key, fields)
    if columns.text is None and not any(c in fields for c in TEXT_KEYS):
        raise ConfigError(f"{key} has no 'prompt' or 'text' column: found {reader.fieldnames} (prompts.column=NAME names another)")
    _misspelt(f"{key} header", fields, skip=columns.named())
    return [columns.row(f"{key} row {number} (line {reader.line_num})", row)
            for number, row in enumerate(itertools.islice(reader, limit), start=1)]  # fmt: skip


def _parquet_rows(path: Path, key: str, columns: Columns, limit: int | None) -> list[_Row]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise ConfigError(f"{key} is not a readable Parquet file ({str(error).splitlines()[0]})") from None
    fields = table.column_names
    columns.check(key, fields)
    if columns.text is None and not any(c in fields for c in TEXT_KEYS):
        raise ConfigError(f"{key} has no 'prompt' or 'text' column: found {fields} (prompts.column=NAME names another)")
    _misspelt(f"{key} columns", fields, skip=columns.named())
    kept = table.slice(0, limit) if limit else table
    return [columns.row(f"{key} row {number}", row) for number, row in enumerate(kept.to_pylist(), start=1)]


def _jsonl_row(key: str, number: int, line: str, columns: Columns) -> tuple[_Row, Any]:
    """One line as a prompt read, and the fields it has."""
    where = f"{key} line {number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{where} is not valid JSON ({error.msg}): accepted one object per line") from None
    if isinstance(row, str):
        return _Row(None, row, None, None, where), ()
    if not isinstance(row, dict):
        raise ConfigError(f"{where} is not accepted: an object with a 'prompt' or 'text' field")
    columns.check(where, row, only_text=True)
    return columns.row(where, row, checks_as_text=False), row.keys()
