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
        let shutdown = Shutdown::with_stripes(2).unwrap();
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
            shutdown.wait_drained();
            assert_eq!(shutdown.in_flight(), 0);
        });
    }
}

#[test]
fn guards_dropped_on_other_threads_after_every_handle_is_gone() {
    for _ in 0..ROUNDS {
        let shutdown = Shutdown::with_stripes(3).unwrap();
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
        let parent = Shutdown::with_stripes(2).unwrap();
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
        parent.wait_drained();
        assert_eq!(parent.in_flight(), 0);
    }
}

#[test]
fn the_last_handle_dropped_the_moment_the_drain_is_seen() {
    // The last guard's release is still announcing the drain when the other thread sees it and
    // drops the last handle; the memory must outlive the announcement (invariant 9). Under
    // Miri, and under AddressSanitizer, a use after free here is reported.
    for _ in 0..ROUNDS * 10 {
        let shutdown = Shutdown::with_stripes(1).unwrap();
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
