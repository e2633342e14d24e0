//! The exit on the third signal, decided and carried out inside the signal handler.
//!
//! A listener registers, for each signal of its set and before any other action of its own, an
//! action that counts the delivery in an atomic shared by the whole set and, on the third,
//! ends the process with `_exit(128 + n)`. Nothing the process does can delay that: not a hook
//! that blocks the listener thread, not a stderr pipe that nobody reads, not a runtime thread
//! stuck in a closer. The listener thread still triggers and forces, from its own count of the
//! same deliveries ([`crate::escalation`]); it never gates the exit.
//!
//! `_exit`, not a death by the signal: restoring the default disposition and raising the signal
//! again does nothing in a PID namespace's init (PID 1 in a container), which the kernel shields
//! from signals it has no handler for, and the `abort()` fallback is ignored there too. A shell
//! sees 143 either way.
//!
//! # Invariants
//!
//! 1. The action is async-signal-safe: one lock-free atomic read-modify-write, a comparison and
//!    `_exit`. No allocation, no lock, no panic, no `Drop` (the closure's `Arc` is dropped by
//!    signal-hook on unregistering, outside any handler).
//! 2. The count is the listener's own (escalation invariant 1): one counter per listener, one
//!    increment per delivery of any signal of its set, from whichever thread runs the handler.
//! 3. The delivery that takes the count from two to three ends the process before the
//!    listener's other actions for it run, so the listener thread never sees a third delivery
//!    in a real process.
//!
//! # Memory ordering
//!
//! `Relaxed` is enough: the count publishes no other data, and every increment is a
//! read-modify-write, so all deliveries (even two handlers running at once on two threads)
//! are ordered in the counter's single modification order and each gets a distinct `nth`.
//! Exactly one of them gets `nth == 3`; later ones (`nth > 3`) exit too.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use signal_hook::low_level;
use signal_hook::SigId;

use crate::escalation::{shell_status, Action};

/// Registers, for `signal`, the action that counts a delivery in `count` and ends the process
/// with `_exit(128 + signal)` once `count` reaches three (invariants 1 to 3). Register it before
/// the listener's other actions for `signal`: signal-hook runs them in registration order.
///
/// # Errors
///
/// signal-hook's, if the signal number is not valid.
///
/// # Panics
///
/// If `signal` is in signal-hook's `FORBIDDEN` set, which no [`crate::Signal`] is.
#[allow(unsafe_code)]
pub(crate) fn register(signal: i32, count: &Arc<AtomicU32>) -> io::Result<SigId> {
    let count = Arc::clone(count);
    let status = shell_status(signal);
    let action = move || on_delivery(&count, signal, status);
    // SAFETY: signal-hook requires the action to be async-signal-safe and not to panic.
    // `on_delivery` does one atomic `fetch_add` on an `AtomicU32` (lock-free wherever the type
    // exists), a `match` on integers, and `_exit`, which POSIX lists as async-signal-safe. It
    // allocates nothing, takes no lock, and cannot panic (no arithmetic that can overflow in
    // debug builds: the increment wraps inside the atomic, see `on_delivery`). The captured
    // `Arc` is only read in the handler; signal-hook drops the closure on `unregister`, on
    // the unregistering thread, after the handlers that may still use it have finished.
    unsafe { low_level::register(signal, action) }
}

/// The action: count the delivery; on the third or a later one, end the process.
fn on_delivery(count: &AtomicU32, signal: i32, status: i32) {
    // Relaxed: see "Memory ordering" in the module docs. `fetch_add` wraps rather than
    // panics; it cannot wrap in practice: every delivery from the third on ends the process,
    // so the count exceeds 3 only by the handlers running at that same instant.
    let nth = count.fetch_add(1, Ordering::Relaxed).saturating_add(1);
    if let Action::Exit { .. } = Action::for_nth(nth, signal) {
        low_level::exit(status);
    }
}

#[cfg(test)]
mod tests {
    //! The third delivery ends the process, so only the first two can run in-process; the exit
    //! itself is tested in child processes (`tests/process.rs`).

    use super::*;

    const SIGTERM: i32 = 15;

    #[test]
    fn the_first_two_deliveries_only_count() {
        let count = AtomicU32::new(0);
        on_delivery(&count, SIGTERM, 143);
        on_delivery(&count, SIGTERM, 143);
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }
}
