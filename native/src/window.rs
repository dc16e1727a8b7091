//! An entity's window of earlier events, as the feature walk reads it: latest first,
//! whether it is the store's reply (members back to back) or a slice of a replayed
//! history sorted by entity and time.

use crate::distinct::CodeSet;
use crate::layout::MemberLayout;

/// Events in time order, read from the latest (j = 0) back.
pub trait Window {
    /// How many distinct codes (>= 0) of `attribute` the latest lengths[i] events hold
    /// (lengths ascending: nested windows).
    fn distinct(&self, attribute: usize, lengths: [usize; 3], set: &mut CodeSet) -> [usize; 3] {
        set.clear(lengths[2]);
        let mut out = [0; 3];
        let mut j = 0;
        for (i, &length) in lengths.iter().enumerate() {
            while j < length {
                let code = self.attribute(attribute, j);
                if code >= 0 {
                    set.insert(code);
                }
                j += 1;
            }
            out[i] = set.len();
        }
        out
    }

    fn len(&self) -> usize;
    fn ts(&self, j: usize) -> i64;
    fn amount(&self, j: usize) -> f64;
    /// The code of a CATEGORICAL attribute the entity's members carry.
    fn attribute(&self, attribute: usize, j: usize) -> i64;
    /// NaN where the event had no location (and for entities without locations).
    fn latitude(&self, j: usize) -> f64;
    fn longitude(&self, j: usize) -> f64;
}

/// The store's reply: fixed-width members, latest first, back to back.
pub struct Members<'a> {
    bytes: &'a [u8],
    layout: &'a MemberLayout,
    len: usize,
}

impl<'a> Members<'a> {
    pub fn new(bytes: &'a [u8], layout: &'a MemberLayout) -> Option<Members<'a>> {
        if bytes.len() % layout.size != 0 {
            return None;
        }
        Some(Members {
            bytes,
            layout,
            len: bytes.len() / layout.size,
        })
    }

    #[inline]
    fn word(&self, j: usize, offset: usize) -> [u8; 8] {
        let at = j * self.layout.size + offset;
        self.bytes[at..at + 8].try_into().expect("8 bytes")
    }
}

impl Window for Members<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.len
    }
    #[inline]
    fn ts(&self, j: usize) -> i64 {
        i64::from_le_bytes(self.word(j, self.layout.ts))
    }
    #[inline]
    fn amount(&self, j: usize) -> f64 {
        f64::from_le_bytes(self.word(j, self.layout.amount))
    }
    #[inline]
    fn attribute(&self, attribute: usize, j: usize) -> i64 {
        let offset = self.layout.attributes[attribute].expect("an attribute of the layout");
        i64::from_le_bytes(self.word(j, offset))
    }
    #[inline]
    fn latitude(&self, j: usize) -> f64 {
        self.layout
            .latitude
            .map_or(f64::NAN, |o| f64::from_le_bytes(self.word(j, o)))
    }
    #[inline]
    fn longitude(&self, j: usize) -> f64 {
        self.layout
            .longitude
            .map_or(f64::NAN, |o| f64::from_le_bytes(self.word(j, o)))
    }
}

/// One entity's events of a whole history, sorted by (code, time), column by column.
pub struct SortedEvents {
    pub ts: Vec<i64>,
    pub amount: Vec<f64>,
    /// By CATEGORICAL index; empty where the entity's window does not carry it.
    pub attributes: [Vec<i64>; 6],
    /// For each attribute whose distinct values are counted: 1 + the position of the
    /// previous event with the same code (0 if none; u32::MAX for an absent code).
    pub previous: [Vec<u32>; 6],
    /// Empty for entities without locations.
    pub latitude: Vec<f64>,
    pub longitude: Vec<f64>,
}

/// Events [start, end) of a SortedEvents: one row's window in the replay.
pub struct Slice<'a> {
    pub events: &'a SortedEvents,
    pub start: usize,
    pub end: usize,
}

impl Window for Slice<'_> {
    /// The values first seen inside a window are its distinct ones: no hashing, one
    /// comparison per event and window (the previous occurrence may lie in another
    /// entity's events: before the window all the same).
    fn distinct(&self, attribute: usize, lengths: [usize; 3], _: &mut CodeSet) -> [usize; 3] {
        let previous = &self.events.previous[attribute];
        lengths.map(|length| {
            let start = self.end - length;
            // Stored as 1 + position: "before the window" is < 1 + its start.
            let bound = start as u32 + 1;
            previous[start..self.end]
                .iter()
                .map(|&before| (before < bound) as usize)
                .sum()
        })
    }

    #[inline]
    fn len(&self) -> usize {
        self.end - self.start
    }
    #[inline]
    fn ts(&self, j: usize) -> i64 {
        self.events.ts[self.end - 1 - j]
    }
    #[inline]
    fn amount(&self, j: usize) -> f64 {
        self.events.amount[self.end - 1 - j]
    }
    #[inline]
    fn attribute(&self, attribute: usize, j: usize) -> i64 {
        self.events.attributes[attribute][self.end - 1 - j]
    }
    #[inline]
    fn latitude(&self, j: usize) -> f64 {
        self.events
            .latitude
            .get(self.end - 1 - j)
            .copied()
            .unwrap_or(f64::NAN)
    }
    #[inline]
    fn longitude(&self, j: usize) -> f64 {
        self.events
            .longitude
            .get(self.end - 1 - j)
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// No events (an absent entity, or the store unavailable).
pub struct Empty;

impl Window for Empty {
    fn len(&self) -> usize {
        0
    }
    fn ts(&self, _: usize) -> i64 {
        unreachable!("an empty window has no events")
    }
    fn amount(&self, _: usize) -> f64 {
        unreachable!("an empty window has no events")
    }
    fn attribute(&self, _: usize, _: usize) -> i64 {
        unreachable!("an empty window has no events")
    }
    fn latitude(&self, _: usize) -> f64 {
        unreachable!("an empty window has no events")
    }
    fn longitude(&self, _: usize) -> f64 {
        unreachable!("an empty window has no events")
    }
}
