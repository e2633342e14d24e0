//! The shared allocation behind every handle and guard, and the untyped algorithm on it.
//!
//! [`Shutdown`](crate::Shutdown) and [`Guard`](crate::Guard) are thin, one-word types holding a
//! pointer to one [`Stripe`]; everything they do is a free function or a method here, so that
//! the protocol (and its `unsafe`) reads in one place, in the order of the invariants listed in
//! `state.rs`. They are cited below as "invariant N".
//!
//! # Lifetimes
//!
//! The allocation is a [`Shared`] header that owns a boxed slice of stripes. Three counts decide
//! when things end:
//!
//! - `handles`: live [`Shutdown`](crate::Shutdown) handles. When it reaches zero, the last handle
//!   sets `RELEASED` on every stripe (invariant 3).
//! - `live_stripes`: stripes not yet retired (invariant 5). When it reaches zero, the scope
//!   *dies*: it leaves its parent's list of children, gives back the guard it held in its parent,
//!   and drops its parent handle. Its memory stays until `weak` says otherwise.
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

use crate::state::{self, CLOSED, ONE, RELEASED};
use crate::sync::{
    abort, acquire_fence, spin_loop, AtomicBool, AtomicPtr, AtomicUsize, Lock, Ordering, UnsafeCell,
};
use crate::waiters::WaitList;
use crate::{Closed, Phase, Reason};

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
    /// The admission word; its layout is in `state.rs`.
    pub(crate) word: AtomicUsize,
    /// The header this stripe belongs to. Written once while the allocation is being built,
    /// before any other thread can see it; read-only afterwards.
    shared: NonNull<Shared>,
    /// The call sites of the live guards counted on this stripe (feature `track`, `track.rs`).
    /// It fits in the stripe's padding.
    #[cfg(feature = "track")]
    pub(crate) sites: Lock<crate::track::Sites>,
}

/// The header: phase, trigger, counts, waiters and scope links.
pub(crate) struct Shared {
    /// The current [`Phase`], as `Phase as usize`. Moves forward only.
    phase: AtomicUsize,
    /// How many times [`trigger`](Shared::trigger) was called (parent propagation counts once,
    /// and only if nothing triggered the scope before).
    triggers: AtomicUsize,
    /// The first trigger's reason. Invariant 8: written once, before `phase` leaves `Running`.
    reason: UnsafeCell<Option<Reason>>,
    /// Set once, by whoever completes the drain (invariant 4).
    drained: AtomicBool,
    /// Live [`Shutdown`](crate::Shutdown) handles, like `Arc`'s strong count. Invariant 3.
    handles: AtomicUsize,
    /// The stripe the next handle clone gets, modulo the stripe count.
    next_stripe: AtomicUsize,
    /// Stripes not yet retired. Invariant 5; reaching zero kills the scope.
    live_stripes: AtomicUsize,
    /// One unit for the living scope, one per propagation in progress, one per guard closed in.
    /// Invariants 6 and 9.
    weak: AtomicUsize,
    /// Admissions refused, counted on the refusal's cold path only.
    refused: AtomicUsize,
    /// Woken on every phase change and every repeated trigger.
    phase_waiters: WaitList,
    /// Woken once, when the drain completes (twice at most: see `complete_drain`).
    drain_waiters: WaitList,
    /// Child scopes registered here. Invariant 7: a pointer in this list stays valid while it is
    /// in the list, because a child removes itself (under this lock) before it dies.
    children: Lock<Vec<NonNull<Shared>>>,
    /// Hooks for the trigger ([`Shutdown::on_trigger`](crate::Shutdown::on_trigger)): run once,
    /// by the first trigger, outside the lock.
    trigger_hooks: Lock<TriggerHooks>,
    /// The clock the leak finder stamps guards with (feature `track`); `None` for the default.
    #[cfg(feature = "track")]
    guard_clock: Lock<Option<crate::track::Clock>>,
    /// The link to the parent scope, for a child scope.
    parent: Option<ParentLink>,
    /// The stripes. Never empty.
    stripes: Box<[Stripe]>,
    /// Under loom, reports a leaked allocation at the end of each explored execution (and a
    /// double free shows up as a double drop of this).
    #[cfg(loom)]
    _leak_check: loom::alloc::Track<()>,
}

/// A hook run by the first trigger, with its reason.
pub(crate) type TriggerHook = Box<dyn FnOnce(&Reason) + Send>;

/// The trigger hooks of a scope, and whether the trigger has taken them.
#[derive(Default)]
struct TriggerHooks {
    /// Set (under the lock) by the first trigger when it takes the list; a hook added later runs
    /// at once on the adding thread instead, so each hook runs exactly once.
    fired: bool,
    hooks: Vec<TriggerHook>,
}

/// What a child scope holds of its parent.
struct ParentLink {
    /// A handle to the parent (its stripe pointer), keeping the parent alive until this scope
    /// dies. Null once given back.
    handle: AtomicPtr<Stripe>,
    /// The guard this scope holds in its parent (its stripe pointer): the scope counts as one in
    /// flight in the parent until it drains or dies. Null if the parent was already closed when
    /// the scope was made, and once given back.
    guard: AtomicPtr<Stripe>,
    /// This scope's index in the parent's `children`. Only accessed under the parent's lock, so
    /// `Relaxed` suffices; it is atomic only for interior mutability.
    slot: AtomicUsize,
}

// SAFETY: every field of `Shared` is either atomic, behind the lock, or (`reason`) written once
// before being published by a Release store and read-only afterwards (invariant 8); the raw
// pointers it holds point to other `Shared` allocations with the same property, so sharing and
// sending it across threads is sound.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}
// SAFETY: a stripe is an atomic word plus a read-only pointer to a `Send + Sync` header (and,
// with `track`, a lock around plain data: `&'static Location`s and indices).
unsafe impl Send for Stripe {}
// SAFETY: as above.
unsafe impl Sync for Stripe {}

// ===== allocation and lifetime =====

impl Shared {
    /// Builds a scope with `stripes` stripes (at least one) and returns its first handle's
    /// stripe, with `handles == 1`.
    pub(crate) fn allocate(stripes: usize, parent: Option<ParentParts>) -> NonNull<Stripe> {
        debug_assert!(stripes >= 1);
        let parent = parent.map(|parts| ParentLink {
            handle: AtomicPtr::new(parts.handle.as_ptr()),
            guard: AtomicPtr::new(parts.guard.map_or(ptr::null_mut(), NonNull::as_ptr)),
            slot: AtomicUsize::new(0),
        });
        let boxed = Box::new(Shared {
            phase: AtomicUsize::new(Phase::Running as usize),
            triggers: AtomicUsize::new(0),
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
                    shared: NonNull::dangling(),
                    #[cfg(feature = "track")]
                    sites: Lock::new(crate::track::Sites::new()),
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
            let shared = NonNull::new_unchecked(raw);
            for stripe in (*raw).stripes.iter_mut() {
                stripe.shared = shared;
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
    pub(crate) unsafe fn of<'a>(stripe: NonNull<Stripe>) -> &'a Shared {
        // SAFETY: the caller keeps the allocation alive; `shared` is read-only after `allocate`.
        unsafe { stripe.as_ref().shared.as_ref() }
    }

    /// The number of stripes.
    pub(crate) fn stripe_count(&self) -> usize {
        self.stripes.len()
    }

    /// The leak finder's clock for this scope (`None`: the default).
    #[cfg(feature = "track")]
    pub(crate) fn guard_clock(&self) -> Option<crate::track::Clock> {
        self.guard_clock.lock().clone()
    }

    /// Sets the leak finder's clock for this scope.
    #[cfg(feature = "track")]
    pub(crate) fn set_guard_clock(&self, clock: Option<crate::track::Clock>) {
        // The old clock is dropped outside the lock (it may be user code).
        let old = core::mem::replace(&mut *self.guard_clock.lock(), clock);
        drop(old);
    }

    /// Adds a handle and picks its stripe (the next one, round robin).
    pub(crate) fn clone_handle(&self) -> NonNull<Stripe> {
        // memory ordering: Relaxed, as in `Arc::clone`: the caller already holds a handle, so
        // the count cannot reach zero concurrently, and nothing else is published by this.
        if self.handles.fetch_add(1, Ordering::Relaxed) > state::MAX_WORD {
            abort();
        }
        // memory ordering: Relaxed, the index only spreads handles over stripes.
        let index = self.next_stripe.fetch_add(1, Ordering::Relaxed) % self.stripes.len();
        NonNull::from(&self.stripes[index])
    }

    /// Drops a handle; the last one gives back the handles' unit on every stripe.
    ///
    /// # Safety
    ///
    /// `handle` must be the stripe of a handle the caller owns and gives up with this call.
    pub(crate) unsafe fn drop_handle(handle: NonNull<Stripe>) {
        // SAFETY: the caller's handle keeps the allocation alive until this decrement.
        let this = unsafe { Shared::of(handle) };
        // memory ordering: Release, so this handle's uses of the scope happen before whatever the
        // last handle does next (as in `Arc::drop`).
        if this.handles.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // memory ordering: Acquire, pairing with the Release decrements of the other handles.
        acquire_fence(&this.handles);
        let stripes: *const [Stripe] = &*this.stripes;
        let len = stripes.len();
        for index in 0..len {
            // SAFETY: invariant 3: until we set RELEASED on stripe `index`, that stripe cannot
            // be retired, so the allocation (and `stripes`) is alive here. We set the bits in
            // index order, so while `index` is not the last, a later stripe still pins it.
            let stripe = unsafe { &(*stripes)[index] };
            // memory ordering: AcqRel. Release: our (and, through the fence, every handle's)
            // accesses happen before the retirement a guard may now perform. Acquire: if the
            // count is already zero, we retire the stripe and must see the guards' releases.
            let previous = stripe.word.fetch_or(RELEASED, Ordering::AcqRel);
            if state::count(previous) == 0 {
                // SAFETY: invariant 5: our RMW made the word "released with count zero", so we
                // are the one party that retires this stripe; the header is alive until then.
                unsafe { Shared::retire(stripe.shared) };
            }
            // Nothing below may touch the allocation: once RELEASED is set on the last stripe,
            // a guard may retire it and free everything.
        }
    }

    /// Retires one stripe; the last one kills the scope.
    ///
    /// # Safety
    ///
    /// The caller is the one party allowed to retire this stripe (invariant 5), and touches the
    /// allocation no more afterwards.
    unsafe fn retire(shared: NonNull<Shared>) {
        // SAFETY: the stripe being retired is still counted in `live_stripes`, so the allocation
        // is alive until this decrement.
        let this = unsafe { shared.as_ref() };
        // memory ordering: AcqRel: Release so this party's use of the scope happens before the
        // death; Acquire so the party that sees the last stripe go sees everyone's accesses.
        if this.live_stripes.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // SAFETY: we retired the last stripe, so we are the one party that kills the scope.
        unsafe { Shared::die(shared) };
    }

    /// The scope's last stripe is retired: leave the parent, give back what we hold of it, and
    /// give back the living scope's weak unit.
    ///
    /// # Safety
    ///
    /// Called once, by whoever retired the last stripe.
    unsafe fn die(shared: NonNull<Shared>) {
        // SAFETY: the living scope's weak unit is still held, so the allocation is alive.
        let this = unsafe { shared.as_ref() };
        if let Some(link) = &this.parent {
            // memory ordering: Acquire pairs with the Release in `allocate`'s publication; the
            // pointer was never changed before this point, only taken below.
            let parent = link.handle.load(Ordering::Acquire);
            if let Some(parent) = NonNull::new(parent) {
                // SAFETY: the parent handle we still hold keeps the parent alive.
                let parent = unsafe { Shared::of(parent) };
                let mut children = parent.children.lock();
                let slot = link.slot.load(Ordering::Relaxed);
                debug_assert!(ptr::eq(children[slot].as_ptr(), shared.as_ptr()));
                children.swap_remove(slot);
                if let Some(moved) = children.get(slot) {
                    // SAFETY: invariant 7: a child in the list is alive while we hold the lock.
                    let moved = unsafe { moved.as_ref() };
                    if let Some(moved_link) = &moved.parent {
                        moved_link.slot.store(slot, Ordering::Relaxed);
                    }
                }
            }
            this.give_back_parent_guard();
            // memory ordering: AcqRel, a take-once swap (see `give_back_parent_guard`).
            let handle = link.handle.swap(ptr::null_mut(), Ordering::AcqRel);
            if let Some(handle) = NonNull::new(handle) {
                // SAFETY: the pointer is a handle we own (made by `Shutdown::into_raw`), taken
                // exactly once by the swap above.
                unsafe { Shared::drop_handle(handle) };
            }
        }
        // SAFETY: called once, for the living scope's unit.
        unsafe { Shared::release_weak(shared) };
    }

    /// Gives back one weak unit; the last one frees the memory.
    ///
    /// # Safety
    ///
    /// The caller owns one weak unit and touches the allocation no more afterwards.
    unsafe fn release_weak(shared: NonNull<Shared>) {
        // SAFETY: our unit keeps the allocation alive until this decrement.
        let weak = unsafe { &shared.as_ref().weak };
        // memory ordering: Release/Acquire as in `Arc::drop`: every holder's accesses happen
        // before the free.
        if weak.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        acquire_fence(weak);
        // SAFETY: invariant 6: the last weak unit is gone, so nothing refers to the allocation;
        // it was made by `Box::into_raw` in `allocate`.
        drop(unsafe { Box::from_raw(shared.as_ptr()) });
    }
}

// ===== admission =====

/// Admits one guard through `stripe`.
///
/// # Errors
///
/// [`Closed`] once admissions are closed on this stripe (invariant 1).
///
/// # Safety
///
/// A handle on `stripe`'s scope is alive for the duration of the call.
#[inline]
pub(crate) unsafe fn enter(stripe: NonNull<Stripe>) -> Result<(), Closed> {
    // SAFETY: the caller's handle pins the stripe (invariant 3).
    let word = unsafe { &stripe.as_ref().word };
    // memory ordering: Relaxed. The increment itself needs no synchronization: it is ordered
    // against the closing compare-and-swap by being an RMW on the same word (invariant 1), and the
    // guard's work is published later by the Release in `release`. The cold path adds an Acquire
    // fence before it reads anything the closer wrote.
    let previous = word.fetch_add(ONE, Ordering::Relaxed);
    if state::admission_is_cold(previous) {
        // SAFETY: as above; the caller's handle is still alive.
        return Err(unsafe { enter_cold(stripe, previous, true) });
    }
    Ok(())
}

/// Admits one guard through `stripe` without counting a refusal (used to link a child scope).
///
/// # Safety
///
/// As [`enter`].
pub(crate) unsafe fn enter_uncounted(stripe: NonNull<Stripe>) -> Result<(), Closed> {
    // SAFETY: as in `enter`.
    let previous = unsafe { stripe.as_ref() }
        .word
        .fetch_add(ONE, Ordering::Relaxed);
    if state::admission_is_cold(previous) {
        // SAFETY: as in `enter`.
        return Err(unsafe { enter_cold(stripe, previous, false) });
    }
    Ok(())
}

/// Adds one guard on `stripe` for a guard that already holds one there: never refused, even
/// once admissions are closed (invariant 10).
///
/// # Safety
///
/// The caller's guard on `stripe` is alive for the duration of the call (it pins the stripe,
/// invariant 2).
#[inline]
pub(crate) unsafe fn fork(stripe: NonNull<Stripe>) {
    // SAFETY: the caller's guard pins the stripe.
    let word = unsafe { &stripe.as_ref().word };
    // memory ordering: Relaxed, as in `enter`: an RMW on the closer's word, so it is ordered
    // against the closing compare-and-swap (invariant 10), and the fork's work is published by
    // its own Release in `release`.
    let previous = word.fetch_add(ONE, Ordering::Relaxed);
    if state::admission_is_cold(previous) {
        // SAFETY: as above.
        unsafe { fork_cold(stripe, previous) };
    }
}

/// A fork on a closed stripe pays its own weak unit (invariant 10), or the count overflowed.
#[cold]
#[inline(never)]
unsafe fn fork_cold(stripe: NonNull<Stripe>, previous: usize) {
    if previous > state::MAX_WORD {
        abort();
    }
    // SAFETY: the caller's guard pins the stripe, so the header is alive and the living scope
    // still holds its weak unit: `weak` is above zero and cannot reach it during this call.
    let shared = unsafe { Shared::of(stripe) };
    // memory ordering: Relaxed, as in `Arc::clone`: the count is above zero and cannot fall to
    // zero meanwhile (above); the unit is given back by this fork's own release, which comes
    // after this in the fork's history (the guard is moved, which synchronizes).
    shared.weak.fetch_add(1, Ordering::Relaxed);
}

/// The refusal path: undo the increment, count the refusal, name the phase.
#[cold]
#[inline(never)]
unsafe fn enter_cold(stripe: NonNull<Stripe>, previous: usize, count_refusal: bool) -> Closed {
    if previous > state::MAX_WORD {
        abort();
    }
    // memory ordering: Acquire, pairing with the Release of the closing compare-and-swap our RMW
    // read from (or followed in the word's release sequence), so the phase read below is at
    // least the one that closed admissions.
    // SAFETY: the caller's handle pins the stripe.
    acquire_fence(unsafe { word_of(stripe) });
    // SAFETY: the caller's handle pins the stripe.
    let shared = unsafe { Shared::of(stripe) };
    if count_refusal {
        // memory ordering: Relaxed: a statistic, read with no other data depending on it.
        shared.refused.fetch_add(1, Ordering::Relaxed);
    }
    let phase = shared.phase();
    // Undo. If our transient increment was the last thing standing between a closed stripe and
    // zero, we must do the drain check (invariant 4). We own no paid unit (invariant 9): the
    // caller's handle pins the allocation for the whole call.
    // memory ordering: Release, like a guard's leave, so the drain check of whoever sees zero
    // after us is ordered after our increment and decrement.
    // SAFETY: the caller's handle pins the stripe.
    let previous = unsafe { word_of(stripe) }.fetch_sub(ONE, Ordering::Release);
    if state::count(previous) == 1 {
        shared.check_drained(None);
    }
    Closed::new(phase)
}

/// The admission word of `stripe`.
///
/// # Safety
///
/// The caller keeps the stripe alive while it uses the result: a handle, a unit of the count,
/// or a paid weak unit.
#[inline]
unsafe fn word_of<'a>(stripe: NonNull<Stripe>) -> &'a AtomicUsize {
    // SAFETY: the caller keeps the stripe alive.
    unsafe { &stripe.as_ref().word }
}

/// Gives back one guard's unit on `stripe`.
///
/// # Safety
///
/// The caller owns one guard's unit of `stripe`'s count, gives it up with this call, and touches
/// the stripe no more afterwards.
#[inline]
pub(crate) unsafe fn release(stripe: NonNull<Stripe>) {
    // SAFETY: our unit pins the stripe until this decrement (invariant 2).
    let word = unsafe { &stripe.as_ref().word };
    // memory ordering: Release, so the work done under the guard happens before whatever the
    // party that completes the drain (or frees the memory) does; that party acquires it.
    let new = word.fetch_sub(ONE, Ordering::Release).wrapping_sub(ONE);
    if state::release_is_slow(new) {
        // SAFETY: see `release_slow`.
        unsafe { release_slow(stripe, new) };
    }
}

/// A guard's release on a closed stripe, or on a stripe whose handles are all gone.
#[cold]
#[inline(never)]
unsafe fn release_slow(stripe: NonNull<Stripe>, new: usize) {
    if !state::is_closed(new) && state::count(new) > 0 {
        // Released, not closed (CLOSED is never cleared, so our decrement did not see it
        // either), and other guards still pin the stripe: nothing to do.
        return;
    }
    // memory ordering: Acquire, pairing with the Release RMWs of this stripe that came before
    // ours (the other guards' decrements and the closer's swap form one release sequence): their
    // work happens before the drain notification or the free below, and the closer's payment of
    // our weak unit (invariant 9) happens before we give it back.
    // SAFETY: nothing has been given up since our decrement: by invariant 5 (count zero, not
    // closed) nobody else retires the stripe, and by invariant 9 (closed) our paid weak unit
    // keeps the allocation alive.
    acquire_fence(unsafe { word_of(stripe) });
    if !state::is_closed(new) {
        // Count zero: nothing else pins the stripe, and by invariant 5 we are the one party
        // that retires it.
        // SAFETY: the stripe is not retired until we retire it, so `shared` is readable.
        let shared = unsafe { stripe.as_ref().shared };
        // SAFETY: invariant 5, as above; we touch nothing afterwards.
        unsafe { Shared::retire(shared) };
        return;
    }
    // Invariant 9: we own one weak unit, paid by our stripe's closer before it set `CLOSED`.
    // SAFETY: our paid unit keeps the allocation alive until `release_weak` below.
    let shared = unsafe { stripe.as_ref().shared };
    if state::count(new) == 0 {
        // SAFETY: as above.
        unsafe { shared.as_ref() }.check_drained(Some(stripe));
        if state::is_released(new) {
            // SAFETY: invariant 5: our decrement made the word "released, count zero".
            unsafe { Shared::retire(shared) };
        }
    }
    // SAFETY: the unit is ours (invariant 9); we touch nothing afterwards.
    unsafe { Shared::release_weak(shared) };
}

// ===== phases, trigger, drain =====

impl Shared {
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

    /// Triggers the scope; returns how many triggers there have been, this one included.
    pub(crate) fn trigger(&self, reason: Reason) -> usize {
        // memory ordering: AcqRel: orders the triggers; the one that finds zero writes the
        // reason (invariant 8). Saturates far below wrapping, like the guard count.
        let previous = self.triggers.fetch_add(1, Ordering::AcqRel);
        if previous > state::MAX_WORD {
            abort();
        }
        if previous == 0 {
            self.initiate(reason);
        } else {
            // A repeated trigger changes no phase, but escalation waiters (`Until::Escalated`)
            // must see it. Woken after the count's RMW (waiters invariant 3).
            self.phase_waiters.wake_all();
        }
        previous + 1
    }

    /// Triggers the scope with `reason` unless something triggered it already; whether this
    /// call was the trigger. Never counts as a repeat (no escalation).
    pub(crate) fn trigger_if_untriggered(&self, reason: Reason) -> bool {
        // memory ordering: AcqRel, as in `trigger`.
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
        // `Running` (`advance` refuses to), so a plain store cannot overwrite a later phase.
        self.phase
            .store(Phase::Initiated as usize, Ordering::Release);
        // The hooks run after the phase moved (so a hook may close or advance the scope) and
        // before any waiter is woken or this trigger returns.
        let hooks = {
            let mut hooks = self.trigger_hooks.lock();
            hooks.fired = true;
            core::mem::take(&mut hooks.hooks)
        };
        for hook in hooks {
            self.run_trigger_hook(hook);
        }
        self.after_transition(Phase::Initiated);
    }

    /// Adds a trigger hook, or runs it now (on this thread) if the trigger has taken the list.
    pub(crate) fn on_trigger(&self, hook: TriggerHook) {
        let late = {
            let mut hooks = self.trigger_hooks.lock();
            if hooks.fired {
                Some(hook)
            } else {
                hooks.hooks.push(hook);
                None
            }
        };
        if let Some(hook) = late {
            self.run_trigger_hook(hook);
        }
    }

    /// Runs one hook outside every lock. With `std`, its panic is caught and dropped: a hook
    /// must not unwind out of `trigger` (the phase has moved; the rest must still happen).
    fn run_trigger_hook(&self, hook: TriggerHook) {
        // The trigger that fired the hooks wrote the reason before it set `fired` (both under
        // invariant 8's publication), so it is there for every hook.
        let Some(reason) = self.reason() else {
            return;
        };
        #[cfg(all(feature = "std", not(loom)))]
        {
            let _ = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| hook(reason)));
        }
        #[cfg(not(all(feature = "std", not(loom))))]
        hook(reason);
    }

    /// Moves to `to`, returning the phase it moved from.
    pub(crate) fn advance(&self, to: Phase) -> Result<Phase, crate::TransitionError> {
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
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        self.after_transition(to);
        Ok(Phase::from_usize(current))
    }

    /// Advances to `to` right after this scope was triggered: if the trigger that won is still
    /// between counting itself and leaving `Running`, wait for it (a few instructions).
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
        // Not a repeat trigger: forcing is not escalating, so a sequence that sees `Forced`
        // with one trigger reports it as forced from outside.
        self.trigger_if_untriggered(reason);
        self.advance_triggered(Phase::Forced);
    }

    /// Closes admissions (triggering first with `reason` if needed).
    pub(crate) fn close(&self, reason: Reason) {
        if self.phase() == Phase::Running {
            // A concurrent trigger may win, which is fine.
            self.trigger_if_untriggered(reason);
        }
        self.advance_triggered(Phase::StoppingNewRequests);
        // Whether we moved the phase or someone else did (or will, concurrently), make sure the
        // stripes are closed before we return: `after_transition` is idempotent.
        if self.phase().admissions_closed() {
            self.close_admissions();
        }
    }

    /// What every phase change does after the phase word moved to `to`.
    fn after_transition(&self, to: Phase) {
        if to.admissions_closed() {
            // Idempotent; every advancer does it, so none returns before admissions are closed,
            // whatever order concurrent advancers run in.
            self.close_admissions();
        }
        // After the phase store (waiters invariant 3).
        self.phase_waiters.wake_all();
        self.propagate(to);
    }

    /// Sets `CLOSED` on every stripe, paying the weak units of the guards found there
    /// (invariant 9), then checks the drain (invariant 4).
    ///
    /// The caller pins the allocation for the whole call: a handle, or a propagation's weak
    /// unit. Idempotent: a stripe already closed is skipped.
    fn close_admissions(&self) {
        for stripe in self.stripes.iter() {
            self.close_stripe(stripe);
        }
        self.check_drained(None);
    }

    /// Closes one stripe: pay for the guards in the word, then swap in `CLOSED` against that
    /// same word, or take the payment back and retry (invariant 9). Lock-free: a failed swap
    /// means another thread entered or left this stripe in between.
    fn close_stripe(&self, stripe: &Stripe) {
        // memory ordering: Relaxed: only a guess for the compare-and-swap, which checks it.
        let mut current = stripe.word.load(Ordering::Relaxed);
        loop {
            if state::is_closed(current) {
                return;
            }
            let guards = state::count(current);
            if guards > 0 {
                // memory ordering: Relaxed, like `Arc::clone`: we pin the allocation, and the
                // guards that own these units see them through the Release swap below.
                if self.weak.fetch_add(guards, Ordering::Relaxed) > state::MAX_WORD {
                    abort();
                }
            }
            // memory ordering: AcqRel on success. Release: a guard whose decrement sees
            // `CLOSED` (its Acquire fence in `release_slow`) sees the payment above, and an
            // admission refused by this bit (fence in `enter_cold`) sees the phase. Acquire: part
            // of the RMW chain of invariant 4, so the drain check sees guards released before.
            match stripe.word.compare_exchange_weak(
                current,
                current | CLOSED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => {
                    if guards > 0 {
                        // Nobody could use these units: `CLOSED` was not set by us. We still
                        // pin the allocation, so this cannot be the last weak unit.
                        self.weak.fetch_sub(guards, Ordering::Relaxed);
                    }
                    current = actual;
                }
            }
        }
    }

    /// Completes the drain if every stripe is closed with count zero.
    ///
    /// Called by every party that may have made the last stripe reach "closed, zero": the closer
    /// after closing all stripes, and every release that takes a closed stripe to zero.
    ///
    /// Why an RMW and not a load (invariant 4): two guards on stripes A and B leave at the same
    /// moment; each decrements its own stripe and then reads the other. With plain loads, each
    /// could read the other's value from before its decrement (store buffering) and conclude the
    /// drain is not done, and nobody would ever complete it. An RMW reads the latest value in the
    /// word's modification order, so if A's read of B comes first in B's order, B's decrement
    /// reads from it, synchronizes with A, and then B's read of A must see A's decrement.
    ///
    /// `ours` is the stripe the caller has just taken to "closed, zero" with its own RMW, if
    /// any: that RMW already read the latest value of it, so it is not read again (one full
    /// barrier fewer on the last guard's path; the argument above concerns the other stripes).
    fn check_drained(&self, ours: Option<NonNull<Stripe>>) {
        for stripe in self.stripes.iter() {
            if ours.is_some_and(|ours| ptr::eq(ours.as_ptr(), stripe)) {
                continue;
            }
            // memory ordering: AcqRel RMW as explained above; Acquire also collects the releases
            // of every guard of that stripe before the drain is announced.
            if !state::is_drained(stripe.word.fetch_or(0, Ordering::AcqRel)) {
                return;
            }
        }
        self.complete_drain();
    }

    /// Announces the drain. Two parties may both see the drain and both announce it; that is
    /// harmless (waiters re-check, and the parent's unit is a take-once), and cheaper on the
    /// last guard's path than a take-once swap here.
    fn complete_drain(&self) {
        // memory ordering: Relaxed check: a stale `false` only means announcing twice.
        if self.drained.load(Ordering::Relaxed) {
            return;
        }
        // memory ordering: Release publishes everything acquired by `check_drained` (every
        // guard's work) to waiters that load `drained` with Acquire.
        self.drained.store(true, Ordering::Release);
        // After the store (waiters invariant 3).
        self.drain_waiters.wake_all();
        self.give_back_parent_guard();
    }

    /// Gives back the guard a child scope holds in its parent, if it still holds it.
    fn give_back_parent_guard(&self) {
        if let Some(link) = &self.parent {
            // memory ordering: AcqRel take-once, so exactly one of the drain and the death gives
            // the guard back.
            let guard = link.guard.swap(ptr::null_mut(), Ordering::AcqRel);
            if let Some(guard) = NonNull::new(guard) {
                // SAFETY: the pointer is the parent guard this scope was made with (a unit of
                // the parent stripe's count that we own), taken exactly once by the swap.
                unsafe { release(guard) };
            }
        }
    }

    /// Whether the drain has completed.
    pub(crate) fn is_drained(&self) -> bool {
        // memory ordering: Acquire pairs with `complete_drain`'s Release.
        self.drained.load(Ordering::Acquire)
    }

    /// Guards in flight, summed over the stripes: a snapshot. Between the close and the end of
    /// the drain it may also count refused admissions that are being undone; once drained it is
    /// exactly zero (no guard can exist any more, whatever refusals are in progress).
    pub(crate) fn in_flight(&self) -> usize {
        if self.is_drained() {
            return 0;
        }
        self.stripes
            .iter()
            // memory ordering: Relaxed: a statistic; no data depends on it.
            .map(|stripe| state::count(stripe.word.load(Ordering::Relaxed)))
            .sum()
    }

    /// Admissions refused so far.
    pub(crate) fn refused(&self) -> usize {
        // memory ordering: Relaxed: a statistic.
        self.refused.load(Ordering::Relaxed)
    }

    /// The list woken on every phase change and repeated trigger.
    pub(crate) fn phase_waiters(&self) -> &WaitList {
        &self.phase_waiters
    }

    /// The list woken when the drain completes.
    pub(crate) fn drain_waiters(&self) -> &WaitList {
        &self.drain_waiters
    }
}

// ===== scopes =====

/// What a new child scope is given of its parent.
pub(crate) struct ParentParts {
    /// A parent handle the child owns (from `Shutdown::into_raw`).
    pub(crate) handle: NonNull<Stripe>,
    /// A parent guard the child owns, if the parent admitted it.
    pub(crate) guard: Option<NonNull<Stripe>>,
}

impl Shared {
    /// Registers `child` in this scope's list and brings it to this scope's phase.
    ///
    /// # Safety
    ///
    /// `child` is the handle of a freshly allocated scope whose `parent` link names `self`, and
    /// the caller holds it for the duration of the call.
    pub(crate) unsafe fn adopt(&self, child: NonNull<Stripe>) {
        // SAFETY: the caller's handle pins the child; `shared` is the pointer `allocate` made
        // from `Box::into_raw`, so the list keeps a pointer that may later free the memory.
        let (child, child_ptr) = unsafe { (Shared::of(child), child.as_ref().shared) };
        let phase = {
            let mut children = self.children.lock();
            if let Some(link) = &child.parent {
                link.slot.store(children.len(), Ordering::Relaxed);
            }
            children.push(child_ptr);
            // Read under the lock: either a propagation that follows this phase change sees the
            // child in the list, or this read sees the change (the lock orders the two).
            self.phase()
        };
        child.follow_parent(phase);
    }

    /// Brings this scope (a child) to follow its parent, which reached `parent_phase`:
    /// triggered with the parent, admissions closed with the parent, forced with the parent.
    fn follow_parent(&self, parent_phase: Phase) {
        if parent_phase == Phase::Running {
            return;
        }
        self.trigger_if_untriggered(Reason::Parent);
        if parent_phase == Phase::Forced {
            self.advance_triggered(Phase::Forced);
        } else if parent_phase.admissions_closed() {
            self.advance_triggered(Phase::StoppingNewRequests);
        }
    }

    /// Brings every child to follow `to`, without holding the lock while they act (see the
    /// module docs: a child may die during this and needs our lock to leave the list).
    fn propagate(&self, to: Phase) {
        // Every method reachable from `follow_parent` is sound on a dead scope (its parent link
        // pointers are null).
        self.for_each_child(|child| child.follow_parent(to));
    }

    /// Calls `f` on each child scope, outside our lock: each child is held by a weak unit
    /// taken under the lock (invariant 7), so it may die meanwhile but is not freed. `f` must
    /// be sound on a dead scope.
    fn for_each_child(&self, mut f: impl FnMut(&Shared)) {
        let children: Vec<NonNull<Shared>> = {
            let children = self.children.lock();
            if children.is_empty() {
                return;
            }
            for child in children.iter() {
                // SAFETY: invariant 7: a listed child is alive (its living weak unit is held)
                // while we hold the lock, so adding a unit is no resurrection.
                let child = unsafe { child.as_ref() };
                // memory ordering: Relaxed, as in `Arc::clone`: the lock already orders this
                // with the child's death.
                child.weak.fetch_add(1, Ordering::Relaxed);
            }
            children.clone()
        };
        for child in children {
            // SAFETY: our weak unit keeps the child's memory alive.
            f(unsafe { child.as_ref() });
            // SAFETY: we own the unit added above and do not touch the child afterwards.
            unsafe { Shared::release_weak(child) };
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

    /// The live guard sites of this scope and every scope below it, ungrouped (feature
    /// `track`): for `track::guard_sites`.
    #[cfg(feature = "track")]
    pub(crate) fn each_site_in_subtree(&self, f: &mut dyn FnMut(&crate::track::Live)) {
        for stripe in self.stripes.iter() {
            stripe.sites.lock().each(&mut *f);
        }
        self.for_each_child(|child| child.each_site_in_subtree(f));
    }

    /// Whether this scope (a child) still counts as one in flight in its parent.
    fn holds_parent_guard(&self) -> bool {
        self.parent.as_ref().is_some_and(|link| {
            // memory ordering: Relaxed: a snapshot for a statistic.
            !link.guard.load(Ordering::Relaxed).is_null()
        })
    }
}
