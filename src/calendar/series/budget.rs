//! How much work expanding recurring series may take.
//!
//! A rule is client input, and expanding it is client-controlled work: a
//! `FREQ=SECONDLY` series read at year 9999, or a rule that never matches,
//! once held the store's only connection for good. Each expansion is bounded
//! by the occurrences it visits ([`MAX_VISITED`]); each store call by a
//! deadline ([`call_deadline`]) that the expansions it runs check as they go,
//! so a call that has run out of time stops its work instead of leaving it
//! to run on a blocking thread after the client was answered.
//!
//! The deadline travels with the thread that runs the call (the store runs
//! each call on one blocking-pool thread from start to end), set by
//! [`Deadline::start`] and cleared when the guard drops: an explicit argument
//! would have to pass through every listing and lookup function that may
//! meet a series.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Most occurrences one expansion may visit, from where it starts (the series
/// start, or a period just before the window when the rule allows a jump) to
/// the end of the window.
pub const MAX_VISITED: u32 = 200_000;

/// How long one store call may spend, expansions included.
pub const CALL_TIME: Duration = Duration::from_secs(5);

/// How many visits pass between two looks at the clock.
const CLOCK_EVERY: u32 = 1024;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The deadline of the call running on this thread; the previous one (none,
/// normally) comes back when it is dropped.
pub struct Deadline {
    previous: Option<Instant>,
}

impl Deadline {
    /// Sets `at` as this thread's deadline until the guard drops.
    pub fn start(at: Instant) -> Deadline {
        Deadline {
            previous: DEADLINE.replace(Some(at)),
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        DEADLINE.set(self.previous);
    }
}

/// The deadline for a call starting now.
pub fn call_deadline() -> Instant {
    Instant::now() + CALL_TIME
}

/// Why an expansion stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// More than [`MAX_VISITED`] occurrences were visited.
    Visits,
    /// The call's deadline passed.
    Time,
}

/// Counts one expansion's visits and watches the call's deadline.
#[derive(Debug, Default)]
pub struct Meter {
    visited: u32,
}

impl Meter {
    /// Counts one visited occurrence; refuses past a bound.
    pub fn visit(&mut self) -> Result<(), Exhausted> {
        self.visited += 1;
        if self.visited > MAX_VISITED {
            return Err(Exhausted::Visits);
        }
        if self.visited.is_multiple_of(CLOCK_EVERY) && past_deadline() {
            return Err(Exhausted::Time);
        }
        Ok(())
    }
}

/// Whether this thread's call has run out of time.
pub fn past_deadline() -> bool {
    DEADLINE.get().is_some_and(|at| Instant::now() >= at)
}

#[cfg(test)]
mod tests {
    use super::{Deadline, Exhausted, MAX_VISITED, Meter, past_deadline};
    use std::time::{Duration, Instant};

    #[test]
    fn visits_and_time_are_both_bounded() {
        let mut meter = Meter::default();
        for _ in 0..MAX_VISITED {
            meter.visit().unwrap();
        }
        assert_eq!(meter.visit(), Err(Exhausted::Visits));

        assert!(!past_deadline());
        {
            let _deadline = Deadline::start(Instant::now() - Duration::from_millis(1));
            assert!(past_deadline());
            let mut meter = Meter::default();
            let stopped = (0..4096).find_map(|_| meter.visit().err());
            assert_eq!(stopped, Some(Exhausted::Time));
        }
        assert!(!past_deadline(), "the guard clears the deadline");
    }
}
