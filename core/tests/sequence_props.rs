//! Property test of the sequence: random resource sets on the virtual clock end within the
//! graceful deadline unless a closer blocks its thread past it (then the report says the
//! deadline passed) or a force gives the flush hooks their forced budget (then no later than
//! the budget after the force), run every closer at most once, start no resource after a force,
//! report what the closers did, and are never kinder than the clock. A repeated trigger never
//! forces.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use winddown_core::runtime::Runtime;
use winddown_core::testing::VirtualRuntime;
use winddown_core::{Config, ForcedBy, Outcome, Phase, Plan, Reason, Resource, Shutdown, Status};

#[derive(Debug, Clone)]
enum Behaviour {
    Ok,
    Fail,
    Panic,
}

#[derive(Debug, Clone)]
struct Spec {
    priority: i8,
    took_ms: u64,
    own_deadline_ms: Option<u64>,
    behaviour: Behaviour,
    flush: bool,
    /// Holds its thread for `took_ms` (advances the clock without yielding), so no timer can
    /// stop it: it may finish late.
    blocks: bool,
}

/// A duration in milliseconds below `max`: mostly any, sometimes a multiple of 250 ms, so that
/// steps often end exactly at a deadline drawn the same way (the boundaries: a closer that
/// would start at the very moment the graceful deadline passes must not start).
fn on_grid_or_any(min: u64, max: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => min..max,
        1 => (min.div_ceil(250)..max.div_ceil(250)).prop_map(|k| k * 250),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        -2i8..3,
        on_grid_or_any(0, 4_000),
        prop::option::of(1u64..3_000),
        prop_oneof![6 => Just(Behaviour::Ok), 1 => Just(Behaviour::Fail), 1 => Just(Behaviour::Panic)],
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(priority, took_ms, own_deadline_ms, behaviour, flush, blocks)| Spec {
            priority,
            took_ms,
            own_deadline_ms,
            behaviour,
            flush,
            blocks,
        })
}

proptest! {
    #[test]
    fn every_sequence_ends_in_time_and_reports_what_ran(
        specs in prop::collection::vec(spec(), 0..12),
        graceful_ms in on_grid_or_any(1_000, 10_000),
        drain_ms in on_grid_or_any(1, 1_000),
        request_ms in prop::option::of(on_grid_or_any(0, 3_000)),
        second_trigger_ms in prop::option::of(0u64..8_000),
        force_ms in prop::option::of(0u64..8_000),
        forced_flush_ms in prop_oneof![1 => Just(0u64), 3 => 1u64..=1_000],
    ) {
        let ms = Duration::from_millis;
        let config = Config::builder()
            .graceful(ms(graceful_ms))
            .drain(ms(drain_ms))
            .close(ms(1_000))
            .flush(ms(1_000))
            .forced_flush(ms(forced_flush_ms))
            .build()
            .unwrap();
        let runtime = VirtualRuntime::new();
        let shutdown = Shutdown::new();
        let plan = Plan::new(shutdown.clone(), config);
        let runs: Vec<Arc<AtomicUsize>> = specs.iter().map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let finished = Arc::new(Mutex::new(Vec::new()));
        for (index, spec) in specs.iter().enumerate() {
            let runtime = runtime.clone();
            let runs = runs[index].clone();
            let finished = finished.clone();
            let spec_for_closer = spec.clone();
            let mut resource = Resource::new(format!("r{index}"), move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let took = Duration::from_millis(spec_for_closer.took_ms);
                if spec_for_closer.blocks {
                    runtime.advance(took);
                } else {
                    runtime.sleep(took).await;
                }
                finished.lock().unwrap().push(index);
                match spec_for_closer.behaviour {
                    Behaviour::Ok => Ok(()),
                    Behaviour::Fail => Err("failed".into()),
                    Behaviour::Panic => panic!("closer {index} panicked"),
                }
            })
            .priority(i32::from(spec.priority));
            if let Some(deadline) = spec.own_deadline_ms {
                resource = resource.deadline(ms(deadline));
            }
            if spec.flush {
                plan.flush(resource).unwrap();
            } else {
                plan.register(resource).unwrap();
            }
        }
        let request = shutdown.enter().unwrap();
        runtime.spawn_detached({
            let runtime = runtime.clone();
            async move {
                match request_ms {
                    Some(after) => runtime.sleep(ms(after)).await,
                    None => std::future::pending().await,
                }
                drop(request);
            }
        });
        if let Some(after) = second_trigger_ms {
            let runtime = runtime.clone();
            let shutdown = shutdown.clone();
            runtime.clone().spawn_detached(async move {
                runtime.sleep(ms(after)).await;
                // Another part of the program asks too: it changes nothing.
                let first = shutdown.trigger(Reason::requested_because("again"));
                assert!(!first);
            });
        }
        if let Some(after) = force_ms {
            let runtime = runtime.clone();
            let shutdown = shutdown.clone();
            runtime.clone().spawn_detached(async move {
                runtime.sleep(ms(after)).await;
                shutdown.force(Reason::Signal(15));
            });
        }
        shutdown.trigger(Reason::Signal(15));
        let report = runtime.block_on(plan.run(&runtime));
        let blocking = specs.iter().any(|spec| spec.blocks);

        // Only an explicit force is reported as one; a repeated trigger never forces.
        if report.forced_by == Some(ForcedBy::Requested) {
            prop_assert!(force_ms.is_some(), "{}", report);
        }
        // When it was forced, on the virtual clock.
        let forced_at = report
            .phases
            .iter()
            .find(|record| record.phase == Phase::Forced)
            .map(|record| record.started);
        prop_assert_eq!(forced_at.is_some(), report.forced_by.is_some(), "{}", report);
        // Within the graceful deadline, by the virtual clock, unless a closer held the thread
        // past it (then the report says so, and the rest was forced), or the flush hooks ran
        // after a force, within the forced budget.
        let within_forced_flush =
            forced_at.is_some_and(|at| report.total <= at + ms(forced_flush_ms));
        if report.total > ms(graceful_ms) && !within_forced_flush {
            prop_assert!(blocking, "took {:?}: {}", report.total, report);
            prop_assert!(report.deadline_passed_in.is_some(), "{}", report);
            prop_assert!(report.forced_by.is_some(), "{}", report);
        }
        // No resource starts once the graceful deadline is reached, at its very instant
        // included (flush hooks may, within the forced budget: checked below).
        for record in &report.resources {
            prop_assert!(
                record.started < ms(graceful_ms) || record.outcome == Outcome::Skipped,
                "{:?} started at or past the graceful deadline", record
            );
        }
        // After a force no resource starts (one may start at the very instant of the force,
        // before it), and a flush hook starts only within the budget.
        if let Some(at) = forced_at {
            for record in &report.resources {
                prop_assert!(
                    record.started <= at || record.outcome == Outcome::Skipped,
                    "{:?} started after the force at {:?}", record, at
                );
            }
            for record in &report.flushes {
                if record.started > at && record.outcome != Outcome::Skipped {
                    prop_assert!(forced_flush_ms > 0, "{:?}", record);
                    let late = matches!(record.outcome, Outcome::Late(_));
                    prop_assert!(
                        late || record.started + record.duration <= at + ms(forced_flush_ms),
                        "{:?} past the forced budget from {:?}", record, at
                    );
                }
            }
        }
        // Every closer at most once; exactly the ones reported as started.
        let records: Vec<_> = report.resources.iter().chain(&report.flushes).collect();
        prop_assert_eq!(records.len(), specs.len());
        let finished = finished.lock().unwrap().clone();
        for record in &records {
            let index: usize = record.name[1..].parse().unwrap();
            let ran = runs[index].load(Ordering::SeqCst);
            prop_assert!(ran <= 1);
            prop_assert_eq!(ran == 0, record.outcome == Outcome::Skipped, "{:?}", record);
            let completed = finished.contains(&index);
            let (outcome, late) = match &record.outcome {
                Outcome::Late(inner) => (&**inner, true),
                outcome => (outcome, false),
            };
            let expected_completed = matches!(
                outcome,
                Outcome::Ok | Outcome::Error(_) | Outcome::Panicked(_)
            );
            prop_assert_eq!(completed, expected_completed, "{:?}", record);
            // Never kinder than the clock: a closer reported on time took no longer than its
            // own deadline.
            if completed && !late {
                let own = specs[index].own_deadline_ms.map_or(ms(1_000), ms);
                prop_assert!(record.duration <= own, "{:?}", record);
            }
            prop_assert!(!late || specs[index].blocks, "{:?}", record);
            match (outcome, &specs[index].behaviour) {
                (Outcome::Ok, b) => prop_assert!(matches!(b, Behaviour::Ok)),
                (Outcome::Error(_), b) => prop_assert!(matches!(b, Behaviour::Fail)),
                (Outcome::Panicked(_), b) => prop_assert!(matches!(b, Behaviour::Panic)),
                _ => {}
            }
            if completed {
                prop_assert_eq!(record.duration, ms(specs[index].took_ms));
            }
        }
        // The status agrees with the records.
        let any_failed = records.iter().any(|r| matches!(r.outcome, Outcome::Error(_) | Outcome::Panicked(_)));
        let any_late = records.iter().any(|r| matches!(r.outcome, Outcome::Late(_)));
        let flush_ran_out = report.flushes.iter().any(|r| r.outcome == Outcome::Skipped);
        let any_timed_out = report.drain.timed_out
            || flush_ran_out
            || any_late
            || records.iter().any(|r| r.outcome == Outcome::TimedOut);
        let expected = if report.forced_by.is_some() {
            Status::Forced
        } else if any_timed_out {
            Status::TimedOut
        } else if any_failed {
            Status::Failed
        } else {
            Status::Completed
        };
        prop_assert_eq!(report.status, expected);
        prop_assert_eq!(report.forced_by.is_some(), shutdown.phase() == Phase::Forced);
    }
}
