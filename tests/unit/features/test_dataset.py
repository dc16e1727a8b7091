"""Bad history files are refused with an error naming the column; good ones round-trip."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from features.dataset import (
    DatasetError,
    TransactionWriter,
    read_transactions,
    write_transactions,
)
from features.encode import prepare_history
from tests.factories import frame, tx


@pytest.mark.parametrize(
    ("field", "value", "column"),
    [
        ("timestamp", "2026-03-02 12:00:00", "timestamp"),  # no offset
        ("timestamp", "yesterday", "timestamp"),
        ("amount", -5.0, "amount"),
        ("amount", 0.0, "amount"),
        ("amount", float("inf"), "amount"),
        ("amount", 2_000_000.0, "amount"),
        ("channel", "telepathy", "channel"),
        ("currency", "usd", "currency"),
        ("merchant_category", "54", "merchant_category"),
        ("transaction_id", "has space", "transaction_id"),
        ("transaction_id", "x" * 65, "transaction_id"),
        ("latitude", 95.0, "latitude"),
        ("is_fraud", 3, "is_fraud"),
    ],
)
def test_invalid_rows_are_refused_naming_the_column(field: str, value: object, column: str) -> None:
    bad = tx(2, 10, **{field: value})
    if field == "latitude":
        bad["longitude"] = 1.0
    with pytest.raises(DatasetError, match=column):
        prepare_history(frame(tx(1, 0), bad), 7.0)


def test_only_one_of_latitude_and_longitude_is_refused() -> None:
    with pytest.raises(DatasetError, match="latitude"):
        prepare_history(frame(tx(1, 0, latitude=10.0)), 7.0)


def test_missing_required_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    frame(tx(1, 0)).drop(columns=["merchant_id"]).to_csv(path, index=False)
    with pytest.raises(DatasetError, match="merchant_id"):
        read_transactions(path)


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown file type"):
        read_transactions(tmp_path / "h.json")
    with pytest.raises(DatasetError, match="no such file"):
        read_transactions(tmp_path / "nope.csv")


@pytest.mark.parametrize("name", ["h.csv", "h.parquet"])
def test_round_trip_keeps_ids_as_text_and_missing_as_missing(tmp_path: Path, name: str) -> None:
    original = frame(
        tx(1, 0, card_id="0012", device_id=None),
        tx(2, 5, device_id="d1", latitude=1.5, longitude=2.5),
    )
    write_transactions(original, tmp_path / name)
    back = read_transactions(tmp_path / name)
    assert back["card_id"].tolist() == ["0012", "card_a"]
    assert pd.isna(back["device_id"].iloc[0])
    assert back["latitude"].iloc[1] == 1.5


@pytest.mark.parametrize("name", ["h.csv", "h.parquet"])
def test_a_file_written_in_parts_appears_only_once_complete(tmp_path: Path, name: str) -> None:
    parts = [frame(tx(1, 0)), frame(tx(2, 5, device_id="d1"))]
    schema = pa.Table.from_pandas(parts[1], preserve_index=False).schema
    tables = [pa.Table.from_pandas(p, schema=schema, preserve_index=False) for p in parts]
    path = tmp_path / name
    with TransactionWriter(path, tables[0].schema) as out:
        for table in tables:
            out.write(table)
            assert not path.exists()
    assert read_transactions(path)["transaction_id"].tolist() == ["t1", "t2"]
    assert [p.name for p in tmp_path.iterdir()] == [name]

    def fail_half_way() -> None:
        with TransactionWriter(tmp_path / f"failed{path.suffix}", tables[0].schema) as out:
            out.write(tables[0])
            raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError):
        fail_half_way()
    assert [p.name for p in tmp_path.iterdir()] == [name]
    with pytest.raises(DatasetError, match="unknown file type"):
        TransactionWriter(tmp_path / "h.json", tables[0].schema)


@pytest.mark.parametrize("name", ["h.csv", "h.parquet"])
def test_a_refusal_names_the_row_from_1_and_the_value_as_written(tmp_path: Path, name: str) -> None:
    """Row 2 is the file's second transaction (a CSV's third line, after the header); the
    value is shown as a number, not as numpy's repr."""
    path = tmp_path / name
    write_transactions(frame(tx(1, 0), tx(2, 5, amount=-3.5), tx(3, 9, amount=-4.0)), path)
    with pytest.raises(DatasetError) as refused:
        prepare_history(read_transactions(path), 7.0)
    assert str(refused.value) == (
        "column 'amount': 2 row(s) are not in (0, 1e6]; the first is row 2 (counted from 1, "
        "the header not counted): transaction_id='t2', value=-3.5"
    )


def test_an_empty_cell_is_shown_as_empty() -> None:
    with pytest.raises(DatasetError, match=r"value=empty$"):
        prepare_history(frame(tx(1, 0, amount=float("nan"))), 7.0)
