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
//! - The last waiter to leave empties the list: both vectors start over from index zero, and
//!   above a few slots ([`KEEP`]) their memory is taken out and freed after the lock is
//!   released. A wake-up frees both vectors the same way (it already moves the slots out).
//!
//! So a parked waiter costs one slot (16 bytes) in a vector that grows by doubling, plus one
//! free-list entry (8 bytes) once it has left while others stay; a list that nobody waits on
//! holds at most [`KEEP`] slots, and a woken one nothing. The high-water mark of a list is kept
//! only while some waiter of that generation stays parked: slots cannot move, because tickets
//! name them by index.
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
//! 5. `Slots::vacant` holds each index of a `None` slot of `Slots::wakers` exactly once, so the
//!    waiters parked are `wakers.len() - vacant.len()`. When that reaches zero, no ticket of the
//!    current generation exists (whoever empties a slot clears the ticket that named it, in the
//!    same call), so [`Slots::vacate`] may empty both vectors without a new generation:
//!    invariant 2 then holds with no slot at all. The memory of vectors emptied this way (above
//!    [`KEEP`] slots) or moved out by [`WaitList::wake_all`] is freed after the lock is released
//!    (a large free is a system call; it need not lengthen the critical section).

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

/// Slots an emptied list keeps (`Slots::vacate`): a waiter that parks and leaves over and over,
/// as a `select!` loop that makes a new future each turn does, then allocates nothing after its
/// first turn, and an empty list holds at most `KEEP * 24` bytes (512 B of slots, 256 B of free
/// list). A power of two, so that it is a capacity `Vec` doubling reaches.
const KEEP: usize = 32;

/// What leaving the list takes out under the lock, dropped only after it is released (waiters
/// invariants 4 and 5): the waker of the emptied slot, and the vectors of an emptied list when
/// their memory is to be freed (empty, unallocated vectors otherwise: dropping them is free).
type Leftovers = (Option<Waker>, Vec<Option<Waker>>, Vec<usize>);

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
                    replaced = current.map(|ticket| slots.vacate(ticket.index));
                    Some(value)
                }
                (None, Some(ticket)) => {
                    // Waiters invariant 2: the slot is ours and holds our previous waker.
                    let slot = &mut slots.wakers[ticket.index];
                    replaced = match slot {
                        Some(parked) if parked.will_wake(waker) => None,
                        _ => Some((slot.replace(waker.clone()), Vec::new(), Vec::new())),
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
        // Waiters invariants 4 and 5: the waker we replaced, or the memory of the list we
        // emptied, is dropped after the lock is released.
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
                Some(slots.vacate(parked.index))
            } else {
                None
            }
        };
        // Waiters invariants 4 and 5.
        drop(vacated);
    }

    /// Wakes every parked waiter, and starts a new generation. Whoever made a waiter's
    /// condition true must have done so before calling this (waiters invariant 3).
    ///
    /// If a waker panics in `wake`, the panic propagates and the wakers after it in the list are
    /// dropped without being woken; executors' wakers do not panic.
    pub(crate) fn wake_all(&self) {
        let (wakers, vacant) = {
            let mut slots = self.slots.lock();
            // Bounded far below wrapping: one generation per phase change, per repeated trigger
            // (itself capped below `isize::MAX` by the trigger count) and per drain.
            slots.generation = slots.generation.saturating_add(1);
            // memory ordering: Relaxed: stored under the lock, read by `cancel` as a hint only;
            // the lock orders it (waiters invariant 1).
            self.generation
                .store(slots.generation.get(), Ordering::Relaxed);
            // Waiters invariant 5: the new generation starts with no memory at all.
            (mem::take(&mut slots.wakers), mem::take(&mut slots.vacant))
        };
        // Waiters invariants 4 and 5: woken, and the vectors freed, outside the lock. The free
        // list is freed first: it holds no waker, and its memory goes back before the wake-ups
        // start other tasks.
        drop(vacant);
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

    /// Empties a slot of the current generation, whose ticket the caller clears. Returns its
    /// waker, and if that was the last parked waiter, the memory of the emptied list, for the
    /// caller to drop after releasing the lock (waiters invariants 4 and 5).
    fn vacate(&mut self, index: usize) -> Leftovers {
        let waker = self.wakers[index].take();
        // Waiters invariant 5: `index` was occupied, so it is not in `vacant` yet.
        if self.vacant.len() + 1 < self.wakers.len() {
            self.vacant.push(index);
            return (waker, Vec::new(), Vec::new());
        }
        // The last waiter of this generation left: every slot is `None`, and no ticket names
        // one (invariant 5). Start over from index zero; keep small vectors for the next
        // waiter (no allocation on a park-and-leave loop), give large ones back.
        if self.wakers.capacity() <= KEEP && self.vacant.capacity() <= KEEP {
            self.wakers.clear();
            self.vacant.clear();
            (waker, Vec::new(), Vec::new())
        } else {
            (
                waker,
                mem::take(&mut self.wakers),
                mem::take(&mut self.vacant),
            )
        }
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
    fn the_last_waiter_to_leave_empties_the_list_and_keeps_a_few_slots() {
        let list = Arc::new(WaitList::new());
        let probe = Probe::new(&list);
        let mut tickets = [None; 3];
        for ticket in &mut tickets {
            park(&list, ticket, &waker(&probe));
        }
        // Out of order, and the last one through `park` finding its condition true.
        list.cancel(&mut tickets[1]);
        list.cancel(&mut tickets[0]);
        assert_eq!(
            list.park(&mut tickets[2], &waker(&probe), || Some(())),
            Some(())
        );
        {
            let slots = list.slots.lock();
            assert_eq!((slots.wakers.len(), slots.vacant.len()), (0, 0));
            assert!(slots.wakers.capacity() > 0, "a small list keeps its slots");
        }
        // The same generation goes on from slot zero.
        park(&list, &mut tickets[0], &waker(&probe));
        assert_eq!(tickets[0].unwrap().index, 0);
        assert_eq!(tickets[0].unwrap().generation.get(), 1);
        list.wake_all();
        assert_eq!(probe.wakes(), 1);
    }

    #[test]
    fn an_emptied_large_list_gives_its_memory_back() {
        let list = Arc::new(WaitList::new());
        let probe = Probe::new(&list);
        let mut tickets = alloc::vec![None; super::KEEP + 1];
        for ticket in &mut tickets {
            park(&list, ticket, &waker(&probe));
        }
        for ticket in &mut tickets {
            list.cancel(ticket);
        }
        let slots = list.slots.lock();
        assert_eq!((slots.wakers.capacity(), slots.vacant.capacity()), (0, 0));
    }

    #[test]
    fn wake_all_frees_both_vectors() {
        let list = Arc::new(WaitList::new());
        let probe = Probe::new(&list);
        let (mut stays, mut leaves) = (None, None);
        park(&list, &mut stays, &waker(&probe));
        park(&list, &mut leaves, &waker(&probe));
        list.cancel(&mut leaves);
        assert!(list.slots.lock().vacant.capacity() > 0);
        list.wake_all();
        let slots = list.slots.lock();
        assert_eq!((slots.wakers.capacity(), slots.vacant.capacity()), (0, 0));
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
