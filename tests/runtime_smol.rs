//! The scenario suite on smol (its global executor, and an executor of the test's own).
#![cfg(feature = "smol")]

#[macro_use]
mod common;

use std::future::Future;
use std::sync::Arc;

use winddown::runtime::{Runtime, TaskOutcome};
use winddown::smol::SmolRuntime;
use winddown::{AppExit, Plan, Report};

struct Smol;

impl common::Harness for Smol {
    type Runtime = SmolRuntime;

    fn runtime() -> SmolRuntime {
        SmolRuntime::new()
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }

    fn run_until_shutdown<'a, F>(plan: &'a Plan, app: F) -> impl Future<Output = Report> + 'a
    where
        F: Future + 'a,
        F::Output: AppExit,
    {
        winddown::smol::run_until_shutdown(plan, app)
    }

    fn run_blocking(plan: &Plan) -> Report {
        winddown::smol::run_blocking(plan)
    }
}

scenarios!(Smol);

/// A runtime on an executor of the caller's spawns there, and reports a panic.
#[test]
fn own_executor_runs_the_tasks() {
    let executor = Arc::new(smol::Executor::new());
    let runtime = SmolRuntime::with_executor(executor.clone());
    let outcome = smol::block_on(executor.run(runtime.spawn(Box::pin(async { panic!("boom") }))));
    assert_eq!(outcome, TaskOutcome::Panicked(Some("boom".into())));
}

/// A task whose executor is dropped is reported as cancelled.
#[test]
fn a_dropped_executor_cancels_its_tasks() {
    let executor = Arc::new(smol::Executor::new());
    let runtime = SmolRuntime::with_executor(executor.clone());
    let join = runtime.spawn(Box::pin(std::future::pending()));
    drop(runtime);
    drop(executor);
    assert_eq!(smol::block_on(join), TaskOutcome::Cancelled);
}
