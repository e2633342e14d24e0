//! Every common shape of a task body spawns without an annotation, as with `tokio::spawn`:
//! a body that never returns, one that ends in `panic!`, one that returns `()`, and fallible
//! ones. The file compiling is half of the test (before, the first two failed with "this
//! function depends on never type fallback being `()`", an error since Rust 1.8x); the other
//! half checks that each shape then ends the way it should.
#![cfg(feature = "tokio")]

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use winddown_adapters::task_set::{Local, OnFailure, TaskContext, TaskExit};
use winddown_adapters::tokio::TokioRuntime;
use winddown_adapters::{run_until_shutdown, TaskSet};
use winddown_core::{Config, Plan, Reason, Shutdown, Status, TaskFailure};

async fn tick() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A fallible worker written as an `async fn`, the everyday shape of a task that can fail.
async fn reader(ctx: TaskContext<TokioRuntime>) -> Result<(), io::Error> {
    ctx.shutdown().triggered().await;
    Err(io::Error::other("connection reset"))
}

/// A fallible worker that only ever ends with an error.
async fn poller(_ctx: TaskContext<TokioRuntime>) -> Result<(), io::Error> {
    loop {
        tick().await;
        std::fs::metadata("/nonexistent/winddown-task-shapes")?;
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn every_task_shape_spawns_and_ends_as_it_should() {
    block_on(async {
        let shutdown = Shutdown::new();
        let tasks =
            TaskSet::with_shutdown(&shutdown, TokioRuntime::new()).on_failure(OnFailure::Record);

        // Never returns: `loop` with no `break`.
        let ticker = tasks
            .spawn("ticker", |_| async {
                loop {
                    tick().await;
                }
            })
            .unwrap();
        // Ends in a panic, with and without work before it.
        let boom = tasks.spawn("boom", |_| async { panic!("boom") }).unwrap();
        let stopper = tasks
            .spawn("stopper", |ctx| async move {
                ctx.shutdown().triggered().await;
                panic!("stopped")
            })
            .unwrap();
        // Returns `()`.
        let plain = tasks.spawn("plain", |_| async {}).unwrap();
        // Fallible: a closure, and `async fn`s passed by name.
        let refused = tasks
            .spawn("refused", |_| async { Err("refused") })
            .unwrap();
        let reader = tasks.spawn("reader", reader).unwrap();
        let poller = tasks.spawn("poller", poller).unwrap();
        // Through a spawner, and with a forked guard: the same shapes.
        let sibling = tasks
            .spawner()
            .spawn("sibling", |_| async {
                loop {
                    tick().await;
                }
            })
            .unwrap();
        let guard = shutdown.enter().unwrap();
        let forked = tasks.spawn_with_guard("forked", guard, |_| async { panic!("forked") });

        assert_eq!(boom.await, TaskExit::Panicked(Some("boom".into())));
        assert_eq!(plain.await, TaskExit::Finished);
        assert_eq!(refused.await, TaskExit::Failed("refused"));
        assert_eq!(forked.await, TaskExit::Panicked(Some("forked".into())));
        let TaskExit::Failed(error) = poller.await else {
            panic!("the poller ends with its error");
        };
        assert_eq!(error.kind(), io::ErrorKind::NotFound);

        shutdown.trigger(Reason::requested());
        assert_eq!(stopper.await, TaskExit::Panicked(Some("stopped".into())));
        let TaskExit::Failed(error) = reader.await else {
            panic!("the reader ends with its error");
        };
        assert_eq!(error.to_string(), "connection reset");

        // The two that never return run until they are stopped.
        assert!(!ticker.is_finished() && !sibling.is_finished());
        assert_eq!(tasks.names(), ["ticker", "sibling"]);
        ticker.abort();
        assert_eq!(ticker.await, TaskExit::Cancelled);
        drop(tasks);
        assert_eq!(sibling.await, TaskExit::Cancelled);
    });
}

#[test]
fn a_local_task_that_never_returns_spawns_too() {
    block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let shutdown = Shutdown::new();
                let tasks = TaskSet::with_shutdown(&shutdown, Local(TokioRuntime::new()));
                let ticks = Rc::new(Cell::new(0)); // !Send
                let counter = tasks
                    .spawn("counter", {
                        let ticks = ticks.clone();
                        move |_| async move {
                            loop {
                                ticks.set(ticks.get() + 1);
                                tick().await;
                            }
                        }
                    })
                    .unwrap();
                let boom = tasks.spawn("boom", |_| async { panic!("local") }).unwrap();
                assert_eq!(boom.await, TaskExit::Panicked(Some("local".into())));
                tick().await;
                assert!(ticks.get() > 0);
                drop(tasks);
                assert_eq!(counter.await, TaskExit::Cancelled);
            })
            .await;
    });
}

#[test]
fn an_application_that_never_returns_runs_until_the_stop() {
    block_on(async {
        let plan = Plan::new(Shutdown::new(), Config::default());
        let shutdown = plan.shutdown().clone();
        let tasks = TaskSet::new(&plan, TokioRuntime::new());
        tasks
            .spawn("stopper", move |_| async move {
                tick().await;
                shutdown.trigger(Reason::requested_because("done"));
            })
            .unwrap();
        // The accept loop of a server: it never returns; the sequence drops it.
        let app = async {
            loop {
                tick().await;
            }
        };
        let report = run_until_shutdown(&plan, TokioRuntime::new(), app).await;
        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(report.reason, Some(Reason::requested_because("done")));
        assert_eq!(report.task_failures, Vec::<TaskFailure>::new());
    });
}
