//! The fan-out workload's arithmetic: the `state` buffer and the expected checksums.

use crate::args::FanoutVariant;

/// Size of each `state` task's own buffer.
pub const STATE_BYTES: usize = 1024;

/// Sum of any filled buffer: 1024 bytes cycle through 0..=255 four times (4 · 32640).
pub const STATE_SUM: u64 = 130_560;

/// Fills task `i`'s buffer: `buf[j] = (i + j) mod 256`.
pub fn fill_state(buf: &mut [u8; STATE_BYTES], i: u64) {
    for (j, b) in buf.iter_mut().enumerate() {
        *b = (i as usize).wrapping_add(j) as u8;
    }
}

/// Sums the bytes of a buffer (done after the timer, so the buffer must live across the await).
pub fn sum_state(buf: &[u8; STATE_BYTES]) -> u64 {
    buf.iter().map(|&b| u64::from(b)).sum()
}

/// What task `i` of a `state` fan-out contributes, given its buffer.
pub fn state_contribution(i: u64, buf: &[u8; STATE_BYTES]) -> u64 {
    i + sum_state(buf)
}

/// The checksum a correct run of `n` tasks reports.
pub fn expected_checksum(n: u64, variant: FanoutVariant) -> u64 {
    let bare = n * (n - 1) / 2;
    match variant {
        FanoutVariant::Bare => bare,
        FanoutVariant::State => bare + n * STATE_SUM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_test_vectors() {
        assert_eq!(expected_checksum(1000, FanoutVariant::Bare), 499_500);
        assert_eq!(expected_checksum(1000, FanoutVariant::State), 131_059_500);
    }

    #[test]
    fn task_contributions_add_up() {
        let mut buf = [0u8; STATE_BYTES];
        let mut bare = 0;
        let mut state = 0;
        for i in 0..1000 {
            fill_state(&mut buf, i);
            assert_eq!(sum_state(&buf), STATE_SUM);
            bare += i;
            state += state_contribution(i, &buf);
        }
        assert_eq!(bare, expected_checksum(1000, FanoutVariant::Bare));
        assert_eq!(state, expected_checksum(1000, FanoutVariant::State));
        fill_state(&mut buf, 300);
        assert_eq!((buf[0], buf[1], buf[255]), (44, 45, 43));
    }
}
