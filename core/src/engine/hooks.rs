//! The trigger hooks of a scope ([`Shutdown::on_trigger`](crate::Shutdown::on_trigger)): the
//! list, and how one hook is run.
//!
//! The list lives in the scope's header under its lock; `scope.rs` adds to it and has the first
//! trigger take it. Each hook runs exactly once: the first trigger sets `fired` when it takes
//! the list (under the lock), and a hook added afterwards is handed back to run at once on the
//! adding thread.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::Reason;

/// A hook run by the first trigger, with its reason.
pub(crate) type TriggerHook = Box<dyn FnOnce(&Reason) + Send>;

/// The trigger hooks of a scope, and whether the trigger has taken them.
#[derive(Default)]
pub(crate) struct TriggerHooks {
    /// Set by the first trigger when it takes the list.
    fired: bool,
    hooks: Vec<TriggerHook>,
}

impl TriggerHooks {
    /// Keeps `hook` for the trigger, or hands it back if the trigger has taken the list.
    pub(crate) fn add(&mut self, hook: TriggerHook) -> Option<TriggerHook> {
        if self.fired {
            return Some(hook);
        }
        self.hooks.push(hook);
        None
    }

    /// Takes the list, for the first trigger; later hooks are handed back by [`add`](Self::add).
    pub(crate) fn fire(&mut self) -> Vec<TriggerHook> {
        self.fired = true;
        core::mem::take(&mut self.hooks)
    }
}

/// Runs one hook (outside every lock). With `std`, its panic is caught and dropped: a hook must
/// not unwind out of `trigger` (the phase has moved; the rest must still happen).
pub(crate) fn run(hook: TriggerHook, reason: &Reason) {
    #[cfg(all(feature = "std", not(loom)))]
    {
        let _ = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| hook(reason)));
    }
    #[cfg(not(all(feature = "std", not(loom))))]
    hook(reason);
}
