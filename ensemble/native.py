"""Compiled tree ensembles: C from tl2cgen (ensemble/codegen.py), built with gcc, called
through ctypes.

tl2cgen generates `predict(union Entry* row, int pred_margin, T* out)`, which
*adds* into `out` and marks a missing value with `row[i].missing == -1`. We
compile it together with a small dense-row entry point (WRAPPER below) so that
Python hands over a float32 row, or many, in one ctypes call: preparing the
Entry array in Python cost more than evaluating 200 trees.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import treelite

from ensemble.attribution import PathTables
from ensemble.codegen import generate_c_code

log = logging.getLogger(__name__)

# Missing values become `missing = -1` (XGBoost's default branch) or, when a fill
# vector is given (the isolation forest), that feature's fill value.
WRAPPER = """
#include <math.h>
#include <stdint.h>
#include "header.h"

void fe_predict_rows(const float* x, int64_t rows, const float* fill, double* out) {{
  union Entry row[{num_feature}];
  {result_type} result[1];
  for (int64_t r = 0; r < rows; ++r) {{
    const float* v = x + r * {num_feature};
    for (int i = 0; i < {num_feature}; ++i) {{
      if (isnan(v[i])) {{
        if (fill) row[i].fvalue = fill[i]; else row[i].missing = -1;
      }} else {{
        row[i].fvalue = v[i];
      }}
    }}
    result[0] = 0;
    predict(row, 0, result);
    out[r] = (double)result[0];
  }}
}}

/* Saabas path attributions (xgboost's approx_contribs) for many rows, from node
   tables flattened over the trees (ensemble/attribution.py builds them from the
   XGBoost model): along each row's path, the split's feature is credited with the
   change of the expected value. out: rows x num_feature, added into. */
void fe_path_contribs(const float* x, int64_t rows, const int32_t* roots, int32_t trees,
                      const int32_t* left, const int32_t* right, const int32_t* feature,
                      const float* threshold, const uint8_t* default_left, const float* mean,
                      float* out) {{
  for (int64_t r = 0; r < rows; ++r) {{
    const float* v = x + r * {num_feature};
    float* o = out + r * {num_feature};
    for (int32_t t = 0; t < trees; ++t) {{
      int32_t n = roots[t];
      while (left[n] >= 0) {{
        const float fv = v[feature[n]];
        const int32_t next = isnan(fv) ? (default_left[n] ? left[n] : right[n])
                                       : (fv < threshold[n] ? left[n] : right[n]);
        o[feature[n]] += mean[next] - mean[n];
        n = next;
      }}
    }}
  }}
}}
"""
# -Os, not tl2cgen's -O3: tree code is branchy and large, and the smaller binary
# stays in the instruction cache. Measured: one row 10-13 us with -Os against
# 21-28 us with -O3 (loadtest/bench_inference.py, docs/performance.md).
CFLAGS = ("-Os", "-fPIC", "-std=c99")


def platform_tag() -> str:
    return f"{sys.platform}-{platform.machine()}"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compile_library(model: treelite.Model, libpath: Path, threads: int = 2) -> None:
    """Generate C for a treelite model with tl2cgen and build a shared library with gcc."""
    libpath.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fraud-tl2cgen-") as tmp:
        src = Path(tmp) / "src"
        checkpoint = Path(tmp) / "model.treelite"
        model.serialize(str(checkpoint))
        # In a child, its output logged (ensemble/codegen.py); parallel_comp splits the
        # trees over several files so both cores compile.
        generate_c_code(checkpoint, src, parallel_comp=max(threads, 1))
        declared = re.search(
            r"void predict\(union Entry\* data, int pred_margin, (\w+)\* result\);",
            (src / "header.h").read_text(),
        )
        if declared is None:
            raise RuntimeError("unexpected tl2cgen header: no predict() declaration")
        (src / "fe_wrapper.c").write_text(
            WRAPPER.format(num_feature=int(model.num_feature), result_type=declared.group(1))
        )
        sources = sorted(src.glob("*.c"))

        def build(source: Path) -> Path:
            obj = source.with_suffix(".o")
            subprocess.run(
                ["gcc", "-c", *CFLAGS, "-o", str(obj), str(source)], check=True, capture_output=True
            )
            return obj

        with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
            objects = list(pool.map(build, sources))
        partial = libpath.with_suffix(".so.partial")
        subprocess.run(
            ["gcc", "-shared", *CFLAGS, "-o", str(partial), *map(str, objects), "-lm"],
            check=True,
            capture_output=True,
        )
        partial.replace(libpath)


def open_library(libpath: Path) -> ctypes.CDLL:
    """The library in the file at `libpath` now. The loader hands back any library it has
    loaded under the same name, even once the file has been replaced: a bundle retrained in
    place, or behind a symlink moved to a new one, would be reloaded with its old trees.
    Loaded through a descriptor kept open for the process's life, each library has a name
    of its own (the loader still maps the same file only once)."""
    if not os.path.isdir("/proc/self/fd"):  # not Linux
        return ctypes.CDLL(str(libpath))
    fd = os.open(libpath, os.O_RDONLY)
    try:
        return ctypes.CDLL(f"/proc/self/fd/{fd}")
    except OSError:
        os.close(fd)
        raise


class CompiledForest:
    """A compiled library called through ctypes with a reused output buffer."""

    def __init__(self, libpath: Path, num_feature: int, fill: np.ndarray | None = None) -> None:
        self.path = libpath
        lib = open_library(libpath)
        missing = [f for f in ("fe_predict_rows", "fe_path_contribs") if not hasattr(lib, f)]
        if missing:
            raise ValueError(f"{libpath}: built without {', '.join(missing)} (an older bundle)")
        lib.get_num_feature.restype = ctypes.c_int32
        if lib.get_num_feature() != num_feature:
            raise ValueError(
                f"{libpath}: compiled for {lib.get_num_feature()} features, expected {num_feature}"
            )
        self._fn = lib.fe_predict_rows
        self._fn.restype = None
        self._fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
        self._contribs = lib.fe_path_contribs
        self._contribs.restype = None
        self._contribs.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int32]
        self._contribs.argtypes += [ctypes.c_void_p] * 7
        self._num_feature = num_feature
        self._lib = lib
        self._fill = None if fill is None else np.ascontiguousarray(fill, dtype=np.float32)
        self._fill_ptr = None if self._fill is None else self._fill.ctypes.data
        self._out = np.zeros(1)
        self._out_ptr = self._out.ctypes.data

    def predict_row(self, row: np.ndarray) -> float:
        """One contiguous float32 row (NaN = missing)."""
        return self.predict_address(row.__array_interface__["data"][0])

    def predict_address(self, address: int) -> float:
        """The row at this address (contiguous float32): lets callers share one lookup."""
        self._fn(address, 1, self._fill_ptr, self._out_ptr)
        return float(self._out[0])

    def predict(self, rows: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        out = np.empty(len(rows))
        if len(rows):
            self._fn(rows.ctypes.data, len(rows), self._fill_ptr, out.ctypes.data)
        return out

    def path_contributions(self, rows: np.ndarray, paths: PathTables) -> np.ndarray:
        """Saabas attributions of `paths` (the trees this library was compiled from) for
        each row: (rows, num_feature) float32, without the bias column."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        out = np.zeros((len(rows), self._num_feature), dtype=np.float32)
        if len(rows):
            self._contribs(
                rows.ctypes.data,
                len(rows),
                paths.roots.ctypes.data,
                len(paths.roots),
                *(a.ctypes.data for a in paths.node_arrays()),
                out.ctypes.data,
            )
        return out


class GtilForest:
    """Fallback when no compiled library can be loaded: treelite's interpreter (slower)."""

    def __init__(self, model: treelite.Model, fill: np.ndarray | None = None) -> None:
        self.model = model
        self._fill = fill

    def predict(self, rows: np.ndarray) -> np.ndarray:
        if self._fill is not None:
            rows = np.where(np.isnan(rows), self._fill, rows)
        data = np.asarray(rows, dtype=np.float32).astype(np.float64 if self._double else np.float32)
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
    fill: np.ndarray | None = None,
) -> Forest:
    """Load a compiled library; recompile it from the treelite checkpoint if it is
    missing, altered or built for another platform; fall back to GTIL if that fails."""
    usable = (
        libpath.exists()
        and expected_platform == platform_tag()
        and (expected_sha256 is None or file_sha256(libpath) == expected_sha256)
    )
    local = _local_build(libpath)
    for candidate in (libpath,) * usable + (local,) * local.exists():
        try:
            return CompiledForest(candidate, num_feature, fill)
        except (OSError, ValueError) as exc:
            log.warning("cannot load %s (%s)", candidate, exc)
    model = treelite.Model.deserialize(str(checkpoint))
    if shutil.which("gcc"):
        target = _writable_target(local)
        try:
            compile_library(model, target)
            warnings.warn(
                f"{libpath.name} was missing, outdated or built elsewhere; recompiled it to {target}",
                stacklevel=2,
            )
            return CompiledForest(target, num_feature, fill)
        except Exception as exc:  # the compiler driver raises plain errors
            log.warning("recompiling %s failed: %s", libpath, exc)
    warnings.warn(
        f"{libpath.name}: no usable compiled library; scoring with treelite.gtil (slower)",
        stacklevel=2,
    )
    return GtilForest(model, fill)


def _local_build(libpath: Path) -> Path:
    """Where a library rebuilt on this machine lives, beside the bundle's own."""
    return libpath.with_name(f"{libpath.stem}.{platform_tag()}.so")


def _writable_target(local: Path) -> Path:
    try:
        probe = local.parent / ".write-test"
        probe.touch()
        probe.unlink()
        return local
    except OSError:
        return Path(tempfile.mkdtemp(prefix="fraud-model-")) / local.name
