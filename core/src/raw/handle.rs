//! The two safe types the rest of the crate holds: [`RawHandle`] (one counted handle, like an
//! `Arc`) and [`RawGuard`] (one counted unit of a stripe). Each discharges, once, the contracts
//! of the untyped functions in `admission.rs` and `tree.rs`, so `Shutdown` and `Guard` need no
//! `unsafe`.

use core::fmt;
use core::ptr::NonNull;

use super::header::{Header, ParentParts, Stripe};
use crate::{Closed, Phase};

/// One handle on a scope: `Clone` adds a handle (picking the next stripe), `Drop` gives it back
/// (the last one releases every stripe, invariant 3).
pub(crate) struct RawHandle {
    /// This handle's stripe.
    ///
    /// WARNING: this is not a reference-counted pointer to the stripe itself: the handle is
    /// counted in the header's `handles` (invariant 3), which keeps every stripe and the header
    /// alive while any handle lives.
    stripe: NonNull<Stripe>,
}

// SAFETY: a handle only reaches `Sync` shared state (atomics, waiter lists behind a lock) and
// its own count in `handles`; it may be used and dropped from any thread.
unsafe impl Send for RawHandle {}
// SAFETY: as above; every method takes `&self` and is safe to call concurrently.
unsafe impl Sync for RawHandle {}

impl RawHandle {
    /// The first handle of a new scope with `stripes` stripes (at least one).
    pub(crate) fn new(stripes: usize) -> Self {
        Self {
            stripe: Header::allocate(stripes, None),
        }
    }

    /// The first handle of a new child scope, with the same stripe count, and this scope's
    /// phase as the child was registered, for the child to follow (`engine/scope.rs`).
    ///
    /// The child holds a handle on this scope and, unless admissions here are closed, one
    /// unit in flight here (not counted as a refusal when refused, and with no call site for
    /// the leak finder: the child is not a leak). Both are given back when the child drains
    /// or dies.
    pub(crate) fn child(&self) -> (RawHandle, Phase) {
        // SAFETY: `self` is a live handle, so its stripe is pinned for the call.
        let guard = unsafe { super::admission::enter_uncounted(self.stripe) }
            .ok()
            .map(|()| self.stripe);
        let parent = self.clone().into_stripe();
        let child = RawHandle {
            stripe: Header::allocate(
                self.header().stripe_count(),
                Some(ParentParts {
                    handle: parent,
                    guard,
                }),
            ),
        };
        // SAFETY: `child` is the first handle of a scope just made with a link to us, and we
        // hold it for the call.
        let phase = unsafe { self.header().adopt(child.stripe) };
        (child, phase)
    }

    /// Gives up this handle without dropping it: its stripe pointer, to be given back by
    /// `Header::drop_handle`.
    fn into_stripe(self) -> NonNull<Stripe> {
        let stripe = self.stripe;
        core::mem::forget(self);
        stripe
    }

    /// The scope's header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: invariant 3: this handle keeps every stripe and the header alive while `self`
        // is borrowed.
        unsafe { Header::of(self.stripe) }
    }

    /// Admits one unit of work through this handle's stripe.
    ///
    /// # Errors
    ///
    /// [`Closed`] once admissions are closed on this stripe (invariant 1).
    #[inline]
    pub(crate) fn enter(&self) -> Result<RawGuard, Closed> {
        // SAFETY: `self` is a live handle, so its stripe is pinned for the call.
        unsafe { super::admission::enter(self.stripe) }?;
        // We were just admitted on this stripe and own that unit.
        Ok(RawGuard {
            stripe: self.stripe,
        })
    }
}

impl Clone for RawHandle {
    /// Another handle on the same scope, on the next stripe.
    fn clone(&self) -> Self {
        Self {
            stripe: self.header().clone_handle(),
        }
    }
}

impl Drop for RawHandle {
    fn drop(&mut self) {
        // SAFETY: this handle is ours and is given up here, once.
        unsafe { Header::drop_handle(self.stripe) };
    }
}

impl fmt::Debug for RawHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawHandle").finish_non_exhaustive()
    }
}

/// One unit in flight on a stripe: `fork` adds another on the same stripe (never refused,
/// invariant 10), `Drop` gives it back (the slow path once the stripe is closed or released).
pub(crate) struct RawGuard {
    /// The stripe this unit is counted on.
    ///
    /// WARNING: this is not a reference-counted pointer. It stays valid because the count on the
    /// stripe is at least one while this guard lives (invariant 2), and it came from a live
    /// handle's stripe in `RawHandle::enter` (or from a guard's, in `fork`).
    stripe: NonNull<Stripe>,
}

// SAFETY: a guard only performs atomic operations on a `Sync` stripe and header (and, with
// `track`, takes the stripe's lock, which is `Sync`), and owns its unit of the count: moving it
// to another thread and dropping it there is what it is for.
unsafe impl Send for RawGuard {}
// SAFETY: `&RawGuard` only reads the header (atomic loads) or locks the stripe's registry.
unsafe impl Sync for RawGuard {}

impl RawGuard {
    /// Another unit on the same stripe, admitted even once admissions are closed.
    #[inline]
    pub(crate) fn fork(&self) -> RawGuard {
        // SAFETY: `self` is alive for the call, and its unit pins the stripe (invariant 2).
        unsafe { super::admission::fork(self.stripe) };
        // `fork` just added the unit we hand to the new guard.
        RawGuard {
            stripe: self.stripe,
        }
    }

    /// The scope's header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: invariant 2: our unit pins the stripe, so the header is alive while `self` is
        // borrowed.
        unsafe { Header::of(self.stripe) }
    }

    /// The stripe this unit is counted on (for the leak finder's registry).
    #[cfg(feature = "track")]
    pub(crate) fn stripe(&self) -> &Stripe {
        // SAFETY: invariant 2, as in `header`.
        unsafe { self.stripe.as_ref() }
    }
}

impl Drop for RawGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns one unit of the stripe's count (made by `enter` or `fork`) and
        // gives it up here, once; `self.stripe` is not used afterwards.
        unsafe { super::admission::release(self.stripe) };
    }
}

impl fmt::Debug for RawGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawGuard").finish_non_exhaustive()
    }
}
