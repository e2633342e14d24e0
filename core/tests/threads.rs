//! Real threads racing admissions, releases, closes and handle drops. Loom explores these
//! interleavings exhaustively on small models; this runs them at scale (and under Miri, which
//! checks the memory accesses, with the counts shrunk).
#![cfg(not(loom))]

use std::sync::Barrier;
use std::thread;

use winddown_core::{Reason, Shutdown};

const ROUNDS: usize = if cfg!(miri) { 3 } else { 200 };
const ENTERS: usize = if cfg!(miri) { 20 } else { 2_000 };

#[test]
fn workers_racing_the_close_always_drain() {
    for _ in 0..ROUNDS {
        let shutdown = winddown_core::tuning::with_stripes(2).unwrap();
        let barrier = Barrier::new(3);
        thread::scope(|scope| {
            for _ in 0..2 {
                let shutdown = shutdown.clone();
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let mut admitted = 0;
                    for _ in 0..ENTERS {
                        match shutdown.enter() {
                            Ok(guard) => {
                                admitted += 1;
                                drop(guard);
                            }
                            Err(_) => break,
                        }
                    }
                    admitted
                });
            }
            barrier.wait();
            shutdown.trigger(Reason::requested());
            shutdown.close();
            shutdown.blocking().drained(None);
            assert_eq!(shutdown.in_flight(), 0);
        });
    }
}

#[test]
fn guards_dropped_on_other_threads_after_every_handle_is_gone() {
    for _ in 0..ROUNDS {
        let shutdown = winddown_core::tuning::with_stripes(3).unwrap();
        let clones: Vec<Shutdown> = (0..3).map(|_| shutdown.clone()).collect();
        let guards: Vec<_> = clones.iter().map(|c| c.enter().unwrap()).collect();
        let workers: Vec<_> = guards
            .into_iter()
            .map(|g| thread::spawn(move || drop(g)))
            .collect();
        drop(clones);
        drop(shutdown);
        for worker in workers {
            worker.join().unwrap();
        }
    }
}

#[test]
fn children_made_and_dropped_while_the_parent_closes() {
    for _ in 0..ROUNDS {
        let parent = winddown_core::tuning::with_stripes(2).unwrap();
        thread::scope(|scope| {
            let maker = {
                let parent = parent.clone();
                scope.spawn(move || {
                    for _ in 0..(ENTERS / 20).max(2) {
                        let child = parent.child();
                        if let Ok(request) = child.enter() {
                            drop(child);
                            drop(request);
                        }
                    }
                })
            };
            parent.close();
            maker.join().unwrap();
        });
        parent.blocking().drained(None);
        assert_eq!(parent.in_flight(), 0);
    }
}

#[test]
fn the_last_handle_dropped_the_moment_the_drain_is_seen() {
    // The last guard's release is still announcing the drain when the other thread sees it and
    // drops the last handle; the memory must outlive the announcement (invariant 9). Under
    // Miri, and under AddressSanitizer, a use after free here is reported.
    for _ in 0..ROUNDS * 10 {
        let shutdown = winddown_core::tuning::with_stripes(1).unwrap();
        let guard = shutdown.enter().unwrap();
        shutdown.close();
        let releaser = thread::spawn(move || drop(guard));
        while !shutdown.is_drained() {
            std::hint::spin_loop();
        }
        drop(shutdown);
        releaser.join().unwrap();
    }
}

/// Waiters parking, polling again and cancelling on two threads while a third moves the phases:
/// every waiter whose phase comes is woken (a lost wake-up leaves a blocking wait to time out),
/// and the cancelled ones leave their lists consistent for the next.
#[test]
fn waiters_park_and_cancel_while_the_phases_move() {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};
    use std::time::Duration;
    use winddown_core::Phase;

    struct Idle;
    impl Wake for Idle {
        fn wake(self: Arc<Self>) {}
    }

    const WAITERS: usize = if cfg!(miri) { 4 } else { 200 };
    for _ in 0..ROUNDS {
        let shutdown = winddown_core::tuning::with_stripes(2).unwrap();
        let barrier = Barrier::new(3);
        thread::scope(|scope| {
            for worker in 0..2 {
                let shutdown = shutdown.clone();
                let barrier = &barrier;
                scope.spawn(move || {
                    let waker = Waker::from(Arc::new(Idle));
                    let mut cx = Context::from_waker(&waker);
                    barrier.wait();
                    for i in 0..WAITERS {
                        // Park one and drop it (cancel), sometimes after a second poll.
                        let mut cancelled = shutdown.reached(Phase::ClosingResources);
                        let _ = Pin::new(&mut cancelled).poll(&mut cx);
                        if (i + worker) % 2 == 0 {
                            let _ = Pin::new(&mut cancelled).poll(&mut cx);
                        }
                        drop(cancelled);
                    }
                    // Then wait for real, blocking, for each phase in turn.
                    for phase in [Phase::Initiated, Phase::Draining, Phase::ClosingResources] {
                        let reached = shutdown
                            .blocking()
                            .reached(phase, Some(Duration::from_secs(20)));
                        assert!(
                            reached.is_some_and(|at| at >= phase),
                            "lost wake-up for {phase}"
                        );
                    }
                });
            }
            barrier.wait();
            shutdown.trigger(Reason::requested());
            shutdown.advance(Phase::Draining).unwrap();
            shutdown.advance(Phase::ClosingResources).unwrap();
        });
    }
}

/// Two handles dropped on two threads at once: whichever drops last frees the allocation,
/// after the other's last use of it (invariants 3 and 6). Loom cannot see this free (its
/// cells have no drop check); Miri's race detector, which runs this file, does.
#[test]
fn handles_dropped_on_two_threads_at_once() {
    for _ in 0..10 {
        let shutdown = winddown_core::tuning::with_stripes(2).unwrap();
        let other = shutdown.clone();
        let dropper = thread::spawn(move || {
            let _ = other.phase();
            drop(other);
        });
        let _ = shutdown.phase();
        drop(shutdown);
        dropper.join().unwrap();
    }
}
