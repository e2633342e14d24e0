//! A stress test of the whole core on nine threads at once: admissions on every stripe, child
//! scopes made, entered and dropped, waiters parked and cancelled on both lists, an escalation
//! waiter, the trigger, the close, the phases and the last handles, all racing.
//!
//! Loom explores small models exhaustively (`loom.rs`); this runs the real code at scale. It is
//! what `.ci/tsan.sh` runs under ThreadSanitizer, which must report nothing; in the normal test
//! run it checks the drain's promise on real threads: what a guard holder wrote before dropping
//! its guard is there when the drain is seen. The workers write plain memory (no atomics)
//! under their guards and the closer reads it after the drain, so a missing happens-before is
//! a data race for ThreadSanitizer (and Miri), and a lost write for the assertion.
//!
//! Bounded twice: at most [`ROUNDS`] rounds, and no new round after [`BUDGET_SECS`] seconds
//! (ThreadSanitizer runs it several times slower).
#![cfg(not(loom))]

use std::cell::UnsafeCell;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use futures_lite::future::block_on;
use winddown_core::{Phase, Reason};

/// Rounds at most; each is a fresh scope and a fresh set of threads.
const ROUNDS: usize = if cfg!(miri) { 1 } else { 200 };
/// No round starts after this many seconds, unless `WINDDOWN_STRESS_SECS` says otherwise
/// (`.ci/tsan.sh` gives it longer).
const BUDGET_SECS: u64 = 2;
/// Admissions each worker tries per round (it stops at the first refusal).
const ENTERS: usize = if cfg!(miri) { 20 } else { 5_000 };
/// Child scopes each scope thread makes per round.
const CHILDREN: usize = if cfg!(miri) { 3 } else { 200 };
/// Waiters each waiter thread parks and cancels per round.
const WAITS: usize = if cfg!(miri) { 5 } else { 500 };

/// Worker threads (admissions on the parent's stripes).
const WORKERS: usize = 4;
/// Threads making child scopes.
const SCOPERS: usize = 2;
/// Threads parking and cancelling waiters: one on each list.
const WAITERS: usize = 2;
/// The escalation waiter, then the closer (this test's thread) on top.
const THREADS: usize = WORKERS + SCOPERS + WAITERS + 1;

/// Plain memory one worker writes while it holds a guard, read by the closer after the drain.
#[derive(Default)]
struct Slot(UnsafeCell<u64>);

// SAFETY: each slot is written by one worker only, and only while that worker holds a guard of
// the round's scope; the closer reads it only after it has seen the drain (no guard left, and the
// drain's Acquire/Release chain orders every guard's work before it). That ordering is what this
// test checks; a race here is a bug in the core, which ThreadSanitizer and Miri report.
unsafe impl Sync for Slot {}

impl Slot {
    /// Adds one. The caller holds a guard (see the `Sync` impl).
    fn bump(&self) {
        // SAFETY: only this slot's worker writes it, while it holds a guard; nobody reads it
        // before the drain.
        unsafe { *self.0.get() += 1 };
    }

    /// The value. The caller has seen the drain (see the `Sync` impl).
    fn read(&self) -> u64 {
        // SAFETY: the drain has been seen: no guard is left, and every worker's writes under
        // its guards happen before it.
        unsafe { *self.0.get() }
    }
}

/// A waker that does nothing, for parking a future once and then dropping it.
fn idle_waker() -> Waker {
    struct Idle;
    impl Wake for Idle {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Idle))
}

/// Polls `future` once: parks it unless it is ready. Returns whether it was ready.
fn poll_once<F: Future>(future: F, waker: &Waker) -> bool {
    let future = pin!(future);
    future.poll(&mut Context::from_waker(waker)).is_ready()
}

/// One round: every thread starts at a barrier, the closer lets the others run a little,
/// then triggers, closes, triggers again, moves on to `Draining` and waits for the drain.
fn round() {
    let shutdown = winddown_core::tuning::with_stripes(4).unwrap();
    let slots: Vec<Slot> = (0..WORKERS).map(|_| Slot::default()).collect();
    let barrier = Barrier::new(THREADS + 1);

    thread::scope(|scope| {
        let workers: Vec<_> = slots
            .iter()
            .map(|slot| {
                let (shutdown, barrier) = (shutdown.clone(), &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let mut admitted = 0;
                    for _ in 0..ENTERS {
                        let Ok(guard) = shutdown.enter() else { break };
                        slot.bump();
                        admitted += 1;
                        drop(guard);
                    }
                    admitted
                })
            })
            .collect();

        for _ in 0..SCOPERS {
            let (shutdown, barrier) = (shutdown.clone(), &barrier);
            scope.spawn(move || {
                let waker = idle_waker();
                barrier.wait();
                for n in 0..CHILDREN {
                    let child = shutdown.child();
                    let Ok(guard) = child.enter() else {
                        // The parent closed first: so did the child, with nothing in flight.
                        child.blocking().drained(None);
                        continue;
                    };
                    let _ = poll_once(child.drained(), &waker);
                    match n % 3 {
                        0 => {
                            // The guard outlives every handle of its scope.
                            drop(child);
                            drop(guard);
                        }
                        1 => {
                            // The owned future's handle outlives the others, parked until
                            // the parent triggers, then dropped (the scope's last handle).
                            let mut triggered = child.triggered();
                            let _ = poll_once(&mut triggered, &waker);
                            drop(child);
                            drop(guard);
                            let _ = poll_once(&mut triggered, &waker);
                        }
                        _ => {
                            // The child closes on its own and drains.
                            child.close();
                            drop(guard);
                            child.blocking().drained(None);
                        }
                    }
                }
            });
        }

        // One waiter thread on the phase list, one on the drain list: park, cancel, repeat,
        // then wait for real.
        {
            let (shutdown, barrier) = (shutdown.clone(), &barrier);
            scope.spawn(move || {
                let waker = idle_waker();
                barrier.wait();
                for n in 0..WAITS {
                    let _ = poll_once(shutdown.triggered(), &waker);
                    let _ = poll_once(shutdown.reached(Phase::Draining), &waker);
                    if n % 64 == 0 {
                        // The owned form, moved to another thread to be dropped there.
                        let mut owned = shutdown.reached(Phase::Completed);
                        let _ = poll_once(&mut owned, &waker);
                        thread::spawn(move || drop(owned)).join().unwrap();
                    }
                }
                assert!(block_on(shutdown.reached(Phase::Draining)) >= Phase::Draining);
            });
        }
        {
            let (shutdown, barrier) = (shutdown.clone(), &barrier);
            scope.spawn(move || {
                let waker = idle_waker();
                barrier.wait();
                for _ in 0..WAITS {
                    let _ = poll_once(shutdown.drained(), &waker);
                }
                shutdown.blocking().drained(None);
            });
        }

        // The force waiter: woken by the force at the end, not by the repeated trigger.
        {
            let (shutdown, barrier) = (shutdown.clone(), &barrier);
            scope.spawn(move || {
                barrier.wait();
                assert_eq!(block_on(shutdown.reached(Phase::Forced)), Phase::Forced);
                assert!(shutdown.is_drained());
            });
        }

        // The closer.
        barrier.wait();
        thread::yield_now();
        shutdown.trigger(Reason::requested());
        shutdown.close();
        assert!(!shutdown.trigger(Reason::Signal(15)));
        shutdown.advance(Phase::Draining).unwrap();
        shutdown.blocking().drained(None);
        assert_eq!(shutdown.in_flight(), 0);
        shutdown.force(Reason::Signal(15));
        // Read before the workers are joined: only the drain orders their writes before this.
        let written: Vec<u64> = slots.iter().map(Slot::read).collect();
        // The last handle may be any thread's: the others drop theirs as they finish.
        drop(shutdown);
        let admitted: Vec<u64> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        assert_eq!(
            written, admitted,
            "a guard's work was not there when the drain was seen"
        );
    });
}

#[test]
fn nine_threads_enter_leave_close_trigger_scope_and_wait() {
    let budget = Duration::from_secs(
        std::env::var("WINDDOWN_STRESS_SECS")
            .ok()
            .and_then(|secs| secs.parse().ok())
            .unwrap_or(BUDGET_SECS),
    );
    let start = Instant::now();
    let mut rounds = 0;
    while rounds < ROUNDS && (rounds == 0 || start.elapsed() < budget) {
        round();
        rounds += 1;
    }
    eprintln!("stress: {rounds} rounds in {:.1?}", start.elapsed());
}
