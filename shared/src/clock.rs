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
