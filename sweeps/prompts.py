"""Prompt sets: the default set from config, or a user's JSONL, CSV or text file."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from sweeps.config import Prompts
from sweeps.errors import ConfigError

TEXT_KEYS = ("prompt", "text")


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str


def load_prompts(spec: Prompts) -> list[Prompt]:
    """Load, check and limit the prompts a run uses.

    Ids come from the file's ``id`` field when present, else ``p001``, ``p002``, ...
    """
    if spec.file:
        rows = _read_file(Path(spec.file).expanduser())
        source = f"prompts.file = {spec.file!r}"
    else:
        rows = [(item.get("id"), item.get("text")) for item in spec.items]
        source = "prompts.items"
    prompts = []
    for index, (prompt_id, text) in enumerate(rows, start=1):
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{source}: prompt {index} is empty or not text: accepted a non-empty string")
        prompts.append(Prompt(str(prompt_id) if prompt_id not in (None, "") else f"p{index:03d}", text))
    if not prompts:
        raise ConfigError(f"{source} holds no prompts: accepted a .jsonl, .csv or .txt file with at least one prompt")
    ids = [p.id for p in prompts]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"{source}: prompt id {duplicate!r} appears twice: accepted unique ids")
    return prompts[: spec.limit] if spec.limit else prompts


def _read_file(path: Path) -> list[tuple[str | None, str | None]]:
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
        reader = csv.DictReader(content.splitlines())
        column = next((c for c in TEXT_KEYS if c in (reader.fieldnames or [])), None)
        if column is None:
            raise ConfigError(f"{key} has no 'prompt' or 'text' column: found {reader.fieldnames}")
        return [(row.get("id"), row[column]) for row in reader]
    if suffix in (".txt", ".text", ""):
        return [(None, line) for line in content.splitlines() if line.strip()]
    raise ConfigError(f"{key} has an unknown type {suffix!r}: accepted .jsonl, .csv or .txt")


def _jsonl_row(key: str, number: int, line: str) -> tuple[str | None, str | None]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{key} line {number} is not valid JSON ({error.msg}): accepted one object per line") from None
    if isinstance(row, str):
        return None, row
    if not isinstance(row, dict):
        raise ConfigError(f"{key} line {number} is not accepted: an object with a 'prompt' or 'text' field")
    text = next((row[k] for k in TEXT_KEYS if k in row), None)
    if text is None:
        raise ConfigError(f"{key} line {number} has no 'prompt' or 'text' field: found {sorted(row)}")
    return row.get("id"), text
