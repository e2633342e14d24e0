//! The phase word, the trigger's claim and the first trigger's reason (invariant 8).
//!
//! The reason is written once, without a lock, by the one trigger that claimed the scope (took
//! the claim from zero to one), and published by the Release store that moves the phase out of
//! `Running`; every reader checks the phase first. That is the only `unsafe` here, and the reason the phase word
//! lives in this module: nothing outside it can move the phase out of `Running`
//! ([`Header::move_phase`] refuses to), so no safe code can break the publication.
//!
//! What a scope *does* when its phase moves (hooks, closing admissions, waking, reaching the
//! children) is the engine's (`engine/scope.rs`).

use super::header::Header;
use crate::sync::Ordering;
use crate::{Phase, Reason, TransitionError};

impl Header {
    /// The current phase.
    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        // memory ordering: Acquire, pairing with the Release of the phase change, so a caller
        // that sees a phase also sees the reason (invariant 8) and what preceded the change.
        Phase::from_usize(self.phase.load(Ordering::Acquire))
    }

    /// The first trigger's reason, once triggered.
    pub(crate) fn reason(&self) -> Option<&Reason> {
        if self.phase() == Phase::Running {
            return None;
        }
        // SAFETY: invariant 8: the phase left `Running` (Acquire above) after the reason was
        // written, and it is never written again, so a shared reference is sound for as long as
        // `self` is borrowed.
        self.reason.with(|reason| unsafe { (*reason).as_ref() })
    }

    /// Claims the trigger if nothing has: then keeps `reason` and moves the phase to
    /// `Initiated`. Whether this call was the trigger; a later one changes nothing (triggering
    /// is idempotent: only an explicit force escalates).
    pub(crate) fn claim_trigger(&self, reason: Reason) -> bool {
        // memory ordering: only atomicity matters: exactly one claim finds zero, and it alone
        // writes the reason, which the phase's Release store below publishes (invariant 8).
        // AcqRel anyway, as plain as it gets: a trigger is no hot path.
        let first = self
            .claimed
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            self.initiate(reason);
        }
        first
    }

    /// `Running` → `Initiated`, by the one trigger that claimed the scope.
    fn initiate(&self, reason: Reason) {
        // SAFETY: invariant 8: only the party that took `claimed` from zero gets here, once, and
        // nobody reads `reason` until `phase` leaves `Running`, which happens below.
        self.reason.with_mut(|slot| unsafe { *slot = Some(reason) });
        // memory ordering: Release publishes the reason; only this call moves the phase out of
        // `Running` (`move_phase` refuses to), so a plain store cannot overwrite a later phase.
        self.phase
            .store(Phase::Initiated as usize, Ordering::Release);
    }

    /// Moves the phase word to `to`, returning the phase it moved from; nothing else.
    ///
    /// # Errors
    ///
    /// [`TransitionError`] for a move that is not forward, or out of `Running` (only a trigger
    /// leaves it), or out of a final phase.
    pub(crate) fn move_phase(&self, to: Phase) -> Result<Phase, TransitionError> {
        // memory ordering: Acquire / AcqRel CAS: phase changes are totally ordered on this word;
        // each publishes what its caller did before it.
        let mut current = self.phase.load(Ordering::Acquire);
        loop {
            Phase::from_usize(current).check_transition(to)?;
            match self.phase.compare_exchange_weak(
                current,
                to as usize,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(Phase::from_usize(current)),
                Err(actual) => current = actual,
            }
        }
    }
}
