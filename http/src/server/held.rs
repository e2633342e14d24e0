//! What one connection's responses being written hold: the layer's admissions, handed over
//! by the layer (see [`crate::layer::handoff`]) and kept with their requests until their
//! responses ended, kept from then until the bytes are out, then released, by the
//! connection's own task at a completed flush, or by the cut on another thread.
//!
//! An HTTP/1 connection holds one at a time: it goes into [`Held`]'s one slot and out of it
//! without a lock, each way one compare-and-swap of the slot's state word (the lock it
//! replaced cost two locked instructions each way, the lock's poison checks and two more
//! copies of the admission: about 40 instructions a request more behind the server,
//! callgrind, `benches/http.sh` H1). The others (HTTP/2 streams answered together, or a
//! response that ends while the slot is being emptied) go to a list under a lock.
//!
//! # Invariants
//!
//! 1. `first` is read or written only by whoever moved `state` to [`BUSY`] by compare and
//!    swap (from [`FREE`] to write it, from [`FULL`] to take what it holds), until that same
//!    caller moves `state` on (to [`FULL`] or [`FREE`]). Nothing else moves `state` away from
//!    [`BUSY`]: at most one caller at a time reaches `first`.
//! 2. `first` is `None` whenever `state` is [`FREE`]: a writer moves it on to [`FULL`] after
//!    writing, and a taker empties it before moving it back to [`FREE`].

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use super::connections::lock;
use crate::layer::Admission;

/// `first` is empty, and free to be written.
const FREE: u8 = 0;
/// Someone is writing `first`, or taking what it holds (invariant 1).
const BUSY: u8 = 1;
/// `first` holds an admission.
const FULL: u8 = 2;

/// The layer's admissions a connection's responses being written hold.
#[derive(Default)]
pub(super) struct Held {
    /// [`FREE`], [`BUSY`] or [`FULL`]: who may reach `first` (the module's invariants).
    state: AtomicU8,
    /// The one admission an HTTP/1 connection holds at a time.
    first: UnsafeCell<Option<Admission>>,
    /// More, on HTTP/2 (or while `first` is busy).
    more: Mutex<Vec<Admission>>,
}

// SAFETY: `Held` is `Send` by its fields (an `Admission` is `Send`). Shared between threads, it
// gives each admission to one thread at a time: `more` under its lock, and `first` only to the
// caller that holds its state word at `BUSY` (invariant 1), whose compare-and-swap acquires
// the last one's writes, and whose store that ends it releases its own (see `push` and
// `release_first`). An admission moved in on one thread and dropped on another is what `Send`
// allows: nothing here hands out a shared reference to one.
#[allow(unsafe_code)]
unsafe impl Sync for Held {}

impl Held {
    /// Keeps the admission in `admission` (`Some`: the caller looked) until
    /// [`take`](Self::take) releases it: in `first` if it is free, or in `more`. Moved once,
    /// from where it lies into its place here.
    #[inline]
    pub(super) fn push(&self, admission: &mut Option<Admission>) {
        // memory ordering: Acquire, pairing with the Release store of FREE by the last
        // caller to empty `first`: its access happens before our write. Relaxed on failure:
        // then `first` is not touched.
        if self
            .state
            .compare_exchange(FREE, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.write_first(admission.take());
            // memory ordering: Release, pairing with the Acquire of the compare-and-swap that
            // empties it (`release_first`): what we wrote is what it finds.
            self.state.store(FULL, Ordering::Release);
        } else if let Some(admission) = admission.take() {
            self.push_more(admission);
        }
    }

    #[cold]
    #[inline(never)]
    fn push_more(&self, admission: Admission) {
        lock(&self.more).push(admission);
    }

    /// Writes `first`; the caller holds its state at BUSY, moved there from FREE.
    #[inline]
    #[allow(unsafe_code)]
    fn write_first(&self, admission: Option<Admission>) {
        // SAFETY: the caller moved `state` from FREE to BUSY by compare and swap (its Acquire
        // pairs with the Release that ended the last access): by invariant 1 no other thread
        // reads or writes `first` until the caller stores FULL, and this write happens after
        // every earlier access. The place is valid and aligned (the cell is this `Held`'s,
        // borrowed for the call). It holds `None` (invariant 2: FREE), which has nothing to
        // drop: overwritten without a drop.
        unsafe { self.first.get().write(admission) };
    }

    /// Releases what `first` holds, if it is full and nobody else is at it: whether it did.
    #[inline]
    #[allow(unsafe_code)]
    fn release_first(&self) -> bool {
        // memory ordering: Acquire, pairing with the writer's Release store of FULL in
        // `push`: its write of `first` happens before our access. Relaxed on failure: then
        // `first` is not touched.
        if self
            .state
            .compare_exchange(FULL, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: we moved `state` from FULL to BUSY by compare and swap: by invariant 1 no
        // other thread reads or writes `first` until we store FREE below, and the writer's
        // write happens before this access (the Acquire above). The cell is this `Held`'s,
        // valid for the call, and nothing else borrows it. The admission is dropped where it
        // lies (not moved out first and dropped once the slot is free: 11 instructions a
        // request fewer, callgrind). Its drop (a guard's release, which may wake the drain's
        // waiters; a record's erasure) never reaches this `Held`; were it to, `push` would
        // find BUSY and use `more`, and `take` would find nothing here. Were it to panic, the
        // assignment still writes `None` as it unwinds (each part of the admission is dropped
        // once), and `first` stays BUSY: every later admission goes to `more`, and the one
        // `None` left is all `Held`'s own drop finds.
        unsafe { *self.first.get() = None };
        // memory ordering: Release, pairing with the Acquire of the next writer's
        // compare-and-swap in `push`: our access happens before its write.
        self.state.store(FREE, Ordering::Release);
        true
    }

    /// Releases what is held, `counted` admissions by the connection's count of them (an
    /// admission counted may not be here yet, and one not yet counted may already be: then
    /// released one flush early): `first`, and `more` when more than that is counted. At
    /// least as many as were counted, of those here, so the admissions left never outnumber
    /// the counts still to come: each one left is released by a later call, at the latest
    /// when its own count comes.
    #[inline]
    pub(super) fn take(&self, counted: u64) {
        if counted > u64::from(self.release_first()) {
            self.take_more();
        }
    }

    #[cold]
    #[inline(never)]
    fn take_more(&self) {
        let more = std::mem::take(&mut *lock(&self.more));
        // Released outside the lock: a guard's release may wake the drain's waiters.
        drop(more);
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            // Relaxed: a snapshot for a debug print, which reads nothing else.
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use winddown_core::Shutdown;

    use super::*;

    fn admission(shutdown: &Shutdown) -> Admission {
        Admission::new(shutdown.enter().expect("admissions open"), None)
    }

    #[test]
    fn one_goes_in_the_slot_and_out_with_its_count() {
        let shutdown = Shutdown::new();
        let held = Held::default();
        held.push(&mut Some(admission(&shutdown)));
        assert_eq!(shutdown.in_flight(), 1);
        held.take(1);
        assert_eq!(shutdown.in_flight(), 0);
        // The slot is free again.
        held.push(&mut Some(admission(&shutdown)));
        held.take(1);
        assert_eq!(shutdown.in_flight(), 0);
    }

    #[test]
    fn more_than_one_go_to_the_list_and_out_when_counted() {
        let shutdown = Shutdown::new();
        let held = Held::default();
        for _ in 0..3 {
            held.push(&mut Some(admission(&shutdown)));
        }
        // One counted: the slot's goes, the list's wait for their counts.
        held.take(1);
        assert_eq!(shutdown.in_flight(), 2);
        held.take(1);
        assert_eq!(shutdown.in_flight(), 0);
    }

    #[test]
    fn what_is_left_goes_with_it() {
        let shutdown = Shutdown::new();
        let held = Held::default();
        held.push(&mut Some(admission(&shutdown)));
        held.push(&mut Some(admission(&shutdown)));
        drop(held);
        assert_eq!(shutdown.in_flight(), 0);
    }

    #[test]
    fn the_cut_and_the_connection_taking_at_once_release_each_once() {
        let shutdown = Shutdown::new();
        let held = Held::default();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            // The cut, on another thread, takes as the connection's task pushes and takes.
            // memory ordering: Relaxed, `done` only ends the loop; what the test checks is
            // ordered by the scope's join.
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    held.take(1);
                }
            });
            // Fewer under miri, which runs every access through its checks.
            for _ in 0..if cfg!(miri) { 200 } else { 100_000 } {
                held.push(&mut Some(admission(&shutdown)));
                held.take(1);
            }
            // memory ordering: Relaxed, as the load above.
            done.store(true, Ordering::Relaxed);
        });
        // Each released once: none left, none released twice (which would have counted the
        // drain below zero).
        assert_eq!(shutdown.in_flight(), 0);
    }
}
