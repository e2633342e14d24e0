//! Loom models of the core's interleavings. Each names the invariants it checks: those of the
//! admission word (in `src/raw/word.rs`), or the waiter list's ("waiters invariant N", in
//! `src/engine/waiters.rs`).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test -p winddown-core --release --test loom --features loom`
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Wake, Waker};

use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use winddown_core::{Phase, Reason};

/// Invariants 1 and 4: an admission racing the close is either counted (and the drain waits for
/// it) or refused (and undone); the drain is announced either way, and nothing is left counted.
#[test]
fn enter_racing_close() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let worker = {
            let shutdown = shutdown.clone();
            thread::spawn(move || {
                if let Ok(guard) = shutdown.enter() {
                    drop(guard);
                    true
                } else {
                    false
                }
            })
        };
        shutdown.close();
        // After `close` returns, admissions are refused.
        assert!(shutdown.enter().is_err());
        block_on(shutdown.drained());
        let admitted = worker.join().unwrap();
        assert_eq!(shutdown.in_flight(), 0);
        assert_eq!(shutdown.refused(), 1 + usize::from(!admitted));
    });
}

/// Invariant 4 and the waiter protocol: the last guard's release races a drain waiter that is
/// registering; the waiter must be woken (loom reports a deadlock otherwise).
#[test]
fn last_release_racing_drain_waiter() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let guard = shutdown.enter().unwrap();
        shutdown.close();
        let worker = thread::spawn(move || drop(guard));
        block_on(shutdown.drained());
        assert!(shutdown.is_drained());
        worker.join().unwrap();
    });
}

/// Invariants 2, 3, 5 and 6: a guard outlives every handle; whichever of the last handle drop and
/// the guard drop comes last frees the allocation, exactly once (loom's leak tracking reports a
/// leak, a double free shows as a crash).
#[test]
fn guard_outliving_every_handle() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(2).unwrap();
        let other = shutdown.clone();
        let guard_a = shutdown.enter().unwrap();
        let guard_b = other.enter().unwrap();
        let worker = thread::spawn(move || {
            assert_eq!(guard_a.phase(), Phase::Running);
            drop(guard_a);
        });
        let handle_dropper = thread::spawn(move || drop(other));
        drop(shutdown);
        drop(guard_b);
        worker.join().unwrap();
        handle_dropper.join().unwrap();
    });
}

/// Invariant 8 and the waiter protocol: a trigger races a `triggered()` waiter registering; the
/// waiter wakes and sees the reason.
#[test]
fn trigger_racing_triggered_waiter() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let trigger = {
            let shutdown = shutdown.clone();
            thread::spawn(move || shutdown.trigger(Reason::Signal(15)))
        };
        block_on(shutdown.triggered());
        assert_eq!(shutdown.reason(), Some(&Reason::Signal(15)));
        assert!(trigger.join().unwrap());
    });
}

/// Invariant 4: two guards on two stripes leave at the same moment after the close; each reads the
/// other's stripe, and at least one must see both at zero and announce the drain.
#[test]
fn two_stripes_reach_zero_at_once() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(2).unwrap();
        let other = shutdown.clone();
        let guard_a = shutdown.enter().unwrap();
        let guard_b = other.enter().unwrap();
        shutdown.close();
        let a = thread::spawn(move || drop(guard_a));
        let b = thread::spawn(move || drop(guard_b));
        block_on(shutdown.drained());
        a.join().unwrap();
        b.join().unwrap();
        drop(other);
    });
}

/// Invariant 4: the close of the second stripe races the last release on the first.
#[test]
fn close_racing_release_on_another_stripe() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(2).unwrap();
        let other = shutdown.clone();
        let guard = other.enter().unwrap();
        let releaser = thread::spawn(move || drop(guard));
        shutdown.close();
        block_on(shutdown.drained());
        releaser.join().unwrap();
        drop(other);
    });
}

/// Invariants 4 and 7: a child's last request ends while the parent closes; the child drains,
/// gives back its unit in the parent once, and the parent drains.
#[test]
fn child_drained_racing_parent_close() {
    loom::model(|| {
        let parent = winddown_core::tuning::with_stripes(1).unwrap();
        let child = parent.child();
        let request = child.enter().unwrap();
        let worker = thread::spawn(move || drop(request));
        parent.close();
        block_on(parent.drained());
        assert!(child.is_drained());
        assert_eq!(child.reason(), Some(&Reason::Parent));
        worker.join().unwrap();
    });
}

/// Invariants 6 and 7: a child dies (its last handle goes) while its parent propagates a close to
/// it; neither a deadlock nor a use after free, and the parent drains.
#[test]
fn child_dying_during_parent_propagation() {
    loom::model(|| {
        let parent = winddown_core::tuning::with_stripes(1).unwrap();
        let child = parent.child();
        let dropper = thread::spawn(move || drop(child));
        parent.close();
        block_on(parent.drained());
        dropper.join().unwrap();
        assert_eq!(parent.in_flight(), 0);
    });
}

/// Invariant 8 under concurrent triggers: exactly one claims the scope (returns `true`), its
/// reason is kept, and the other changes nothing: a repeated trigger never forces.
#[test]
fn concurrent_triggers_have_one_first() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let first_elsewhere = Arc::new(AtomicBool::new(false));
        let other = {
            let shutdown = shutdown.clone();
            let first_elsewhere = first_elsewhere.clone();
            thread::spawn(move || {
                if shutdown.trigger(Reason::Signal(2)) {
                    first_elsewhere.store(true, Ordering::Relaxed);
                }
            })
        };
        let here = shutdown.trigger(Reason::Signal(15));
        other.join().unwrap();
        assert_ne!(here, first_elsewhere.load(Ordering::Relaxed));
        let expected = if here {
            Reason::Signal(15)
        } else {
            Reason::Signal(2)
        };
        assert_eq!(shutdown.reason(), Some(&expected));
        assert_eq!(shutdown.phase(), Phase::Initiated);
    });
}

/// A trigger racing a force (a second signal racing an admin endpoint's trigger, say): the
/// force always forces, whichever of the two claimed the scope; the trigger says truly whether
/// its reason is the one kept, and a waiter for the force wakes.
#[test]
fn trigger_racing_force() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let forcer = {
            let shutdown = shutdown.clone();
            thread::spawn(move || shutdown.force(Reason::Signal(2)))
        };
        let first = shutdown.trigger(Reason::Signal(15));
        assert_eq!(block_on(shutdown.reached(Phase::Forced)), Phase::Forced);
        forcer.join().unwrap();
        let expected = if first {
            Reason::Signal(15)
        } else {
            Reason::Signal(2)
        };
        assert_eq!(shutdown.reason(), Some(&expected));
        assert!(shutdown.enter().is_err());
    });
}

/// The drain's memory-ordering promise: what each guard holder wrote before dropping its guard is
/// visible to whoever sees the drain. Two guards share one stripe, so the guard that leaves first
/// is not the one that completes the drain: only its Release decrement (acquired by the other's
/// slow path) carries its write. Loom's cells report a data race if that chain is broken.
#[test]
fn drain_publishes_the_work_of_every_guard() {
    use loom::cell::UnsafeCell;

    struct Work(UnsafeCell<u32>);
    // SAFETY: test-only; loom checks every access for races.
    unsafe impl Sync for Work {}

    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let work = Arc::new([Work(UnsafeCell::new(0)), Work(UnsafeCell::new(0))]);
        let workers: Vec<_> = (0..2)
            .map(|index| {
                let guard = shutdown.enter().unwrap();
                let work = work.clone();
                thread::spawn(move || {
                    // SAFETY: only this thread writes this cell before the drain.
                    work[index].0.with_mut(|value| unsafe { *value = 1 });
                    drop(guard);
                })
            })
            .collect();
        shutdown.close();
        block_on(shutdown.drained());
        for cell in work.iter() {
            // SAFETY: the drain happened after both writes (the property under test).
            assert_eq!(cell.0.with(|value| unsafe { *value }), 1);
        }
        for worker in workers {
            worker.join().unwrap();
        }
    });
}

/// Invariant 9: a guard's release that completes the drain races the last handle, dropped as
/// soon as the drain is seen. The release still notifies and reads the header after its
/// decrement, so the memory must outlive it (loom reports the use after free as an access to a
/// dropped object, and the leak check a missed free).
#[test]
fn last_release_racing_the_last_handle_drop() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let guard = shutdown.enter().unwrap();
        shutdown.close();
        let releaser = thread::spawn(move || drop(guard));
        while !shutdown.is_drained() {
            thread::yield_now();
        }
        drop(shutdown);
        releaser.join().unwrap();
    });
}

/// Invariant 9 with a parent scope closing a child that only guards keep alive: the closer holds
/// no handle of the child, only a weak unit, while the child's last guard leaves.
#[test]
fn child_guard_leaving_while_the_parent_closes_it() {
    loom::model(|| {
        let parent = winddown_core::tuning::with_stripes(1).unwrap();
        let child = parent.child();
        let request = child.enter().unwrap();
        drop(child);
        let worker = thread::spawn(move || drop(request));
        parent.close();
        block_on(parent.drained());
        worker.join().unwrap();
    });
}

/// A waker that does nothing, for polling a future once by hand so that it parks.
fn idle_waker() -> Waker {
    struct Idle;
    impl Wake for Idle {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    Waker::from(std::sync::Arc::new(Idle))
}

/// Polls `future` once with a waker that does nothing; it must still be pending.
fn park_once<F: Future + Unpin>(future: &mut F) {
    let waker = idle_waker();
    assert!(Pin::new(future)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
}

/// Waiters invariants 1, 2 and 4 (cancel safety): a waiter parked before the trigger is dropped
/// while the phases move on, and another waiter, woken by the trigger, parks again for a later
/// phase, possibly in the very slot the dropped one had in the generation before. The drop must
/// empty its own slot or find its generation gone, never empty the other's, which is woken.
#[test]
fn parked_waiter_dropped_while_the_phases_move() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let mut early = shutdown.triggered();
        park_once(&mut early);
        let dropper = thread::spawn(move || drop(early));
        let mover = {
            let shutdown = shutdown.clone();
            thread::spawn(move || {
                shutdown.trigger(Reason::Signal(15));
                shutdown.advance(Phase::Draining).unwrap();
            })
        };
        block_on(shutdown.reached(Phase::Draining));
        dropper.join().unwrap();
        mover.join().unwrap();
    });
}

/// Waiters invariants 1 and 3: a waiter for a later phase is woken by every phase change before
/// it and parks again, each time in the new generation, while the phases move on; it is woken
/// by the one it waits for (loom reports a deadlock otherwise).
#[test]
fn reached_waiter_parks_again_across_phases() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let mover = {
            let shutdown = shutdown.clone();
            thread::spawn(move || {
                shutdown.trigger(Reason::Signal(15));
                shutdown.advance(Phase::Draining).unwrap();
                shutdown.advance(Phase::ClosingResources).unwrap();
            })
        };
        let phase = block_on(shutdown.reached(Phase::ClosingResources));
        assert_eq!(phase, Phase::ClosingResources);
        mover.join().unwrap();
    });
}

/// Waiters invariants 2 and 4 on the drain list: a drain waiter parked and then dropped races the
/// last guard's release, which may announce the drain; a second waiter is still woken.
#[test]
fn drain_waiter_dropped_while_the_last_guard_leaves() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let guard = shutdown.enter().unwrap();
        shutdown.close();
        let mut early = shutdown.drained();
        park_once(&mut early);
        let releaser = thread::spawn(move || drop(guard));
        drop(early);
        block_on(shutdown.drained());
        releaser.join().unwrap();
    });
}

/// Waiters invariants 2 and 6: the last two waiters of the phase list leave on two threads while
/// a third parks. Whichever leaves last empties the list, which starts over from slot zero in
/// the same generation, before or after the newcomer took a slot: the newcomer's slot must
/// survive both (or the trigger would not wake it, and loom reports a deadlock), and no ticket
/// may name a slot past the emptied vector (an index panic).
#[test]
fn waiters_leaving_an_emptying_list_while_another_parks() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let (mut first, mut second) = (shutdown.triggered(), shutdown.triggered());
        park_once(&mut first);
        park_once(&mut second);
        let leaver = thread::spawn(move || drop(first));
        let trigger = {
            let shutdown = shutdown.clone();
            thread::spawn(move || {
                drop(second);
                shutdown.trigger(Reason::Signal(15));
            })
        };
        block_on(shutdown.triggered());
        leaver.join().unwrap();
        trigger.join().unwrap();
    });
}

/// Waiters invariants 2 and 5: the two waiters at the end of the phase list leave, so the list
/// is cut back past both (the first leaves a stale index in the free list), while a newcomer
/// parks and the waiter parked first stays, parked again by its own thread. The newcomer must
/// skip the stale index or keep a slot of its own, and the one that stays must keep its slot:
/// the trigger wakes both (loom reports a deadlock otherwise).
#[test]
fn the_end_of_the_list_cut_back_while_a_waiter_parks() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let mut stays = shutdown.triggered();
        let (mut middle, mut last) = (shutdown.triggered(), shutdown.triggered());
        park_once(&mut stays);
        park_once(&mut middle);
        park_once(&mut last);
        let stayer = thread::spawn(move || block_on(stays));
        let leaver = {
            let shutdown = shutdown.clone();
            thread::spawn(move || {
                drop(middle);
                drop(last);
                shutdown.trigger(Reason::Signal(15));
            })
        };
        block_on(shutdown.triggered());
        leaver.join().unwrap();
        stayer.join().unwrap();
    });
}

/// The leak finder (feature `track`): two guards on one stripe leave on two threads while the
/// close races them and a third admission; every site is recorded and forgotten under the
/// stripe's lock before the unit is given back, so when the drain is seen the registry is empty
/// (and loom sees no access to freed memory when the last guard outlives the close).
#[cfg(feature = "track")]
#[test]
fn tracked_guards_leaving_while_the_close_races_an_admission() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let held = shutdown.enter().unwrap();
        let entering = {
            let shutdown = shutdown.clone();
            thread::spawn(move || {
                if let Ok(guard) = shutdown.enter() {
                    drop(guard);
                }
            })
        };
        let releaser = thread::spawn(move || drop(held));
        shutdown.close();
        block_on(shutdown.drained());
        assert!(winddown_core::track::guard_sites(&shutdown).is_empty());
        entering.join().unwrap();
        releaser.join().unwrap();
    });
}

/// Invariants 9 and 10: a fork racing the close and the last release of the guard it forks
/// from, with every handle dropped: the fork is counted (the drain waits for it), owns a weak
/// unit whether the closer paid it or it paid itself, and the memory is freed exactly once (a
/// leak or a double free fails the model).
#[test]
fn fork_racing_the_close_and_the_last_release() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let guard = shutdown.enter().unwrap();
        let closer = {
            let shutdown = shutdown.clone();
            thread::spawn(move || {
                shutdown.close();
                block_on(shutdown.drained());
            })
        };
        let forker = thread::spawn(move || {
            let fork = guard.fork();
            drop(guard);
            fork
        });
        let fork = forker.join().unwrap();
        drop(shutdown);
        // The drain cannot complete while the fork lives; the closer finishes once it is gone.
        drop(fork);
        closer.join().unwrap();
    });
}

/// The trigger hook runs exactly once, whether it is added before, during or after the
/// trigger, and before the trigger returns when it was added before.
#[test]
fn trigger_hook_racing_the_trigger() {
    loom::model(|| {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let ran = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let adder = {
            let shutdown = shutdown.clone();
            let ran = ran.clone();
            thread::spawn(move || {
                shutdown.on_trigger(move |_| {
                    ran.fetch_add(1, Ordering::SeqCst);
                });
            })
        };
        shutdown.trigger(Reason::Signal(15));
        adder.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    });
}
