//! What a scope does when it is triggered, moved forward, closed or forced: the trigger hooks,
//! closing admissions, waking the waiters, and bringing the child scopes along.
//!
//! Safe code, written over the raw header's safe methods (`raw/`): the phase word, the trigger
//! claim and the reason (`raw/trigger.rs`), closing the stripes (`raw/admission.rs`) and the
//! list of children (`raw/tree.rs`). Invariant numbers refer to `raw/word.rs`; "waiters
//! invariant N" to `waiters.rs`.
//!
//! Every phase change runs the same three steps after the phase word moved
//! (`after_transition`): close admissions if the new phase closes them (idempotent, so no
//! advancer returns before they are closed, whatever order concurrent advancers run in), wake
//! the phase waiters (after the store: waiters invariant 3), and reach every child.

use super::hooks::{self, TriggerHook};
use crate::raw::Header;
use crate::sync::spin_loop;
use crate::{Phase, Reason, TransitionError};

impl Header {
    /// Triggers the scope with `reason` unless something triggered it already; whether this
    /// call was the trigger. A later trigger changes nothing: only a force escalates.
    pub(crate) fn trigger(&self, reason: Reason) -> bool {
        let first = self.claim_trigger(reason);
        if first {
            self.initiated();
        }
        first
    }

    /// The rest of the first trigger, once the phase word says `Initiated`: the hooks run after
    /// the phase moved (so a hook may close or advance the scope) and before any waiter is
    /// woken or this trigger returns.
    fn initiated(&self) {
        let fired = self.trigger_hooks().lock().fire();
        for hook in fired {
            self.run_hook(hook);
        }
        self.after_transition(Phase::Initiated);
    }

    /// Adds a trigger hook, or runs it now (on this thread) if the trigger has taken the list.
    pub(crate) fn on_trigger(&self, hook: TriggerHook) {
        let late = self.trigger_hooks().lock().add(hook);
        if let Some(hook) = late {
            self.run_hook(hook);
        }
    }

    /// Runs one hook with the reason, outside every lock.
    fn run_hook(&self, hook: TriggerHook) {
        // The trigger that fired the hooks wrote the reason before it set `fired` (both under
        // invariant 8's publication), so it is there for every hook.
        if let Some(reason) = self.reason() {
            hooks::run(hook, reason);
        }
    }

    /// Moves to `to`, returning the phase it moved from.
    ///
    /// # Errors
    ///
    /// As [`Header::move_phase`]: not forward, not triggered, or over.
    pub(crate) fn advance(&self, to: Phase) -> Result<Phase, TransitionError> {
        let from = self.move_phase(to)?;
        self.after_transition(to);
        Ok(from)
    }

    /// Advances to `to` right after this scope was triggered: if the trigger that won is still
    /// between claiming the scope and leaving `Running`, wait for it (a few instructions).
    fn advance_triggered(&self, to: Phase) {
        loop {
            match self.advance(to) {
                Err(err) if err.from() == Phase::Running => spin_loop(),
                // Already there or past it, or moved: either way admissions are as asked.
                Ok(_) | Err(_) => return,
            }
        }
    }

    /// Triggers (if needed) and moves to `Forced` (if not final).
    pub(crate) fn force(&self, reason: Reason) {
        self.trigger(reason);
        self.advance_triggered(Phase::Forced);
    }

    /// Closes admissions (triggering first with `reason` if needed).
    pub(crate) fn close(&self, reason: Reason) {
        if self.phase() == Phase::Running {
            // A concurrent trigger may win, which is fine.
            self.trigger(reason);
        }
        self.advance_triggered(Phase::StoppingNewRequests);
        // Whether we moved the phase or someone else did (or will, concurrently), make sure the
        // stripes are closed before we return: closing is idempotent.
        if self.phase().admissions_closed() {
            self.close_admissions();
        }
    }

    /// What every phase change does after the phase word moved to `to` (see the module docs).
    fn after_transition(&self, to: Phase) {
        if to.admissions_closed() {
            self.close_admissions();
        }
        self.phase_waiters().wake_all();
        // Every method reachable from `follow_parent` is sound on a dead scope (its parent link
        // pointers are null), as `for_each_child` asks.
        self.for_each_child(|child| child.follow_parent(to));
    }

    /// Brings this scope (a child) to follow its parent, which reached `parent_phase`:
    /// triggered with the parent, admissions closed with the parent, forced with the parent.
    pub(crate) fn follow_parent(&self, parent_phase: Phase) {
        if parent_phase == Phase::Running {
            return;
        }
        self.trigger(Reason::Parent);
        if parent_phase == Phase::Forced {
            self.advance_triggered(Phase::Forced);
        } else if parent_phase.admissions_closed() {
            self.advance_triggered(Phase::StoppingNewRequests);
        }
    }

    /// Guards in flight in this scope and every scope below it, each counted once: a child's
    /// own unit here is replaced by what is in flight in it. A snapshot.
    pub(crate) fn in_flight_subtree(&self) -> usize {
        let mut total = self.in_flight();
        self.for_each_child(|child| {
            if child.holds_parent_guard() {
                total = total.saturating_sub(1);
            }
            total += child.in_flight_subtree();
        });
        total
    }
}
