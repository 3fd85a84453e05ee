//! How long a failed job waits before its next attempt.

use std::time::Duration;

/// The longest back-off of any retry, whatever a [`Backoff`] says: 30 days. It keeps the
/// next run time of a job computable and inside the range every backend stores.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How long a failed job waits before its next attempt: exponential, with jitter.
///
/// The ceiling of attempt `n` (1-based) is `base × 2ⁿ⁻¹`, capped at `max` (and at
/// [`MAX_BACKOFF`]); the delay is drawn
/// uniformly between half the ceiling and the ceiling ("equal jitter"), so retries of many
/// jobs that failed together spread out, and each retry of one job waits at least as long as
/// the one before could have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry.
    pub base: Duration,
    /// No delay is longer than this.
    pub max: Duration,
}

impl Backoff {
    /// 10 s, 20 s, 40 s … up to one hour.
    pub const DEFAULT: Backoff = Backoff {
        base: Duration::from_secs(10),
        max: Duration::from_secs(3_600),
    };

    /// The longest delay after failed attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 31)).unwrap_or(31);
        self.base
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max)
            .min(MAX_BACKOFF)
    }

    /// A delay after failed attempt `attempt`: between half of [`Backoff::ceiling`] and all
    /// of it, at random.
    pub fn delay(&self, attempt: i32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rand::random_range(0..=spread))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_doubles_up_to_its_cap_and_each_delay_stays_within_its_band() {
        let backoff = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        let ceilings: Vec<u64> = (1..=5).map(|a| backoff.ceiling(a).as_secs()).collect();
        assert_eq!(ceilings, [10, 20, 40, 60, 60]);
        for attempt in 1..=5 {
            let ceiling = backoff.ceiling(attempt);
            for _ in 0..200 {
                let delay = backoff.delay(attempt);
                assert!(delay >= ceiling / 2 && delay <= ceiling, "{delay:?}");
            }
        }
        // The band of a retry starts where the previous one ends: a later retry never waits
        // less than an earlier one could have.
        assert_eq!(backoff.ceiling(2) / 2, backoff.ceiling(1));
    }

    #[test]
    fn delays_are_jittered() {
        let delays: std::collections::HashSet<Duration> =
            (0..50).map(|_| Backoff::DEFAULT.delay(3)).collect();
        assert!(delays.len() > 40);
    }

    #[test]
    fn absurd_attempt_numbers_stay_at_the_cap() {
        assert_eq!(Backoff::DEFAULT.ceiling(i32::MAX), Backoff::DEFAULT.max);
        assert_eq!(Backoff::DEFAULT.ceiling(0), Backoff::DEFAULT.base);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// Back-off: no attempt number and no configuration panics or overflows; every
        /// delay lies in its band and never over `MAX_BACKOFF`.
        #[test]
        fn back_off_never_overflows(
            attempt in any::<i32>(),
            base in any::<u64>(),
            max in any::<u64>(),
            nanos in 0u32..1_000_000_000,
        ) {
            let backoff = Backoff {
                base: Duration::new(base, nanos),
                max: Duration::new(max, nanos),
            };
            let ceiling = backoff.ceiling(attempt);
            prop_assert!(ceiling <= MAX_BACKOFF && ceiling <= backoff.max);
            let delay = backoff.delay(attempt);
            prop_assert!(delay <= ceiling && delay >= ceiling / 2);
        }
    }
}
