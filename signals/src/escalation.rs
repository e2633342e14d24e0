//! Escalation: what the nth signal a listener receives does.
//!
//! This module is pure: it sends no signal and ends no process, so the whole rule is unit-tested
//! here. Two counters apply it to the same deliveries: the signal handler's
//! ([`crate::exit`]), which ends the process on the third, and the listener thread's
//! ([`Escalation`], in [`crate::listener`]), which triggers and forces.
//!
//! # Invariants
//!
//! 1. The count is the listener's own: one per delivery of a signal in its set, whichever signal
//!    of the set it was. Triggers from elsewhere (an API call, another listener) are not counted.
//! 2. The count only grows, and saturates instead of wrapping, so an `Exit` is never followed by a
//!    `Trigger`.

use core::fmt;

/// What a delivered signal does, chosen by how many signals the listener has received.
///
/// | nth signal | action                 | effect on the [`Shutdown`](winddown_core::Shutdown)                     |
/// |------------|------------------------|--------------------------------------------------------------------------|
/// | 1st        | [`Trigger`](Self::Trigger) | `trigger(Reason::Signal(n))`, unless it was already triggered        |
/// | 2nd        | [`Force`](Self::Force)     | `force(Reason::Signal(n))`: the stop is forced                       |
/// | 3rd, …     | [`Exit`](Self::Exit)       | none: the signal handler ends the process at once, `_exit(128 + n)`  |
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
/// use winddown::signals::{Action, Event};
///
/// fn log(event: &Event) {
///     match event.action() {
///         Action::Trigger => eprintln!("graceful shutdown: {event}"),
///         Action::Force => eprintln!("forced: {event}"),
///         Action::Exit { status } => eprintln!("exiting with {status}: {event}"),
///         _ => eprintln!("{event}"),
///     }
/// }
/// # let _ = log;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// The first signal: the shutdown is triggered with
    /// [`Reason::Signal`](winddown_core::Reason::Signal), unless something else triggered it
    /// first (then nothing changes; see [`Event::started_shutdown`](crate::Event::started_shutdown)).
    Trigger,
    /// The second signal: the shutdown is forced (the phase moves to
    /// [`Forced`](winddown_core::Phase::Forced) and admissions close). The next signal ends
    /// the process from inside the signal handler.
    Force,
    /// The third and every later signal: the signal handler ends the process at once with
    /// `_exit(status)`, without unwinding, running destructors or `atexit` hooks, whatever the
    /// listener thread is doing. The [`on_event`](crate::Builder::on_event) hook never sees it
    /// in a real process: the process is gone first.
    Exit {
        /// The exit status: 128 + the signal number (143 for SIGTERM, 130 for SIGINT), what a
        /// shell reports for a process killed by that signal. The process *exits* with it, it
        /// is not killed by the signal: a parent's
        /// [`ExitStatus::code`](std::process::ExitStatus::code) is `Some(status)` and
        /// [`ExitStatus::signal`](std::os::unix::process::ExitStatusExt::signal) is `None`.
        /// That works the same as PID 1 in a container, where the kernel ignores a signal's
        /// default action.
        status: i32,
    },
}

impl Action {
    /// The action for the `nth` signal (1-based) a listener received, `signal` being that signal.
    pub(crate) const fn for_nth(nth: u32, signal: i32) -> Action {
        match nth {
            // A count of 0 never reaches here (invariant 2 starts counting at 1); treat it as
            // the first so that the function is total.
            0 | 1 => Action::Trigger,
            2 => Action::Force,
            _ => Action::Exit {
                status: shell_status(signal),
            },
        }
    }

    /// A short lowercase description, e.g. `"shutdown forced"`.
    const fn describe(self) -> &'static str {
        match self {
            Action::Trigger => "shutdown triggered",
            Action::Force => "shutdown forced; another signal ends the process at once",
            Action::Exit { .. } => "ending the process at once",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The status a shell reports for a process killed by `signal`: 128 + the signal number.
pub(crate) const fn shell_status(signal: i32) -> i32 {
    128_i32.saturating_add(signal)
}

/// A listener's signal count (invariants 1 and 2).
#[derive(Debug, Default)]
pub(crate) struct Escalation {
    received: u32,
}

impl Escalation {
    /// Counts one delivery of `signal` and returns its 1-based count and what it must do.
    pub(crate) fn next(&mut self, signal: i32) -> (u32, Action) {
        // Invariant 2: saturate, so that a (theoretical) 2^32nd signal still exits.
        self.received = self.received.saturating_add(1);
        (self.received, Action::for_nth(self.received, signal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;

    #[test]
    fn first_triggers_second_forces_third_exits() {
        let mut escalation = Escalation::default();
        assert_eq!(escalation.next(SIGTERM), (1, Action::Trigger));
        assert_eq!(escalation.next(SIGTERM), (2, Action::Force));
        assert_eq!(escalation.next(SIGTERM), (3, Action::Exit { status: 143 }));
    }

    #[test]
    fn every_signal_after_the_third_exits() {
        let mut escalation = Escalation::default();
        for _ in 0..3 {
            escalation.next(SIGINT);
        }
        for nth in 4..10 {
            assert_eq!(escalation.next(SIGINT), (nth, Action::Exit { status: 130 }));
        }
    }

    #[test]
    fn signals_of_the_set_count_together() {
        let mut escalation = Escalation::default();
        assert_eq!(escalation.next(SIGINT), (1, Action::Trigger));
        assert_eq!(escalation.next(SIGTERM), (2, Action::Force));
        // The exit status comes from the signal that ends the process.
        assert_eq!(escalation.next(SIGINT), (3, Action::Exit { status: 130 }));
    }

    #[test]
    fn count_saturates() {
        let mut escalation = Escalation {
            received: u32::MAX - 1,
        };
        assert_eq!(
            escalation.next(SIGTERM),
            (u32::MAX, Action::Exit { status: 143 })
        );
        assert_eq!(
            escalation.next(SIGTERM),
            (u32::MAX, Action::Exit { status: 143 })
        );
    }

    #[test]
    fn for_nth_is_total() {
        assert_eq!(Action::for_nth(0, SIGTERM), Action::Trigger);
        assert_eq!(Action::for_nth(1, SIGTERM), Action::Trigger);
        assert_eq!(Action::for_nth(2, SIGTERM), Action::Force);
        assert_eq!(Action::for_nth(3, SIGTERM), Action::Exit { status: 143 });
    }

    #[test]
    fn shell_status_is_128_plus_signal() {
        assert_eq!(shell_status(SIGTERM), 143);
        assert_eq!(shell_status(SIGINT), 130);
        assert_eq!(shell_status(i32::MAX), i32::MAX);
    }

    #[test]
    fn display_is_lowercase_without_period() {
        for action in [Action::Trigger, Action::Force, Action::Exit { status: 143 }] {
            let text = action.to_string();
            assert!(text.starts_with(char::is_lowercase), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }
}
