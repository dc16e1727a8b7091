//! The offline replay: every row of a history gets the features the online path would
//! have computed for it, one entity at a time over that entity's events sorted by
//! (code, time), each row's window a slice of that order. Nothing of width (rows x
//! window) is built: the extra memory is one entity's sorted columns and its staged
//! features at a time.
//!
//! Semantics (the same online): a row sees the latest MAX_EVENTS events of its entity
//! with t - 7d <= ts < t (events with the same time do not see each other, whatever
//! their order), the latest MAX_LABELS confirmed-fraud labels of its entity that became
//! known in [t - 30d, t), and its entity's totals over the complete UTC days before its
//! own day, from every row of the history.

use std::ops::Range;

use crate::catalogue::{
    CARD, CATEGORICAL, Columns, DISTINCT_OF, ENTITIES, FIRST_USE_OF, HISTORY_MS, LABEL_WINDOW_MS,
    LABELLED, MAX_EVENTS, MAX_LABELS, PROFILE_DAYS,
};
use crate::features::{
    Request, Scratch, Subject, day_of, entity_features, label_features, profile_features,
    request_features,
};
use crate::window::{Empty, Slice, SortedEvents};

/// A history's columns (a TransactionBatch), borrowed from numpy.
pub struct History<'a> {
    pub ts: &'a [i64],
    pub offset_minutes: &'a [i64],
    pub amount: &'a [f64],
    pub channel: &'a [i64],
    pub mcc_risk: &'a [f64],
    pub mcc_cash_like: &'a [f64],
    /// By CATEGORICAL index.
    pub codes: [&'a [i64]; 6],
    pub latitude: &'a [f64],
    pub longitude: &'a [f64],
    /// When each row's label became known, and whether it is fraud; None: no labels.
    pub labels: Option<(&'a [i64], &'a [bool])>,
}

impl History<'_> {
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    fn request(&self, row: usize) -> Request {
        Request {
            subject: Subject {
                ts: self.ts[row],
                amount: self.amount[row],
                codes: self.codes.map(|c| c[row]),
                latitude: self.latitude[row],
                longitude: self.longitude[row],
            },
            offset_minutes: self.offset_minutes[row],
            channel: self.channel[row],
            mcc_risk: self.mcc_risk[row],
            mcc_cash_like: self.mcc_cash_like[row],
        }
    }

    /// Every column the same length.
    pub fn check(&self) -> Result<(), String> {
        let n = self.len();
        if n >= u32::MAX as usize - 1 {
            return Err(format!(
                "{n} rows: replay a history of under 4 billion rows at a time"
            ));
        }
        let mut lengths = vec![
            ("offset_minutes", self.offset_minutes.len()),
            ("amount", self.amount.len()),
            ("channel", self.channel.len()),
            ("mcc_risk", self.mcc_risk.len()),
            ("mcc_cash_like", self.mcc_cash_like.len()),
            ("latitude", self.latitude.len()),
            ("longitude", self.longitude.len()),
        ];
        for (a, codes) in self.codes.iter().enumerate() {
            lengths.push((CATEGORICAL[a], codes.len()));
        }
        if let Some((known_at, fraud)) = self.labels {
            lengths.push(("label_known_at", known_at.len()));
            lengths.push(("fraud", fraud.len()));
        }
        match lengths.iter().find(|(_, len)| *len != n) {
            Some((name, len)) => Err(format!("{name} has {len} rows, ts has {n}")),
            None => Ok(()),
        }
    }
}

/// Rows whose `codes` are present, ordered by (code, time), ties by row: stable.
fn sorted_rows(codes: &[i64], times: &[i64], keep: impl Fn(usize) -> bool) -> Vec<u32> {
    let n = codes.len();
    let time_ordered = times.windows(2).all(|p| p[0] <= p[1]);
    let top = codes.iter().copied().max().unwrap_or(-1);
    if time_ordered && top >= 0 && (top as usize) <= 2 * n + 1024 {
        // Dense codes over a time-ordered history (the replay's usual input): a counting
        // sort by code keeps row order, which is time order, within each code.
        let mut starts = vec![0u32; top as usize + 2];
        for (row, &code) in codes.iter().enumerate() {
            if code >= 0 && keep(row) {
                starts[code as usize + 1] += 1;
            }
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        let mut order = vec![0u32; starts[starts.len() - 1] as usize];
        for (row, &code) in codes.iter().enumerate() {
            if code >= 0 && keep(row) {
                let at = &mut starts[code as usize];
                order[*at as usize] = row as u32;
                *at += 1;
            }
        }
        return order;
    }
    let mut keyed: Vec<(i64, i64, u32)> = (0..n)
        .filter(|&row| codes[row] >= 0 && keep(row))
        .map(|row| (codes[row], times[row], row as u32))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, row)| row).collect()
}

/// The entity's events in `order`, column by column: its own code, and what its window
/// features read (each event is also a transaction whose features read its own values).
fn sorted_events(h: &History, entity: usize, order: &[u32]) -> SortedEvents {
    let gather_i =
        |values: &[i64]| -> Vec<i64> { order.iter().map(|&r| values[r as usize]).collect() };
    let gather_f =
        |values: &[f64]| -> Vec<f64> { order.iter().map(|&r| values[r as usize]).collect() };
    let mut attributes: [Vec<i64>; 6] = Default::default();
    attributes[entity] = gather_i(h.codes[entity]);
    for &a in DISTINCT_OF[entity].iter().chain(FIRST_USE_OF[entity]) {
        if attributes[a].is_empty() {
            attributes[a] = gather_i(h.codes[a]);
        }
    }
    let mut previous: [Vec<u32>; 6] = Default::default();
    for &a in DISTINCT_OF[entity] {
        previous[a] = previous_occurrences(&attributes[a]);
    }
    let located = entity == CARD;
    SortedEvents {
        ts: gather_i(h.ts),
        amount: gather_f(h.amount),
        attributes,
        previous,
        latitude: if located {
            gather_f(h.latitude)
        } else {
            Vec::new()
        },
        longitude: if located {
            gather_f(h.longitude)
        } else {
            Vec::new()
        },
    }
}

/// For each position, 1 + the previous position holding the same code (0 if none), and
/// u32::MAX where the code is absent (SortedEvents::previous).
fn previous_occurrences(codes: &[i64]) -> Vec<u32> {
    let top = codes.iter().copied().max().unwrap_or(-1);
    let mut out = Vec::with_capacity(codes.len());
    let mut dense;
    let mut sparse = std::collections::HashMap::new();
    // Dense codes (the replay's own, factorized) index an array; others a map.
    let last: &mut dyn FnMut(i64, u32) -> u32 =
        if top >= 0 && (top as usize) <= 2 * codes.len() + 1024 {
            dense = vec![0u32; top as usize + 1];
            &mut |code, at| std::mem::replace(&mut dense[code as usize], at)
        } else {
            &mut |code, at| sparse.insert(code, at).unwrap_or(0)
        };
    for (q, &code) in codes.iter().enumerate() {
        out.push(if code < 0 {
            u32::MAX
        } else {
            last(code, q as u32 + 1)
        });
    }
    out
}

/// Confirmed-fraud labels of one entity: (code, known at), sorted.
struct Labels {
    codes: Vec<i64>,
    known_at: Vec<i64>,
}

fn entity_labels(h: &History, entity: usize) -> Labels {
    let Some((known_at, fraud)) = h.labels else {
        return Labels {
            codes: Vec::new(),
            known_at: Vec::new(),
        };
    };
    let codes = h.codes[entity];
    let order = sorted_rows(codes, known_at, |row| fraud[row]);
    Labels {
        codes: order.iter().map(|&r| codes[r as usize]).collect(),
        known_at: order.iter().map(|&r| known_at[r as usize]).collect(),
    }
}

/// Features of rows `rows` of the history into `out` (len(rows) x columns.width, row by
/// row), one entity at a time; `progress` is told how many rows each entity's pass did
/// and may stop the replay by returning an error.
pub fn replay<E>(
    h: &History,
    rows: Range<usize>,
    c: &Columns,
    selection: &Selection,
    out: &mut [f32],
    progress: &mut dyn FnMut(usize) -> Result<(), E>,
) -> Result<(), E> {
    let mut full = vec![0f32; c.width];
    let all = selection.is_all(c);
    for (row, o) in rows.clone().zip(out.chunks_exact_mut(selection.width)) {
        if all {
            request_features(c, &h.request(row), o);
        } else {
            request_features(c, &h.request(row), &mut full);
            selection.copy(&c.request, &full, o);
        }
    }
    let mut scratch = Scratch::default();
    for entity in 0..ENTITIES {
        let staged = stage(h, entity, rows.clone(), c, selection, &mut scratch);
        staged.scatter(
            h,
            entity,
            rows.clone(),
            c,
            selection.width,
            out,
            &mut scratch,
        );
        progress(rows.len())?;
    }
    Ok(())
}

/// The columns a replay returns, in their order (all of them: the model's matrix).
pub struct Selection {
    pub width: usize,
    /// Per column of the catalogue, its place in the output (None: not returned).
    place: Vec<Option<usize>>,
}

impl Selection {
    pub fn all(c: &Columns) -> Selection {
        Selection {
            width: c.width,
            place: (0..c.width).map(Some).collect(),
        }
    }

    /// `columns`: catalogue columns, each at most once.
    pub fn of(c: &Columns, columns: &[usize]) -> Result<Selection, String> {
        let mut place = vec![None; c.width];
        for (k, &column) in columns.iter().enumerate() {
            match place.get_mut(column) {
                Some(slot @ None) => *slot = Some(k),
                Some(Some(_)) => return Err(format!("column {column} is asked for twice")),
                None => return Err(format!("there is no column {column}")),
            }
        }
        Ok(Selection {
            width: columns.len(),
            place,
        })
    }

    fn is_all(&self, c: &Columns) -> bool {
        self.width == c.width && self.place.iter().enumerate().all(|(i, p)| *p == Some(i))
    }

    /// Of `columns`, those returned, and where each goes.
    fn targets(&self, columns: &[usize]) -> (Vec<usize>, Vec<usize>) {
        columns
            .iter()
            .filter_map(|&c| self.place[c].map(|p| (c, p)))
            .unzip()
    }

    /// The returned ones of `columns` from a full row into an output row.
    fn copy(&self, columns: &[usize], full: &[f32], out: &mut [f32]) {
        for &column in columns {
            if let Some(p) = self.place[column] {
                out[p] = full[column];
            }
        }
    }
}

/// One entity's features of the rows in range, computed in the entity's order (so each
/// row's window is a slice of the events just walked) and kept in that order: a row's
/// place in the matrix is random in that order, and writing there directly would miss
/// the cache on nearly every row.
struct Staged {
    /// The columns of the catalogue this entity's pass writes and the replay returns.
    columns: Vec<usize>,
    /// Where each of them goes in an output row.
    targets: Vec<usize>,
    /// columns.len() values per staged row, in the entity's order.
    values: Vec<f32>,
    /// Per row in range, its staged row (u32::MAX: the row has no such entity).
    slot: Vec<u32>,
}

fn stage(
    h: &History,
    entity: usize,
    rows: Range<usize>,
    c: &Columns,
    selection: &Selection,
    scratch: &mut Scratch,
) -> Staged {
    let (columns, targets) = selection.targets(&c.of_entity(entity));
    if columns.is_empty() {
        return Staged {
            columns,
            targets,
            values: Vec::new(),
            slot: Vec::new(),
        };
    }
    let codes = h.codes[entity];
    let order = sorted_rows(codes, h.ts, |_| true);
    let events = sorted_events(h, entity, &order);
    let labelled = LABELLED.iter().position(|&e| e == entity);
    let labels = entity_labels(h, entity);
    // Running integer totals for the profiles: exact in any order.
    let (cents, squares) = if labelled.is_some() {
        prefix_totals(h, &order)
    } else {
        (Vec::new(), Vec::new())
    };
    let k = columns.len();
    let staged_rows = order
        .iter()
        .filter(|&&r| rows.contains(&(r as usize)))
        .count();
    let mut values = Vec::with_capacity(staged_rows * k);
    let mut slot = vec![u32::MAX; rows.len()];
    let mut o = vec![0f32; c.width]; // one row of the matrix, of which `columns` are kept
    let own = &events.attributes[entity];
    let mut label_at = 0;
    let mut group = 0;
    while group < order.len() {
        let code = own[group];
        let mut end = group + 1;
        while end < order.len() && own[end] == code {
            end += 1;
        }
        while label_at < labels.codes.len() && labels.codes[label_at] < code {
            label_at += 1;
        }
        let label_start = label_at;
        while label_at < labels.codes.len() && labels.codes[label_at] == code {
            label_at += 1;
        }
        let known_at = &labels.known_at[label_start..label_at];
        // Pointers into the group, each moving forward only: the window's start (7 days
        // back) and end (the first event at the row's own time), the profile's days,
        // the labels' window.
        let (mut lo, mut hi) = (group, group);
        let mut day_lo = [group; 3];
        let mut day_hi = group;
        let (mut label_lo, mut label_hi) = (0, 0);
        for (p, &row) in order.iter().enumerate().take(end).skip(group) {
            let row = row as usize;
            if !rows.contains(&row) {
                continue;
            }
            let t = events.ts[p];
            while events.ts[hi] < t {
                hi += 1;
            }
            while events.ts[lo] < t - HISTORY_MS {
                lo += 1;
            }
            let r = subject(&events, p);
            let window = Slice {
                events: &events,
                start: lo.max(hi.saturating_sub(MAX_EVENTS)),
                end: hi,
            };
            entity_features(c, entity, &window, &r, scratch, &mut o);
            if let Some(place) = labelled {
                let day = day_of(t);
                while day_of(events.ts[day_hi]) < day {
                    day_hi += 1;
                }
                let mut totals = [0i64; 5];
                for (k, (_, days)) in PROFILE_DAYS.iter().enumerate() {
                    while day_of(events.ts[day_lo[k]]) < day - days {
                        day_lo[k] += 1;
                    }
                    totals[k] = (day_hi - day_lo[k]) as i64;
                }
                totals[3] = cents[day_hi] - cents[day_lo[2]];
                totals[4] = squares[day_hi] - squares[day_lo[2]];
                profile_features(c, place, &totals, &r, &mut o);
                while label_hi < known_at.len() && known_at[label_hi] < t {
                    label_hi += 1;
                }
                while label_lo < label_hi && known_at[label_lo] < t - LABEL_WINDOW_MS {
                    label_lo += 1;
                }
                let from = label_lo.max(label_hi.saturating_sub(MAX_LABELS));
                let seen = [totals[0], totals[1], totals[2]];
                label_features(c, place, &known_at[from..label_hi], &seen, &r, &mut o);
            }
            slot[row - rows.start] = (values.len() / k) as u32;
            values.extend(columns.iter().map(|&column| o[column]));
        }
        group = end;
    }
    Staged {
        columns,
        targets,
        values,
        slot,
    }
}

impl Staged {
    /// Into each row of the matrix, in row order: the staged values, or an absent
    /// entity's features.
    #[allow(clippy::too_many_arguments)]
    fn scatter(
        &self,
        h: &History,
        entity: usize,
        rows: Range<usize>,
        c: &Columns,
        width: usize,
        out: &mut [f32],
        scratch: &mut Scratch,
    ) {
        if self.columns.is_empty() {
            return;
        }
        let k = self.columns.len();
        let labelled = LABELLED.iter().position(|&e| e == entity);
        let mut full = vec![0f32; c.width];
        for (i, ((row, o), &slot)) in rows
            .zip(out.chunks_exact_mut(width))
            .zip(&self.slot)
            .enumerate()
        {
            // Staged rows are read in random order: ask for one a few rows ahead.
            if let Some(&ahead) = self.slot.get(i + PREFETCH_ROWS).filter(|&&s| s != u32::MAX) {
                prefetch(&self.values[ahead as usize * k..(ahead as usize + 1) * k]);
            }
            if slot != u32::MAX {
                let staged = &self.values[slot as usize * k..(slot as usize + 1) * k];
                for (&target, &value) in self.targets.iter().zip(staged) {
                    o[target] = value;
                }
                continue;
            }
            let r = h.request(row).subject;
            entity_features(c, entity, &Empty, &r, scratch, &mut full);
            if let Some(place) = labelled {
                profile_features(c, place, &[0; 5], &r, &mut full);
                label_features(c, place, &[], &[0; 3], &r, &mut full);
            }
            for (&column, &target) in self.columns.iter().zip(&self.targets) {
                o[target] = full[column];
            }
        }
    }
}
/// Prefix sums over the entity's order of each event's amount in cents and squared
/// amount in whole units (features.compute.amount_cents / amount_squares), with a 0 first.
fn prefix_totals(h: &History, order: &[u32]) -> (Vec<i64>, Vec<i64>) {
    let mut cents = Vec::with_capacity(order.len() + 1);
    let mut squares = Vec::with_capacity(order.len() + 1);
    let (mut c, mut s) = (0i64, 0i64);
    cents.push(0);
    squares.push(0);
    for &r in order {
        let a = h.amount[r as usize];
        c += (a * 100.0).round_ties_even() as i64;
        s += (a * a).round_ties_even() as i64;
        cents.push(c);
        squares.push(s);
    }
    (cents, squares)
}

/// Event p of the entity's sorted events as the transaction whose features are computed:
/// the values its features read (Subject), in the order's own columns, not the rows'.
fn subject(events: &SortedEvents, p: usize) -> Subject {
    Subject {
        ts: events.ts[p],
        amount: events.amount[p],
        codes: std::array::from_fn(|a| events.attributes[a].get(p).copied().unwrap_or(-1)),
        latitude: events.latitude.get(p).copied().unwrap_or(f64::NAN),
        longitude: events.longitude.get(p).copied().unwrap_or(f64::NAN),
    }
}

const PREFETCH_ROWS: usize = 8;

/// Ask for every cache line of `values` (a hint; it reads nothing).
#[inline]
fn prefetch(values: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in values.chunks(16) {
        // SAFETY: a prefetch of an address inside `values`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            )
        };
    }
}
