//! In-process tests of the listener tasks ([`Builder::listen_async_io`] on smol,
//! [`Builder::listen_tokio`] on tokio's current-thread runtime), through the public API. Every
//! behaviour is checked on both.
//!
//! The rules of `tests/listener.rs` hold here too: SIGUSR1 and SIGUSR2 only, never more than
//! two signals per listener (the third would end the test process), never a signal that no
//! listener has, and one test at a time. The third signal, PID 1, blocked runtimes and bursts
//! run in child processes, in `tests/task_process.rs`.

#![cfg(all(unix, feature = "async-io", feature = "tokio"))]

use std::future::Future;
use std::io::ErrorKind;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, ThreadId};
use std::time::Duration;

use signal_hook::consts::signal::{SIGUSR1, SIGUSR2};
use signal_hook::low_level::raise;
use winddown_core::{Phase, Reason, Shutdown};
use winddown_signals::{Action, Builder, Event, Signal};

static SIGNALS: Mutex<()> = Mutex::new(());

/// Holds the process's signals for one test. Take it first, so it is dropped last.
fn serial() -> MutexGuard<'static, ()> {
    SIGNALS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
enum Runtime {
    /// `listen_async_io`, spawned on a `smol::Executor` run by this thread.
    Smol,
    /// `listen_tokio`, spawned on a current-thread runtime run by this thread.
    Tokio,
}

const RUNTIMES: [Runtime; 2] = [Runtime::Smol, Runtime::Tokio];

/// A builder for SIGUSR1 and SIGUSR2 whose hook sends each event, and the thread it ran on, to
/// the returned channel.
fn builder() -> (Builder, Receiver<(Event, ThreadId)>) {
    let (tx, rx) = mpsc::channel();
    let builder = Builder::empty()
        .signal(Signal::Usr1)
        .signal(Signal::Usr2)
        .on_event(move |event| tx.send((*event, thread::current().id())).unwrap());
    (builder, rx)
}

/// Makes the listener task from `builder` on `runtime`, calls `before_spawn`, spawns the task,
/// and runs `main` on this thread until it ends (bounded by [`TIMEOUT`]).
fn run<F>(
    runtime: Runtime,
    builder: Builder,
    shutdown: &Shutdown,
    before_spawn: impl FnOnce(),
    main: F,
) -> F::Output
where
    F: Future,
{
    match runtime {
        Runtime::Smol => {
            let listener = builder.listen_async_io(shutdown).unwrap();
            before_spawn();
            let executor = smol::Executor::new();
            executor.spawn(listener).detach();
            let timeout = async {
                smol::Timer::after(TIMEOUT).await;
                panic!("{runtime:?}: no result within {TIMEOUT:?}");
            };
            smol::block_on(executor.run(smol::future::or(main, timeout)))
        }
        Runtime::Tokio => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let listener = builder.listen_tokio(shutdown).unwrap();
                before_spawn();
                tokio::spawn(listener);
                tokio::time::timeout(TIMEOUT, main)
                    .await
                    .unwrap_or_else(|_| panic!("{runtime:?}: no result within {TIMEOUT:?}"))
            })
        }
    }
}

fn next(events: &Receiver<(Event, ThreadId)>) -> (Event, ThreadId) {
    events.recv_timeout(TIMEOUT).expect("no event in time")
}

#[test]
fn the_first_signal_triggers_and_the_hook_runs_on_its_own_thread() {
    let _serial = serial();
    for runtime in RUNTIMES {
        let shutdown = Shutdown::new();
        let (builder, events) = builder();
        run(runtime, builder, &shutdown, || {}, async {
            raise(SIGUSR1).unwrap();
            shutdown.triggered().await;
        });
        let (event, thread) = next(&events);
        assert_eq!(
            (event.signal(), event.count(), event.action()),
            (Signal::Usr1, 1, Action::Trigger),
            "{runtime:?}"
        );
        assert!(event.started_shutdown(), "{runtime:?}");
        // The hook thread ran the hook, not the runtime's own thread (this one).
        assert_ne!(thread, thread::current().id(), "{runtime:?}");
        assert_eq!(
            shutdown.reason(),
            Some(&Reason::Signal(SIGUSR1)),
            "{runtime:?}"
        );
    }
}

/// An inline hook runs on the runtime's own thread, just before each action, in order.
#[test]
fn an_inline_hook_runs_on_the_runtime_thread_before_each_action() {
    let _serial = serial();
    for runtime in RUNTIMES {
        let shutdown = Shutdown::new();
        let (tx, seen) = mpsc::channel();
        let builder = Builder::empty().signal(Signal::Usr1).on_event_inline({
            let shutdown = shutdown.clone();
            move |event| {
                let thread = thread::current().id();
                tx.send((event.count(), shutdown.phase(), thread)).unwrap();
            }
        });
        run(runtime, builder, &shutdown, || {}, async {
            raise(SIGUSR1).unwrap();
            shutdown.triggered().await;
            raise(SIGUSR1).unwrap();
            shutdown.reached(Phase::Forced).await;
        });
        let here = thread::current().id();
        assert_eq!(
            seen.try_iter().collect::<Vec<_>>(),
            [(1, Phase::Running, here), (2, Phase::Initiated, here)],
            "{runtime:?}"
        );
    }
}

/// The hook runs on `winddown-signals-hook`, and each event reaches it before its action: the
/// trigger's while the shutdown still runs, the force's before the force. So a line the hook
/// writes comes before what the stop writes in response.
#[test]
fn the_hook_sees_each_event_before_its_action() {
    let _serial = serial();
    for runtime in RUNTIMES {
        let shutdown = Shutdown::new();
        let (tx, seen) = mpsc::channel();
        let builder = Builder::empty().signal(Signal::Usr1).on_event({
            let shutdown = shutdown.clone();
            move |event| {
                // Slow enough that an action not waiting for the hook would come first.
                thread::sleep(Duration::from_millis(10));
                let name = thread::current().name().map(String::from);
                tx.send((event.count(), shutdown.phase(), name)).unwrap();
            }
        });
        run(runtime, builder, &shutdown, || {}, async {
            raise(SIGUSR1).unwrap();
            shutdown.triggered().await;
            raise(SIGUSR1).unwrap();
            shutdown.reached(Phase::Forced).await;
        });
        let hook = Some("winddown-signals-hook".to_string());
        assert_eq!(
            seen.try_iter().collect::<Vec<_>>(),
            [
                (1, Phase::Running, hook.clone()),
                (2, Phase::Initiated, hook)
            ],
            "{runtime:?}"
        );
    }
}

/// While the hook has an event, the task waits for it without holding the runtime's only
/// thread: here the test's own future, on that thread, sees the hook running, the shutdown not
/// yet triggered, and lets the hook return; then the trigger follows. (A task that waited
/// blocking would hold the thread until the hook's half second ran out, and the trigger would
/// come first.)
#[test]
fn the_runtime_runs_on_while_the_hook_has_an_event() {
    let _serial = serial();
    for runtime in RUNTIMES {
        let shutdown = Shutdown::new();
        // Triggered by the hook when it starts: an event the runtime's thread can await.
        let entered = Shutdown::new();
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let builder = Builder::empty().signal(Signal::Usr1).on_event({
            let entered = entered.clone();
            move |_| {
                entered.trigger(Reason::requested());
                let _ = released.lock().unwrap().recv_timeout(TIMEOUT);
            }
        });
        run(runtime, builder, &shutdown, || {}, async {
            raise(SIGUSR1).unwrap();
            entered.triggered().await;
            assert!(
                !shutdown.is_triggered(),
                "{runtime:?}: acted before the hook returned"
            );
            release.send(()).unwrap();
            shutdown.triggered().await;
        });
    }
}

/// A hook that never returns (a log write to a pipe nobody reads) holds neither the trigger
/// nor the force, with the listener task on a one-thread runtime: the first signal triggers
/// (after the hook's half second), the second forces at once, and the runtime's thread runs
/// throughout.
#[test]
fn a_hook_blocked_for_good_holds_neither_the_trigger_nor_the_force() {
    let _serial = serial();
    for runtime in RUNTIMES {
        let shutdown = Shutdown::new();
        let (release, blocked) = mpsc::channel::<()>();
        let blocked = Mutex::new(blocked);
        let builder = Builder::empty().signal(Signal::Usr1).on_event(move |_| {
            let _ = blocked.lock().unwrap().recv();
        });
        // `run`'s timeout is the runtime's own: a hook that held the runtime's thread would
        // hold it too. This one fails the test from outside instead of letting it hang.
        let (finished, watched) = mpsc::channel::<()>();
        thread::spawn(move || {
            if watched.recv_timeout(TIMEOUT) == Err(mpsc::RecvTimeoutError::Timeout) {
                eprintln!("{runtime:?}: the blocked hook held the runtime's thread");
                std::process::abort();
            }
        });
        run(runtime, builder, &shutdown, || {}, async {
            raise(SIGUSR1).unwrap();
            shutdown.triggered().await;
            raise(SIGUSR1).unwrap();
            shutdown.reached(Phase::Forced).await;
        });
        // The task was dropped with its runtime, and did not wait for the hook for good.
        drop(finished);
        drop(release);
    }
}

#[test]
fn the_second_signal_forces() {
    let _serial = serial();
    for runtime in RUNTIMES {
        let shutdown = Shutdown::new();
        let (builder, events) = builder();
        run(runtime, builder, &shutdown, || {}, async {
            raise(SIGUSR1).unwrap();
            shutdown.triggered().await;
            raise(SIGUSR2).unwrap();
            shutdown.reached(Phase::Forced).await;
        });
        let actions: Vec<_> = events
            .try_iter()
            .map(|(event, _)| (event.signal(), event.count(), event.action()))
            .collect();
        assert_eq!(
            actions,
            [
                (Signal::Usr1, 1, Action::Trigger),
                (Signal::Usr2, 2, Action::Force)
            ],
            "{runtime:?}"
        );
        assert_eq!(shutdown.phase(), Phase::Forced, "{runtime:?}");
        // The first reason is kept.
        assert_eq!(
            shutdown.reason(),
            Some(&Reason::Signal(SIGUSR1)),
            "{runtime:?}"
        );
    }
}

#[test]
fn signals_before_the_first_poll_are_not_lost() {
    let _serial = serial();
    for runtime in RUNTIMES {
        let shutdown = Shutdown::new();
        let (builder, events) = builder();
        // Registered, not yet spawned: both wait in their sockets for the first poll.
        let raise_two = || {
            raise(SIGUSR2).unwrap();
            raise(SIGUSR1).unwrap();
        };
        run(
            runtime,
            builder,
            &shutdown,
            raise_two,
            shutdown.reached(Phase::Forced),
        );
        assert_eq!(events.try_iter().count(), 2, "{runtime:?}");
        // Both were waiting when the task first looked: counted per signal, in the order of
        // the set (crate docs, "Limitations").
        assert_eq!(
            shutdown.reason(),
            Some(&Reason::Signal(SIGUSR1)),
            "{runtime:?}"
        );
    }
}

#[test]
fn a_dropped_task_stops_listening() {
    let _serial = serial();
    for runtime in RUNTIMES {
        let dropped = Shutdown::new();
        // Made and dropped without ever being polled (on tokio, inside a runtime).
        match runtime {
            Runtime::Smol => drop(
                Builder::empty()
                    .signal(Signal::Usr1)
                    .listen_async_io(&dropped),
            ),
            Runtime::Tokio => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    drop(Builder::empty().signal(Signal::Usr1).listen_tokio(&dropped))
                });
            }
        }
        // SIGUSR1 has its default action again (it would end this process): send it only
        // while another listener has it.
        let other = Shutdown::new();
        let (builder, _events) = builder();
        run(runtime, builder, &other, || {}, async {
            raise(SIGUSR1).unwrap();
            other.triggered().await;
        });
        assert!(!dropped.is_triggered(), "{runtime:?}");
    }
}

#[test]
fn listen_tokio_outside_a_runtime_is_an_error_and_registers_nothing() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let error = Builder::empty()
        .signal(Signal::Usr1)
        .listen_tokio(&shutdown)
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Other, "{error}");

    let other = Shutdown::new();
    let (builder, _events) = builder();
    run(Runtime::Smol, builder, &other, || {}, async {
        raise(SIGUSR1).unwrap();
        other.triggered().await;
    });
    assert!(!shutdown.is_triggered());
}

#[test]
fn the_task_reports_its_signals() {
    let _serial = serial();
    let shutdown = Shutdown::new();
    let smol = Builder::new().listen_async_io(&shutdown).unwrap();
    assert_eq!(smol.signals(), [Signal::Term, Signal::Int]);
    let debug = format!("{smol:?}");
    assert!(debug.starts_with("ListenerTask"), "{debug}");
    assert!(debug.contains(r#"reactor: "async-io""#), "{debug}");
    drop(smol);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tokio = Builder::empty()
            .signal(Signal::Usr2)
            .listen_tokio(&shutdown)
            .unwrap();
        assert_eq!(tokio.signals(), [Signal::Usr2]);
        let debug = format!("{tokio:?}");
        assert!(debug.starts_with("ListenerTask"), "{debug}");
        assert!(debug.contains(r#"reactor: "tokio""#), "{debug}");
    });
}
