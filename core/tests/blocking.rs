//! Where a blocking closer runs with the default `Runtime::spawn_blocking`: the sequence starts
//! it on a thread of its own (the start comes from `Resource::blocking`, not from the runtime).
#![cfg(not(loom))]

use std::future::pending;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use winddown_core::runtime::{BoxFuture, Runtime, TaskOutcome};
use winddown_core::{Config, Outcome, Plan, Reason, Resource, Shutdown};

/// A runtime with only what the trait requires: the default `spawn_blocking`, timers that
/// never fire (nothing here waits for one), and no tasks (no async closer here needs one).
struct Defaults {
    origin: Instant,
}

impl Runtime for Defaults {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, _duration: Duration) -> BoxFuture<()> {
        Box::pin(pending())
    }

    fn spawn(&self, _task: BoxFuture<()>) -> BoxFuture<TaskOutcome> {
        unreachable!("the sequence spawns no task")
    }

    fn spawn_detached(&self, _task: BoxFuture<()>) {
        unreachable!("nothing here starts a detached task")
    }
}

/// The name of the thread the code runs on.
fn thread_name() -> Option<String> {
    std::thread::current().name().map(String::from)
}

#[test]
fn a_blocking_closer_runs_on_a_thread_of_its_own_with_the_default_spawn_blocking() {
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    let ran_on = Arc::new(Mutex::new(None));
    plan.register(Resource::blocking("db", {
        let ran_on = ran_on.clone();
        move || *ran_on.lock().unwrap() = Some(thread_name())
    }))
    .unwrap();
    shutdown.trigger(Reason::requested());
    let runtime = Defaults {
        origin: Instant::now(),
    };
    let report = futures_lite::future::block_on(plan.run(runtime));
    assert_eq!(report.resources[0].outcome, Outcome::Ok);
    let ran_on = ran_on.lock().unwrap().clone();
    assert_eq!(ran_on, Some(Some("winddown-blocking".to_string())));
}

#[test]
fn the_default_spawn_blocking_polled_as_it_is_runs_inline() {
    let runtime = Defaults {
        origin: Instant::now(),
    };
    let ran_on = Arc::new(Mutex::new(None));
    let task = runtime.spawn_blocking(Box::new({
        let ran_on = ran_on.clone();
        move || *ran_on.lock().unwrap() = Some(thread_name())
    }));
    assert_eq!(futures_lite::future::block_on(task), TaskOutcome::Finished);
    let ran_on = ran_on.lock().unwrap().clone();
    assert_eq!(ran_on, Some(thread_name()));
}
