"""Durable storage: the content-addressed completion cache and the run directory's records.

The cache is one SQLite file in WAL mode, shared by every run on the machine and safe with
several processes writing at once. Each finished completion is committed to it at once, and
appended to the run's ``completions.jsonl``, so a crash never loses finished work; at the end
the run's records are written as ``completions.parquet`` in grid order.

Every string a record or a cache entry holds is scrubbed of the known secrets
(:mod:`hfsweep.core.secrets`) here, where it goes to disk: a server that echoes the token in its
answer, or a model id interpolated from ``${oc.env:HF_TOKEN}``, leaves ``<redacted>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from hfsweep.core import secrets
from hfsweep.core.errors import StorageError
from hfsweep.core.records import COMPLETIONS, COMPLETIONS_JSONL, FIELDS, CompletionRecord, field_types

# The parts of a record that belong to the completion itself, not to the run that asked for it.
CACHED_FIELDS = ("text", "finish_reason", "prompt_tokens", "completion_tokens", "logprob_sum", "logprob_tokens",
                 "latency_s", "total_s", "retries", "finished_at", "request_params", "repairs")


def cache_root() -> Path:
    """hfsweep's folder of the user's cache (``$XDG_CACHE_HOME/hfsweep``, else ``~/.cache/hfsweep``)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hfsweep"


def default_cache_path() -> Path:
    """The completion cache: ``$HFSWEEP_CACHE_DIR/completions.sqlite``, else in :func:`cache_root`."""
    return Path(os.environ.get("HFSWEEP_CACHE_DIR") or cache_root()) / "completions.sqlite"


def check_writable_dir(path: str | Path, what: str, fix: str) -> None:
    """``path`` is a directory hfsweep can write in, or one it can create: else one
    :class:`StorageError` naming ``what``, the path, the problem and ``fix``. Creates nothing."""
    path = Path(path).expanduser()
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        problem = "is a file" if existing == path else f"is under {existing}, which is a file"
        raise StorageError(f"{what} {path} {problem}, not a directory: {fix}")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" ({existing}, where it would be created)"
        raise StorageError(f"{what} {path} is not writable{where}: {fix}")


def check_cache(path: str | Path) -> None:
    """The cache at ``path`` can be used: an existing one opens, is a cache and can be written;
    a new one can be created. Creates nothing new (:class:`StorageError` otherwise)."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        Cache(path).close()
        return
    check_writable_dir(path.parent, "runner.cache: the directory of the completion cache", CACHE_FIX)
    if path.is_dir():
        raise StorageError(f"runner.cache: {path} is a directory, not a cache file: {CACHE_FIX}")


CACHE_FIX = "make it writable, choose another with runner.cache_path=PATH, or set runner.cache=false"
RUN_DIR_FIX = "choose a writable directory with out_dir=PATH (or --run-dir PATH)"


class Cache:
    """Content-addressed store of finished completions: key -> the completion's fields.

    Opening it checks that it can be written (a write rolled back) and is a cache; any problem
    with the file, then or later, is one :class:`StorageError` naming the path and the fix.
    """
    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise self._error(error) from None
        with self._checked():
            for attempt in range(200):  # switching a new file to WAL does not wait on a second process
                try:                       # opening it at the same moment (SQLite's busy timeout skips it)
                    self.db.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) or attempt == 199:
                        raise
                    time.sleep(0.05)
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, created REAL, value TEXT NOT NULL)")
            self.db.execute("BEGIN")  # a read-only file opens, and refuses the first write: find out now
            try:
                self.db.execute("INSERT OR REPLACE INTO completions VALUES ('hfsweep-write-check', 0, '{}')")
            finally:
                self.db.execute("ROLLBACK")

    def _error(self, error: Exception) -> StorageError:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        corrupt = isinstance(error, ValueError) or (isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError))
        if corrupt:
            return StorageError(f"runner.cache: {self.path} is not a readable completion cache ({reason}): "
                                "delete it or set runner.cache=false")  # fmt: skip
        return StorageError(f"runner.cache: cannot write the completion cache {self.path} ({reason}): {CACHE_FIX}")

    @contextlib.contextmanager
    def _checked(self):
        try:
            yield
        except (OSError, sqlite3.Error, ValueError) as error:
            raise self._error(error) from None

    def get_many(self, keys: Iterable[str]) -> dict[str, dict]:
        keys = list(keys)
        found: dict[str, dict] = {}
        with self._checked():
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in self.db.execute(f"SELECT key, value FROM completions WHERE key IN ({marks})", chunk):
                    found[key] = _entry(value)
        return found

    def put(self, record: CompletionRecord) -> None:
        value = json.dumps(secrets.redact({name: getattr(record, name) for name in CACHED_FIELDS}), ensure_ascii=False)
        with self._checked():
            self.db.execute("INSERT OR REPLACE INTO completions VALUES (?, ?, ?)", (record.cache_key, time.time(), value))

    def close(self) -> None:
        self.db.close()


_REQUIRED = ("text", "finish_reason", "prompt_tokens", "completion_tokens", "latency_s", "retries", "finished_at", "request_params")


def _entry(value: str) -> dict:
    """A cache entry's fields (a ValueError when the entry is not one)."""
    entry = json.loads(value)
    if not isinstance(entry, dict) or not isinstance(entry.get("text"), str) or any(name not in entry for name in _REQUIRED):
        raise ValueError("an entry is not a completion")
    return entry


class RunWriter:
    """Appends each record to ``completions.jsonl`` as it finishes; writes parquet at the end."""
    def __init__(self, run_dir: Path, name: str = COMPLETIONS_JSONL):
        self.run_dir = run_dir
        self.path = run_dir / name
        _drop_torn_tail(self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def append(self, record: CompletionRecord) -> None:
        # Every field is a scalar: a flat dict, without dataclasses.asdict's recursive copy.
        row = secrets.redact({name: getattr(record, name) for name in FIELDS})
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line left unfinished by a crash, so the next record starts on its own line
    (appended to the torn line, it would be unreadable and lost with it)."""
    if not path.exists():
        return
    with path.open("rb+") as handle:
        end = handle.seek(0, os.SEEK_END)
        if end == 0 or (handle.seek(end - 1), handle.read(1))[1] == b"\n":
            return
        position = end
        while position > 0:
            start = max(0, position - 65536)
            handle.seek(start)
            newline = handle.read(position - start).rfind(b"\n")
            if newline >= 0:
                handle.truncate(start + newline + 1)
                return
            position = start
        handle.truncate(0)


def read_jsonl(path: Path) -> list[dict]:
    """Records of a run so far (a torn last line from a crash is skipped)."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


_ARROW_TYPES = {"str": "string", "int": "int64", "float": "float64", "bool": "bool_"}


def write_parquet(rows: list[dict], order: dict[tuple[str, str, int], int], path: Path) -> None:
    """Write records (one per cell, prompt and sample) as parquet in grid order.

    Written with pyarrow alone (no pandas import on the run's critical path); the column types
    come from :class:`CompletionRecord`'s annotations, so an all-null column keeps its type.
    """

    ordered = sorted(rows, key=lambda r: order.get((r["cell_id"], r["prompt_id"], r["sample_index"]), len(order)))
    schema = pa.schema([(name, getattr(pa, _ARROW_TYPES[kind])()) for name, kind in field_types().items()])
    table = pa.Table.from_pylist([secrets.redact({name: row.get(name) for name in FIELDS}) for row in ordered], schema=schema)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")  # a name no other writer uses
    try:
        pq.write_table(table, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def parquet_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as Parquet (missing, empty, truncated, not Parquet), or None."""
    if not path.is_file():
        return "missing"
    try:
        pq.read_metadata(path)
    except (pa.ArrowException, OSError) as error:
        return str(error).splitlines()[0] or type(error).__name__
    return None


def rebuild_parquet(run_dir: Path) -> int:
    """Write ``completions.parquet`` from the run's ``completions.jsonl`` (the latest record of each
    cell, prompt and sample, in the order they finished); return how many rows it holds."""
    rows = {(r["cell_id"], r["prompt_id"], r["sample_index"]): r for r in read_jsonl(run_dir / COMPLETIONS_JSONL)}
    write_parquet(list(rows.values()), {}, run_dir / COMPLETIONS)
    return len(rows)
