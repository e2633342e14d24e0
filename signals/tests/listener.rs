//! In-process tests with real signals, through the public API.
//!
//! Only SIGUSR1 and SIGUSR2, never more than two signals per listener (the third would end the
//! test process), and never a signal that no listener has (a dropped listener restores the
//! default action, which would end it too): those cases run in a child process, in
//! `tests/process.rs`. Serialized behind one lock: signals are process-wide.

#![cfg(unix)]

use std::io::ErrorKind;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use signal_hook::consts::signal::{SIGUSR1, SIGUSR2};
use signal_hook::low_level::raise;
use winddown_core::{Phase, Reason, Shutdown};
use winddown_signals::{Action, Builder, Event, Listener, Signal};

static SIGNALS: Mutex<()> = Mutex::new(());

/// Holds the process's signals for one test. Take it first, so it is dropped last.
fn serial() -> MutexGuard<'static, ()> {
    SIGNALS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// A listener for SIGUSR1 and SIGUSR2 whose events go to a channel.
fn listen(shutdown: &Shutdown) -> (Listener, Receiver<Event>) {
    let (tx, rx) = mpsc::channel();
    let listener = Builder::empty()
        .signal(Signal::Usr1)
        .signal(Signal::Usr2)
        .on_event(move |event| tx.send(*event).unwrap())
        .listen(shutdown)
        .unwrap();
    (listener, rx)
}

fn next(events: &Receiver<Event>) -> Event {
    events.recv_timeout(TIMEOUT).expect("no event in time")
}

/// Waits for the force that follows a `Force` event (the hook sees the event just before it).
fn forced(shutdown: &Shutdown) {
    assert_eq!(
        shutdown.blocking().reached(Phase::Forced, Some(TIMEOUT)),
        Some(Phase::Forced)
    );
}

#[test]
fn first_signal_triggers_with_its_reason() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let (_listener, events) = listen(&shutdown);

    raise(SIGUSR1).unwrap();
    let event = next(&events);
    assert_eq!(event.signal(), Signal::Usr1);
    assert_eq!(event.count(), 1);
    assert_eq!(event.action(), Action::Trigger);
    assert!(event.started_shutdown());
    assert_eq!(shutdown.phase(), Phase::Initiated);
    assert_eq!(shutdown.reason(), Some(&Reason::Signal(SIGUSR1)));
}

#[test]
fn second_signal_forces() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let (_listener, events) = listen(&shutdown);

    raise(SIGUSR1).unwrap();
    raise(SIGUSR1).unwrap();
    assert_eq!(next(&events).action(), Action::Trigger);
    let event = next(&events);
    assert_eq!((event.count(), event.action()), (2, Action::Force));
    assert!(!event.started_shutdown());
    forced(&shutdown);
    // The first reason is kept.
    assert_eq!(shutdown.reason(), Some(&Reason::Signal(SIGUSR1)));
}

#[test]
fn signals_of_the_set_count_together() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let (_listener, events) = listen(&shutdown);

    raise(SIGUSR1).unwrap();
    assert_eq!(next(&events).action(), Action::Trigger);
    raise(SIGUSR2).unwrap();
    let event = next(&events);
    assert_eq!(
        (event.signal(), event.count(), event.action()),
        (Signal::Usr2, 2, Action::Force)
    );
    forced(&shutdown);
    assert_eq!(shutdown.reason(), Some(&Reason::Signal(SIGUSR1)));
}

#[test]
fn signal_before_anyone_waits_is_not_lost() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    // No hook, no thread synchronization: the signal arrives as soon as `listen` returns,
    // possibly before the listener thread has run at all.
    let _listener = Builder::empty()
        .signal(Signal::Usr1)
        .listen(&shutdown)
        .unwrap();
    raise(SIGUSR1).unwrap();

    assert!(shutdown.blocking().triggered(Some(TIMEOUT)));
    assert_eq!(shutdown.reason(), Some(&Reason::Signal(SIGUSR1)));
}

#[test]
fn first_signal_after_another_trigger_does_not_force() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let (_listener, events) = listen(&shutdown);
    shutdown.trigger(Reason::requested_because("preStop hook"));

    raise(SIGUSR1).unwrap();
    let event = next(&events);
    assert_eq!(event.action(), Action::Trigger);
    assert!(!event.started_shutdown());
    assert_eq!(
        event.to_string(),
        "SIGUSR1 (signal #1): shutdown already triggered; another signal forces it"
    );
    assert_eq!(shutdown.phase(), Phase::Initiated);
    // The listener left the shutdown alone: not forced.
    assert_eq!(
        shutdown.reason(),
        Some(&Reason::requested_because("preStop hook"))
    );
}

#[test]
fn second_signal_after_another_trigger_forces() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let (_listener, events) = listen(&shutdown);
    shutdown.trigger(Reason::requested());

    raise(SIGUSR2).unwrap();
    raise(SIGUSR2).unwrap();
    next(&events);
    assert_eq!(next(&events).action(), Action::Force);
    forced(&shutdown);
}

/// The hook runs inside the trigger (the phase has moved, no waiter has woken: the shutdown's
/// own trigger hooks run in order, and one registered after `listen` comes after it) and just
/// before the force, so what it writes comes before what the stop writes in response. Before,
/// it ran on the listener thread after the action, racing the woken waiters.
#[test]
fn the_hook_runs_inside_the_trigger_and_before_the_force() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let (tx, seen) = mpsc::channel();
    let _listener = Builder::empty()
        .signal(Signal::Usr1)
        .on_event({
            let (shutdown, tx) = (shutdown.clone(), tx.clone());
            move |event| {
                // Slow enough that anything not waiting for the hook would be seen first.
                std::thread::sleep(Duration::from_millis(10));
                tx.send(format!("hook #{}: {:?}", event.count(), shutdown.phase()))
                    .unwrap();
            }
        })
        .listen(&shutdown)
        .unwrap();
    shutdown.on_trigger({
        let tx = tx.clone();
        move |_| tx.send("trigger hook".to_string()).unwrap()
    });
    let waiter = std::thread::spawn({
        let shutdown = shutdown.clone();
        move || {
            // Not parked before the first signal for sure, so it only waits for the force: the
            // phase moves to `Forced` after the hook, whenever this thread looks.
            shutdown.blocking().reached(Phase::Forced, None);
            tx.send("woken: forced".to_string()).unwrap();
        }
    });

    raise(SIGUSR1).unwrap();
    assert_eq!(seen.recv_timeout(TIMEOUT).unwrap(), "hook #1: Initiated");
    assert_eq!(seen.recv_timeout(TIMEOUT).unwrap(), "trigger hook");
    raise(SIGUSR1).unwrap();
    assert_eq!(seen.recv_timeout(TIMEOUT).unwrap(), "hook #2: Initiated");
    assert_eq!(seen.recv_timeout(TIMEOUT).unwrap(), "woken: forced");
    waiter.join().unwrap();
}

/// An inline hook runs on the listener thread itself, inside the trigger and before the force,
/// in order with the actions, as the threaded hook does.
#[test]
fn an_inline_hook_runs_on_the_listener_inside_the_trigger_and_before_the_force() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let (tx, seen) = mpsc::channel();
    let _listener = Builder::empty()
        .signal(Signal::Usr1)
        .on_event_inline({
            let (shutdown, tx) = (shutdown.clone(), tx.clone());
            move |event| {
                let thread = std::thread::current();
                tx.send(format!(
                    "hook #{} on {:?}: {:?}",
                    event.count(),
                    thread.name(),
                    shutdown.phase()
                ))
                .unwrap();
            }
        })
        .listen(&shutdown)
        .unwrap();
    shutdown.on_trigger({
        let tx = tx.clone();
        move |_| tx.send("trigger hook".to_string()).unwrap()
    });

    raise(SIGUSR1).unwrap();
    assert_eq!(
        seen.recv_timeout(TIMEOUT).unwrap(),
        "hook #1 on Some(\"winddown-signals\"): Initiated"
    );
    assert_eq!(seen.recv_timeout(TIMEOUT).unwrap(), "trigger hook");
    raise(SIGUSR1).unwrap();
    assert_eq!(
        seen.recv_timeout(TIMEOUT).unwrap(),
        "hook #2 on Some(\"winddown-signals\"): Initiated"
    );
    shutdown.blocking().reached(Phase::Forced, None);
}

/// A hook that never returns (a log write to a pipe nobody reads) cannot hold the stop: the
/// first signal triggers, the second forces. Before, the hook ran on the listener thread, which
/// never came back from it: the second signal did nothing.
#[test]
fn a_blocked_hook_cannot_hold_the_trigger_or_the_force() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let (release, blocked) = mpsc::channel::<()>();
    let blocked = Mutex::new(blocked);
    let listener = Builder::empty()
        .signal(Signal::Usr1)
        .on_event(move |_| {
            let _ = blocked.lock().unwrap().recv();
        })
        .listen(&shutdown)
        .unwrap();

    raise(SIGUSR1).unwrap();
    assert!(shutdown.blocking().triggered(Some(TIMEOUT)));
    raise(SIGUSR1).unwrap();
    forced(&shutdown);
    // The drop does not wait for the blocked hook either.
    drop(listener);
    drop(release);
}

#[test]
fn a_panicking_hook_does_not_stop_the_listener() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let (tx, events) = mpsc::channel();
    let _listener = Builder::empty()
        .signal(Signal::Usr1)
        .on_event(move |event| {
            tx.send(*event).unwrap();
            assert!(event.count() > 1, "a hook that panics on the first signal");
        })
        .listen(&shutdown)
        .unwrap();

    raise(SIGUSR1).unwrap();
    assert_eq!(next(&events).count(), 1);
    raise(SIGUSR1).unwrap();
    assert_eq!(next(&events).action(), Action::Force);
    forced(&shutdown);
}

#[test]
fn event_display_is_a_log_line() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let (_listener, events) = listen(&shutdown);

    raise(SIGUSR2).unwrap();
    assert_eq!(
        next(&events).to_string(),
        "SIGUSR2 (signal #1): shutdown triggered"
    );
    raise(SIGUSR1).unwrap();
    assert_eq!(
        next(&events).to_string(),
        "SIGUSR1 (signal #2): shutdown forced; another signal ends the process at once"
    );
}

#[test]
fn the_default_set_is_sigterm_and_sigint() {
    let default = [Signal::Term, Signal::Int];
    assert_eq!(Builder::new().signals(), default);
    assert_eq!(Builder::default().signals(), default);
    assert_eq!(Listener::builder().signals(), default);
}

#[test]
fn an_empty_set_is_refused() {
    let error = Builder::empty().listen(&Shutdown::new()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert_eq!(error.to_string(), "no signals to listen for");
}
