"""Reading and writing transaction files (CSV or Parquet, chosen by extension)."""

from __future__ import annotations

from pathlib import Path

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


def write_transactions(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if _format(path) == "csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path, compression="zstd")


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
    frame = table.to_pandas()
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: missing required columns {missing}")
    return frame
