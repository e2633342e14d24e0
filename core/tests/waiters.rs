//! The wait futures, polled by hand with a counting waker: exact wake counts, no sleeps.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use winddown_core::{Phase, Reason, Shutdown};

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker::default());
    (counter.clone(), Waker::from(counter))
}

fn poll<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

#[test]
fn triggered_wakes_once_on_trigger() {
    let shutdown = Shutdown::new();
    let (wakes, waker) = counting_waker();
    let mut triggered = shutdown.triggered();
    assert!(poll(&mut triggered, &waker).is_pending());
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0);

    shutdown.trigger(Reason::requested());
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    assert!(poll(&mut triggered, &waker).is_ready());
}

#[test]
fn triggered_is_ready_at_once_when_already_triggered() {
    let shutdown = Shutdown::new();
    shutdown.trigger(Reason::requested());
    let (wakes, waker) = counting_waker();
    assert!(poll(&mut shutdown.triggered(), &waker).is_ready());
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
}

#[test]
fn reached_stays_pending_through_earlier_phases() {
    let shutdown = Shutdown::new();
    let (wakes, waker) = counting_waker();
    let mut draining = shutdown.reached(Phase::Draining);
    assert!(poll(&mut draining, &waker).is_pending());

    shutdown.trigger(Reason::requested());
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    assert!(poll(&mut draining, &waker).is_pending());

    shutdown.advance(Phase::StoppingNewRequests).unwrap();
    assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
    assert!(poll(&mut draining, &waker).is_pending());

    shutdown.advance(Phase::Draining).unwrap();
    assert_eq!(wakes.0.load(Ordering::SeqCst), 3);
    assert_eq!(poll(&mut draining, &waker), Poll::Ready(Phase::Draining));
}

#[test]
fn forced_wakes_every_phase_waiter() {
    let shutdown = Shutdown::new();
    let (_, waker) = counting_waker();
    let mut completed = shutdown.reached(Phase::Completed);
    assert!(poll(&mut completed, &waker).is_pending());
    shutdown.force(Reason::Deadline);
    assert_eq!(poll(&mut completed, &waker), Poll::Ready(Phase::Forced));
}

#[test]
fn drained_waits_for_close_and_the_last_guard() {
    let shutdown = winddown_core::tuning::with_stripes(2).unwrap();
    let other = shutdown.clone();
    let first = shutdown.enter().unwrap();
    let second = other.enter().unwrap();
    let (wakes, waker) = counting_waker();
    let mut drained = shutdown.drained();
    assert!(poll(&mut drained, &waker).is_pending());

    // Triggered but still admitting: not drained, not woken.
    shutdown.trigger(Reason::requested());
    drop(first);
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0);

    shutdown.close();
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    assert!(poll(&mut drained, &waker).is_pending());

    // The last guard's drop is the wake-up; nothing polls.
    drop(second);
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    assert!(poll(&mut drained, &waker).is_ready());
}

#[test]
fn dropping_a_waiter_loses_nothing() {
    let shutdown = Shutdown::new();
    let (_, waker) = counting_waker();
    let mut first = shutdown.drained();
    assert!(poll(&mut first, &waker).is_pending());
    drop(first);

    let (wakes, waker) = counting_waker();
    let mut second = shutdown.drained();
    assert!(poll(&mut second, &waker).is_pending());
    shutdown.close();
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    assert!(poll(&mut second, &waker).is_ready());
}

#[test]
fn a_guard_outlives_every_handle() {
    let shutdown = Shutdown::new();
    let guard = shutdown.enter().unwrap();
    drop(shutdown);
    assert_eq!(guard.phase(), Phase::Running);
    assert!(!guard.is_triggered());
    drop(guard);
}

#[test]
fn refused_admission_names_the_phase() {
    let shutdown = Shutdown::new();
    shutdown.trigger(Reason::requested());
    shutdown.advance(Phase::Draining).unwrap();
    let err = shutdown.enter().unwrap_err();
    assert_eq!(err.phase(), Phase::Draining);
    assert_eq!(
        err.to_string(),
        "admissions are closed: shutdown is draining"
    );
}

#[test]
fn refused_transitions_are_values() {
    let shutdown = Shutdown::new();
    let not_triggered = shutdown.advance(Phase::Draining).unwrap_err();
    assert_eq!(
        not_triggered.to_string(),
        "cannot move from running to draining: trigger the shutdown first"
    );
    shutdown.trigger(Reason::requested());
    let repeated = shutdown.advance(Phase::Initiated).unwrap_err();
    assert_eq!(
        repeated.to_string(),
        "the shutdown is already initiated: phases only move forward"
    );
    shutdown.advance(Phase::Completed).unwrap();
    let finished = shutdown.advance(Phase::Forced).unwrap_err();
    assert_eq!(
        finished.to_string(),
        "cannot move from completed to forced: the shutdown is over"
    );
}

#[test]
fn a_child_made_after_the_close_is_closed_and_drained() {
    let parent = Shutdown::new();
    parent.close();
    let child = parent.child();
    assert_eq!(child.phase(), Phase::StoppingNewRequests);
    assert_eq!(child.reason(), Some(&Reason::Parent));
    assert!(child.is_drained());
    assert_eq!(parent.in_flight(), 0);
    assert_eq!(
        parent.refused(),
        0,
        "linking a child is not a refused request"
    );
}

#[test]
fn a_child_triggered_alone_leaves_its_parent_running() {
    let parent = Shutdown::new();
    let child = parent.child();
    child.close();
    assert!(child.is_drained());
    assert_eq!(parent.phase(), Phase::Running);
    assert_eq!(parent.in_flight(), 0, "a drained child gives back its unit");
}

#[test]
fn a_dropped_child_does_not_wedge_its_parent() {
    let parent = Shutdown::new();
    let child = parent.child();
    let request = child.enter().unwrap();
    drop(child);
    assert_eq!(
        parent.in_flight(),
        1,
        "the child's request is still in flight"
    );

    parent.close();
    assert!(!parent.is_drained());
    drop(request);
    assert!(parent.is_drained());
}

#[test]
fn a_parent_force_reaches_grandchildren() {
    let root = Shutdown::new();
    let grandchild = root.child().child();
    root.force(Reason::Deadline);
    assert_eq!(grandchild.phase(), Phase::Forced);
    assert_eq!(grandchild.reason(), Some(&Reason::Parent));
}

#[test]
fn a_repeated_trigger_changes_nothing() {
    let shutdown = Shutdown::new();
    let waker = Waker::from(Arc::new(CountingWaker::default()));
    let mut forced = shutdown.reached(Phase::Forced);
    let firsts: Vec<bool> = (0..3)
        .map(|n| shutdown.trigger(Reason::Signal(15 + n)))
        .collect();
    assert_eq!(firsts, [true, false, false]);
    assert_eq!(shutdown.phase(), Phase::Initiated);
    assert_eq!(shutdown.reason(), Some(&Reason::Signal(15)));
    assert!(poll(&mut forced, &waker).is_pending());
    shutdown.force(Reason::Signal(15));
    assert!(poll(&mut forced, &waker).is_ready());
}

#[test]
fn clones_spread_over_stripes() {
    let shutdown = winddown_core::tuning::with_stripes(4).unwrap();
    let clones: Vec<Shutdown> = (0..8).map(|_| shutdown.clone()).collect();
    let guards: Vec<_> = clones.iter().map(|c| c.enter().unwrap()).collect();
    assert_eq!(shutdown.in_flight(), 8);
    shutdown.close();
    drop(guards);
    assert!(shutdown.is_drained());
}

#[test]
fn stripe_count_is_validated() {
    assert_eq!(
        winddown_core::tuning::with_stripes(0)
            .unwrap_err()
            .requested(),
        0
    );
    assert_eq!(
        winddown_core::tuning::with_stripes(257)
            .unwrap_err()
            .to_string(),
        "a shutdown needs between 1 and 256 stripes, not 257"
    );
    assert!(winddown_core::tuning::with_stripes(256).is_ok());
}

/// Runs `test` on a thread of its own and fails if it has not returned within 30 s: a test
/// whose failure is a deadlock fails instead of hanging the suite.
fn within_30s(test: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match finished.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(()) => thread.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("deadlocked: still running after 30 s")
        }
    }
}

/// A trigger hook may call back into its scope (add a hook, as `on_trigger`'s docs allow): no
/// lock of the scope is held while hooks run.
#[test]
fn a_trigger_hook_may_add_a_hook() {
    within_30s(|| {
        let shutdown = Shutdown::new();
        let ran = Arc::new(AtomicUsize::new(0));
        shutdown.on_trigger({
            let (shutdown, ran) = (shutdown.clone(), ran.clone());
            move |_| {
                ran.fetch_add(1, Ordering::SeqCst);
                let ran = ran.clone();
                shutdown.on_trigger(move |_| {
                    ran.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        shutdown.trigger(Reason::Signal(15));
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    });
}
