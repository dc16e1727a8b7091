//! The feature catalogue as the kernel computes it: the constants of
//! `features/definitions.py`, mirrored (the Python surface compares them with
//! `constants()` at import, so the two cannot drift apart), and the place of
//! every feature in the model's row, looked up by name in `FEATURE_NAMES`.

use std::collections::HashMap;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The categorical values of a transaction, in `features.window_format.CATEGORICAL`
/// order: the five entities, then the merchant's country.
pub const CATEGORICAL: [&str; 6] = ["card", "account", "device", "ip", "merchant", "country"];
pub const CARD: usize = 0;
pub const ACCOUNT: usize = 1;
pub const DEVICE: usize = 2;
pub const IP: usize = 3;
pub const MERCHANT: usize = 4;
pub const COUNTRY: usize = 5;
pub const ENTITIES: usize = 5;

/// Velocity windows, shortest first (the walk over a window closes them in this order).
pub const WINDOWS: [(&str, i64); 5] = [
    ("1m", MINUTE_MS),
    ("5m", 5 * MINUTE_MS),
    ("1h", HOUR_MS),
    ("24h", DAY_MS),
    ("7d", 7 * DAY_MS),
];
pub const W_1H: usize = 2;
pub const W_24H: usize = 3;
pub const W_7D: usize = 4;
/// Windows over which distinct values are counted (indices into WINDOWS).
pub const DISTINCT_WINDOWS: [usize; 3] = [W_1H, W_24H, W_7D];
pub const HISTORY_MS: i64 = 7 * DAY_MS;
/// An entity's window in the replay: its latest MAX_EVENTS events (online, the store's read).
pub const MAX_EVENTS: usize = 256;
pub const LABEL_WINDOW_MS: i64 = 30 * DAY_MS;
pub const MAX_LABELS: usize = 256;
pub const SMALL_AMOUNT: f64 = 5.0;
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// For each entity, the attributes whose distinct values are counted (CATEGORICAL indices).
pub const DISTINCT_OF: [&[usize]; ENTITIES] = [
    &[MERCHANT, DEVICE, IP, COUNTRY],
    &[CARD, DEVICE, MERCHANT],
    &[CARD, IP],
    &[CARD, DEVICE],
    &[CARD],
];
/// "First time this entity is seen with this attribute" features.
pub const FIRST_USE_OF: [&[usize]; ENTITIES] =
    [&[MERCHANT, DEVICE, IP, COUNTRY], &[], &[CARD], &[CARD], &[]];
/// At most this many attributes per entity (the card's four).
pub const MAX_ATTRIBUTES: usize = 4;
/// Entities with label and profile features, in LABELLED_ENTITIES order.
pub const LABELLED: [usize; 4] = [CARD, DEVICE, IP, MERCHANT];
pub const LABEL_HORIZONS: [(&str, i64); 3] =
    [("1d", DAY_MS), ("7d", 7 * DAY_MS), ("30d", 30 * DAY_MS)];
/// Profile horizons in complete UTC days; the rate of LABEL_HORIZONS[i] is per PROFILE_DAYS[i].
pub const PROFILE_DAYS: [(&str, i64); 3] = [("prev1d", 1), ("prev7d", 7), ("prev30d", 30)];
/// Columns of a profile read (PROFILE_SUMS): the three counts, cents, squares.
pub const PROFILE_SUMS: usize = 5;

pub const REQUEST: [&str; 18] = [
    "amount",
    "amount_log",
    "amount_is_round",
    "amount_is_small",
    "amount_cents",
    "hour_of_day",
    "day_of_week",
    "is_weekend",
    "is_night",
    "channel_pos",
    "channel_ecommerce",
    "channel_atm",
    "mcc_risk",
    "mcc_is_cash_like",
    "has_device",
    "has_ip",
    "has_location",
    "has_account",
];

fn plural(attribute: usize) -> &'static str {
    [
        "cards",
        "accounts",
        "devices",
        "ips",
        "merchants",
        "countries",
    ][attribute]
}

/// Where each feature goes in a row of the model's matrix.
pub struct Columns {
    pub width: usize,
    pub request: [usize; 18],
    pub count: [[usize; 5]; ENTITIES],
    pub sum: [[usize; 5]; ENTITIES],
    pub mean: [[usize; 5]; ENTITIES],
    pub max: [[usize; 5]; ENTITIES],
    /// [entity][attribute's place in DISTINCT_OF][DISTINCT_WINDOWS place]
    pub distinct: [Vec<[usize; 3]>; ENTITIES],
    pub since_last: [usize; ENTITIES],
    pub to_mean: [usize; ENTITIES],
    pub small_1h: [usize; ENTITIES],
    /// [entity][attribute's place in FIRST_USE_OF]
    pub first_use: [Vec<usize>; ENTITIES],
    pub card: CardColumns,
    /// [LABELLED place]
    pub profile: [ProfileColumns; 4],
    pub labels: [LabelColumns; 4],
}

pub struct CardColumns {
    pub std_7d: usize,
    pub zscore_7d: usize,
    pub small_24h: usize,
    pub merchant_count_7d: usize,
    pub distance_from_last: usize,
    pub speed_from_last: usize,
    pub seconds_since_last_located: usize,
    pub distance_from_centroid: usize,
    pub located_count_7d: usize,
    pub country_changed: usize,
}

impl CardColumns {
    /// Every card-only column, in the order of the struct's fields.
    pub fn all(&self) -> [usize; 10] {
        [
            self.std_7d,
            self.zscore_7d,
            self.small_24h,
            self.merchant_count_7d,
            self.distance_from_last,
            self.speed_from_last,
            self.seconds_since_last_located,
            self.distance_from_centroid,
            self.located_count_7d,
            self.country_changed,
        ]
    }
}

pub struct ProfileColumns {
    pub count: [usize; 3],
    pub mean: usize,
    pub std: usize,
    pub to_mean: usize,
}

pub struct LabelColumns {
    pub count: [usize; 3],
    pub rate: [usize; 3],
}

/// Every name given must be claimed once, and every feature the kernel computes found.
struct Claims {
    places: HashMap<String, usize>,
    missing: Vec<String>,
}

impl Claims {
    fn take(&mut self, name: String) -> usize {
        match self.places.remove(&name) {
            Some(place) => place,
            None => {
                self.missing.push(name);
                usize::MAX
            }
        }
    }
}

impl Columns {
    /// Every column one entity's pass writes (its window, profile and label features),
    /// in row order.
    pub fn of_entity(&self, entity: usize) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for w in 0..WINDOWS.len() {
            out.extend([
                self.count[entity][w],
                self.sum[entity][w],
                self.mean[entity][w],
                self.max[entity][w],
            ]);
        }
        out.extend(self.distinct[entity].iter().flatten());
        out.extend([
            self.since_last[entity],
            self.to_mean[entity],
            self.small_1h[entity],
        ]);
        out.extend(&self.first_use[entity]);
        if entity == CARD {
            out.extend(self.card.all());
        }
        if let Some(place) = LABELLED.iter().position(|&e| e == entity) {
            let (p, l) = (&self.profile[place], &self.labels[place]);
            out.extend(p.count);
            out.extend([p.mean, p.std, p.to_mean]);
            out.extend(l.count);
            out.extend(l.rate);
        }
        out.sort_unstable();
        out
    }

    /// The column of each feature among `names` (FEATURE_NAMES, the model's order).
    pub fn from_names(names: &[String]) -> Result<Columns, String> {
        let mut places = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            if places.insert(name.clone(), i).is_some() {
                return Err(format!("feature {name:?} is named twice"));
            }
        }
        let mut c = Claims {
            places,
            missing: Vec::new(),
        };
        let request = REQUEST.map(|name| c.take(name.to_string()));
        let per_window = |c: &mut Claims, what: &str| -> [[usize; 5]; ENTITIES] {
            std::array::from_fn(|e| {
                std::array::from_fn(|w| {
                    c.take(format!("{}_{what}_{}", CATEGORICAL[e], WINDOWS[w].0))
                })
            })
        };
        let count = per_window(&mut c, "count");
        let sum = per_window(&mut c, "amount_sum");
        let mean = per_window(&mut c, "amount_mean");
        let max = per_window(&mut c, "amount_max");
        let distinct = std::array::from_fn(|e| {
            DISTINCT_OF[e]
                .iter()
                .map(|&a| {
                    DISTINCT_WINDOWS.map(|w| {
                        c.take(format!(
                            "{}_distinct_{}_{}",
                            CATEGORICAL[e],
                            plural(a),
                            WINDOWS[w].0
                        ))
                    })
                })
                .collect()
        });
        let per_entity = |c: &mut Claims, what: &str| -> [usize; ENTITIES] {
            std::array::from_fn(|e| c.take(format!("{}_{what}", CATEGORICAL[e])))
        };
        let since_last = per_entity(&mut c, "seconds_since_last");
        let to_mean = per_entity(&mut c, "amount_to_mean_7d");
        let small_1h = per_entity(&mut c, "small_amount_count_1h");
        let first_use = std::array::from_fn(|e| {
            FIRST_USE_OF[e]
                .iter()
                .map(|&a| c.take(format!("{}_{}_first_use", CATEGORICAL[e], CATEGORICAL[a])))
                .collect()
        });
        let mut card = |name: &str| c.take(format!("card_{name}"));
        let card = CardColumns {
            std_7d: card("amount_std_7d"),
            zscore_7d: card("amount_zscore_7d"),
            small_24h: card("small_amount_count_24h"),
            merchant_count_7d: card("merchant_count_7d"),
            distance_from_last: card("distance_from_last_km"),
            speed_from_last: card("speed_from_last_kmh"),
            seconds_since_last_located: card("seconds_since_last_located"),
            distance_from_centroid: card("distance_from_centroid_km"),
            located_count_7d: card("located_count_7d"),
            country_changed: card("country_changed"),
        };
        let profile = LABELLED.map(|e| {
            let entity = CATEGORICAL[e];
            ProfileColumns {
                count: PROFILE_DAYS.map(|(h, _)| c.take(format!("{entity}_count_{h}"))),
                mean: c.take(format!("{entity}_amount_mean_prev30d")),
                std: c.take(format!("{entity}_amount_std_prev30d")),
                to_mean: c.take(format!("{entity}_amount_to_mean_prev30d")),
            }
        });
        let labels = LABELLED.map(|e| {
            let entity = CATEGORICAL[e];
            LabelColumns {
                count: LABEL_HORIZONS.map(|(h, _)| c.take(format!("{entity}_known_fraud_{h}"))),
                rate: LABEL_HORIZONS.map(|(h, _)| c.take(format!("{entity}_known_fraud_rate_{h}"))),
            }
        });
        if !c.missing.is_empty() {
            return Err(format!(
                "features the kernel computes are not named: {:?}",
                c.missing
            ));
        }
        if !c.places.is_empty() {
            let mut unknown: Vec<_> = c.places.into_keys().collect();
            unknown.sort();
            return Err(format!("features the kernel does not compute: {unknown:?}"));
        }
        Ok(Columns {
            width: names.len(),
            request,
            count,
            sum,
            mean,
            max,
            distinct,
            since_last,
            to_mean,
            small_1h,
            first_use,
            card,
            profile,
            labels,
        })
    }
}
