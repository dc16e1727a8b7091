//! fraud_kernel: the feature kernel of fraud-engine. One call per batch (online) or per
//! history (the replay) writes every feature column straight into the models' float32
//! matrix. This module only marshals Python values; the features are in `features.rs`,
//! the replay's windows in `replay.rs`. Its typed Python surface: `features/kernel.py`.

mod catalogue;
mod distinct;
mod features;
mod layout;
mod replay;
mod window;

use std::collections::HashMap;

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::catalogue::{
    CATEGORICAL, Columns, DISTINCT_OF, DISTINCT_WINDOWS, ENTITIES, FIRST_USE_OF, HISTORY_MS,
    LABEL_HORIZONS, LABEL_WINDOW_MS, LABELLED, MAX_EVENTS, MAX_LABELS, PROFILE_DAYS, PROFILE_SUMS,
    SMALL_AMOUNT, WINDOWS,
};
use crate::features::{
    Request, Scratch, Subject, entity_features, label_features, profile_features, request_features,
};
use crate::layout::MemberLayout;
use crate::replay::{History, Selection};
use crate::window::Members;

/// One request as `features/kernel.py` packs it, a tuple: ts, offset_minutes, amount,
/// channel, mcc_risk, mcc_cash_like (bool), the six CATEGORICAL codes, latitude and
/// longitude (None: absent).
fn request_of(t: &Bound<'_, PyTuple>) -> PyResult<Request> {
    if t.len() != 14 {
        return Err(PyValueError::new_err(format!(
            "a request is a 14-tuple, not {}",
            t.len()
        )));
    }
    let item = |i: usize| t.get_borrowed_item(i);
    let code = |i: usize| -> PyResult<i64> { item(6 + i)?.extract() };
    let place =
        |i: usize| -> PyResult<f64> { Ok(item(i)?.extract::<Option<f64>>()?.unwrap_or(f64::NAN)) };
    Ok(Request {
        subject: Subject {
            ts: item(0)?.extract()?,
            amount: item(2)?.extract()?,
            codes: [code(0)?, code(1)?, code(2)?, code(3)?, code(4)?, code(5)?],
            latitude: place(12)?,
            longitude: place(13)?,
        },
        offset_minutes: item(1)?.extract()?,
        channel: item(3)?.extract()?,
        mcc_risk: item(4)?.extract()?,
        mcc_cash_like: if item(5)?.extract::<bool>()? {
            1.0
        } else {
            0.0
        },
    })
}

fn contiguous<'a, T: numpy::Element>(
    a: &'a PyReadonlyArray1<'_, T>,
    name: &str,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{name}: not a C-contiguous array")))
}

/// `features/window_format.py`'s profile read: b"day n1 n7 n30 cents squares".
fn parse_profile(text: &[u8], entity: usize) -> PyResult<[i64; PROFILE_SUMS]> {
    let bad = || {
        PyValueError::new_err(format!(
            "{} profile is not {} integers: {:?}",
            CATEGORICAL[entity],
            PROFILE_SUMS + 1,
            String::from_utf8_lossy(text)
        ))
    };
    let mut fields = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    fields.next().ok_or_else(bad)?; // the day the totals are for
    let mut totals = [0i64; PROFILE_SUMS];
    for total in totals.iter_mut() {
        let field = fields.next().ok_or_else(bad)?;
        *total = std::str::from_utf8(field)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
    }
    if fields.next().is_some() {
        return Err(bad());
    }
    Ok(totals)
}

fn matrix(py: Python<'_>, rows: usize, width: usize, values: Vec<f32>) -> Bound<'_, PyArray2<f32>> {
    Array2::from_shape_vec((rows, width), values)
        .expect("rows x width values")
        .into_pyarray(py)
}

/// The kernel for one feature catalogue (FEATURE_NAMES, the model's column order) and
/// one window member layout per entity.
#[pyclass(frozen, module = "fraud_kernel")]
struct FeatureKernel {
    columns: Columns,
    layouts: Vec<MemberLayout>,
}

#[pymethods]
impl FeatureKernel {
    /// `member_layouts`: per entity name, {"size": record bytes, field name: byte offset}.
    #[new]
    fn new(
        feature_names: Vec<String>,
        member_layouts: HashMap<String, HashMap<String, usize>>,
    ) -> PyResult<Self> {
        let columns = Columns::from_names(&feature_names).map_err(PyValueError::new_err)?;
        let layouts = (0..ENTITIES)
            .map(|e| {
                let fields = member_layouts
                    .get(CATEGORICAL[e])
                    .ok_or_else(|| format!("no member layout for {}", CATEGORICAL[e]))?;
                MemberLayout::new(e, fields)
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(PyValueError::new_err)?;
        Ok(FeatureKernel { columns, layouts })
    }

    #[getter]
    fn width(&self) -> usize {
        self.columns.width
    }

    /// Feature rows of requests whose windows were read from the store: per request, its
    /// entities' members (ENTITIES order, latest first, back to back), label known-at times
    /// (LABELLED_ENTITIES order) and profile reads (PROFILED_ENTITIES order; None: absent),
    /// request-major.
    fn online_matrix<'py>(
        &self,
        py: Python<'py>,
        requests: Vec<Bound<'py, PyTuple>>,
        windows: Vec<Bound<'py, PyBytes>>,
        labels: Vec<Vec<f64>>,
        profiles: Vec<Option<Bound<'py, PyBytes>>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let n = requests.len();
        let l = LABELLED.len();
        if windows.len() != n * ENTITIES || labels.len() != n * l || profiles.len() != n * l {
            return Err(PyValueError::new_err(format!(
                "{n} requests need {} windows, {} label lists and {} profiles; got {}, {}, {}",
                n * ENTITIES,
                n * l,
                n * l,
                windows.len(),
                labels.len(),
                profiles.len()
            )));
        }
        let c = &self.columns;
        let mut out = vec![0f32; n * c.width];
        let mut scratch = Scratch::default();
        for (i, (t, o)) in requests
            .iter()
            .zip(out.chunks_exact_mut(c.width))
            .enumerate()
        {
            let request = request_of(t)?;
            request_features(c, &request, o);
            let r = request.subject;
            for e in 0..ENTITIES {
                let layout = &self.layouts[e];
                let members = Members::new(windows[i * ENTITIES + e].as_bytes(), layout)
                    .ok_or_else(|| {
                        PyValueError::new_err(format!(
                            "{} window members are not {}-byte records",
                            CATEGORICAL[e], layout.size
                        ))
                    })?;
                entity_features(c, e, &members, &r, &mut scratch, o);
            }
            for (place, &e) in LABELLED.iter().enumerate() {
                let totals = match &profiles[i * l + place] {
                    Some(text) => parse_profile(text.as_bytes(), e)?,
                    None => [0; PROFILE_SUMS],
                };
                profile_features(c, place, &totals, &r, o);
                scratch.label_times.clear();
                // Scores are integral epoch ms; truncation is numpy's astype(int64).
                scratch
                    .label_times
                    .extend(labels[i * l + place].iter().map(|&s| s as i64));
                let seen = [totals[0], totals[1], totals[2]];
                let times = std::mem::take(&mut scratch.label_times);
                label_features(c, place, &times, &seen, &r, o);
                scratch.label_times = times;
            }
        }
        Ok(matrix(py, n, c.width, out))
    }

    /// Degraded mode: only the features the requests themselves support; the rest missing.
    fn request_matrix<'py>(
        &self,
        py: Python<'py>,
        requests: Vec<Bound<'py, PyTuple>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let c = &self.columns;
        let mut out = vec![f32::NAN; requests.len() * c.width];
        for (t, o) in requests.iter().zip(out.chunks_exact_mut(c.width)) {
            request_features(c, &request_of(t)?, o);
        }
        Ok(matrix(py, requests.len(), c.width, out))
    }

    /// Feature rows [start, stop) of a history (a TransactionBatch's columns; `codes` in
    /// CATEGORICAL order), every row's windows taken from the whole history. Labels come
    /// from `label_known_at` and `fraud` (both or neither). `columns`: the catalogue's
    /// columns to return, in that order (default: all, the model's matrix).
    /// `progress(rows)` is called after each entity's pass, with the interpreter
    /// attached; it may raise to stop.
    #[pyo3(signature = (
        *, ts, offset_minutes, amount, channel, mcc_risk, mcc_cash_like, codes, latitude,
        longitude, label_known_at=None, fraud=None, start=0, stop=None, columns=None,
        progress=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn replay_matrix<'py>(
        &self,
        py: Python<'py>,
        ts: PyReadonlyArray1<'py, i64>,
        offset_minutes: PyReadonlyArray1<'py, i64>,
        amount: PyReadonlyArray1<'py, f64>,
        channel: PyReadonlyArray1<'py, i64>,
        mcc_risk: PyReadonlyArray1<'py, f64>,
        mcc_cash_like: PyReadonlyArray1<'py, f64>,
        codes: Vec<PyReadonlyArray1<'py, i64>>,
        latitude: PyReadonlyArray1<'py, f64>,
        longitude: PyReadonlyArray1<'py, f64>,
        label_known_at: Option<PyReadonlyArray1<'py, i64>>,
        fraud: Option<PyReadonlyArray1<'py, bool>>,
        start: usize,
        stop: Option<usize>,
        columns: Option<Vec<usize>>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        if codes.len() != CATEGORICAL.len() {
            return Err(PyValueError::new_err(format!(
                "codes: {} arrays, one per {:?}",
                codes.len(),
                CATEGORICAL
            )));
        }
        let labels = match (&label_known_at, &fraud) {
            (Some(k), Some(f)) => Some((contiguous(k, "label_known_at")?, contiguous(f, "fraud")?)),
            (None, None) => None,
            _ => {
                return Err(PyValueError::new_err(
                    "label_known_at and fraud go together",
                ));
            }
        };
        let history = History {
            ts: contiguous(&ts, "ts")?,
            offset_minutes: contiguous(&offset_minutes, "offset_minutes")?,
            amount: contiguous(&amount, "amount")?,
            channel: contiguous(&channel, "channel")?,
            mcc_risk: contiguous(&mcc_risk, "mcc_risk")?,
            mcc_cash_like: contiguous(&mcc_cash_like, "mcc_cash_like")?,
            codes: [
                contiguous(&codes[0], "codes")?,
                contiguous(&codes[1], "codes")?,
                contiguous(&codes[2], "codes")?,
                contiguous(&codes[3], "codes")?,
                contiguous(&codes[4], "codes")?,
                contiguous(&codes[5], "codes")?,
            ],
            latitude: contiguous(&latitude, "latitude")?,
            longitude: contiguous(&longitude, "longitude")?,
            labels,
        };
        history.check().map_err(PyValueError::new_err)?;
        let stop = stop.unwrap_or(history.len());
        if start > stop || stop > history.len() {
            return Err(PyValueError::new_err(format!(
                "rows [{start}, {stop}) are not within the history's {}",
                history.len()
            )));
        }
        let c = &self.columns;
        let selection = match &columns {
            Some(columns) => Selection::of(c, columns).map_err(PyValueError::new_err)?,
            None => Selection::all(c),
        };
        let rows = stop - start;
        if selection.width == 0 {
            return Ok(matrix(py, rows, 0, Vec::new()));
        }
        let mut out = vec![0f32; rows * selection.width];
        // The interpreter is released for the replay (seconds on a large history); the
        // progress callback attaches again.
        py.detach(|| {
            replay::replay(
                &history,
                start..stop,
                c,
                &selection,
                &mut out,
                &mut |done| match &progress {
                    Some(callback) => Python::attach(|py| {
                        py.check_signals()?;
                        callback.call1(py, (done,)).map(|_| ())
                    }),
                    None => Ok(()),
                },
            )
        })?;
        Ok(matrix(py, rows, selection.width, out))
    }
}

/// The kernel's own copy of the catalogue's constants, for the Python surface to compare
/// with `features/definitions.py` (a drift is an error at import, not a silent skew).
#[pyfunction]
fn constants(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    let names =
        |indices: &[usize]| -> Vec<&str> { indices.iter().map(|&a| CATEGORICAL[a]).collect() };
    d.set_item("ENTITIES", &CATEGORICAL[..ENTITIES])?;
    d.set_item("CATEGORICAL", CATEGORICAL)?;
    d.set_item(
        "WINDOWS",
        WINDOWS.iter().map(|&(w, s)| (w, s)).collect::<Vec<_>>(),
    )?;
    d.set_item("DISTINCT_WINDOWS", DISTINCT_WINDOWS.map(|w| WINDOWS[w].0))?;
    d.set_item("HISTORY_MS", HISTORY_MS)?;
    d.set_item("MAX_EVENTS", MAX_EVENTS)?;
    d.set_item("LABEL_WINDOW_MS", LABEL_WINDOW_MS)?;
    d.set_item("MAX_LABELS", MAX_LABELS)?;
    d.set_item("SMALL_AMOUNT", SMALL_AMOUNT)?;
    d.set_item(
        "DISTINCT_OF",
        (0..ENTITIES)
            .map(|e| (CATEGORICAL[e], names(DISTINCT_OF[e])))
            .collect::<Vec<_>>(),
    )?;
    d.set_item(
        "FIRST_USE_OF",
        (0..ENTITIES)
            .filter(|&e| !FIRST_USE_OF[e].is_empty())
            .map(|e| (CATEGORICAL[e], names(FIRST_USE_OF[e])))
            .collect::<Vec<_>>(),
    )?;
    d.set_item("LABELLED_ENTITIES", names(&LABELLED))?;
    d.set_item("LABEL_HORIZONS", LABEL_HORIZONS.to_vec())?;
    d.set_item("PROFILE_DAYS", PROFILE_DAYS.to_vec())?;
    Ok(d)
}

#[pymodule]
fn fraud_kernel(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FeatureKernel>()?;
    m.add_function(wrap_pyfunction!(constants, m)?)?;
    Ok(())
}
