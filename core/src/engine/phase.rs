//! The phases of a shutdown and the rule for moving between them.

use core::fmt;

/// Where a shutdown stands.
///
/// Phases only move forward, in this order:
///
/// `Running` → `Initiated` → `StoppingNewRequests` → `Draining` → `ClosingResources` →
/// `FlushingBuffers` → `Completed`, and from any phase after `Running` (but before `Completed`)
/// to `Forced`.
///
/// The derived ordering follows that list, with `Forced` last, so comparisons read naturally:
/// `phase >= Phase::StoppingNewRequests` means "admissions are closed", and
/// `phase >= Phase::Completed` means "the shutdown is over, one way or the other".
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{Phase, Reason, Shutdown};
///
/// let shutdown = Shutdown::new();
/// assert_eq!(shutdown.phase(), Phase::Running);
/// shutdown.trigger(Reason::requested());
/// assert!(shutdown.phase() >= Phase::Initiated);
/// assert!(shutdown.phase() < Phase::StoppingNewRequests); // admissions are still open
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Phase {
    /// Not triggered: the service runs and admits work. A new shutdown's phase (the
    /// default).
    #[default]
    Running = 0,
    /// Triggered. Admissions are still open: this is the pre-stop window in which a service
    /// reports "not ready" so load balancers stop sending new work.
    Initiated = 1,
    /// Admissions are closed: [`Shutdown::enter`](crate::Shutdown::enter) is refused from here on.
    StoppingNewRequests = 2,
    /// Waiting for the work in flight to finish.
    Draining = 3,
    /// Closing registered resources (pools, clients, files), in priority order.
    ClosingResources = 4,
    /// Flushing buffers.
    FlushingBuffers = 5,
    /// Done: every step ran.
    Completed = 6,
    /// Cut short: forced ([`Shutdown::force`](crate::Shutdown::force), a second signal), or the
    /// graceful deadline passed with forcing on.
    Forced = 7,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 8] = [
        Phase::Running,
        Phase::Initiated,
        Phase::StoppingNewRequests,
        Phase::Draining,
        Phase::ClosingResources,
        Phase::FlushingBuffers,
        Phase::Completed,
        Phase::Forced,
    ];

    /// The lowercase name used by `Display`, e.g. `"stopping new requests"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// assert_eq!(winddown::Phase::Draining.as_str(), "draining");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Initiated => "initiated",
            Phase::StoppingNewRequests => "stopping new requests",
            Phase::Draining => "draining",
            Phase::ClosingResources => "closing resources",
            Phase::FlushingBuffers => "flushing buffers",
            Phase::Completed => "completed",
            Phase::Forced => "forced",
        }
    }

    /// Whether no phase can follow this one (`Completed` or `Forced`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Phase;
    /// assert!(Phase::Forced.is_final());
    /// assert!(!Phase::Draining.is_final());
    /// ```
    pub const fn is_final(self) -> bool {
        matches!(self, Phase::Completed | Phase::Forced)
    }

    /// Whether [`enter`](crate::Shutdown::enter) is refused in this phase.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Phase;
    /// assert!(!Phase::Initiated.admissions_closed());
    /// assert!(Phase::StoppingNewRequests.admissions_closed());
    /// assert!(Phase::Forced.admissions_closed());
    /// ```
    pub const fn admissions_closed(self) -> bool {
        self as u8 >= Phase::StoppingNewRequests as u8
    }

    /// Checks whether a shutdown in phase `self` may move to `to`.
    ///
    /// Allowed: any forward move from `Initiated` or later (phases may be skipped), and `Forced`
    /// from any phase after `Running` that is not final. Refused: leaving `Running` (only a
    /// trigger does that), moving back or standing still, and leaving a final phase.
    ///
    /// # Errors
    ///
    /// A [`TransitionError`] naming both phases and why.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Phase;
    /// assert!(Phase::Initiated.check_transition(Phase::Draining).is_ok());
    /// assert!(Phase::Draining.check_transition(Phase::Initiated).is_err());
    /// assert!(Phase::Running.check_transition(Phase::Draining).is_err());
    /// ```
    pub const fn check_transition(self, to: Phase) -> Result<(), TransitionError> {
        let refusal = if matches!(self, Phase::Running) {
            Refusal::NotTriggered
        } else if self.is_final() {
            Refusal::Finished
        } else if (to as u8) <= (self as u8) {
            Refusal::Backward
        } else {
            return Ok(());
        };
        Err(TransitionError {
            from: self,
            to,
            refusal,
        })
    }

    /// Decodes the value stored in the shared phase word. Values are only ever written from a
    /// `Phase`, so anything else is unreachable; it maps to `Forced` rather than panicking.
    #[inline]
    pub(crate) const fn from_usize(value: usize) -> Phase {
        match value {
            0 => Phase::Running,
            1 => Phase::Initiated,
            2 => Phase::StoppingNewRequests,
            3 => Phase::Draining,
            4 => Phase::ClosingResources,
            5 => Phase::FlushingBuffers,
            6 => Phase::Completed,
            _ => Phase::Forced,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A refused phase transition: phases only move forward.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{Phase, Reason, Shutdown};
///
/// let shutdown = Shutdown::new();
/// shutdown.trigger(Reason::requested());
/// shutdown.advance(Phase::Draining).unwrap();
/// let err = shutdown.advance(Phase::StoppingNewRequests).unwrap_err();
/// assert_eq!(err.from(), Phase::Draining);
/// assert_eq!(err.to(), Phase::StoppingNewRequests);
/// assert_eq!(
///     err.to_string(),
///     "cannot move from draining back to stopping new requests: phases only move forward"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionError {
    from: Phase,
    to: Phase,
    refusal: Refusal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NotTriggered,
    Finished,
    Backward,
}

impl TransitionError {
    /// The phase the shutdown was in.
    pub const fn from(&self) -> Phase {
        self.from
    }

    /// The phase that was asked for.
    pub const fn to(&self) -> Phase {
        self.to
    }
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.refusal {
            Refusal::NotTriggered => write!(
                f,
                "cannot move from running to {}: trigger the shutdown first",
                self.to
            ),
            Refusal::Finished => {
                write!(
                    f,
                    "cannot move from {} to {}: the shutdown is over",
                    self.from, self.to
                )
            }
            Refusal::Backward if self.from == self.to => {
                write!(
                    f,
                    "the shutdown is already {}: phases only move forward",
                    self.from
                )
            }
            Refusal::Backward => write!(
                f,
                "cannot move from {} back to {}: phases only move forward",
                self.from, self.to
            ),
        }
    }
}

impl core::error::Error for TransitionError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_follows_the_sequence() {
        for pair in Phase::ALL.windows(2) {
            assert!(pair[0] < pair[1]);
        }
    }

    #[test]
    fn encoding_round_trips() {
        for phase in Phase::ALL {
            assert_eq!(Phase::from_usize(phase as usize), phase);
        }
    }

    #[test]
    fn forced_is_reachable_from_every_live_phase_but_not_from_running() {
        for from in Phase::ALL {
            let ok = from.check_transition(Phase::Forced).is_ok();
            assert_eq!(ok, from != Phase::Running && !from.is_final(), "{from}");
        }
    }
}
