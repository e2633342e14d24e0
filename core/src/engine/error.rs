//! The admission error.

use core::fmt;

use crate::Phase;

/// An admission refused because admissions are closed.
///
/// Returned by [`Shutdown::enter`](crate::Shutdown::enter) once the shutdown has reached
/// [`Phase::StoppingNewRequests`] or later.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{Phase, Shutdown};
///
/// let shutdown = Shutdown::new();
/// shutdown.close();
/// let err = shutdown.enter().unwrap_err();
/// assert_eq!(err.phase(), Phase::StoppingNewRequests);
/// assert_eq!(err.to_string(), "admissions are closed: shutdown is stopping new requests");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    phase: Phase,
}

impl Closed {
    pub(crate) const fn new(phase: Phase) -> Self {
        Self { phase }
    }

    /// The phase the shutdown was in when the admission was refused.
    pub const fn phase(&self) -> Phase {
        self.phase
    }
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "admissions are closed: shutdown is {}", self.phase)
    }
}

impl core::error::Error for Closed {}
