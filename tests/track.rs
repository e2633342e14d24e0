//! The leak finder through the facade: the adapters that enter for the caller record the
//! caller's site, so a stuck task is named by where it was spawned.
#![cfg(all(feature = "track", feature = "tokio"))]

use std::panic::Location;
use std::time::Duration;

use winddown::tokio::TokioRuntime;
use winddown::{track, Config, Plan, Reason, Shutdown, ShutdownExt, TaskSet};

fn at(site: &winddown::track::GuardSite) -> (&'static str, u32, u32, usize) {
    (site.file(), site.line(), site.column(), site.count())
}

fn here(location: &'static Location<'static>, count: usize) -> (&'static str, u32, u32, usize) {
    (location.file(), location.line(), location.column(), count)
}

/// `guarded` and `spawn` record the caller; `Location::caller` in a `#[track_caller]` helper is
/// the same site the guard records.
#[track_caller]
fn guarded_here(
    shutdown: &Shutdown,
) -> (
    winddown::futures::Guarded<std::future::Pending<()>>,
    &'static Location<'static>,
) {
    (shutdown.guarded(std::future::pending()), Location::caller())
}

#[test]
fn guarded_records_its_caller() {
    let shutdown = Shutdown::new();
    let (work, site) = guarded_here(&shutdown);
    assert_eq!(
        track::guard_sites(&shutdown)
            .iter()
            .map(at)
            .collect::<Vec<_>>(),
        [here(site, 1)]
    );
    drop(work);
    assert!(track::guard_sites(&shutdown).is_empty());
}

#[test]
fn a_stuck_task_is_named_by_where_it_was_spawned() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The task never ends, so the drain deadline passes whatever the clock does.
    let report = runtime.block_on(async {
        let shutdown = Shutdown::new();
        let config = Config::builder()
            .drain(Duration::from_millis(20))
            .build()
            .unwrap();
        let plan = Plan::new(shutdown.clone(), config);
        let tasks = TaskSet::new(&plan, TokioRuntime::new());
        let spawned_at = spawn_stuck(&tasks);
        shutdown.trigger(Reason::requested());
        (plan.run(TokioRuntime::new()).await, spawned_at)
    });
    let (report, spawned_at) = report;
    assert_eq!(report.drain.still_in_flight, ["stuck upload"]);
    assert_eq!(
        report.drain.guard_sites.iter().map(at).collect::<Vec<_>>(),
        [here(spawned_at, 1)]
    );
}

#[track_caller]
fn spawn_stuck(tasks: &TaskSet<TokioRuntime>) -> &'static Location<'static> {
    tasks
        .spawn("stuck upload", |_| std::future::pending::<()>())
        .unwrap();
    Location::caller()
}
