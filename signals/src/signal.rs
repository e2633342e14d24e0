//! The signals a listener can take: the ones that mean "stop".
//!
//! A closed set, so that [`Builder::listen`](crate::Builder::listen) never meets a signal it
//! cannot handle (SIGKILL, SIGSTOP, SIGSEGV, ...) or a number that is no signal at all. The
//! listener maps each to its number once, in `listen`, before it registers anything: the
//! signal handler only ever sees numbers.

use core::fmt;

use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

/// A signal that stops the process, for [`Builder::signal`](crate::Builder::signal).
///
/// [`Builder::new`](crate::Builder::new) starts with [`Term`](Self::Term) and
/// [`Int`](Self::Int); the others are opt-in. Its `Display` is the signal's name, as
/// `kill -l` and the man pages spell it: `SIGTERM`.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
/// # #[cfg(unix)] {
/// use winddown::signals::Signal;
///
/// assert_eq!(Signal::Term.to_string(), "SIGTERM");
/// assert_eq!(Signal::Term.number(), 15);
/// // What a shell reports when the third one ends the process: 128 + the number.
/// assert_eq!(128 + Signal::Int.number(), 130);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// SIGTERM: `kill`, `systemctl stop`, Kubernetes and Docker ask the process to stop.
    Term,
    /// SIGINT: Ctrl-C in the terminal.
    Int,
    /// SIGQUIT: Ctrl-\ in the terminal; by default it also dumps core.
    Quit,
    /// SIGHUP: the terminal went away. Leave it out where it means "reload the
    /// configuration" (see the [crate docs](crate)).
    Hup,
    /// SIGUSR1: no meaning but the one the application gives it.
    Usr1,
    /// SIGUSR2: no meaning but the one the application gives it.
    Usr2,
}

impl Signal {
    /// The signal's number on this platform, as in
    /// [`Reason::Signal`](winddown_core::Reason::Signal) and `kill -<number>` (15 for
    /// SIGTERM; SIGUSR1 is 10 on Linux, 30 on macOS and the BSDs).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)] {
    /// use winddown::Reason;
    /// use winddown::signals::Signal;
    ///
    /// let reason = Reason::Signal(Signal::Int.number());
    /// assert_eq!(reason, Reason::Signal(2));
    /// # }
    /// ```
    pub const fn number(self) -> i32 {
        match self {
            Signal::Term => SIGTERM,
            Signal::Int => SIGINT,
            Signal::Quit => SIGQUIT,
            Signal::Hup => SIGHUP,
            Signal::Usr1 => SIGUSR1,
            Signal::Usr2 => SIGUSR2,
        }
    }

    /// The signal's name, what its `Display` writes: `"SIGTERM"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)] {
    /// assert_eq!(winddown::signals::Signal::Usr2.name(), "SIGUSR2");
    /// # }
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
            Signal::Quit => "SIGQUIT",
            Signal::Hup => "SIGHUP",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Signal; 6] = [
        Signal::Term,
        Signal::Int,
        Signal::Quit,
        Signal::Hup,
        Signal::Usr1,
        Signal::Usr2,
    ];

    #[test]
    fn names_are_signal_hooks() {
        for signal in ALL {
            assert_eq!(
                signal_hook::low_level::signal_name(signal.number()),
                Some(signal.name())
            );
            assert_eq!(signal.to_string(), signal.name());
        }
    }

    #[test]
    fn none_is_forbidden() {
        for signal in ALL {
            assert!(!signal_hook::consts::FORBIDDEN.contains(&signal.number()));
        }
    }
}
