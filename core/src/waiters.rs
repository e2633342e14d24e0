//! The waiter list behind every future and blocking wait of a scope.
//!
//! A scope has two lists: one woken on every phase change (and on every repeated trigger, for
//! escalation waiters), one woken once, when the drain completes. Both wake *everyone*, and the
//! first of them, the trigger, happens once and is never undone. A general event primitive pays
//! for wake-ups this never needs (waking some waiters, handing a notification on when a waiter
//! is dropped), and its waiters go back to its list after they are woken to unlink themselves.
//! This list does less:
//!
//! - Parking takes the lock, re-checks the condition under it, and puts the task's waker in a
//!   slot of a `Vec`. The waiter keeps a [`Ticket`]: the list's *generation* and its slot.
//! - Waking takes the lock, moves the whole `Vec` out, starts a new generation, and releases the
//!   lock; then it wakes every waker outside the lock. One lock for the whole list.
//! - A waiter that resumes after a wake-up sees that the generation moved on (one `Relaxed`
//!   load, no lock) and touches nothing shared: its slot went away with the old `Vec`.
//! - A waiter dropped before the wake-up (cancel safety) takes the lock and empties its slot,
//!   which goes on a free list for the next waiter to reuse.
//!
//! So a parked waiter costs one slot (16 bytes) in a vector that grows by doubling, and nothing
//! else on the heap.
//!
//! # Invariants
//!
//! Cited as "waiters invariant N" elsewhere.
//!
//! 1. `Slots::generation` changes only under the lock, only upward, and only in
//!    [`WaitList::wake_all`], which moves every slot of that generation out in the same critical
//!    section. The atomic mirror `WaitList::generation` is stored in the same critical section.
//! 2. A ticket names a slot of `Slots::wakers` if and only if its generation equals
//!    `Slots::generation`; that slot then holds the waiter's waker (nobody else writes it).
//! 3. No lost wake-up: a waiter re-checks its condition *under the lock* before it parks, and
//!    whoever makes a condition true does so before calling [`WaitList::wake_all`], which takes
//!    the same lock. Either the waker is in the list when `wake_all` takes it, or the lock orders
//!    the change before the re-check, which then sees it. No fence is needed beyond the lock.
//! 4. No waker is dropped or woken while the lock is held (the rule on [`Lock`]): dropping a
//!    waker can drop the last reference to a task, and with it a future parked on this same list,
//!    whose own drop takes this lock.

use alloc::vec::Vec;
use core::mem;
use core::num::NonZeroUsize;
use core::task::Waker;

use crate::sync::{AtomicUsize, Lock, Ordering};

/// A broadcast list of parked wakers. See the module docs.
pub(crate) struct WaitList {
    /// A copy of `Slots::generation` that waiters read without the lock, to learn that their
    /// slot is gone without taking it. Waiters invariant 1.
    generation: AtomicUsize,
    /// The slots of the current generation.
    slots: Lock<Slots>,
}

/// What the lock protects.
struct Slots {
    /// The current generation, starting at 1 (so a ticket's generation is never zero).
    generation: NonZeroUsize,
    /// One slot per parked waiter of this generation; `None` once cancelled.
    wakers: Vec<Option<Waker>>,
    /// Indices of cancelled slots, reused before the vector grows.
    vacant: Vec<usize>,
}

/// Where a parked waiter is: the generation it parked in and its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    generation: NonZeroUsize,
    index: usize,
}

impl WaitList {
    /// An empty list.
    pub(crate) fn new() -> Self {
        Self {
            generation: AtomicUsize::new(1),
            slots: Lock::new(Slots {
                generation: NonZeroUsize::MIN,
                wakers: Vec::new(),
                vacant: Vec::new(),
            }),
        }
    }

    /// Parks `waker` unless `ready` returns `Some` under the lock, and returns what `ready`
    /// returned. `ticket` is the caller's place in the list: `None` the first time; updated here.
    ///
    /// A waiter already parked in the current generation keeps its slot (its waker is replaced
    /// only if it would not wake the same task); one whose generation has passed, or that finds
    /// `ready`, is parked no more. The caller checks its condition before calling this (the
    /// cheap path); this call checks it again under the lock (waiters invariant 3).
    pub(crate) fn park<T>(
        &self,
        ticket: &mut Option<Ticket>,
        waker: &Waker,
        ready: impl FnOnce() -> Option<T>,
    ) -> Option<T> {
        let replaced;
        let result = {
            let mut slots = self.slots.lock();
            let current = ticket.filter(|ticket| ticket.generation == slots.generation);
            match (ready(), current) {
                (Some(value), current) => {
                    *ticket = None;
                    replaced = current.and_then(|ticket| slots.vacate(ticket.index));
                    Some(value)
                }
                (None, Some(ticket)) => {
                    // Waiters invariant 2: the slot is ours and holds our previous waker.
                    let slot = &mut slots.wakers[ticket.index];
                    replaced = match slot {
                        Some(parked) if parked.will_wake(waker) => None,
                        _ => slot.replace(waker.clone()),
                    };
                    None
                }
                (None, None) => {
                    *ticket = Some(slots.occupy(waker.clone()));
                    replaced = None;
                    None
                }
            }
        };
        // Waiters invariant 4: the waker we replaced is dropped after the lock is released.
        drop(replaced);
        result
    }

    /// Leaves the list: empties the ticket's slot if its generation is still the current one.
    /// Called when a waiter is dropped or has finished; a no-op for `None`.
    pub(crate) fn cancel(&self, ticket: &mut Option<Ticket>) {
        let Some(parked) = ticket.take() else {
            return;
        };
        // memory ordering: Relaxed: a hint only. The generation moves only upward (waiters
        // invariant 1), and the ticket's generation was read under the lock after the mirror
        // was stored, so this thread (or any thread the waiter moved to since, which
        // synchronized with it) reads that value or a later one: a different value means our
        // slot went away with its generation. The same value is checked again under the lock.
        if self.generation.load(Ordering::Relaxed) != parked.generation.get() {
            return;
        }
        let vacated = {
            let mut slots = self.slots.lock();
            if slots.generation == parked.generation {
                slots.vacate(parked.index)
            } else {
                None
            }
        };
        // Waiters invariant 4.
        drop(vacated);
    }

    /// Wakes every parked waiter, and starts a new generation. Whoever made a waiter's
    /// condition true must have done so before calling this (waiters invariant 3).
    ///
    /// If a waker panics in `wake`, the panic propagates and the wakers after it in the list are
    /// dropped without being woken; executors' wakers do not panic.
    pub(crate) fn wake_all(&self) {
        let wakers = {
            let mut slots = self.slots.lock();
            // Bounded far below wrapping: one generation per phase change, per repeated trigger
            // (itself capped below `isize::MAX` by the trigger count) and per drain.
            slots.generation = slots.generation.saturating_add(1);
            // memory ordering: Relaxed: stored under the lock, read by `cancel` as a hint only;
            // the lock orders it (waiters invariant 1).
            self.generation
                .store(slots.generation.get(), Ordering::Relaxed);
            slots.vacant.clear();
            mem::take(&mut slots.wakers)
        };
        // Waiters invariant 4: woken, and the vector freed, outside the lock.
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
    }
}

impl Slots {
    /// Puts `waker` in a free slot (a vacated one first) of the current generation.
    fn occupy(&mut self, waker: Waker) -> Ticket {
        let index = match self.vacant.pop() {
            Some(index) => {
                self.wakers[index] = Some(waker);
                index
            }
            None => {
                self.wakers.push(Some(waker));
                self.wakers.len() - 1
            }
        };
        Ticket {
            generation: self.generation,
            index,
        }
    }

    /// Empties a slot of the current generation, returning its waker for the caller to drop
    /// after releasing the lock.
    fn vacate(&mut self, index: usize) -> Option<Waker> {
        self.vacant.push(index);
        self.wakers[index].take()
    }
}

impl core::fmt::Debug for WaitList {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Not the lock: `Debug` may be called from anywhere, even under it.
        f.debug_struct("WaitList")
            // memory ordering: Relaxed: for display only.
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    extern crate std;

    use alloc::sync::Arc;
    use alloc::task::Wake;
    use core::task::Waker;
    use std::sync::Mutex;

    use super::{Ticket, WaitList};
    use crate::sync::{AtomicUsize, Ordering};

    /// A waker that counts its wake-ups and checks, whenever it is woken or dropped, that the
    /// list it parks on is not locked (waiters invariant 4).
    struct Probe {
        wakes: AtomicUsize,
        list: Mutex<Option<Arc<WaitList>>>,
    }

    impl Probe {
        fn new(list: &Arc<WaitList>) -> Arc<Self> {
            Arc::new(Self {
                wakes: AtomicUsize::new(0),
                list: Mutex::new(Some(list.clone())),
            })
        }

        fn wakes(&self) -> usize {
            self.wakes.load(Ordering::SeqCst)
        }

        fn assert_unlocked(&self) {
            if let Some(list) = &*self.list.lock().unwrap() {
                assert!(!list.slots.is_locked(), "a waker ran under the list's lock");
            }
        }
    }

    impl Wake for Probe {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.assert_unlocked();
            self.wakes.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct DropProbe(Arc<Probe>);

    impl Wake for DropProbe {
        fn wake(self: Arc<Self>) {
            self.0.wake_by_ref();
        }
    }

    impl Drop for DropProbe {
        fn drop(&mut self) {
            self.0.assert_unlocked();
        }
    }

    fn waker(probe: &Arc<Probe>) -> Waker {
        Waker::from(Arc::new(DropProbe(probe.clone())))
    }

    fn park(list: &WaitList, ticket: &mut Option<Ticket>, waker: &Waker) {
        assert_eq!(list.park(ticket, waker, || None::<()>), None);
        assert!(ticket.is_some());
    }

    fn parked(list: &WaitList) -> usize {
        let slots = list.slots.lock();
        slots.wakers.iter().filter(|slot| slot.is_some()).count()
    }

    #[test]
    fn wake_all_wakes_each_parked_waiter_once_outside_the_lock() {
        let list = Arc::new(WaitList::new());
        let probes: alloc::vec::Vec<_> = (0..3).map(|_| Probe::new(&list)).collect();
        let mut tickets = [None; 3];
        for (probe, ticket) in probes.iter().zip(&mut tickets) {
            park(&list, ticket, &waker(probe));
        }
        assert_eq!(parked(&list), 3);

        list.wake_all();
        assert!(probes.iter().all(|probe| probe.wakes() == 1));
        assert_eq!(parked(&list), 0);
        // The woken leave without touching the new generation.
        for ticket in &mut tickets {
            list.cancel(ticket);
            assert_eq!(*ticket, None);
        }
        list.wake_all();
        assert!(probes.iter().all(|probe| probe.wakes() == 1));
    }

    #[test]
    fn a_ticket_of_a_past_generation_leaves_the_new_slots_alone() {
        let list = Arc::new(WaitList::new());
        let (old, new) = (Probe::new(&list), Probe::new(&list));
        let mut old_ticket = None;
        park(&list, &mut old_ticket, &waker(&old));
        list.wake_all();

        // The new waiter gets slot 0 again, in generation 2.
        let mut new_ticket = None;
        park(&list, &mut new_ticket, &waker(&new));
        assert_eq!(old_ticket.unwrap().index, new_ticket.unwrap().index);

        list.cancel(&mut old_ticket);
        assert_eq!(
            parked(&list),
            1,
            "a stale ticket emptied someone else's slot"
        );
        list.wake_all();
        assert_eq!(new.wakes(), 1);
    }

    #[test]
    fn a_cancelled_waiter_is_not_woken_and_its_slot_is_reused() {
        let list = Arc::new(WaitList::new());
        let probes: alloc::vec::Vec<_> = (0..3).map(|_| Probe::new(&list)).collect();
        let (mut a, mut b, mut c) = (None, None, None);
        park(&list, &mut a, &waker(&probes[0]));
        park(&list, &mut b, &waker(&probes[1]));
        let a_index = a.unwrap().index;

        list.cancel(&mut a);
        assert_eq!(parked(&list), 1);
        park(&list, &mut c, &waker(&probes[2]));
        assert_eq!(c.unwrap().index, a_index);
        assert_eq!(list.slots.lock().wakers.len(), 2);

        list.wake_all();
        let wakes: alloc::vec::Vec<_> = probes.iter().map(|probe| probe.wakes()).collect();
        assert_eq!(wakes, [0, 1, 1]);
    }

    #[test]
    fn parking_again_keeps_the_slot_and_the_latest_waker() {
        let list = Arc::new(WaitList::new());
        let (first, second) = (Probe::new(&list), Probe::new(&list));
        let mut ticket = None;
        let first_waker = waker(&first);
        park(&list, &mut ticket, &first_waker);
        let slot = ticket;
        park(&list, &mut ticket, &first_waker);
        assert_eq!(ticket, slot);
        // Polled again by another task: the new waker replaces the old one in the same slot.
        park(&list, &mut ticket, &waker(&second));
        assert_eq!(ticket, slot);
        assert_eq!(parked(&list), 1);

        list.wake_all();
        assert_eq!((first.wakes(), second.wakes()), (0, 1));
    }

    #[test]
    fn ready_under_the_lock_leaves_the_list() {
        let list = Arc::new(WaitList::new());
        let probe = Probe::new(&list);
        let mut ticket = None;
        park(&list, &mut ticket, &waker(&probe));
        assert_eq!(list.park(&mut ticket, &waker(&probe), || Some(7)), Some(7));
        assert_eq!(ticket, None);
        assert_eq!(parked(&list), 0);
        list.wake_all();
        assert_eq!(probe.wakes(), 0);
    }

    #[test]
    fn a_waker_dropped_by_cancel_runs_outside_the_lock() {
        // The probes assert, when dropped, that the lock is free: as when dropping a waker drops
        // a task whose future is parked on this same list.
        let list = Arc::new(WaitList::new());
        let probe = Probe::new(&list);
        let mut ticket = None;
        park(&list, &mut ticket, &waker(&probe));
        list.cancel(&mut ticket);
        park(&list, &mut ticket, &waker(&probe));
        park(&list, &mut ticket, &waker(&probe)); // replaces: the old one is dropped
        list.wake_all();
        assert_eq!(probe.wakes(), 1);
    }
}
