//! The untyped admission algorithm: the three counts of a scope's allocation, entering and
//! leaving through a stripe's word, closing the stripes, and the drain.
//!
//! Every function here works on raw stripe pointers and states, in a `# Safety` section, what
//! keeps the allocation alive while it runs; [`RawHandle`](super::RawHandle) and
//! [`RawGuard`](super::RawGuard) discharge those contracts once, for the rest of the crate. The
//! invariants cited as "invariant N" are numbered in `word.rs`.

use core::ptr::{self, NonNull};

use super::header::{Header, Stripe};
use super::word::{self, CLOSED, ONE, RELEASED};
use crate::sync::{abort, acquire_fence, AtomicUsize, Ordering};
use crate::Closed;

// ===== handles and the scope's lifetime =====

impl Header {
    /// Adds a handle and picks its stripe (the next one, round robin).
    pub(super) fn clone_handle(&self) -> NonNull<Stripe> {
        // memory ordering: Relaxed, as in `Arc::clone`: the caller already holds a handle, so
        // the count cannot reach zero concurrently, and nothing else is published by this.
        if self.handles.fetch_add(1, Ordering::Relaxed) > word::MAX_WORD {
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
    pub(super) unsafe fn drop_handle(handle: NonNull<Stripe>) {
        // SAFETY: the caller's handle keeps the allocation alive until this decrement.
        let this = unsafe { Header::of(handle) };
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
            if word::count(previous) == 0 {
                // SAFETY: invariant 5: our RMW made the word "released with count zero", so we
                // are the one party that retires this stripe; the header is alive until then.
                unsafe { Header::retire(stripe.header) };
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
    unsafe fn retire(header: NonNull<Header>) {
        // SAFETY: the stripe being retired is still counted in `live_stripes`, so the allocation
        // is alive until this decrement.
        let this = unsafe { header.as_ref() };
        // memory ordering: AcqRel: Release so this party's use of the scope happens before the
        // death; Acquire so the party that sees the last stripe go sees everyone's accesses.
        if this.live_stripes.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // SAFETY: we retired the last stripe, so we are the one party that kills the scope.
        unsafe { Header::die(header) };
    }

    /// The scope's last stripe is retired: leave the parent, give back what we hold of it, and
    /// give back the living scope's weak unit.
    ///
    /// # Safety
    ///
    /// Called once, by whoever retired the last stripe.
    unsafe fn die(header: NonNull<Header>) {
        // SAFETY: the living scope's weak unit is still held, so the allocation is alive.
        let this = unsafe { header.as_ref() };
        if let Some(link) = &this.parent {
            this.leave_parent(link);
            this.give_back_parent_guard();
            // memory ordering: AcqRel, a take-once swap (see `give_back_parent_guard`).
            let handle = link.handle.swap(ptr::null_mut(), Ordering::AcqRel);
            if let Some(handle) = NonNull::new(handle) {
                // SAFETY: the pointer is a handle we own (made by `RawHandle::into_stripe`), taken
                // exactly once by the swap above.
                unsafe { Header::drop_handle(handle) };
            }
        }
        // SAFETY: called once, for the living scope's unit.
        unsafe { Header::release_weak(header) };
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
pub(super) unsafe fn enter(stripe: NonNull<Stripe>) -> Result<(), Closed> {
    // SAFETY: the caller's handle pins the stripe (invariant 3).
    let word = unsafe { &stripe.as_ref().word };
    // memory ordering: Relaxed. The increment itself needs no synchronization: it is ordered
    // against the closing compare-and-swap by being an RMW on the same word (invariant 1), and the
    // guard's work is published later by the Release in `release`. The cold path adds an Acquire
    // fence before it reads anything the closer wrote.
    let previous = word.fetch_add(ONE, Ordering::Relaxed);
    if word::admission_is_cold(previous) {
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
pub(super) unsafe fn enter_uncounted(stripe: NonNull<Stripe>) -> Result<(), Closed> {
    // SAFETY: as in `enter`.
    let previous = unsafe { stripe.as_ref() }
        .word
        .fetch_add(ONE, Ordering::Relaxed);
    if word::admission_is_cold(previous) {
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
pub(super) unsafe fn fork(stripe: NonNull<Stripe>) {
    // SAFETY: the caller's guard pins the stripe.
    let word = unsafe { &stripe.as_ref().word };
    // memory ordering: Relaxed, as in `enter`: an RMW on the closer's word, so it is ordered
    // against the closing compare-and-swap (invariant 10), and the fork's work is published by
    // its own Release in `release`.
    let previous = word.fetch_add(ONE, Ordering::Relaxed);
    if word::admission_is_cold(previous) {
        // SAFETY: as above.
        unsafe { fork_cold(stripe, previous) };
    }
}

/// A fork on a closed stripe pays its own weak unit (invariant 10), or the count overflowed.
#[cold]
#[inline(never)]
unsafe fn fork_cold(stripe: NonNull<Stripe>, previous: usize) {
    if previous > word::MAX_WORD {
        abort();
    }
    // SAFETY: the caller's guard pins the stripe, so the header is alive and the living scope
    // still holds its weak unit: `weak` is above zero and cannot reach it during this call.
    let header = unsafe { Header::of(stripe) };
    // memory ordering: Relaxed, as in `Arc::clone`: the count is above zero and cannot fall to
    // zero meanwhile (above); the unit is given back by this fork's own release, which comes
    // after this in the fork's history (the guard is moved, which synchronizes).
    header.weak.fetch_add(1, Ordering::Relaxed);
}

/// The refusal path: undo the increment, count the refusal, name the phase.
#[cold]
#[inline(never)]
unsafe fn enter_cold(stripe: NonNull<Stripe>, previous: usize, count_refusal: bool) -> Closed {
    if previous > word::MAX_WORD {
        abort();
    }
    // memory ordering: Acquire, pairing with the Release of the closing compare-and-swap our RMW
    // read from (or followed in the word's release sequence), so the phase read below is at
    // least the one that closed admissions.
    // SAFETY: the caller's handle pins the stripe.
    acquire_fence(unsafe { word_of(stripe) });
    // SAFETY: the caller's handle pins the stripe.
    let header = unsafe { Header::of(stripe) };
    if count_refusal {
        // memory ordering: Relaxed: a statistic, read with no other data depending on it.
        header.refused.fetch_add(1, Ordering::Relaxed);
    }
    let phase = header.phase();
    // Undo. If our transient increment was the last thing standing between a closed stripe and
    // zero, we must do the drain check (invariant 4). We own no paid unit (invariant 9): the
    // caller's handle pins the allocation for the whole call.
    // memory ordering: Release, like a guard's leave, so the drain check of whoever sees zero
    // after us is ordered after our increment and decrement.
    // SAFETY: the caller's handle pins the stripe.
    let previous = unsafe { word_of(stripe) }.fetch_sub(ONE, Ordering::Release);
    if word::count(previous) == 1 {
        header.check_drained(None);
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
pub(super) unsafe fn release(stripe: NonNull<Stripe>) {
    // SAFETY: our unit pins the stripe until this decrement (invariant 2).
    let word = unsafe { &stripe.as_ref().word };
    // memory ordering: Release, so the work done under the guard happens before whatever the
    // party that completes the drain (or frees the memory) does; that party acquires it.
    let new = word.fetch_sub(ONE, Ordering::Release).wrapping_sub(ONE);
    if word::release_is_slow(new) {
        // SAFETY: see `release_slow`.
        unsafe { release_slow(stripe, new) };
    }
}

/// A guard's release on a closed stripe, or on a stripe whose handles are all gone.
#[cold]
#[inline(never)]
unsafe fn release_slow(stripe: NonNull<Stripe>, new: usize) {
    if !word::is_closed(new) && word::count(new) > 0 {
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
    if !word::is_closed(new) {
        // Count zero: nothing else pins the stripe, and by invariant 5 we are the one party
        // that retires it.
        // SAFETY: the stripe is not retired until we retire it, so `header` is readable.
        let header = unsafe { stripe.as_ref().header };
        // SAFETY: invariant 5, as above; we touch nothing afterwards.
        unsafe { Header::retire(header) };
        return;
    }
    // Invariant 9: we own one weak unit, paid by our stripe's closer before it set `CLOSED`.
    // SAFETY: our paid unit keeps the allocation alive until `release_weak` below.
    let header = unsafe { stripe.as_ref().header };
    if word::count(new) == 0 {
        // SAFETY: as above.
        unsafe { header.as_ref() }.check_drained(Some(stripe));
        if word::is_released(new) {
            // SAFETY: invariant 5: our decrement made the word "released, count zero".
            unsafe { Header::retire(header) };
        }
    }
    // SAFETY: the unit is ours (invariant 9); we touch nothing afterwards.
    unsafe { Header::release_weak(header) };
}

// ===== closing and the drain =====

impl Header {
    /// Sets `CLOSED` on every stripe, paying the weak units of the guards found there
    /// (invariant 9), then checks the drain (invariant 4).
    ///
    /// The caller pins the allocation for the whole call: a handle, or a propagation's weak
    /// unit. Idempotent: a stripe already closed is skipped.
    pub(crate) fn close_admissions(&self) {
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
            if word::is_closed(current) {
                return;
            }
            let guards = word::count(current);
            if guards > 0 {
                // memory ordering: Relaxed, like `Arc::clone`: we pin the allocation, and the
                // guards that own these units see them through the Release swap below.
                if self.weak.fetch_add(guards, Ordering::Relaxed) > word::MAX_WORD {
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
            if !word::is_drained(stripe.word.fetch_or(0, Ordering::AcqRel)) {
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
            .map(|stripe| word::count(stripe.word.load(Ordering::Relaxed)))
            .sum()
    }

    /// Admissions refused so far.
    pub(crate) fn refused(&self) -> usize {
        // memory ordering: Relaxed: a statistic.
        self.refused.load(Ordering::Relaxed)
    }
}
