//! The phase word, the trigger count and the first trigger's reason (invariant 8).
//!
//! The reason is written once, without a lock, by the one trigger that took the count from
//! zero, and published by the Release store that moves the phase out of `Running`; every
//! reader checks the phase first. That is the only `unsafe` here, and the reason the phase word
//! lives in this module: nothing outside it can move the phase out of `Running`
//! ([`Header::move_phase`] refuses to), so no safe code can break the publication.
//!
//! What a scope *does* when its phase moves (hooks, closing admissions, waking, reaching the
//! children) is the engine's (`engine/scope.rs`).

use super::header::Header;
use super::word;
use crate::sync::{abort, Ordering};
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

    /// How many times the scope was triggered.
    pub(crate) fn trigger_count(&self) -> usize {
        // memory ordering: Relaxed: a count for display and escalation, publishes nothing.
        self.triggers.load(Ordering::Relaxed)
    }

    /// Counts a trigger; the first one also keeps `reason` and moves the phase to `Initiated`.
    /// Returns how many triggers there have been, this one included.
    pub(crate) fn count_trigger(&self, reason: Reason) -> usize {
        // memory ordering: AcqRel: orders the triggers; the one that finds zero writes the
        // reason (invariant 8). Saturates far below wrapping, like the guard count.
        let previous = self.triggers.fetch_add(1, Ordering::AcqRel);
        if previous > word::MAX_WORD {
            abort();
        }
        if previous == 0 {
            self.initiate(reason);
        }
        previous + 1
    }

    /// Counts a trigger only if none came before: then keeps `reason` and moves the phase to
    /// `Initiated`. Whether this call was the trigger.
    pub(crate) fn count_first_trigger(&self, reason: Reason) -> bool {
        // memory ordering: AcqRel, as in `count_trigger`.
        let first = self
            .triggers
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            self.initiate(reason);
        }
        first
    }

    /// `Running` → `Initiated`, by the one trigger that took the count from zero.
    fn initiate(&self, reason: Reason) {
        // SAFETY: invariant 8: only the party that took `triggers` from zero gets here, once, and
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
