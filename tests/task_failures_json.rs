//! The failed and panicked tasks of a task set reach the report's JSON (issue 13, item 3).
#![cfg(all(feature = "serde", feature = "tokio"))]

use winddown::task_set::{OnFailure, TaskExit};
use winddown::tokio::TokioRuntime;
use winddown::{Config, Plan, Reason, Shutdown, TaskSet};

#[test]
fn task_failures_are_in_the_json() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = tokio.block_on(async {
        let plan = Plan::new(Shutdown::new(), Config::default());
        let tasks = TaskSet::new(&plan, TokioRuntime::new()).on_failure(OnFailure::Record);
        let error = tasks
            .spawn("indexer", |_| async { Err("disk full") })
            .unwrap();
        assert_eq!(error.await, TaskExit::Failed("disk full"));
        let panic = tasks
            .spawn("parser", |_| async {
                let input = "";
                assert!(!input.is_empty(), "bad input");
            })
            .unwrap();
        assert!(panic.await.is_failure());
        plan.shutdown().trigger(Reason::Signal(15));
        plan.run(TokioRuntime::new()).await
    });
    assert_eq!(report.exit_code(), 1);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["task_failures"],
        serde_json::json!([
            { "name": "indexer", "panicked": false, "message": "disk full" },
            { "name": "parser", "panicked": true, "message": "bad input" },
        ]),
        "{json:#}"
    );
}
