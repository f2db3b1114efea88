//! The handlers' clock: the system clock, shifted by an offset that only tests move, so a test
//! of expiry or ordering advances time instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::time::Timestamp;

#[derive(Debug, Default)]
pub struct Clock {
    offset_seconds: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        Timestamp::now().plus_seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// Now in unix milliseconds (creation order within a second).
    pub fn now_ms(&self) -> i64 {
        let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        (nanos / 1_000_000) as i64 + self.offset_seconds.load(Ordering::Relaxed) * 1000
    }

    /// Now, as a timestamp (whole seconds) and in milliseconds, read once so the two agree.
    pub fn now_with_ms(&self) -> (Timestamp, i64) {
        let ms = self.now_ms();
        (Timestamp::from_unix(ms.div_euclid(1000)), ms)
    }

    /// Moves this clock (and only this one) forward.
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(3600);
        let after = clock.now();
        assert!(after.unix() - before.unix() >= 3600 && after.unix() - before.unix() <= 3601);
    }
}
