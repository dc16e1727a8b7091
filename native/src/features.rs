//! Every feature of one transaction, written into its row of the model's matrix: the
//! one implementation the online path and the replay share. The numpy functions of
//! `features/compute.py` are its reference: same definitions, same order of float
//! operations (sums run from the latest event back), so the two agree to the bit
//! except where a libm function (log1p, sin, cos, asin) rounds its last bit otherwise.

use crate::catalogue::{
    ACCOUNT, CARD, COUNTRY, Columns, DAY_MS, DEVICE, DISTINCT_OF, DISTINCT_WINDOWS,
    EARTH_RADIUS_KM, FIRST_USE_OF, IP, LABEL_HORIZONS, LABELLED, MAX_ATTRIBUTES, MERCHANT,
    MINUTE_MS, SMALL_AMOUNT, W_1H, W_7D, W_24H, WINDOWS,
};
use crate::distinct::CodeSet;
use crate::window::Window;

/// What an entity's features read of the transaction itself: the values its window's
/// members carry. Codes by CATEGORICAL index, -1 where absent; the replay fills only the
/// entity's own code and its window's attributes (nothing else is read).
#[derive(Clone, Copy, Debug)]
pub struct Subject {
    pub ts: i64,
    pub amount: f64,
    pub codes: [i64; 6],
    pub latitude: f64,
    pub longitude: f64,
}

/// The request's own values (a TransactionBatch row).
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub subject: Subject,
    pub offset_minutes: i64,
    pub channel: i64,
    pub mcc_risk: f64,
    pub mcc_cash_like: f64,
}

/// Per-walk working memory, kept across rows.
#[derive(Default)]
pub struct Scratch {
    set: CodeSet,
    pub label_times: Vec<i64>,
}

#[inline]
fn put(out: &mut [f32], column: usize, value: f64) {
    out[column] = value as f32;
}

#[inline]
fn flag(condition: bool) -> f64 {
    if condition { 1.0 } else { 0.0 }
}

/// numpy's float `%`: the result takes the divisor's sign.
#[inline]
fn py_mod(x: f64, y: f64) -> f64 {
    let r = x % y;
    if r != 0.0 && ((r < 0.0) != (y < 0.0)) {
        r + y
    } else {
        r
    }
}

/// numpy's maximum: NaN if either is NaN.
#[inline]
fn nan_max(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x >= y {
        x
    } else {
        y
    }
}

pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    if lat1.is_nan() || lon1.is_nan() || lat2.is_nan() || lon2.is_nan() {
        return f64::NAN; // what the formula gives, without its sines
    }
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = (p2 - p1, (lon2 - lon1).to_radians());
    let (s, t) = ((dp / 2.0).sin(), (dl / 2.0).sin());
    let a = s * s + p1.cos() * p2.cos() * (t * t);
    let clipped = if a.is_nan() { a } else { a.clamp(0.0, 1.0) };
    (2.0 * EARTH_RADIUS_KM) * clipped.sqrt().asin()
}

/// Features that need nothing but the request (also the degraded mode's whole input).
pub fn request_features(c: &Columns, request: &Request, out: &mut [f32]) {
    let r = &request.subject;
    let a = r.amount;
    let local_min = r.ts.div_euclid(MINUTE_MS) + request.offset_minutes;
    let hour = local_min.div_euclid(60).rem_euclid(24);
    let day_of_week = (local_min.div_euclid(1440) + 3).rem_euclid(7); // 1970-01-01: a Thursday
    let hundredths = (a * 100.0).round_ties_even();
    let values = [
        a,
        a.ln_1p(),
        flag(py_mod(hundredths, 1000.0) == 0.0),
        flag(a < SMALL_AMOUNT),
        py_mod(hundredths, 100.0),
        hour as f64,
        day_of_week as f64,
        flag(day_of_week >= 5),
        flag(hour < 6),
        flag(request.channel == 0),
        flag(request.channel == 1),
        flag(request.channel == 2),
        request.mcc_risk,
        request.mcc_cash_like,
        flag(r.codes[DEVICE] >= 0),
        flag(r.codes[IP] >= 0),
        flag(!r.latitude.is_nan() && !r.longitude.is_nan()),
        flag(r.codes[ACCOUNT] >= 0),
    ];
    for (column, value) in c.request.iter().zip(values) {
        put(out, *column, value);
    }
}

/// The card's extra sums over its 7-day window, gathered in the same walk.
#[derive(Default)]
struct CardWalk {
    squares: f64,
    merchant_count: u32,
    last_located: Option<usize>,
    located: u32,
    latitude_sum: f64,
    longitude_sum: f64,
    last_country: Option<i64>,
}

/// Velocity, distinct-count, recency and first-use features of one entity (and the
/// card's behavioural and geographic ones), from its window read latest first. Windows
/// nest (1m inside 5m ... inside 7d) and the events are in time order, so one walk
/// closes each window in turn at the first event older than its start.
/// An absent entity (code -1) has missing values, whatever its window holds.
pub fn entity_features<W: Window>(
    c: &Columns,
    entity: usize,
    w: &W,
    r: &Subject,
    scratch: &mut Scratch,
    out: &mut [f32],
) {
    if r.codes[entity] < 0 {
        absent_entity(c, entity, out);
        return;
    }
    let t = r.ts;
    let distinct_of = DISTINCT_OF[entity];
    let first_use_of = FIRST_USE_OF[entity];
    let n = w.len();
    let mut seen = [false; MAX_ATTRIBUTES];
    let card = entity == CARD;
    let mut walk = CardWalk::default();

    let mut total = 0.0f64;
    let mut peak = f64::NEG_INFINITY;
    let mut small = 0u32;
    // State of each window as it closes: events, sum, max; small counts at 1h and 24h;
    // distinct values at DISTINCT_WINDOWS.
    let mut counts = [0usize; 5];
    let mut totals = [0.0f64; 5];
    let mut peaks = [f64::NEG_INFINITY; 5];
    let mut small_at = [0u32; 5];
    let starts = WINDOWS.map(|(_, span)| t - span);
    let mut open = 0; // the shortest window not closed yet
    let mut j = 0;
    while j < n && open < WINDOWS.len() {
        let ts = w.ts(j);
        while open < WINDOWS.len() && ts < starts[open] {
            counts[open] = j;
            totals[open] = total;
            peaks[open] = peak;
            small_at[open] = small;
            open += 1;
        }
        if open == WINDOWS.len() {
            break;
        }
        let amount = w.amount(j);
        total += amount;
        if amount > peak {
            peak = amount;
        }
        small += (amount < SMALL_AMOUNT) as u32;
        for (k, &a) in first_use_of.iter().enumerate() {
            seen[k] |= w.attribute(a, j) == r.codes[a];
        }
        if card {
            walk.squares += amount * amount;
            walk.merchant_count += (w.attribute(MERCHANT, j) == r.codes[MERCHANT]) as u32;
            let (lat, lon) = (w.latitude(j), w.longitude(j));
            if !lat.is_nan() && !lon.is_nan() {
                walk.last_located.get_or_insert(j);
                walk.located += 1;
                walk.latitude_sum += lat;
                walk.longitude_sum += lon;
            }
            let country = w.attribute(COUNTRY, j);
            if country >= 0 && walk.last_country.is_none() {
                walk.last_country = Some(country);
            }
        }
        j += 1;
    }
    while open < WINDOWS.len() {
        counts[open] = j;
        totals[open] = total;
        peaks[open] = peak;
        small_at[open] = small;
        open += 1;
    }

    let mut means = [f64::NAN; 5];
    for wi in 0..WINDOWS.len() {
        let count = counts[wi] as f64;
        if counts[wi] > 0 {
            means[wi] = totals[wi] / count;
        }
        put(out, c.count[entity][wi], count);
        put(out, c.sum[entity][wi], totals[wi]);
        put(out, c.mean[entity][wi], means[wi]);
        put(
            out,
            c.max[entity][wi],
            if counts[wi] > 0 { peaks[wi] } else { f64::NAN },
        );
    }
    let since_last = if counts[W_7D] > 0 {
        (t - w.ts(0)) as f64 / 1000.0
    } else {
        f64::NAN
    };
    put(out, c.since_last[entity], since_last);
    put(out, c.to_mean[entity], r.amount / means[W_7D]);
    put(out, c.small_1h[entity], small_at[W_1H] as f64);
    let lengths = DISTINCT_WINDOWS.map(|wi| counts[wi]);
    for (&a, columns) in distinct_of.iter().zip(&c.distinct[entity]) {
        let distinct = w.distinct(a, lengths, &mut scratch.set);
        for (&column, count) in columns.iter().zip(distinct) {
            put(out, column, count as f64);
        }
    }
    for (k, &a) in first_use_of.iter().enumerate() {
        let first = if r.codes[a] < 0 {
            f64::NAN
        } else {
            flag(!seen[k])
        };
        put(out, c.first_use[entity][k], first);
    }
    if card {
        card_features(
            c,
            w,
            r,
            &walk,
            counts[W_7D],
            means[W_7D],
            small_at[W_24H],
            out,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn card_features<W: Window>(
    c: &Columns,
    w: &W,
    r: &Subject,
    walk: &CardWalk,
    count_7d: usize,
    mean: f64,
    small_24h: u32,
    out: &mut [f32],
) {
    let cc = &c.card;
    let count = count_7d as f64;
    let std = if count_7d > 0 {
        let var = walk.squares / count - mean * mean;
        (if var < 0.0 { 0.0 } else { var }).sqrt()
    } else {
        f64::NAN
    };
    put(out, cc.std_7d, std);
    put(out, cc.zscore_7d, (r.amount - mean) / nan_max(std, 1.0));
    put(out, cc.small_24h, small_24h as f64);
    put(out, cc.merchant_count_7d, walk.merchant_count as f64);
    let (distance, elapsed) = match walk.last_located {
        Some(j) => (
            haversine_km(w.latitude(j), w.longitude(j), r.latitude, r.longitude),
            (r.ts - w.ts(j)) as f64 / 1000.0,
        ),
        None => (f64::NAN, f64::NAN),
    };
    put(out, cc.distance_from_last, distance);
    put(
        out,
        cc.speed_from_last,
        distance / (nan_max(elapsed, 60.0) / 3600.0),
    );
    put(out, cc.seconds_since_last_located, elapsed);
    let located = walk.located as f64;
    let (lat, lon) = (walk.latitude_sum / located, walk.longitude_sum / located);
    put(
        out,
        cc.distance_from_centroid,
        haversine_km(lat, lon, r.latitude, r.longitude),
    );
    put(out, cc.located_count_7d, located);
    let changed = match walk.last_country {
        Some(last) if r.codes[COUNTRY] >= 0 => flag(last != r.codes[COUNTRY]),
        _ => f64::NAN,
    };
    put(out, cc.country_changed, changed);
}

fn absent_entity(c: &Columns, entity: usize, out: &mut [f32]) {
    let nan = f32::NAN;
    for wi in 0..WINDOWS.len() {
        out[c.count[entity][wi]] = nan;
        out[c.sum[entity][wi]] = nan;
        out[c.mean[entity][wi]] = nan;
        out[c.max[entity][wi]] = nan;
    }
    out[c.since_last[entity]] = nan;
    out[c.to_mean[entity]] = nan;
    out[c.small_1h[entity]] = nan;
    for columns in &c.distinct[entity] {
        for &column in columns {
            out[column] = nan;
        }
    }
    for &column in &c.first_use[entity] {
        out[column] = nan;
    }
    if entity == CARD {
        for column in c.card.all() {
            out[column] = nan;
        }
    }
}

/// Long-horizon profile of LABELLED[place] from its totals over the complete days before
/// the transaction's day: the three counts (PROFILE_DAYS), cents, squares.
pub fn profile_features(
    c: &Columns,
    place: usize,
    totals: &[i64; 5],
    r: &Subject,
    out: &mut [f32],
) {
    let pc = &c.profile[place];
    if r.codes[LABELLED[place]] < 0 {
        for column in [
            pc.count[0],
            pc.count[1],
            pc.count[2],
            pc.mean,
            pc.std,
            pc.to_mean,
        ] {
            out[column] = f32::NAN;
        }
        return;
    }
    let values = totals.map(|v| v as f64);
    for (k, &column) in pc.count.iter().enumerate() {
        put(out, column, values[k]);
    }
    let count = values[2];
    let (mean, std) = if count > 0.0 {
        let mean = values[3] / 100.0 / count;
        let var = values[4] / count - mean * mean;
        (mean, (if var < 0.0 { 0.0 } else { var }).sqrt())
    } else {
        (f64::NAN, f64::NAN)
    };
    put(out, pc.mean, mean);
    put(out, pc.std, std);
    put(out, pc.to_mean, r.amount / mean);
}

/// Confirmed-fraud labels of LABELLED[place] known before the transaction, counted over
/// each horizon (`known_at`: when each label became known, any order) and per
/// transaction of the profile's horizon of the same length (`seen`: its three counts).
pub fn label_features(
    c: &Columns,
    place: usize,
    known_at: &[i64],
    seen: &[i64; 3],
    r: &Subject,
    out: &mut [f32],
) {
    let lc = &c.labels[place];
    let present = r.codes[LABELLED[place]] >= 0;
    let t = r.ts;
    let before = known_at.iter().filter(|&&k| k >= t).count();
    for (h, (_, span)) in LABEL_HORIZONS.iter().enumerate() {
        let count = if present {
            let since = known_at.iter().filter(|&&k| k >= t - span).count();
            since as f64 - before as f64
        } else {
            f64::NAN
        };
        put(out, lc.count[h], count);
        let rate = if seen[h] > 0 {
            count / seen[h] as f64
        } else {
            f64::NAN
        };
        put(out, lc.rate[h], rate);
    }
}

/// The UTC day of an event time, as the profiles count days.
#[inline]
pub fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_MS)
}
