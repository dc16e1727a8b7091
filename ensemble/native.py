"""Compiled tree ensembles: build them with tl2cgen and call them through ctypes.

The generated library exports `predict(union Entry* row, int pred_margin, T* out)`
which *adds* into `out`; we zero it before every call and reuse the buffers, so
one row costs a few microseconds. `union Entry` is `{int missing; T fvalue;}`
where T is float for XGBoost and double for scikit-learn models; `missing == -1`
marks a missing value (for float that bit pattern is a NaN, so it never collides
with a real value).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import platform
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import tl2cgen
import treelite

log = logging.getLogger(__name__)


def platform_tag() -> str:
    return f"{sys.platform}-{platform.machine()}"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compile_library(model: treelite.Model, libpath: Path, threads: int = 2) -> None:
    """Generate C from a treelite model and compile it into a shared library with gcc."""
    libpath.parent.mkdir(parents=True, exist_ok=True)
    # parallel_comp splits the trees over several C files so gcc can use both cores.
    tl2cgen.export_lib(
        model,
        toolchain="gcc",
        libpath=str(libpath),
        params={"parallel_comp": threads},
        nthread=threads,
    )


class CompiledForest:
    """A tl2cgen library called directly through ctypes with reused buffers."""

    def __init__(self, libpath: Path, num_feature: int) -> None:
        self.path = libpath
        self._lib = ctypes.CDLL(str(libpath))
        self._lib.get_num_feature.restype = ctypes.c_int32
        self._lib.get_threshold_type.restype = ctypes.c_char_p
        if self._lib.get_num_feature() != num_feature:
            raise ValueError(
                f"{libpath}: compiled for {self._lib.get_num_feature()} features, expected {num_feature}"
            )
        self.double = self._lib.get_threshold_type() == b"float64"
        value = np.float64 if self.double else np.float32
        self._row = np.zeros(num_feature, dtype=value)
        self._row_bits = self._row.view(np.int64 if self.double else np.int32)
        self._out = np.zeros(1, dtype=value)
        self._predict = self._lib.predict
        self._predict.restype = None
        self._row_ptr = self._row.ctypes.data_as(ctypes.c_void_p)
        self._out_ptr = self._out.ctypes.data_as(ctypes.c_void_p)
        # With double entries only the low 32 bits are read as `missing`.
        self._missing = np.int64(0xFFFFFFFF) if self.double else np.int32(-1)
        self._batch: tl2cgen.Predictor | None = None

    def predict_row(self, row: np.ndarray) -> float:
        """Score one float32 feature row (NaN = missing)."""
        self._row[:] = row
        nan = np.isnan(row)
        if nan.any():
            self._row_bits[nan] = self._missing
        self._out[0] = 0.0
        self._predict(self._row_ptr, 0, self._out_ptr)
        return float(self._out[0])

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Many rows: tl2cgen's multi-threaded predictor over the same library."""
        if len(rows) < 256:
            return np.fromiter(
                (self.predict_row(r) for r in rows), dtype=np.float64, count=len(rows)
            )
        if self._batch is None:
            self._batch = tl2cgen.Predictor(str(self.path), nthread=2)
        dtype = "float64" if self.double else "float32"
        data = tl2cgen.DMatrix(np.ascontiguousarray(rows, dtype=dtype), dtype=dtype, missing=np.nan)
        return np.asarray(self._batch.predict(data), dtype=np.float64).reshape(len(rows))


class GtilForest:
    """Fallback when no compiled library can be loaded: treelite's interpreter (slower)."""

    def __init__(self, model: treelite.Model) -> None:
        self.model = model

    def predict(self, rows: np.ndarray) -> np.ndarray:
        data = rows.astype(np.float64 if self._double else np.float32)
        return np.asarray(
            treelite.gtil.predict(self.model, data, nthread=1), dtype=np.float64
        ).reshape(len(rows))

    @property
    def _double(self) -> bool:
        return bool(self.model.input_type == "float64")

    def predict_row(self, row: np.ndarray) -> float:
        return float(self.predict(row[None, :])[0])


Forest = CompiledForest | GtilForest


def load_forest(
    libpath: Path,
    checkpoint: Path,
    num_feature: int,
    expected_sha256: str | None,
    expected_platform: str | None,
) -> Forest:
    """Load a compiled library; recompile it from the treelite checkpoint if it is
    missing, altered or built for another platform; fall back to GTIL if that fails."""
    usable = (
        libpath.exists()
        and expected_platform == platform_tag()
        and (expected_sha256 is None or file_sha256(libpath) == expected_sha256)
    )
    if usable:
        try:
            return CompiledForest(libpath, num_feature)
        except (OSError, ValueError) as exc:
            log.warning("cannot load %s (%s); recompiling", libpath, exc)
    model = treelite.Model.deserialize(str(checkpoint))
    if shutil.which("gcc"):
        target = _writable_target(libpath)
        try:
            compile_library(model, target)
            warnings.warn(
                f"{libpath.name} was missing or built elsewhere; recompiled it to {target}",
                stacklevel=2,
            )
            return CompiledForest(target, num_feature)
        except Exception as exc:  # tl2cgen raises plain errors from its compiler driver
            log.warning("recompiling %s failed: %s", libpath, exc)
    warnings.warn(
        f"{libpath.name}: no usable compiled library; scoring with treelite.gtil (slower)",
        stacklevel=2,
    )
    return GtilForest(model)


def _writable_target(libpath: Path) -> Path:
    try:
        probe = libpath.parent / ".write-test"
        probe.touch()
        probe.unlink()
        return libpath.with_name(libpath.stem + f".{platform_tag()}.so")
    except OSError:
        return Path(tempfile.mkdtemp(prefix="fraud-model-")) / libpath.name


def describe(model: Any) -> dict[str, Any]:
    return {"num_tree": int(model.num_tree), "num_feature": int(model.num_feature)}
