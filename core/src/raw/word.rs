//! The layout of a stripe's admission word, and the invariants the rest of the crate keeps.
//!
//! A [`Shutdown`](crate::Shutdown) spreads its in-flight count over one or more *stripes*, each a
//! cache-padded `AtomicUsize` (see `header.rs`). A stripe's word holds two flags and a count:
//!
//! ```text
//!  usize::BITS-1                              2     1          0
//! +--------------------------------------------+----------+--------+
//! |        guards in flight on this stripe     | RELEASED | CLOSED |
//! +--------------------------------------------+----------+--------+
//! ```
//!
//! - `CLOSED`: admissions are closed. Set once, when the shutdown reaches
//!   `StoppingNewRequests` or later, by a compare-and-swap that also pays the weak units of the
//!   guards it finds (invariant 9).
//! - `RELEASED`: every handle is gone. Set once on every stripe by the drop of the last
//!   [`Shutdown`](crate::Shutdown) handle. Until then the handles collectively keep every
//!   stripe alive, so a guard's pointer stays valid without a reference count of its own.
//! - The count, in units of [`ONE`]: guards entered through this stripe and not yet dropped,
//!   plus, transiently, refused admissions that have not yet been undone.
//!
//! Entering is one `fetch_add(ONE)`; if the word it returns has `CLOSED` set, the admission is
//! undone and refused. Leaving is one `fetch_sub(ONE)`; only a leave that finds a flag set (the
//! stripe closed, or every handle gone) takes the slow path, so a service that is not shutting
//! down never does.
//!
//! # Invariants
//!
//! 1. **Closing is final.** `CLOSED` is only ever set (by the closer's compare-and-swap), never
//!    cleared; likewise `RELEASED` (set with `fetch_or`). Once a stripe is closed every later
//!    admission on it is refused, because `fetch_add` and the closing swap on one word are
//!    totally ordered.
//! 2. **A guard pins its stripe.** While a guard exists, the count of its stripe is at least one,
//!    so that stripe is not retired (5), so the shared allocation is not freed (6).
//! 3. **Handles pin every stripe.** While any handle exists, no stripe has `RELEASED`, so no stripe
//!    is retired. Handles are counted in the shared header like `Arc`'s strong count.
//! 4. **Drained is "every stripe closed with count zero", seen by a read-modify-write.** Whoever
//!    takes a closed stripe's count to zero (a guard's drop, an undone refusal) and whoever closes
//!    the last stripe then reads every stripe with an RMW (`fetch_or(0)`). RMWs always read the
//!    latest value of a word, so of two stripes that reach zero at the same moment at least one
//!    reader sees the other's zero (see `Header::check_drained` in `admission.rs`). The first to see all stripes
//!    closed and zero completes the drain, once: a `swap` on the header's `drained` flag.
//! 5. **Retiring a stripe happens exactly once**: by the RMW that makes its word exactly
//!    `RELEASED` (+ maybe `CLOSED`) with count zero — either the last handle's `fetch_or(RELEASED)`
//!    finding count zero, or the drop that takes the count to zero after `RELEASED`.
//! 6. **Freeing happens exactly once**, by whoever retires the last live stripe (a counter in the
//!    header). Everything a party does with the allocation happens before its own retirement: a
//!    releasing guard checks the drain (4) before retiring its stripe.
//! 7. **Children are reached only under the parent's lock.** A child unregisters itself from its
//!    parent (under that lock) before its memory is freed, so a parent propagating a phase never
//!    touches freed memory.
//! 8. **The first trigger's reason is written before the phase leaves `Running`**, by the one
//!    trigger that claimed the scope (took its claim from zero), and published by the Release of that phase
//!    change; it is never written again, so `&Reason` may be handed out afterwards.
//! 9. **A guard that leaves a closed stripe owns one weak unit, paid by its closer.** After its
//!    decrement such a guard still works on the header (the drain check, the notification, the
//!    parent's unit), but nothing pins the allocation for it any more: the last handle may be
//!    dropped the moment the drain is seen. So the closer adds to the header's `weak` count as
//!    many units as the guards it is about to close in, then sets `CLOSED` with a
//!    compare-and-swap against the very word it counted; if the swap fails, it takes the units
//!    back and tries again. When the swap succeeds, the guards on the stripe are exactly those it
//!    paid for (refusals only start after `CLOSED`, and forks after it pay for themselves: 10),
//!    and every guard whose decrement sees `CLOSED` owns one unit, which it gives back when
//!    done. Refused admissions being undone hold a handle and own no unit.
//! 10. **A fork is never refused, and pays for itself on a closed stripe.** A fork
//!     ([`Guard::fork`](crate::Guard::fork)) adds one unit to the stripe of the guard it forks
//!     from, which that guard pins (2), so the stripe cannot drain, retire or be freed during
//!     the fork. Its `fetch_add` is ordered against the closing compare-and-swap on the same
//!     word: if it comes first, the closer counts it and pays its weak unit (9); if it comes
//!     after, it finds `CLOSED` and adds its own weak unit to the header (which the living scope
//!     keeps above zero), so either way the fork owns one unit when its decrement sees
//!     `CLOSED`.

/// Admissions are closed on this stripe. Invariant 1.
pub(crate) const CLOSED: usize = 0b01;

/// Every handle is gone: the unit the handles held on this stripe has been given back. Invariant 3.
pub(crate) const RELEASED: usize = 0b10;

/// One guard in the count.
pub(crate) const ONE: usize = 0b100;

/// The largest word an admission may find before it counts as an overflow. Like `Arc`, the
/// process aborts well before the count could wrap: reaching this takes 2^61 live guards on a
/// 64-bit target, which cannot be done without leaking them on purpose.
pub(crate) const MAX_WORD: usize = isize::MAX as usize;

/// The number of guards counted in `word`.
#[inline]
pub(crate) const fn count(word: usize) -> usize {
    word / ONE
}

/// Whether `word` has admissions closed.
#[inline]
pub(crate) const fn is_closed(word: usize) -> bool {
    word & CLOSED != 0
}

/// Whether `word` has its handles' unit given back.
#[inline]
pub(crate) const fn is_released(word: usize) -> bool {
    word & RELEASED != 0
}

/// Whether an admission that found `previous` must take the cold path: admissions closed, or the
/// count about to overflow. One compare: rotating right by one moves `CLOSED` to the top bit and
/// the top bit (the overflow) just below it, so either makes the rotated word at least 2^(BITS-2).
#[inline]
pub(crate) const fn admission_is_cold(previous: usize) -> bool {
    previous.rotate_right(1) >= 1 << (usize::BITS - 2)
}

/// Whether a guard's release that left `new` must take the slow path: a flag is set. The stripe
/// is closed (the drain may be done, and the guard owns a paid unit, invariant 9), or every
/// handle is gone (if the count is now zero, the guard retires the stripe, invariant 5). One
/// test: a service that is neither shutting down nor dropping its last handle never takes it.
#[inline]
pub(crate) const fn release_is_slow(new: usize) -> bool {
    new & (CLOSED | RELEASED) != 0
}

/// Whether `word` is a closed stripe with nothing in flight.
#[inline]
pub(crate) const fn is_drained(word: usize) -> bool {
    is_closed(word) && count(word) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_release_paths() {
        // Running with guards left, or the last guard leaving while open: fast.
        assert!(!release_is_slow(0));
        assert!(!release_is_slow(ONE));
        assert!(!release_is_slow(5 * ONE));
    }

    #[test]
    fn slow_release_paths() {
        // Closed: every leave owns a paid unit, whatever is left.
        assert!(release_is_slow(2 * ONE + CLOSED));
        assert!(release_is_slow(CLOSED));
        // Released: retire when zero, nothing to do otherwise.
        assert!(release_is_slow(RELEASED));
        assert!(release_is_slow(ONE + RELEASED));
    }

    #[test]
    fn cold_admissions() {
        assert!(!admission_is_cold(0));
        assert!(!admission_is_cold(5 * ONE + RELEASED));
        assert!(admission_is_cold(CLOSED));
        assert!(admission_is_cold(MAX_WORD + 1));
        assert!(admission_is_cold(usize::MAX));
        assert!(!admission_is_cold(MAX_WORD - CLOSED));
    }

    #[test]
    fn decode() {
        let word = (7 * ONE) | CLOSED;
        assert_eq!(count(word), 7);
        assert!(is_closed(word));
        assert!(!is_released(word));
        assert!(!is_drained(word));
        assert!(is_drained(CLOSED | RELEASED));
    }
}
