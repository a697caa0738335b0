"""Reading a run's completions in chunks of whole groups, and writing tables chunk by chunk.

Scoring needs every completion of a group (one prompt in one cell) at once, and nothing
else: a run whose groups are contiguous in ``completions.parquet`` (the runner writes them in
grid order) is read in record batches of about ``chunk_rows`` rows, the rows of the last,
possibly unfinished group carried into the next chunk. A file whose groups are interleaved is
read whole (correct, but memory grows with the run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hfsweep.core import records


def open_parquet(path: Path) -> pq.ParquetFile:
    """The file, read without pre-buffering whole column chunks (a run may be one row group)."""
    return pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Dense integer codes of a column's values; -1 for null."""
    encoded = column.combine_chunks().dictionary_encode()
    return pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def groups_contiguous(file: pq.ParquetFile, by: Sequence[str]) -> bool:
    """Whether the non-error rows of each group (same values of ``by``) are consecutive.

    Reads only the ``by`` and ``error`` columns. False without any ``by`` column (then the
    whole file is one group).
    """
    names = file.schema_arrow.names
    by = [c for c in by if c in names]
    if not by:
        return False
    table = file.read(columns=[*by, *(["error"] if "error" in names else [])])
    key = np.zeros(table.num_rows, dtype=np.int64)
    for column in by:
        codes = _codes(table.column(column))
        key = key * (int(codes.max(initial=-1)) + 2) + codes + 1
    if "error" in names:
        key = key[~np.asarray(records.error_mask(table.select(["error"]).to_pandas()))]
    if len(key) == 0:
        return True
    runs = 1 + int(np.count_nonzero(key[1:] != key[:-1]))
    return runs == len(np.unique(key))


def whole_groups(file: pq.ParquetFile, columns: Sequence[str], by: Sequence[str],
                 chunk_rows: int, counts: dict[str, int]) -> Iterator[pd.DataFrame]:
    """The file's non-error rows in frames of whole groups (one frame if groups interleave).

    Adds the rows read to ``counts["completions"]`` and the error rows left out to
    ``counts["errors"]``. Yields at least one frame (maybe empty).
    """
    by = [c for c in by if c in columns]
    if groups_contiguous(file, by):
        batches: Any = file.iter_batches(batch_size=chunk_rows, columns=list(columns))
    else:
        batches = [file.read(columns=list(columns))]
    carry: pd.DataFrame | None = None
    yielded = False
    for batch in batches:
        frame = batch.to_pandas()
        counts["completions"] += len(frame)
        errors = np.asarray(records.error_mask(frame), dtype=bool)
        counts["errors"] += int(errors.sum())
        frame = frame.loc[~errors]
        if carry is not None and len(carry):
            frame = pd.concat([carry, frame], ignore_index=True)
        if not len(frame):
            carry = frame
            continue
        codes = frame.groupby(by, sort=False, dropna=False).ngroup().to_numpy()
        last = codes == codes[-1]  # the last group's rows: a suffix, groups being contiguous
        carry = frame.loc[last]
        if (~last).any():
            yielded = True
            yield frame.loc[~last]
    if carry is not None and (len(carry) or not yielded):
        yield carry
    elif not yielded:
        yield pd.DataFrame(columns=list(columns))


class TableWriter:
    """Write DataFrames with one schema to one parquet file, atomically (tmp, then rename).

    The schema is the first non-empty frame's; a column that is all null there takes the
    type it has in ``source`` (the completions' schema).
    """

    def __init__(self, path: Path, source: pa.Schema) -> None:
        self.path, self.source = path, source
        self.tmp = path.with_name(path.name + ".tmp")
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.empty: pd.DataFrame | None = None

    def write(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            self.empty = frame if self.empty is None else self.empty
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            fields = [pa.field(f.name, self.source.field(f.name).type)
                      if pa.types.is_null(f.type) and f.name in self.source.names else f
                      for f in table.schema]
            self.schema = pa.schema(fields, metadata=table.schema.metadata)
            self.writer = pq.ParquetWriter(self.tmp, self.schema)
        self.writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        """Finish the file and move it into place (an empty table if nothing was written)."""
        if self.writer is None:
            (self.empty if self.empty is not None else pd.DataFrame()).to_parquet(
                self.tmp, index=False)
        else:
            self.writer.close()
        os.replace(self.tmp, self.path)
