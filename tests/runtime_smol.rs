//! The scenario suite on smol (its global executor, and an executor of the test's own).
#![cfg(feature = "smol")]

#[macro_use]
mod common;

use std::future::Future;
use std::sync::Arc;

use winddown::runtime::{Runtime, TaskOutcome};
use winddown::smol::SmolRuntime;

struct Smol;

impl common::Harness for Smol {
    type Runtime = SmolRuntime;

    fn runtime() -> SmolRuntime {
        SmolRuntime::new()
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
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

/// Item 13: `!Send` tasks in a `TaskSet` on a `Local` smol `LocalExecutor`: they see the trigger, a
/// stuck one is named in the report, a panic is listed, and dropping the set cancels what is
/// left.
#[test]
fn local_task_set_on_a_local_executor() {
    use std::cell::Cell;
    use std::rc::Rc;
    use winddown::smol::SmolLocal;
    use winddown::task_set::{Local, OnFailure, TaskExit};
    use winddown::{Config, Plan, Reason, Shutdown, Status, TaskFailure, TaskSet};

    let executor = Rc::new(smol::LocalExecutor::new());
    smol::block_on(executor.run(async {
        let config = Config::builder()
            .drain(std::time::Duration::from_millis(50))
            .build()
            .unwrap();
        let plan = Plan::new(Shutdown::new(), config);
        let tasks = TaskSet::new(&plan, Local(SmolLocal::new(executor.clone())))
            .on_failure(OnFailure::Record);
        let ticks = Rc::new(Cell::new(0u32)); // !Send
        let polite = tasks
            .spawn("polite", {
                let ticks = ticks.clone();
                move |ctx| async move {
                    while !ctx.shutdown().is_triggered() {
                        ticks.set(ticks.get() + 1);
                        smol::future::yield_now().await;
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
        let panicked = tasks
            .spawn("panicked", |_| async {
                let input = "";
                assert!(!input.is_empty(), "bad input");
            })
            .unwrap();
        assert_eq!(panicked.await, TaskExit::Panicked(Some("bad input".into())));

        plan.shutdown().trigger(Reason::Signal(15));
        // Stopped before the sequence starts: no race with the short drain deadline.
        assert_eq!(polite.await, TaskExit::Finished);
        let report = plan.run(SmolRuntime::new()).await;
        assert_eq!(report.status, Status::TimedOut, "{report}");
        assert_eq!(report.drain.still_in_flight, ["stuck"]);
        assert_eq!(
            report.task_failures,
            [TaskFailure::panic("panicked", Some("bad input".into()))]
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
    }));
}
