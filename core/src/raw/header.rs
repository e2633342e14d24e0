//! The shared allocation behind every handle and guard of one scope: its layout, how it is
//! made, and how it is freed.
//!
//! The allocation is a [`Header`] that owns a boxed slice of cache-padded [`Stripe`]s. Three
//! counts decide when things end (the code that moves them is in `admission.rs` and
//! `tree.rs`; the invariants are numbered in `word.rs`):
//!
//! - `handles`: live handles ([`RawHandle`](super::RawHandle)s). When it reaches zero, the last
//!   handle sets `RELEASED` on every stripe (invariant 3).
//! - `live_stripes`: stripes not yet retired (invariant 5). When it reaches zero, the scope
//!   *dies*: it leaves its parent's list of children, gives back the guard it held in its
//!   parent, and drops its parent handle. Its memory stays until `weak` says otherwise.
//! - `weak`: one unit held by the living scope (given back when it dies), one unit per parent
//!   propagation in progress on it, and one unit per guard that was in flight when its stripe
//!   closed (paid by the closer, given back by the guard at the end of its release: invariant
//!   9). When it reaches zero the memory is freed (invariant 6). The propagation units let a
//!   parent act on a child without holding its lock (invariant 7), so a child that dies during
//!   the propagation can take the parent's lock to leave its list without a deadlock; the guard
//!   units keep the memory alive while the last guard announces the drain.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::{self, NonNull};

use super::lock::Lock;
use crate::engine::hooks::TriggerHooks;
#[cfg(feature = "track")]
use crate::engine::track::sites::{Clock, Sites};
use crate::engine::waiters::WaitList;
use crate::sync::{acquire_fence, AtomicBool, AtomicPtr, AtomicUsize, Ordering, UnsafeCell};
use crate::{Phase, Reason};

/// One cache-padded admission word, and the way back to its header.
///
/// Padded to the destructive-interference size of the common targets (128 bytes where adjacent
/// lines are prefetched in pairs, 64 elsewhere), so two threads that enter through different
/// stripes never write the same cache line.
#[cfg_attr(
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    ),
    repr(align(128))
)]
#[cfg_attr(
    not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    )),
    repr(align(64))
)]
pub(crate) struct Stripe {
    /// The admission word; its layout is in `word.rs`.
    pub(super) word: AtomicUsize,
    /// The header this stripe belongs to. Written once while the allocation is being built,
    /// before any other thread can see it; read-only afterwards.
    pub(super) header: NonNull<Header>,
    /// The call sites of the live guards counted on this stripe (feature `track`, the leak
    /// finder in `engine/track/`). It fits in the stripe's padding.
    #[cfg(feature = "track")]
    pub(crate) sites: Lock<Sites>,
}

/// The header: phase, trigger, counts, waiters and scope links.
pub(crate) struct Header {
    /// The current [`Phase`], as `Phase as usize`. Moves forward only (`trigger.rs`).
    pub(super) phase: AtomicUsize,
    /// 1 once the scope is triggered: the first trigger claims it (`trigger.rs`), later ones
    /// find it claimed and change nothing.
    pub(super) claimed: AtomicUsize,
    /// The first trigger's reason. Invariant 8: written once, before `phase` leaves `Running`.
    pub(super) reason: UnsafeCell<Option<Reason>>,
    /// Set once, by whoever completes the drain (invariant 4).
    pub(super) drained: AtomicBool,
    /// Live handles, like `Arc`'s strong count. Invariant 3.
    pub(super) handles: AtomicUsize,
    /// The stripe the next handle clone gets, modulo the stripe count.
    pub(super) next_stripe: AtomicUsize,
    /// Stripes not yet retired. Invariant 5; reaching zero kills the scope.
    pub(super) live_stripes: AtomicUsize,
    /// One unit for the living scope, one per propagation in progress, one per guard closed in.
    /// Invariants 6 and 9.
    pub(super) weak: AtomicUsize,
    /// Admissions refused, counted on the refusal's cold path only.
    pub(super) refused: AtomicUsize,
    /// Woken on every phase change.
    phase_waiters: WaitList,
    /// Woken once, when the drain completes (twice at most: see `complete_drain`).
    pub(super) drain_waiters: WaitList,
    /// Child scopes registered here. Invariant 7: a pointer in this list stays valid while it is
    /// in the list, because a child removes itself (under this lock) before it dies.
    pub(super) children: Lock<Vec<NonNull<Header>>>,
    /// Hooks for the trigger, run once by the first trigger, outside the lock.
    trigger_hooks: Lock<TriggerHooks>,
    /// The clock the leak finder stamps guards with (feature `track`); `None` for the default.
    #[cfg(feature = "track")]
    guard_clock: Lock<Option<Clock>>,
    /// The link to the parent scope, for a child scope.
    pub(super) parent: Option<ParentLink>,
    /// The stripes. Never empty.
    pub(super) stripes: Box<[Stripe]>,
    /// Under loom, reports a leaked allocation at the end of each explored execution (and a
    /// double free shows up as a double drop of this).
    #[cfg(loom)]
    _leak_check: loom::alloc::Track<()>,
}

/// What a child scope holds of its parent.
pub(super) struct ParentLink {
    /// A handle to the parent (its stripe pointer), keeping the parent alive until this scope
    /// dies. Null once given back.
    pub(super) handle: AtomicPtr<Stripe>,
    /// The guard this scope holds in its parent (its stripe pointer): the scope counts as one in
    /// flight in the parent until it drains or dies. Null if the parent was already closed when
    /// the scope was made, and once given back.
    pub(super) guard: AtomicPtr<Stripe>,
    /// This scope's index in the parent's `children`. Only accessed under the parent's lock, so
    /// `Relaxed` suffices; it is atomic only for interior mutability.
    pub(super) slot: AtomicUsize,
}

/// What a new child scope is given of its parent.
pub(super) struct ParentParts {
    /// A parent handle the child owns (from `RawHandle::into_stripe`).
    pub(super) handle: NonNull<Stripe>,
    /// A parent guard the child owns, if the parent admitted it.
    pub(super) guard: Option<NonNull<Stripe>>,
}

// SAFETY: every field of `Header` is either atomic, behind the lock, or (`reason`) written once
// before being published by a Release store and read-only afterwards (invariant 8); the raw
// pointers it holds point to other `Header` allocations with the same property, so sharing and
// sending it across threads is sound.
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}
// SAFETY: a stripe is an atomic word plus a read-only pointer to a `Send + Sync` header (and,
// with `track`, a lock around plain data: `&'static Location`s and indices).
unsafe impl Send for Stripe {}
// SAFETY: as above.
unsafe impl Sync for Stripe {}

impl Header {
    /// Builds a scope with `stripes` stripes (at least one) and returns its first handle's
    /// stripe, with `handles == 1`.
    pub(super) fn allocate(stripes: usize, parent: Option<ParentParts>) -> NonNull<Stripe> {
        debug_assert!(stripes >= 1);
        let parent = parent.map(|parts| ParentLink {
            handle: AtomicPtr::new(parts.handle.as_ptr()),
            guard: AtomicPtr::new(parts.guard.map_or(ptr::null_mut(), NonNull::as_ptr)),
            slot: AtomicUsize::new(0),
        });
        let boxed = Box::new(Header {
            phase: AtomicUsize::new(Phase::Running as usize),
            claimed: AtomicUsize::new(0),
            reason: UnsafeCell::new(None),
            drained: AtomicBool::new(false),
            handles: AtomicUsize::new(1),
            next_stripe: AtomicUsize::new(1),
            live_stripes: AtomicUsize::new(stripes),
            weak: AtomicUsize::new(1),
            refused: AtomicUsize::new(0),
            phase_waiters: WaitList::new(),
            drain_waiters: WaitList::new(),
            children: Lock::new(Vec::new()),
            trigger_hooks: Lock::new(TriggerHooks::default()),
            #[cfg(feature = "track")]
            guard_clock: Lock::new(None),
            parent,
            stripes: (0..stripes)
                .map(|_| Stripe {
                    word: AtomicUsize::new(0),
                    header: NonNull::dangling(),
                    #[cfg(feature = "track")]
                    sites: Lock::new(Sites::new()),
                })
                .collect(),
            #[cfg(loom)]
            _leak_check: loom::alloc::Track::new(()),
        });
        let raw = Box::into_raw(boxed);
        // SAFETY: `raw` comes from `Box::into_raw` just above, so it is valid and unique: no
        // other thread can see the allocation yet, and writing the back-pointers through it is
        // the last mutation of those fields.
        unsafe {
            let header = NonNull::new_unchecked(raw);
            for stripe in (*raw).stripes.iter_mut() {
                stripe.header = header;
            }
            NonNull::from(&(*raw).stripes[0])
        }
    }

    /// The header of `stripe`.
    ///
    /// # Safety
    ///
    /// `stripe` must be pinned (a guard or handle on it is alive, invariants 2 and 3) or the
    /// caller must otherwise know the allocation is alive, for as long as the result is used.
    #[inline]
    pub(super) unsafe fn of<'a>(stripe: NonNull<Stripe>) -> &'a Header {
        // SAFETY: the caller keeps the allocation alive; `header` is read-only after
        // `allocate`.
        unsafe { stripe.as_ref().header.as_ref() }
    }

    /// Gives back one weak unit; the last one frees the memory.
    ///
    /// # Safety
    ///
    /// The caller owns one weak unit and touches the allocation no more afterwards.
    pub(super) unsafe fn release_weak(header: NonNull<Header>) {
        // SAFETY: our unit keeps the allocation alive until this decrement.
        let weak = unsafe { &header.as_ref().weak };
        // memory ordering: Release/Acquire as in `Arc::drop`: every holder's accesses happen
        // before the free.
        if weak.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        acquire_fence(weak);
        // SAFETY: invariant 6: the last weak unit is gone, so nothing refers to the allocation;
        // it was made by `Box::into_raw` in `allocate`.
        drop(unsafe { Box::from_raw(header.as_ptr()) });
    }

    /// The number of stripes.
    pub(crate) fn stripe_count(&self) -> usize {
        self.stripes.len()
    }

    /// The list woken on every phase change and repeated trigger.
    pub(crate) fn phase_waiters(&self) -> &WaitList {
        &self.phase_waiters
    }

    /// The list woken when the drain completes.
    pub(crate) fn drain_waiters(&self) -> &WaitList {
        &self.drain_waiters
    }

    /// The trigger hooks ([`TriggerHooks`]).
    pub(crate) fn trigger_hooks(&self) -> &Lock<TriggerHooks> {
        &self.trigger_hooks
    }

    /// The leak finder's clock for this scope (`None`: the default).
    #[cfg(feature = "track")]
    pub(crate) fn guard_clock(&self) -> Option<Clock> {
        self.guard_clock.lock().clone()
    }

    /// Sets the leak finder's clock for this scope.
    #[cfg(feature = "track")]
    pub(crate) fn set_guard_clock(&self, clock: Option<Clock>) {
        // The old clock is dropped outside the lock (it may be user code).
        let old = core::mem::replace(&mut *self.guard_clock.lock(), clock);
        drop(old);
    }

    /// Calls `f` on each stripe's registry of live call sites (feature `track`), one lock at a
    /// time; `f` must not take a lock.
    #[cfg(feature = "track")]
    pub(crate) fn each_stripe_sites(&self, mut f: impl FnMut(&Sites)) {
        for stripe in self.stripes.iter() {
            f(&stripe.sites.lock());
        }
    }
}
