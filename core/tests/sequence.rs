//! The shutdown sequence on the virtual clock: each scenario asserts the exact report.
#![cfg(not(loom))]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use winddown_core::runtime::Runtime;
use winddown_core::testing::VirtualRuntime;
use winddown_core::{
    Config, ForcedBy, Outcome, Phase, Plan, Reason, RegisterError, Report, Resource, ResourceKind,
    Shutdown, Status,
};

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The names of the closers that started, in order.
type Log = Arc<Mutex<Vec<&'static str>>>;

/// What most scenarios start from: a virtual runtime, a plan with `config` on a fresh
/// shutdown, and an empty log for their closers.
fn setup(config: Config) -> (VirtualRuntime, Shutdown, Plan, Log) {
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), config);
    (VirtualRuntime::new(), shutdown, plan, Log::default())
}

/// A closer that takes `took` of virtual time, then returns `result`, logging its name.
fn closer(
    runtime: &VirtualRuntime,
    name: &'static str,
    took: Duration,
    result: Result<(), &'static str>,
    log: &Log,
) -> Resource {
    let runtime = runtime.clone();
    let log = log.clone();
    Resource::new(name, move || async move {
        log.lock().unwrap().push(name);
        runtime.sleep(took).await;
        result.map_err(Into::into)
    })
}

/// A closer that waits `took` of virtual time, then panics with `message`.
fn panics_after(
    runtime: &VirtualRuntime,
    name: &'static str,
    took: Duration,
    message: &'static str,
) -> Resource {
    let runtime = runtime.clone();
    Resource::new(name, move || async move {
        runtime.sleep(took).await;
        panic!("{message}");
        #[allow(unreachable_code)]
        Ok(())
    })
}

/// Triggers `shutdown` at virtual time zero and runs `plan`, with `during` spawned alongside.
fn run_with(
    runtime: &VirtualRuntime,
    plan: &Plan,
    during: impl std::future::Future<Output = ()> + Send + 'static,
) -> Report {
    runtime.spawn_detached(during);
    plan.shutdown().trigger(Reason::Signal(15));
    runtime.block_on(plan.run(runtime))
}

/// The second signal, `after` the trigger on the virtual clock: a task that forces `shutdown`.
fn force_after(
    runtime: &VirtualRuntime,
    shutdown: &Shutdown,
    after: Duration,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let (runtime, shutdown) = (runtime.clone(), shutdown.clone());
    async move {
        runtime.sleep(after).await;
        shutdown.force(Reason::Signal(15));
    }
}

fn phases(report: &Report) -> Vec<(Phase, Duration, Duration)> {
    report
        .phases
        .iter()
        .map(|r| (r.phase, r.started, r.duration))
        .collect()
}

fn outcomes(records: &[winddown_core::ResourceRecord]) -> Vec<(&str, Outcome, Duration)> {
    records
        .iter()
        .map(|r| (&*r.name, r.outcome.clone(), r.duration))
        .collect()
}

#[test]
fn clean_run() {
    let (runtime, shutdown, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "cache", secs(1), Ok(()), &log).priority(5))
        .unwrap();
    plan.register(
        closer(&runtime, "db", secs(2), Ok(()), &log)
            .priority(10)
            .kind(ResourceKind::Database),
    )
    .unwrap();
    plan.flush(closer(&runtime, "log", secs(1), Ok(()), &log))
        .unwrap();

    let request = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, {
        let runtime = runtime.clone();
        async move {
            runtime.sleep(secs(3)).await;
            drop(request);
        }
    });

    assert_eq!(report.status, Status::Completed);
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.reason, Some(Reason::Signal(15)));
    assert_eq!(report.forced_by, None);
    assert_eq!(
        phases(&report),
        [
            (Phase::Initiated, secs(0), secs(0)),
            (Phase::StoppingNewRequests, secs(0), secs(0)),
            (Phase::Draining, secs(0), secs(3)),
            (Phase::ClosingResources, secs(3), secs(3)),
            (Phase::FlushingBuffers, secs(6), secs(1)),
            (Phase::Completed, secs(7), secs(0)),
        ]
    );
    assert_eq!(report.drain.in_flight_at_start, 1);
    assert_eq!(report.drain.left, 0);
    assert!(!report.drain.timed_out);
    assert_eq!(
        outcomes(&report.resources),
        [
            ("db", Outcome::Ok, secs(2)),
            ("cache", Outcome::Ok, secs(1))
        ]
    );
    assert_eq!(report.resources[0].kind, Some(ResourceKind::Database));
    assert_eq!(outcomes(&report.flushes), [("log", Outcome::Ok, secs(1))]);
    assert_eq!(report.total, secs(7));
    assert_eq!(*log.lock().unwrap(), ["db", "cache", "log"]);
    assert_eq!(shutdown.phase(), Phase::Completed);
}

#[test]
fn drain_overrunning_its_deadline_times_out_and_still_closes() {
    let config = Config::builder().drain(secs(2)).build().unwrap();
    let (runtime, shutdown, plan, log) = setup(config);
    plan.register(closer(&runtime, "db", secs(1), Ok(()), &log))
        .unwrap();

    plan.name_in_flight(|names| names.push("upload 7".into()));
    let stuck = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, async {});

    assert_eq!(report.status, Status::TimedOut);
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.drain.still_in_flight, ["upload 7"]);
    assert!(report.drain.timed_out);
    assert_eq!((report.drain.in_flight_at_start, report.drain.left), (1, 1));
    assert_eq!(report.phase(Phase::Draining).unwrap().duration, secs(2));
    assert_eq!(outcomes(&report.resources), [("db", Outcome::Ok, secs(1))]);
    assert_eq!(report.total, secs(3));
    drop(stuck);
}

/// `Runtime` is dyn-compatible: a plan runs on an `Arc<dyn Runtime>`, its timers and its tasks
/// included (the drain waits out its deadline; the closer outlives its first poll, runs as a
/// task and overruns its own deadline).
#[test]
fn a_plan_runs_on_a_dyn_runtime() {
    let config = Config::builder().drain(secs(2)).build().unwrap();
    let (runtime, shutdown, plan, log) = setup(config);
    plan.register(closer(&runtime, "db", secs(5), Ok(()), &log).deadline(secs(3)))
        .unwrap();
    let stuck = shutdown.enter().unwrap();
    shutdown.trigger(Reason::Signal(15));
    let on_dyn: Arc<dyn Runtime> = Arc::new(runtime.clone());
    let report = runtime.block_on(plan.run(on_dyn));

    assert_eq!(report.status, Status::TimedOut);
    assert_eq!(report.phase(Phase::Draining).unwrap().duration, secs(2));
    assert_eq!(
        outcomes(&report.resources),
        [("db", Outcome::TimedOut, secs(3))]
    );
    assert_eq!(report.total, secs(5));
    drop(stuck);
}

#[test]
fn a_closer_that_errors_is_recorded_and_the_rest_run() {
    let (runtime, _, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "queue", secs(1), Ok(()), &log))
        .unwrap();
    plan.register(closer(
        &runtime,
        "db",
        secs(1),
        Err("connection reset"),
        &log,
    ))
    .unwrap();

    let report = run_with(&runtime, &plan, async {});

    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        outcomes(&report.resources),
        [
            ("db", Outcome::Error("connection reset".into()), secs(1)),
            ("queue", Outcome::Ok, secs(1)),
        ]
    );
    assert!(report.into_result().is_err());
}

#[test]
fn a_closer_that_panics_is_recorded_and_the_rest_run() {
    let (runtime, _, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "queue", secs(1), Ok(()), &log))
        .unwrap();
    plan.register(Resource::new("db", || async {
        panic!("pool poisoned");
        #[allow(unreachable_code)]
        Ok(())
    }))
    .unwrap();

    let report = run_with(&runtime, &plan, async {});

    assert_eq!(report.status, Status::Failed);
    assert_eq!(
        outcomes(&report.resources),
        [
            (
                "db",
                Outcome::Panicked(Some("pool poisoned".into())),
                secs(0)
            ),
            ("queue", Outcome::Ok, secs(1)),
        ]
    );
}

#[test]
fn a_closer_that_panics_after_waiting_is_recorded_as_panicked() {
    let (runtime, _, plan, _log) = setup(Config::default());
    plan.register(panics_after(&runtime, "db", secs(1), "pool poisoned"))
        .unwrap();

    let report = run_with(&runtime, &plan, async {});

    assert_eq!(report.status, Status::Failed);
    assert_eq!(
        outcomes(&report.resources),
        [(
            "db",
            Outcome::Panicked(Some("pool poisoned".into())),
            secs(1)
        )]
    );
}

/// The virtual runtime, but spawning is refused: the sequence must not need it.
struct NoSpawn(VirtualRuntime);

impl Runtime for NoSpawn {
    fn now(&self) -> Duration {
        self.0.now()
    }

    fn sleep(&self, duration: Duration) -> winddown_core::runtime::BoxFuture<()> {
        self.0.sleep(duration)
    }

    fn spawn(
        &self,
        _task: winddown_core::runtime::BoxFuture<()>,
    ) -> winddown_core::runtime::BoxFuture<winddown_core::runtime::TaskOutcome> {
        panic!("the sequence spawned a task")
    }

    fn spawn_detached(&self, _task: winddown_core::runtime::BoxFuture<()>) {
        panic!("the sequence spawned a detached task")
    }
}

#[test]
fn closers_that_wait_run_on_the_sequences_own_task() {
    let (runtime, _, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "db", secs(1), Ok(()), &log).priority(1))
        .unwrap();
    plan.register(panics_after(&runtime, "cache", secs(2), "cache poisoned"))
        .unwrap();
    plan.flush(closer(&runtime, "log", secs(0), Err("disk full"), &log))
        .unwrap();

    plan.shutdown().trigger(Reason::Signal(15));
    let no_spawn = NoSpawn(runtime.clone());
    let report = runtime.block_on(plan.run(&no_spawn));

    assert_eq!(
        outcomes(&report.resources),
        [
            ("db", Outcome::Ok, secs(1)),
            (
                "cache",
                Outcome::Panicked(Some("cache poisoned".into())),
                secs(2)
            ),
        ]
    );
    assert_eq!(
        outcomes(&report.flushes),
        [("log", Outcome::Error("disk full".into()), secs(0))]
    );
    assert_eq!(report.status, Status::Failed);
}

#[test]
fn a_closer_whose_first_poll_took_time_still_times_out_at_its_own_deadline() {
    let (runtime, _, plan, _log) = setup(Config::default());
    plan.register({
        let runtime = runtime.clone();
        // Busy for 2 s before its first wait (the thread is held, no timer can fire), then
        // waits 2 s more: its 3 s deadline counts from its start, not from that first wait.
        Resource::new("db", move || async move {
            runtime.advance(secs(2));
            runtime.sleep(secs(2)).await;
            Ok(())
        })
        .deadline(secs(3))
    })
    .unwrap();

    let report = run_with(&runtime, &plan, async {});

    assert_eq!(report.status, Status::TimedOut);
    assert_eq!(
        outcomes(&report.resources),
        [("db", Outcome::TimedOut, secs(3))]
    );
}

#[test]
fn a_closer_that_hangs_times_out_at_its_own_deadline() {
    let (runtime, _, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "queue", secs(1), Ok(()), &log))
        .unwrap();
    plan.register(Resource::new("db", std::future::pending::<()>).deadline(secs(3)))
        .unwrap();

    let report = run_with(&runtime, &plan, async {});

    assert_eq!(report.status, Status::TimedOut);
    assert_eq!(
        outcomes(&report.resources),
        [
            ("db", Outcome::TimedOut, secs(3)),
            ("queue", Outcome::Ok, secs(1))
        ]
    );
    assert_eq!(report.total, secs(4));
}

#[test]
fn priorities_then_last_registered_first() {
    let (runtime, _, plan, log) = setup(Config::default());
    for (name, priority) in [("a", 0), ("b", 5), ("c", 0), ("d", 5), ("e", -1), ("f", 0)] {
        plan.register(closer(&runtime, name, secs(0), Ok(()), &log).priority(priority))
            .unwrap();
    }

    let report = run_with(&runtime, &plan, async {});

    assert_eq!(*log.lock().unwrap(), ["d", "b", "f", "c", "a", "e"]);
    let order: Vec<&str> = report.resources.iter().map(|r| &*r.name).collect();
    assert_eq!(order, ["d", "b", "f", "c", "a", "e"]);
}

#[test]
fn registration_is_open_after_the_trigger_until_resources_close() {
    let (runtime, shutdown, plan, log) = setup(
        Config::builder()
            .pre_stop(secs(1))
            .drain(secs(5))
            .build()
            .unwrap(),
    );
    // A signal during startup: the trigger comes before the resources are registered.
    shutdown.trigger(Reason::Signal(15));
    plan.register(closer(
        &runtime,
        "opened after the trigger",
        secs(1),
        Ok(()),
        &log,
    ))
    .unwrap();
    let request = shutdown.enter().unwrap(); // admitted in the pre-stop delay
    let report = runtime.block_on({
        let runtime = runtime.clone();
        let plan = plan.clone();
        let log = log.clone();
        async move {
            runtime.spawn_detached({
                let runtime = runtime.clone();
                let plan = plan.clone();
                async move {
                    // Opened during the drain: still closed in order.
                    plan.shutdown().reached(Phase::Draining).await;
                    plan.flush(closer(
                        &runtime,
                        "opened while draining",
                        secs(1),
                        Ok(()),
                        &log,
                    ))
                    .unwrap();
                    runtime.sleep(secs(1)).await;
                    drop(request);
                }
            });
            plan.run(&runtime).await
        }
    });
    assert_eq!(report.status, Status::Completed);
    assert_eq!(
        *log.lock().unwrap(),
        ["opened after the trigger", "opened while draining"]
    );

    // From the moment resources close, a registration is refused and the resource handed back.
    let refused = plan
        .register(Resource::blocking("too late", || {
            Err("closed by hand".into())
        }))
        .unwrap_err();
    assert_eq!(
        refused.error(),
        &RegisterError::Closing {
            name: "too late".into()
        }
    );
    assert!(refused
        .to_string()
        .contains("already started closing resources"));
    let resource = refused.into_resource();
    assert_eq!(
        futures_lite::future::block_on(resource.close()),
        Err("closed by hand".to_string())
    );
    assert!(plan
        .flush(Resource::blocking("too late", || Ok(())))
        .is_err());
}

#[test]
fn registration_made_while_resources_close_is_refused() {
    let (runtime, _shutdown, plan, log) = setup(Config::default());
    let refused = Arc::new(Mutex::new(None));
    plan.register({
        let plan = plan.clone();
        let refused = refused.clone();
        Resource::new("db", move || async move {
            let result = plan.register(Resource::blocking("cache", || Ok(())));
            *refused.lock().unwrap() = Some(result.map_err(|err| err.error().clone()));
            Ok(())
        })
    })
    .unwrap();
    let report = run_with(&runtime, &plan, async {});
    assert_eq!(report.resources.len(), 1);
    assert_eq!(
        refused.lock().unwrap().take(),
        Some(Err(RegisterError::Closing {
            name: "cache".into()
        }))
    );
    drop(log);
}

#[test]
fn a_resource_deadline_is_validated_at_registration() {
    let plan = Plan::new(Shutdown::new(), Config::default());
    let zero = Resource::blocking("db", || Ok(())).deadline(Duration::ZERO);
    assert_eq!(
        plan.register(zero).unwrap_err().to_string(),
        "cannot register \"db\": its deadline is zero"
    );
    let huge = Resource::blocking("db", || Ok(())).deadline(Duration::MAX);
    assert_eq!(
        plan.register(huge).unwrap_err().to_string(),
        "cannot register \"db\": its deadline is larger than 4294967295 seconds"
    );
}

#[test]
fn a_second_trigger_mid_drain_changes_nothing() {
    let (runtime, shutdown, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "db", secs(1), Ok(()), &log))
        .unwrap();
    plan.flush(closer(&runtime, "log", secs(1), Ok(()), &log))
        .unwrap();

    let request = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, {
        let runtime = runtime.clone();
        let shutdown = shutdown.clone();
        async move {
            runtime.sleep(secs(4)).await;
            // Another part of the program asks for the stop too.
            assert!(!shutdown.trigger(Reason::requested_because("admin endpoint")));
            runtime.sleep(secs(1)).await;
            drop(request);
        }
    });

    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.forced_by, None);
    assert_eq!(report.reason, Some(Reason::Signal(15)));
    assert_eq!(
        phases(&report),
        [
            (Phase::Initiated, secs(0), secs(0)),
            (Phase::StoppingNewRequests, secs(0), secs(0)),
            (Phase::Draining, secs(0), secs(5)),
            (Phase::ClosingResources, secs(5), secs(1)),
            (Phase::FlushingBuffers, secs(6), secs(1)),
            (Phase::Completed, secs(7), secs(0)),
        ]
    );
    assert_eq!(*log.lock().unwrap(), ["db", "log"]);
}

#[test]
fn a_force_mid_drain_skips_the_closers_and_still_flushes() {
    let (runtime, shutdown, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "db", secs(1), Ok(()), &log))
        .unwrap();
    plan.flush(closer(&runtime, "log", ms(500), Ok(()), &log))
        .unwrap();

    let stuck = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, force_after(&runtime, &shutdown, secs(4)));

    assert_eq!(report.status, Status::Forced);
    assert_eq!(report.exit_code(), 3);
    assert_eq!(report.forced_by, Some(ForcedBy::Requested));
    assert_eq!(
        phases(&report),
        [
            (Phase::Initiated, secs(0), secs(0)),
            (Phase::StoppingNewRequests, secs(0), secs(0)),
            (Phase::Draining, secs(0), secs(4)),
            (Phase::Forced, secs(4), ms(500)),
        ]
    );
    assert_eq!(
        outcomes(&report.resources),
        [("db", Outcome::Skipped, secs(0))]
    );
    // The default forced flush budget is 1 s: the half-second flush fits.
    assert_eq!(outcomes(&report.flushes), [("log", Outcome::Ok, ms(500))]);
    assert_eq!(*log.lock().unwrap(), ["log"], "only the flush hook ran");
    assert_eq!(shutdown.phase(), Phase::Forced);
    drop(stuck);
}

/// Graceful 5 s, drain 3 s (a request never finishes), close 4 s; a 10 s closer ("slow") then
/// a 1 s one ("next"). Returns the report, the shutdown and the closers that started.
fn slow_closer_past_a_5_s_graceful_deadline(force: bool) -> (Report, Shutdown, Log) {
    let config = Config::builder()
        .graceful(secs(5))
        .drain(secs(3))
        .close(secs(4))
        .force_after_deadline(force)
        .build()
        .unwrap();
    let (runtime, shutdown, plan, log) = setup(config);
    plan.register(closer(&runtime, "slow", secs(10), Ok(()), &log).priority(1))
        .unwrap();
    plan.register(closer(&runtime, "next", secs(1), Ok(()), &log))
        .unwrap();

    let stuck = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, async {});
    drop(stuck);
    (report, shutdown, log)
}

#[test]
fn the_graceful_deadline_bounds_the_whole_sequence() {
    let (report, shutdown, log) = slow_closer_past_a_5_s_graceful_deadline(true);

    // Drain 3 s (timed out), then "slow" gets min(4 s, 2 s left) and is cut by the deadline.
    assert_eq!(report.status, Status::Forced);
    assert_eq!(
        report.forced_by,
        Some(ForcedBy::Deadline(Phase::ClosingResources))
    );
    assert_eq!(report.deadline_passed_in, Some(Phase::ClosingResources));
    assert_eq!(
        outcomes(&report.resources),
        [
            ("slow", Outcome::Cancelled, secs(2)),
            ("next", Outcome::Skipped, secs(0))
        ]
    );
    assert_eq!(report.total, secs(5));
    assert_eq!(*log.lock().unwrap(), ["slow"]);
    assert_eq!(shutdown.phase(), Phase::Forced);
}

#[test]
fn without_forcing_the_sequence_goes_on_past_the_graceful_deadline() {
    let (report, shutdown, log) = slow_closer_past_a_5_s_graceful_deadline(false);

    assert_eq!(report.status, Status::TimedOut);
    assert_eq!(report.forced_by, None);
    assert_eq!(report.deadline_passed_in, Some(Phase::ClosingResources));
    // "slow" ran into the graceful deadline at 5 s, then got the rest of its own 4 s.
    assert_eq!(
        outcomes(&report.resources),
        [
            ("slow", Outcome::TimedOut, secs(4)),
            ("next", Outcome::Ok, secs(1))
        ]
    );
    assert_eq!(shutdown.phase(), Phase::Completed);
    assert_eq!(*log.lock().unwrap(), ["slow", "next"]);
}

#[test]
fn the_pre_stop_delay_is_observed_exactly() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let config = Config::builder().pre_stop(secs(2)).build().unwrap();
    let plan = Plan::new(shutdown.clone(), config);
    let admitted_during_pre_stop = Arc::new(Mutex::new(None));

    let report = run_with(&runtime, &plan, {
        let runtime = runtime.clone();
        let shutdown = shutdown.clone();
        let admitted = admitted_during_pre_stop.clone();
        async move {
            runtime.sleep(secs(1)).await;
            *admitted.lock().unwrap() = Some((!shutdown.is_triggered(), shutdown.enter().is_ok()));
        }
    });

    assert_eq!(
        *admitted_during_pre_stop.lock().unwrap(),
        Some((false, true))
    );
    assert_eq!(report.status, Status::Completed);
    assert_eq!(
        phases(&report)[..3],
        [
            (Phase::Initiated, secs(0), secs(2)),
            (Phase::StoppingNewRequests, secs(2), secs(0)),
            (Phase::Draining, secs(2), secs(0)),
        ]
    );
}

#[test]
fn observers_see_every_phase_with_its_offset() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    plan.on_phase({
        let seen = seen.clone();
        move |phase, at| seen.lock().unwrap().push((phase, at))
    });
    let request = shutdown.enter().unwrap();
    run_with(&runtime, &plan, {
        let runtime = runtime.clone();
        async move {
            runtime.sleep(secs(1)).await;
            drop(request);
        }
    });
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Phase::Initiated, secs(0)),
            (Phase::StoppingNewRequests, secs(0)),
            (Phase::Draining, secs(0)),
            (Phase::ClosingResources, secs(1)),
            (Phase::FlushingBuffers, secs(1)),
            (Phase::Completed, secs(1)),
        ]
    );
}

#[test]
#[cfg_attr(not(feature = "report-table"), ignore = "reads the report's table")]
fn the_report_reads_as_a_table() {
    let (runtime, _, plan, log) = setup(Config::default());
    plan.register(
        closer(&runtime, "postgres", secs(1), Ok(()), &log)
            .priority(10)
            .kind(ResourceKind::Database),
    )
    .unwrap();
    plan.register(closer(&runtime, "redis", secs(0), Err("refused"), &log))
        .unwrap();
    let report = run_with(&runtime, &plan, async {});
    let expected = "\
shutdown failed in 1.000s (reason: signal 15)
  phase                      start  duration
  initiated                 0.000s    0.000s
  stopping new requests     0.000s    0.000s
  draining                  0.000s    0.000s  0 drained, 0 left
  closing resources         0.000s    1.000s
  flushing buffers          1.000s    0.000s
  failed                    1.000s    0.000s
  resource               kind         priority  duration  outcome
  postgres               database           10    1.000s  ok
  redis                  -                   0    0.000s  error: refused
";
    assert_eq!(report.to_string(), expected);
}

#[test]
fn a_closer_finishing_as_the_force_lands_is_ok_and_the_rest_skipped() {
    let (runtime, shutdown, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "db", secs(1), Ok(()), &log).priority(1))
        .unwrap();
    plan.register(closer(&runtime, "cache", secs(1), Ok(()), &log))
        .unwrap();
    plan.flush(closer(&runtime, "log", secs(0), Ok(()), &log))
        .unwrap();

    // The force lands at the very instant the first closer finishes.
    let report = run_with(&runtime, &plan, force_after(&runtime, &shutdown, secs(1)));

    assert_eq!(
        outcomes(&report.resources),
        [
            ("db", Outcome::Ok, secs(1)),
            ("cache", Outcome::Skipped, secs(0))
        ]
    );
    assert_eq!(outcomes(&report.flushes), [("log", Outcome::Ok, secs(0))]);
    assert_eq!(report.status, Status::Forced);
    assert_eq!(report.forced_by, Some(ForcedBy::Requested));
    assert_eq!(*log.lock().unwrap(), ["db", "log"]);
}

// ===== The report is never kinder than the clock =====

/// An async closer that holds its thread for `held` (it advances the virtual clock without
/// yielding, as a blocking call on a current-thread runtime would), then returns `Ok`.
fn blocks_its_thread(runtime: &VirtualRuntime, name: &'static str, held: Duration) -> Resource {
    let runtime = runtime.clone();
    Resource::new(name, move || async move {
        runtime.advance(held);
        Ok(())
    })
}

#[test]
#[cfg_attr(not(feature = "report-table"), ignore = "reads the report's table")]
fn a_closer_that_blocks_past_its_deadline_is_late_not_ok() {
    let (runtime, _shutdown, plan, _log) = setup(Config::builder().close(secs(1)).build().unwrap());
    plan.register(blocks_its_thread(&runtime, "cache client", secs(3)))
        .unwrap();
    // The same with a blocking closer (inline on the virtual runtime).
    plan.flush({
        let runtime = runtime.clone();
        Resource::blocking("log", move || {
            runtime.advance(secs(2));
            Err("disk full".into())
        })
        .deadline(secs(1))
    })
    .unwrap();

    let report = run_with(&runtime, &plan, async {});

    assert_eq!(
        outcomes(&report.resources),
        [(
            "cache client",
            Outcome::Late(Box::new(Outcome::Ok)),
            secs(3)
        )]
    );
    assert_eq!(
        outcomes(&report.flushes),
        [(
            "log",
            Outcome::Late(Box::new(Outcome::Error("disk full".into()))),
            secs(2)
        )]
    );
    assert_eq!(report.status, Status::TimedOut);
    assert_ne!(report.exit_code(), 0);
    assert!(report
        .to_string()
        .contains("3.000s  late, past its deadline: ok"));
}

#[test]
fn a_graceful_deadline_that_passed_under_a_blocked_closer_forces_afterwards() {
    let config = Config::builder()
        .graceful(secs(4))
        .drain(secs(1))
        .close(secs(3))
        .flush(secs(1))
        .build()
        .unwrap();
    let (runtime, _shutdown, plan, log) = setup(config);
    plan.register(blocks_its_thread(&runtime, "first", secs(2)).priority(2))
        .unwrap();
    // Within its own 3 s, but it ends at 4.5 s, past the graceful 4 s.
    plan.register(blocks_its_thread(&runtime, "second", secs(2) + secs(1) / 2).priority(1))
        .unwrap();
    plan.register(closer(&runtime, "third", secs(0), Ok(()), &log))
        .unwrap();

    let report = run_with(&runtime, &plan, async {});

    assert_eq!(
        outcomes(&report.resources),
        [
            ("first", Outcome::Ok, secs(2)),
            ("second", Outcome::Ok, secs(2) + secs(1) / 2),
            ("third", Outcome::Skipped, secs(0)),
        ]
    );
    assert_eq!(report.deadline_passed_in, Some(Phase::ClosingResources));
    assert_eq!(
        report.forced_by,
        Some(ForcedBy::Deadline(Phase::ClosingResources))
    );
    assert_eq!(report.status, Status::Forced);
    assert!(log.lock().unwrap().is_empty());
}

#[test]
fn a_drain_that_ends_after_its_deadline_is_timed_out() {
    let (runtime, shutdown, plan, _log) = setup(Config::builder().drain(secs(2)).build().unwrap());
    let request = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, {
        let runtime = runtime.clone();
        async move {
            // The request's task holds the thread for 5 s, then finishes.
            runtime.advance(secs(5));
            drop(request);
        }
    });
    assert!(report.drain.timed_out);
    assert_eq!(report.drain.left, 0);
    assert_eq!(report.phase(Phase::Draining).unwrap().duration, secs(5));
    assert_eq!(report.status, Status::TimedOut);
}

// ===== One sequence per plan, whoever runs it =====

#[test]
fn a_second_concurrent_run_waits_for_the_first_and_returns_its_report() {
    let (runtime, shutdown, plan, _log) = setup(Config::default());
    let phase_when_closed = Arc::new(Mutex::new(None));
    plan.register({
        let runtime = runtime.clone();
        let shutdown = shutdown.clone();
        let phase_when_closed = phase_when_closed.clone();
        Resource::new("db", move || async move {
            runtime.sleep(secs(2)).await;
            *phase_when_closed.lock().unwrap() = Some(shutdown.phase());
            Ok(())
        })
    })
    .unwrap();
    let second = Arc::new(Mutex::new(None));
    let first = runtime.block_on({
        let runtime = runtime.clone();
        let plan = plan.clone();
        let second = second.clone();
        async move {
            runtime.spawn_detached({
                let runtime = runtime.clone();
                let plan = plan.clone();
                async move {
                    let report = plan.run(&runtime).await;
                    *second.lock().unwrap() = Some(report);
                }
            });
            plan.shutdown().trigger(Reason::Signal(15));
            plan.run(&runtime).await
        }
    });
    // The other run cannot have ended the shutdown while the closer ran.
    assert_eq!(
        *phase_when_closed.lock().unwrap(),
        Some(Phase::ClosingResources)
    );
    assert_eq!(outcomes(&first.resources), [("db", Outcome::Ok, secs(2))]);
    // Whichever of the two carried out the sequence, both got its report.
    runtime.block_on(async {});
    assert_eq!(second.lock().unwrap().as_ref(), Some(&first));
}

#[test]
fn a_run_after_a_finished_run_returns_its_report_at_once() {
    let (runtime, _shutdown, plan, log) =
        setup(Config::builder().pre_stop(secs(2)).build().unwrap());
    plan.register(closer(&runtime, "db", secs(1), Ok(()), &log))
        .unwrap();
    let first = run_with(&runtime, &plan, async {});
    let before = runtime.now();
    let again = runtime.block_on(plan.run(&runtime));
    assert_eq!(runtime.now(), before, "no second pre-stop delay");
    assert_eq!(again, first);
    // Each run's copy holds the closers' records.
    assert_eq!(outcomes(&again.resources), [("db", Outcome::Ok, secs(1))]);
    assert_eq!(*log.lock().unwrap(), ["db"]);
}

#[test]
fn a_run_after_a_dropped_run_reports_the_dropped_closers() {
    let (runtime, shutdown, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "db", secs(5), Ok(()), &log).priority(1))
        .unwrap();
    plan.register(closer(&runtime, "cache", secs(1), Ok(()), &log))
        .unwrap();
    plan.flush(closer(&runtime, "log", secs(1), Ok(()), &log))
        .unwrap();
    shutdown.trigger(Reason::Signal(15));
    // The run is dropped two seconds into the db's close.
    runtime.block_on({
        let runtime = runtime.clone();
        let plan = plan.clone();
        async move {
            futures_lite::future::or(
                async {
                    plan.run(&runtime).await;
                },
                runtime.sleep(secs(2)),
            )
            .await;
        }
    });

    let report = runtime.block_on(plan.run(&runtime));
    assert_eq!(
        outcomes(&report.resources),
        [
            ("db", Outcome::Cancelled, secs(2)),
            ("cache", Outcome::Skipped, secs(0)),
        ]
    );
    assert_eq!(
        outcomes(&report.flushes),
        [("log", Outcome::Skipped, secs(0))]
    );
    assert_eq!(report.status, Status::Forced);
    assert_eq!(report.forced_by, Some(ForcedBy::Abandoned));
    assert_eq!(shutdown.phase(), Phase::Forced);
    assert_eq!(*log.lock().unwrap(), ["db"]);
}

#[test]
fn a_run_dropped_during_the_drain_names_what_it_abandoned() {
    let (runtime, shutdown, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "db", secs(1), Ok(()), &log))
        .unwrap();
    let _request = shutdown.enter().unwrap();
    shutdown.trigger(Reason::Signal(15));
    runtime.block_on({
        let runtime = runtime.clone();
        let plan = plan.clone();
        async move {
            futures_lite::future::or(
                async {
                    plan.run(&runtime).await;
                },
                runtime.sleep(secs(1)),
            )
            .await;
        }
    });
    let report = plan.progress();
    assert_eq!(report.status, Some(Status::Forced));
    assert_eq!(
        outcomes(&report.resources),
        [("db", Outcome::Skipped, secs(0))]
    );
    let drain = report.drain.unwrap();
    assert_eq!((drain.in_flight_at_start, drain.left), (1, 1));
    assert!(log.lock().unwrap().is_empty());
    // A later run's copy of the report names the closer it never took.
    let again = runtime.block_on(plan.run(&runtime));
    assert_eq!(
        outcomes(&again.resources),
        [("db", Outcome::Skipped, secs(0))]
    );
}

// ===== Smaller untruths =====

#[test]
fn force_from_outside_is_reported_as_requested() {
    let (runtime, shutdown, plan, _log) = setup(Config::default());
    let _stuck = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, {
        let runtime = runtime.clone();
        let shutdown = shutdown.clone();
        async move {
            runtime.sleep(secs(1)).await;
            shutdown.force(Reason::requested_because("operator"));
        }
    });
    assert_eq!(report.forced_by, Some(ForcedBy::Requested));
    assert_eq!(
        report.reason,
        Some(Reason::Signal(15)),
        "the trigger's reason stays"
    );
}

/// The second signal as the signal listener delivers it: a force.
fn second_signal(shutdown: &Shutdown) {
    shutdown.force(Reason::Signal(15));
}

/// What a `Forced` observer ends (an HTTP server cutting its connections does it there) was
/// in flight when the force came: the drain counts it as left and names it.
#[test]
fn what_a_forced_observer_releases_is_left_and_named() {
    let (runtime, shutdown, plan, _log) = setup(Config::default());
    let held = Arc::new(Mutex::new(Some(shutdown.enter().unwrap())));
    plan.name_in_flight({
        let held = held.clone();
        move |names| {
            if held.lock().unwrap().is_some() {
                names.push("GET /slow".into());
            }
        }
    });
    plan.on_phase({
        let held = held.clone();
        move |phase, _| {
            if phase == Phase::Forced {
                held.lock().unwrap().take();
            }
        }
    });
    let report = run_with(&runtime, &plan, {
        let runtime = runtime.clone();
        let shutdown = shutdown.clone();
        async move {
            runtime.sleep(secs(4)).await;
            second_signal(&shutdown);
        }
    });
    assert_eq!(report.forced_by, Some(ForcedBy::Requested), "{report}");
    assert_eq!(report.drain.left, 1, "{report}");
    assert_eq!(report.drain.still_in_flight, ["GET /slow"], "{report}");
    assert_eq!(shutdown.in_flight(), 0);
}

/// A guard let go by a task that watches for `Forced` may go before the sequence sees the
/// force, so that the drain step ends "drained" as the force lands: the cause is still the
/// force (the second signal), whichever of the two tasks runs first.
fn a_drain_ended_by_the_second_signal_is_forced_by_it(watcher_first: bool) {
    let (runtime, shutdown, plan, _log) = setup(Config::default());
    let held = shutdown.enter().unwrap();
    let watcher = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.reached(Phase::Forced).await;
            drop(held);
        }
    };
    let signals = {
        let runtime = runtime.clone();
        let shutdown = shutdown.clone();
        async move {
            runtime.sleep(secs(4)).await;
            second_signal(&shutdown);
        }
    };
    shutdown.trigger(Reason::Signal(15));
    runtime.spawn_detached(signals);
    let run = {
        let (plan, runtime) = (plan.clone(), runtime.clone());
        async move { plan.run(&runtime).await }
    };
    let slot = Arc::new(Mutex::new(None));
    let run = {
        let slot = slot.clone();
        async move {
            *slot.lock().unwrap() = Some(run.await);
        }
    };
    if watcher_first {
        runtime.spawn_detached(watcher);
        runtime.spawn_detached(run);
    } else {
        runtime.spawn_detached(run);
        runtime.spawn_detached(watcher);
    }
    runtime.block_on(async {
        while slot.lock().unwrap().is_none() {
            runtime.sleep(secs(1)).await;
        }
    });
    let report = slot.lock().unwrap().take().unwrap();
    assert_eq!(report.status, Status::Forced, "{report}");
    assert_eq!(report.forced_by, Some(ForcedBy::Requested), "{report}");
}

#[test]
fn a_drain_ended_by_the_second_signal_is_forced_by_it_watcher_first() {
    a_drain_ended_by_the_second_signal_is_forced_by_it(true);
}

#[test]
fn a_drain_ended_by_the_second_signal_is_forced_by_it_sequence_first() {
    a_drain_ended_by_the_second_signal_is_forced_by_it(false);
}

#[test]
#[cfg_attr(not(feature = "report-table"), ignore = "reads the report's table")]
fn a_force_in_the_pre_stop_delay_reports_the_abandoned_guards() {
    let (runtime, shutdown, plan, _log) =
        setup(Config::builder().pre_stop(secs(5)).build().unwrap());
    plan.name_in_flight(|names| names.push("GET /export".into()));
    let _a = shutdown.enter().unwrap();
    let _b = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, force_after(&runtime, &shutdown, secs(1)));
    assert_eq!(report.forced_by, Some(ForcedBy::Requested));
    assert!(report.drain.skipped);
    assert_eq!(report.drain.in_flight_at_start, 2);
    assert_eq!(report.drain.left, 2);
    assert_eq!(report.drain.still_in_flight, ["GET /export"]);
    assert!(report
        .to_string()
        .contains("drain skipped: 2 in flight abandoned (GET /export)"));
}

#[test]
#[cfg_attr(not(feature = "report-table"), ignore = "reads the report's table")]
fn a_panicking_observer_is_recorded_and_the_sequence_goes_on() {
    let (runtime, _shutdown, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "db", secs(1), Ok(()), &log))
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    plan.on_phase(|phase, _| {
        if phase == Phase::Draining {
            panic!("metrics exporter is down");
        }
    });
    plan.on_phase({
        let seen = seen.clone();
        move |phase, _| seen.lock().unwrap().push(phase)
    });

    let report = run_with(&runtime, &plan, async {});

    assert_eq!(*log.lock().unwrap(), ["db"]);
    assert_eq!(report.observer_panics.len(), 1);
    assert_eq!(report.observer_panics[0].phase, Phase::Draining);
    assert_eq!(
        report.observer_panics[0].message.as_deref(),
        Some("metrics exporter is down")
    );
    assert_eq!(report.status, Status::Failed);
    // The other observer saw every phase.
    assert_eq!(seen.lock().unwrap().last(), Some(&Phase::Completed));
    assert!(report
        .to_string()
        .contains("phase observer panicked at draining: metrics exporter is down"));
}

#[test]
fn progress_follows_the_sequence() {
    let (runtime, _shutdown, plan, log) = setup(Config::default());
    plan.register(closer(&runtime, "db", secs(1), Ok(()), &log).priority(1))
        .unwrap();
    plan.register(closer(&runtime, "cache", secs(1), Ok(()), &log))
        .unwrap();
    let seen = Arc::new(Mutex::new(None));
    let report = run_with(&runtime, &plan, {
        let runtime = runtime.clone();
        let plan = plan.clone();
        let seen = seen.clone();
        async move {
            runtime.sleep(secs(1) + secs(1) / 2).await;
            *seen.lock().unwrap() = Some(plan.progress());
        }
    });
    let seen = seen.lock().unwrap().take().unwrap();
    assert_eq!(seen.running.as_deref(), Some("cache"));
    // The cache's close started at 1 s, with the default 5 s close deadline.
    assert_eq!(seen.step_deadline, Some(secs(6)));
    assert_eq!(outcomes(&seen.resources), [("db", Outcome::Ok, secs(1))]);
    assert_eq!(seen.status, None);
    assert!(seen.drain.is_some());
    let done = plan.progress();
    assert_eq!(done.step_deadline, None);
    assert_eq!(done.status, Some(report.status));
    assert_eq!(done.resources, report.resources);
}

#[test]
#[cfg_attr(not(feature = "report-table"), ignore = "reads the report's table")]
fn a_clean_stop_that_exits_1_says_why_on_the_headline() {
    let (runtime, _shutdown, plan, _log) = setup(Config::default());
    plan.collect_failures(|failures| {
        failures.push(winddown_core::TaskFailure::error("indexer", "disk full"));
    });
    let report = run_with(&runtime, &plan, async {});
    assert_eq!((report.status, report.exit_code()), (Status::Completed, 1));
    let table = report.to_string();
    assert!(
        table.starts_with(
            "shutdown completed in 0.000s (reason: signal 15); exit 1: 1 task failed\n"
        ),
        "{table}"
    );
    assert!(
        table.contains("task indexer failed: disk full\n"),
        "{table}"
    );
}

#[test]
fn the_headline_counts_failed_tasks_or_blames_the_reason() {
    let (runtime, _shutdown, plan, _log) = setup(Config::default());
    plan.collect_failures(|failures| {
        failures.push(winddown_core::TaskFailure::error("indexer", "disk full"));
        failures.push(winddown_core::TaskFailure::error("mailer", "refused"));
    });
    let report = run_with(&runtime, &plan, async {});
    let table = report.to_string();
    assert!(
        table.starts_with(
            "shutdown completed in 0.000s (reason: signal 15); exit 1: 2 tasks failed\n"
        ),
        "{table}"
    );

    let (runtime, shutdown, plan, _log) = setup(Config::default());
    shutdown.trigger(Reason::error("config gone"));
    let report = run_with(&runtime, &plan, async {});
    let table = report.to_string();
    assert!(
        table.starts_with("shutdown completed in 0.000s (reason: error: config gone); exit 1: the reason is an error\n"),
        "{table}"
    );
}

/// Found by the sequence proptest: a closer that blocks until exactly the graceful deadline,
/// then another: the second is not started (it would be reported cancelled after it ran).
#[test]
fn no_closer_starts_once_the_graceful_deadline_is_reached() {
    let config = Config::builder()
        .graceful(secs(3))
        .drain(secs(1))
        .close(secs(1))
        .flush(secs(1))
        .build()
        .unwrap();
    let (runtime, _shutdown, plan, log) = setup(config);
    plan.register(blocks_its_thread(&runtime, "first", secs(3)).priority(1))
        .unwrap();
    plan.register(closer(&runtime, "second", secs(0), Ok(()), &log))
        .unwrap();
    let report = run_with(&runtime, &plan, async {});
    assert_eq!(
        outcomes(&report.resources),
        [
            ("first", Outcome::Late(Box::new(Outcome::Ok)), secs(3)),
            ("second", Outcome::Skipped, secs(0)),
        ]
    );
    assert_eq!(
        report.forced_by,
        Some(ForcedBy::Deadline(Phase::ClosingResources))
    );
    assert!(log.lock().unwrap().is_empty());
}

// ===== A forced stop still flushes =====

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Forced mid-drain with the default 1 s budget: the first flush hook runs past it and is cut
/// at the budget's end; the next one has no time left and is skipped.
#[test]
fn a_flush_hook_past_the_forced_budget_is_cut_and_the_rest_skipped() {
    let (runtime, shutdown, plan, log) = setup(Config::default());
    plan.flush(closer(&runtime, "metrics", secs(10), Ok(()), &log).priority(1))
        .unwrap();
    plan.flush(closer(&runtime, "log", secs(0), Ok(()), &log))
        .unwrap();
    let stuck = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, force_after(&runtime, &shutdown, secs(2)));
    assert_eq!(report.status, Status::Forced);
    assert_eq!(
        outcomes(&report.flushes),
        [
            ("metrics", Outcome::TimedOut, secs(1)),
            ("log", Outcome::Skipped, secs(0)),
        ]
    );
    assert_eq!(report.total, secs(3));
    assert_eq!(*log.lock().unwrap(), ["metrics"]);
    drop(stuck);
}

/// A forced flush budget of zero: a forced stop skips the flush hooks, as a third signal would.
#[test]
fn a_zero_forced_flush_budget_skips_the_flush_hooks() {
    let config = Config::builder()
        .forced_flush(Duration::ZERO)
        .build()
        .unwrap();
    let (runtime, shutdown, plan, log) = setup(config);
    plan.flush(closer(&runtime, "log", secs(0), Ok(()), &log))
        .unwrap();
    let stuck = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, {
        let shutdown = shutdown.clone();
        async move { shutdown.force(Reason::Signal(15)) }
    });
    assert_eq!(report.status, Status::Forced);
    assert_eq!(
        outcomes(&report.flushes),
        [("log", Outcome::Skipped, secs(0))]
    );
    assert!(log.lock().unwrap().is_empty());
    drop(stuck);
}

/// A force while the flush phase runs: the hook running goes on (it is not cancelled by the
/// force), within the forced budget from the force; the next one gets what is left.
#[test]
fn a_flush_hook_running_at_the_force_goes_on_within_the_budget() {
    let (runtime, shutdown, plan, log) = setup(Config::default());
    plan.flush(closer(&runtime, "log", ms(1500), Ok(()), &log).priority(1))
        .unwrap();
    plan.flush(closer(&runtime, "metrics", secs(3), Ok(()), &log))
        .unwrap();
    let report = run_with(&runtime, &plan, force_after(&runtime, &shutdown, secs(1)));
    assert_eq!(report.status, Status::Forced);
    assert_eq!(report.forced_by, Some(ForcedBy::Requested));
    // Forced at 1 s, budget 1 s: "log" ends at 1.5 s, "metrics" is cut at 2 s.
    assert_eq!(
        outcomes(&report.flushes),
        [
            ("log", Outcome::Ok, ms(1500)),
            ("metrics", Outcome::TimedOut, ms(500)),
        ]
    );
    assert_eq!(report.total, secs(2));
    assert_eq!(*log.lock().unwrap(), ["log", "metrics"]);
}

/// The graceful deadline forces (forcing on) in the middle of a slow closer: the closer is
/// cancelled, and the flush hooks still run, past the graceful deadline by at most the forced
/// flush budget (here the default's share of a short graceful deadline).
#[test]
#[cfg_attr(not(feature = "report-table"), ignore = "reads the report's table")]
fn the_graceful_deadline_forces_and_the_flush_hooks_still_run() {
    let config = Config::builder()
        .graceful(secs(5))
        .drain(secs(3))
        .close(secs(4))
        .build()
        .unwrap();
    assert_eq!(
        config.forced_flush(),
        secs(5) / 6,
        "shrunk with the flush deadline"
    );
    let (runtime, shutdown, plan, log) = setup(config);
    plan.register(closer(&runtime, "slow", secs(10), Ok(()), &log))
        .unwrap();
    plan.flush(closer(&runtime, "log", ms(500), Ok(()), &log))
        .unwrap();
    let stuck = shutdown.enter().unwrap();
    let report = run_with(&runtime, &plan, async {});
    assert_eq!(
        report.forced_by,
        Some(ForcedBy::Deadline(Phase::ClosingResources))
    );
    assert_eq!(
        outcomes(&report.resources),
        [("slow", Outcome::Cancelled, secs(2))]
    );
    assert_eq!(outcomes(&report.flushes), [("log", Outcome::Ok, ms(500))]);
    assert_eq!(report.total, ms(5500));
    assert!(
        report
            .to_string()
            .contains("  log                    -                   0    0.500s  ok"),
        "{report}"
    );
    drop(stuck);
}

// ===== The report is main's return value =====

/// `fn main() -> Report` exits with the report's code: `Termination` gives the `ExitCode` of
/// `exit_code()`, a `u8` that needs no cast.
#[test]
fn a_report_returned_from_main_exits_with_its_code() {
    use std::process::{ExitCode, Termination};

    let (runtime, _shutdown, plan, _log) = setup(Config::default());
    let completed = run_with(&runtime, &plan, async {});
    assert_eq!(completed.exit_code(), 0u8);
    assert_eq!(completed.report(), ExitCode::SUCCESS);

    let (runtime, shutdown, plan, _log) = setup(Config::default());
    let _stuck = shutdown.enter().unwrap();
    let forced = run_with(&runtime, &plan, {
        let shutdown = shutdown.clone();
        async move { shutdown.force(Reason::Signal(15)) }
    });
    assert_eq!(forced.exit_code(), 3u8);
    assert_eq!(forced.report(), ExitCode::from(3));
}

/// A note writer may call back into its plan (here: add a note): the plan runs its namers,
/// failure collectors and note writers outside its locks (promise 3). Under a lock this
/// deadlocks, so the test runs on a thread of its own and fails after 30 s.
#[test]
#[cfg_attr(not(feature = "report-table"), ignore = "reads the report's table")]
fn a_note_writer_may_call_back_into_the_plan() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = VirtualRuntime::new();
        let shutdown = Shutdown::new();
        let plan = Plan::new(shutdown.clone(), Config::default());
        // The writer drops its handle on the plan once used: no reference cycle is left.
        let again = Mutex::new(Some(plan.clone()));
        plan.note(move |notes| {
            notes.push("written".into());
            if let Some(again) = again.lock().unwrap().take() {
                again.note(|_| {});
            }
        });
        shutdown.trigger(Reason::Signal(15));
        let report = runtime.block_on(plan.run(&runtime));
        let _ = done.send(report.to_string());
    });
    let report = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the sequence ended (a deadlock holds it past 30 s)");
    assert!(report.contains("written"), "{report}");
}
