//! The scenario suite on tokio, and tokio's `CancellationToken` interop.
#![cfg(feature = "tokio")]

#[macro_use]
mod common;

use std::future::Future;

use tokio_util::sync::CancellationToken;
use winddown::tokio::TokioRuntime;
use winddown::{AppExit, Plan, Reason, Report, Shutdown};

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

    fn run_until_shutdown<'a, F>(plan: &'a Plan, app: F) -> impl Future<Output = Report> + 'a
    where
        F: Future + 'a,
        F::Output: AppExit,
    {
        winddown::tokio::run_until_shutdown(plan, app)
    }

    fn run_blocking(plan: &Plan) -> Report {
        winddown::tokio::run_blocking(plan).unwrap()
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

    fn run_until_shutdown<'a, F>(plan: &'a Plan, app: F) -> impl Future<Output = Report> + 'a
    where
        F: Future + 'a,
        F::Output: AppExit,
    {
        winddown::tokio::run_until_shutdown(plan, app)
    }

    fn run_blocking(plan: &Plan) -> Report {
        winddown::tokio::run_blocking(plan).unwrap()
    }
}

/// On a current-thread runtime too, a hung blocking closer is abandoned at its deadline.
#[test]
fn hung_blocking_closer_is_abandoned_on_a_current_thread_runtime() {
    common::hung_blocking_closer_is_abandoned::<TokioCurrentThread>();
}

/// The token is cancelled at the trigger, not before.
#[test]
fn cancellation_token_is_cancelled_at_the_trigger() {
    block_on_current_thread(async {
        let shutdown = Shutdown::new();
        let token = winddown::tokio::cancellation_token(&shutdown);
        let_tasks_run().await;
        assert!(!token.is_cancelled());

        shutdown.trigger(Reason::Signal(15));
        token.cancelled().await;
        assert!(token.is_cancelled());
    });
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
/// trigger from elsewhere does not count as a second trigger; and a trigger from elsewhere does
/// not cancel the token.
#[test]
fn trigger_on_cancel_triggers_once() {
    block_on_current_thread(async {
        let shutdown = Shutdown::new();
        let token = CancellationToken::new();
        winddown::tokio::trigger_on_cancel(&shutdown, token.clone(), Reason::requested());
        token.cancel();
        shutdown.triggered().await;
        assert_eq!(shutdown.reason(), Some(&Reason::requested()));
        assert_eq!(shutdown.trigger_count(), 1);

        let other = Shutdown::new();
        let token = CancellationToken::new();
        winddown::tokio::trigger_on_cancel(&other, token.clone(), Reason::requested());
        token.cancel();
        other.trigger(Reason::Signal(2)); // before the watcher sees the cancel
        let_tasks_run().await;
        assert_eq!(other.trigger_count(), 1);
        assert_eq!(other.reason(), Some(&Reason::Signal(2)));

        let third = Shutdown::new();
        let token = CancellationToken::new();
        winddown::tokio::trigger_on_cancel(&third, token.clone(), Reason::requested());
        third.trigger(Reason::Signal(2));
        let_tasks_run().await;
        assert!(!token.is_cancelled());
    });
}
