"""Reading and writing transaction files (CSV or Parquet, chosen by extension)."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.schema import REQUIRED_COLUMNS, STRING_COLUMNS


class DatasetError(ValueError):
    """A transaction file that does not follow the data contract."""


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".csv", ".parquet", ".pq"}:
        return "parquet" if suffix != ".csv" else "csv"
    raise DatasetError(f"{path}: unknown file type {suffix!r}; use .csv or .parquet")


def check_format(path: Path) -> None:
    """DatasetError unless the extension names a format we write."""
    _format(path)


class TransactionWriter:
    """A transaction file written in parts, for histories too big to hold as one frame:

        with TransactionWriter(path, schema) as out:
            out.write(table)  # as often as needed, every table with `schema`

    The parts go to a hidden file beside `path`, renamed to `path` once every part is
    written; on an error it is removed, so `path` is either complete or untouched."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        kind = _format(path)
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer: pacsv.CSVWriter | pq.ParquetWriter = (
            pacsv.CSVWriter(self.partial, schema)
            if kind == "csv"
            else pq.ParquetWriter(self.partial, schema, compression="zstd")
        )

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def __enter__(self) -> TransactionWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._writer.close()
            if exc_type is None:
                os.replace(self.partial, self.path)
        finally:
            self.partial.unlink(missing_ok=True)


def write_transactions(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with TransactionWriter(path, table.schema) as out:
        out.write(table)


def read_transactions(path: Path) -> pd.DataFrame:
    """Load a history file; string columns stay strings, missing values become None/NaN."""
    kind = _format(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if kind == "csv":
        types = {c: pa.string() for c in STRING_COLUMNS}
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
        )
    else:
        table = pq.read_table(path)
    return require_columns(table.to_pandas(), str(path))


def require_columns(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """`frame`, unless it lacks a required column: DatasetError naming `source` and them."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{source}: missing required columns {missing}")
    return frame
