//! The stream workload's data: the item, the stage transform and the sink's checksum fold.

use crate::clock;

/// One item travelling source → stages → sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub value: u32,
    /// [`clock::now_ns`] when the source produced it, on every `sample_every`-th item.
    pub stamp_ns: Option<u64>,
}

impl Item {
    /// The source's item for `seq`: `value = seq` (as u32), stamped when `seq.is_multiple_of(sample_every)`.
    pub fn new(seq: u64, sample_every: u64) -> Item {
        let stamped = sample_every > 0 && seq.is_multiple_of(sample_every);
        Item {
            value: seq as u32,
            stamp_ns: stamped.then(clock::now_ns),
        }
    }
}

/// What every stage applies once: `value * 1664525 + 1013904223 (mod 2^32)`.
#[inline]
pub fn transform(value: u32) -> u32 {
    value.wrapping_mul(1_664_525).wrapping_add(1_013_904_223)
}

/// The sink's order-sensitive checksum (FNV-1a style over 32-bit values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum(pub u32);

impl Checksum {
    pub const INIT: Checksum = Checksum(2_166_136_261);

    /// Folds one value: `h = (h XOR value) * 16777619 (mod 2^32)`.
    #[inline]
    pub fn fold(self, value: u32) -> Checksum {
        Checksum((self.0 ^ value).wrapping_mul(16_777_619))
    }
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum::INIT
    }
}

/// The checksum a correct run of `items` items through `stages` stages reports.
pub fn expected_checksum(items: u64, stages: usize) -> u32 {
    (0..items)
        .map(|seq| (0..stages).fold(seq as u32, |v, _| transform(v)))
        .fold(Checksum::INIT, Checksum::fold)
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_test_vectors() {
        assert_eq!(expected_checksum(10, 1), 1_162_576_678);
        assert_eq!(expected_checksum(1000, 4), 3_828_873_421);
        assert_eq!(expected_checksum(100_000, 4), 772_495_653);
    }

    #[test]
    fn items_are_stamped_every_sample() {
        clock::init();
        assert!(Item::new(0, 10).stamp_ns.is_some());
        assert!(Item::new(5, 10).stamp_ns.is_none());
        assert!(Item::new(20, 10).stamp_ns.is_some());
        assert!(Item::new(0, 0).stamp_ns.is_none());
        assert_eq!(Item::new(1 << 32 | 7, 1).value, 7);
    }
}
