//! The report's JSON shape (feature `serde`): each documented field, by parsing what a real
//! sequence reports.
#![cfg(all(feature = "serde", not(loom)))]

use std::time::Duration;

use serde_json::{json, Value};
use winddown_core::runtime::Runtime;
use winddown_core::testing::VirtualRuntime;
use winddown_core::{Config, Plan, Reason, Report, Resource, ResourceKind, Shutdown, TaskFailure};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn a_timed_out_stop_in_json() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let config = Config::builder()
        .drain(secs(2))
        .close(secs(1))
        .build()
        .unwrap();
    let plan = Plan::new(shutdown.clone(), config);
    plan.register(
        Resource::new("db", {
            let runtime = runtime.clone();
            move || async move {
                runtime.advance(Duration::from_millis(1500)); // blocks past its 1 s
                Err("connection reset".into())
            }
        })
        .priority(10)
        .kind(ResourceKind::Database),
    )
    .unwrap();
    plan.flush(Resource::blocking("log", || Ok(()))).unwrap();
    plan.name_in_flight(|names| names.push("GET /export".into()));
    plan.collect_failures(|failures| failures.push(TaskFailure::panic("poller", None)));
    plan.note(|notes| notes.push("http 127.0.0.1:8080 connections: 1 cut".into()));
    let _stuck = shutdown.enter().unwrap();
    shutdown.trigger(Reason::Signal(15));
    let report = runtime.block_on(plan.run(&runtime));

    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["version"], 2);
    assert_eq!(value["version"], Report::JSON_VERSION);
    assert_eq!(value["status"], "timed_out");
    assert_eq!(value["exit_code"], 2);
    assert_eq!(value["reason"], json!({"kind": "signal", "signal": 15}));
    assert_eq!(value["forced_by"], Value::Null);
    assert_eq!(value["total_ms"], 3500.0);
    assert_eq!(
        value["phases"][2],
        json!({"phase": "draining", "started_ms": 0.0, "duration_ms": 2000.0})
    );
    assert_eq!(
        value["drain"],
        json!({
            "in_flight_at_start": 1, "drained": 0, "left": 1, "timed_out": true,
            "skipped": false, "still_in_flight": ["GET /export"],
            "guard_sites": value["drain"]["guard_sites"].clone(),
        })
    );
    assert!(value["drain"]["guard_sites"].is_array());
    assert_eq!(
        value["resources"][0],
        json!({
            "name": "db", "kind": "database", "priority": 10, "outcome": "late",
            "message": "connection reset", "late_result": "error",
            "started_ms": 2000.0, "duration_ms": 1500.0,
        })
    );
    assert_eq!(value["flushes"][0]["outcome"], "ok");
    assert_eq!(value["flushes"][0]["kind"], Value::Null);
    assert_eq!(
        value["task_failures"],
        json!([{"name": "poller", "panicked": true, "message": null}])
    );
    assert_eq!(value["observer_panics"], json!([]));
    assert_eq!(
        value["notes"],
        json!(["http 127.0.0.1:8080 connections: 1 cut"])
    );
}

#[test]
fn a_forced_stop_in_json() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let plan = Plan::new(
        shutdown.clone(),
        Config::builder()
            .graceful(secs(3))
            .drain(secs(3))
            .build()
            .unwrap(),
    );
    let _stuck = shutdown.enter().unwrap();
    shutdown.trigger(Reason::requested_because("deploy"));
    let report = runtime.block_on(plan.run(&runtime));
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["status"], "forced");
    assert_eq!(value["exit_code"], 3);
    assert_eq!(
        value["forced_by"],
        json!({"kind": "deadline", "phase": "draining"})
    );
    assert_eq!(value["deadline_passed_in"], "draining");
    assert_eq!(
        value["reason"],
        json!({"kind": "requested", "message": "deploy"})
    );
}

#[test]
fn a_force_in_json() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    let _stuck = shutdown.enter().unwrap();
    shutdown.trigger(Reason::Signal(15));
    shutdown.force(Reason::Signal(15));
    let report = runtime.block_on(plan.run(&runtime));
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["status"], "forced");
    assert_eq!(value["exit_code"], 3);
    assert_eq!(value["forced_by"], json!({"kind": "requested"}));
}

/// A status page's snapshot (`Plan::progress`) in the report's vocabulary: snake_case phases,
/// float milliseconds, the same version, the shutdown's own state included.
#[test]
fn progress_in_json_uses_the_report_vocabulary() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    let snapshot = std::sync::Arc::new(std::sync::Mutex::new(Value::Null));
    plan.register(
        Resource::new("db pool", {
            let (plan, snapshot, runtime) = (plan.clone(), snapshot.clone(), runtime.clone());
            move || async move {
                runtime.sleep(Duration::from_micros(1500)).await;
                // Taken while this closer runs.
                *snapshot.lock().unwrap() = serde_json::to_value(plan.progress()).unwrap();
                Ok(())
            }
        })
        .priority(10),
    )
    .unwrap();
    plan.register(Resource::new("cache", || async { Ok(()) }))
        .unwrap();
    let before = serde_json::to_value(plan.progress()).unwrap();
    assert_eq!(before["phase"], "running");
    assert_eq!(before["reason"], Value::Null);
    assert_eq!(before["status"], Value::Null);

    shutdown.close();
    let _ = shutdown.enter(); // refused
    runtime.block_on(plan.run(&runtime));

    let during = snapshot.lock().unwrap().clone();
    assert_eq!(during["version"], Report::JSON_VERSION);
    assert_eq!(during["phase"], "closing_resources");
    assert_eq!(
        during["reason"],
        json!({"kind": "requested", "message": null})
    );
    assert_eq!(
        (during["in_flight"].clone(), during["refused"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(during["running"], "db pool");
    assert_eq!(during["status"], Value::Null);
    assert_eq!(
        during["phases"][0],
        json!({"phase": "initiated", "started_ms": 0.0, "duration_ms": 0.0})
    );
    assert_eq!(during["step_deadline_ms"], 5000.0);
    let after = serde_json::to_value(plan.progress()).unwrap();
    assert_eq!(after["phase"], "completed");
    assert_eq!(after["status"], "completed");
    assert_eq!(after["running"], Value::Null);
    assert_eq!(after["resources"][0]["name"], "db pool");
    assert_eq!(after["resources"][0]["duration_ms"], 1.5);
    assert_eq!(after["resources"][1]["outcome"], "ok");
}
