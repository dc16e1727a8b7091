//! A set of codes for counting distinct values in one window walk, emptied in O(1)
//! between rows (a generation stamp per slot), so a replay of millions of rows reuses
//! one allocation. Codes are BLAKE2b prefixes online and dense factorized integers
//! offline: Fibonacci hashing spreads both.

pub struct CodeSet {
    keys: Vec<i64>,
    stamps: Vec<u32>,
    stamp: u32,
    shift: u32,
    len: usize,
}

impl Default for CodeSet {
    fn default() -> Self {
        CodeSet::with_bits(6)
    }
}

impl CodeSet {
    fn with_bits(bits: u32) -> CodeSet {
        CodeSet {
            keys: vec![0; 1 << bits],
            stamps: vec![0; 1 << bits],
            stamp: 1,
            shift: 64 - bits,
            len: 0,
        }
    }

    /// Empty the set, with room for `at_most` codes at under half load.
    pub fn clear(&mut self, at_most: usize) {
        if 2 * at_most >= self.keys.len() {
            let bits = (2 * at_most + 1)
                .next_power_of_two()
                .trailing_zeros()
                .max(6);
            *self = CodeSet::with_bits(bits);
            return;
        }
        self.len = 0;
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.stamps.fill(0);
            self.stamp = 1;
        }
    }

    /// Add a code; true if it was not in the set yet.
    #[inline]
    pub fn insert(&mut self, code: i64) -> bool {
        let mask = self.keys.len() - 1;
        let mut slot = ((code as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        loop {
            if self.stamps[slot] != self.stamp {
                self.stamps[slot] = self.stamp;
                self.keys[slot] = code;
                self.len += 1;
                return true;
            }
            if self.keys[slot] == code {
                return false;
            }
            slot = (slot + 1) & mask;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::CodeSet;

    #[test]
    fn counts_each_code_once_and_empties_between_rows() {
        let mut set = CodeSet::default();
        for round in 0..3 {
            set.clear(300);
            for code in (0..300).chain(0..300) {
                set.insert(code * 7 + round);
            }
            assert_eq!(set.len(), 300);
        }
        set.clear(2);
        assert!(set.insert(i64::MAX));
        assert!(!set.insert(i64::MAX));
        assert_eq!(set.len(), 1);
    }
}
