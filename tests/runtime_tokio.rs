//! The scenario suite on tokio, and tokio's `CancellationToken` interop.
#![cfg(feature = "tokio")]

#[macro_use]
mod common;

use std::future::Future;

use tokio_util::sync::CancellationToken;
use winddown::tokio::TokioRuntime;
use winddown::{Config, Phase, Plan, Reason, Resource, Shutdown, Status};

struct Tokio;

impl common::Harness for Tokio {
    type Runtime = TokioRuntime;

    fn runtime() -> TokioRuntime {
        TokioRuntime::new()
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }
}

scenarios!(Tokio);

/// The harness on a current-thread runtime, where a closer that holds the only thread would
/// stop every timer.
struct TokioCurrentThread;

impl common::Harness for TokioCurrentThread {
    type Runtime = TokioRuntime;

    fn runtime() -> TokioRuntime {
        TokioRuntime::new()
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        block_on_current_thread(future)
    }
}

/// On a current-thread runtime too, a hung blocking closer is abandoned at its deadline.
#[test]
fn hung_blocking_closer_is_abandoned_on_a_current_thread_runtime() {
    common::hung_blocking_closer_is_abandoned::<TokioCurrentThread>();
}

/// A sequence run from a thread outside tokio, on a runtime handle: a closer that sets a tokio
/// timer in its first poll (which the sequence makes on its own task) still finds the runtime.
#[test]
fn a_closer_polled_by_a_sequence_outside_the_runtime_finds_tokio() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    plan.register(Resource::new("timer", || {
        tokio::time::sleep(std::time::Duration::from_millis(1))
    }))
    .unwrap();
    shutdown.trigger(Reason::requested());
    // smol's `block_on`: no tokio context on this thread.
    let report = smol::block_on(plan.run(TokioRuntime::with_handle(tokio.handle().clone())));
    assert_eq!(report.status, Status::Completed, "{report}");
}

/// The token is cancelled at the trigger, not before; and by the time `trigger()` returns,
/// on the triggering thread and on any other thread that has seen the trigger (issue 13,
/// defect 2: the token used to be cancelled by a separate task, after the trigger).
#[test]
fn cancellation_token_is_cancelled_before_trigger_returns() {
    block_on_current_thread(async {
        let shutdown = Shutdown::new();
        let token = winddown::tokio::cancellation_token(&shutdown);
        let_tasks_run().await;
        assert!(!token.is_cancelled());

        // Another thread that waits for the trigger, then looks at the token at once.
        let seen_elsewhere = std::thread::spawn({
            let (shutdown, token) = (shutdown.clone(), token.clone());
            move || {
                shutdown.blocking().triggered(None);
                token.is_cancelled()
            }
        });
        shutdown.trigger(Reason::Signal(15));
        assert!(token.is_cancelled());
        assert!(seen_elsewhere.join().unwrap());
    });
    // Triggered on another thread, outside any tokio runtime: cancelled when that trigger
    // returns, and a token made after the trigger is cancelled already.
    let shutdown = Shutdown::new();
    let token = winddown::tokio::cancellation_token(&shutdown);
    std::thread::spawn({
        let shutdown = shutdown.clone();
        move || shutdown.trigger(Reason::requested())
    })
    .join()
    .unwrap();
    assert!(token.is_cancelled());
    assert!(winddown::tokio::cancellation_token(&shutdown).is_cancelled());
}

/// Runs `future` on a current-thread runtime, where `yield_now` lets every other ready task
/// run first.
fn block_on_current_thread<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Lets the spawned watcher tasks run (see `block_on_current_thread`).
async fn let_tasks_run() {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
}

/// Cancelling a token triggers the shutdown with the reason given; a cancel that comes after a
/// trigger from elsewhere changes nothing; and a trigger from elsewhere does not cancel the
/// token.
#[test]
fn trigger_on_cancel_triggers_once() {
    block_on_current_thread(async {
        let shutdown = Shutdown::new();
        let token = CancellationToken::new();
        winddown::tokio::trigger_on_cancel(&shutdown, token.clone(), Reason::requested());
        token.cancel();
        shutdown.triggered().await;
        assert_eq!(shutdown.reason(), Some(&Reason::requested()));

        let other = Shutdown::new();
        let token = CancellationToken::new();
        winddown::tokio::trigger_on_cancel(&other, token.clone(), Reason::requested());
        token.cancel();
        other.trigger(Reason::Signal(2)); // before the watcher sees the cancel
        let_tasks_run().await;
        assert_eq!(other.phase(), Phase::Initiated);
        assert_eq!(other.reason(), Some(&Reason::Signal(2)));

        let third = Shutdown::new();
        let token = CancellationToken::new();
        winddown::tokio::trigger_on_cancel(&third, token.clone(), Reason::requested());
        third.trigger(Reason::Signal(2));
        let_tasks_run().await;
        assert!(!token.is_cancelled());
    });
}

/// Item 13: `!Send` tasks in a `TaskSet` on a `Local` tokio `LocalSet`: they see the trigger, a stuck one
/// is named in the report, a failure is listed, and dropping the set cancels what is left.
#[test]
fn local_task_set_on_a_local_set() {
    use std::cell::Cell;
    use std::rc::Rc;
    use winddown::task_set::{Local, OnFailure, TaskExit};
    use winddown::tokio::TokioRuntime;
    use winddown::{Config, Status, TaskFailure, TaskSet};

    block_on_current_thread(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let config = Config::builder()
                    .drain(std::time::Duration::from_millis(50))
                    .build()
                    .unwrap();
                let plan = Plan::new(Shutdown::new(), config);
                let tasks =
                    TaskSet::new(&plan, Local(TokioRuntime::new())).on_failure(OnFailure::Record);
                let ticks = Rc::new(Cell::new(0u32)); // !Send
                let polite = tasks
                    .spawn("polite", {
                        let ticks = ticks.clone();
                        move |ctx| async move {
                            while !ctx.shutdown().is_triggered() {
                                ticks.set(ticks.get() + 1);
                                tokio::task::yield_now().await;
                            }
                        }
                    })
                    .unwrap();
                let stuck = tasks
                    .spawn("stuck", {
                        let ticks = ticks.clone();
                        move |_| async move {
                            let _ticks = ticks;
                            std::future::pending::<()>().await
                        }
                    })
                    .unwrap();
                let failed = tasks.spawn("failed", |_| async { Err("no disk") }).unwrap();
                assert_eq!(failed.await, TaskExit::Failed("no disk"));

                plan.shutdown().trigger(Reason::Signal(15));
                // Stopped before the sequence starts: no race with the short drain deadline.
                assert_eq!(polite.await, TaskExit::Finished);
                let report = plan.run(TokioRuntime::new()).await;
                assert_eq!(report.status, Status::TimedOut, "{report}");
                assert_eq!(report.drain.still_in_flight, ["stuck"]);
                assert_eq!(
                    report.task_failures,
                    [TaskFailure::error("failed", "no disk")]
                );
                assert!(ticks.get() > 0);

                drop(tasks);
                assert_eq!(stuck.await, TaskExit::Cancelled);
                assert_eq!(
                    Rc::strong_count(&ticks),
                    1,
                    "the stuck task's future was dropped"
                );
                plan.shutdown().drained().await;
            })
            .await;
    });
}
