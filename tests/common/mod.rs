//! The scenario suite, written once and run on every runtime: each `tests/runtime_*.rs` file
//! implements [`Harness`] for its runtime and expands [`scenarios!`].
//!
//! Real runtimes, real clocks: deadlines that must pass are tens of milliseconds, deadlines
//! that must not are seconds, and nothing asserts on elapsed time. Tasks hand over with
//! [`Latch`]es and phase waits, not sleeps. Every scenario runs under a 20-second watchdog, so a
//! broken one fails instead of hanging.

use std::future::{pending, poll_fn, ready, Future};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use winddown::runtime::{BoxFuture, Runtime};
use winddown::{
    Config, ForcedBy, Outcome, Phase, Plan, Reason, Report, Resource, Shutdown, ShutdownExt,
    Status, TaskFailure, TaskSet,
};

/// What a scenario needs from a runtime.
pub(crate) trait Harness {
    /// The adapter's runtime.
    type Runtime: Runtime + Clone + 'static;

    /// The adapter's runtime; called inside [`block_on`](Self::block_on).
    fn runtime() -> Self::Runtime;

    /// Runs `future` to completion on this runtime, from a plain thread.
    fn block_on<F: Future>(future: F) -> F::Output;
}

/// Expands to one `#[test]` per scenario, for the harness given.
macro_rules! scenarios {
    ($harness:ty) => {
        scenarios!(@each $harness;
            clean_run,
            drain_overrun_names_the_stuck_task,
            dropping_the_task_set_cancels_its_tasks,
            closer_error_is_recorded_and_the_rest_run,
            closer_panic_is_recorded_and_the_rest_run,
            closer_hang_times_out_and_is_cancelled,
            hung_blocking_closer_is_abandoned,
            second_trigger_changes_nothing,
            force_forces_and_still_flushes,
            tasks_see_the_trigger,
            task_panic_is_recorded_and_releases_its_guard,
            until_shutdown_returns_at_the_trigger,
            guarded_work_is_drained_and_refused_after_close,
            app_error_triggers_with_its_reason,
            run_blocking_waits_for_the_trigger,
            a_task_holding_a_spawner_is_cancelled_with_its_set,
            a_failed_task_triggers_and_the_stop_exits_1,
            recorded_failures_do_not_trigger,
            task_handles_abort_and_tell_how_a_task_ended,
            forked_guards_fan_out_during_the_drain,
            trigger_when_idle_stops_a_batch,
            a_task_set_on_a_scope_is_named_by_the_plan,
            until_shutdown_ends_a_stream,
            short_graceful_deadline_shrinks_the_defaults,
            a_task_error_whose_display_panics_is_still_a_failure,
            a_destructor_that_panics_at_the_set_drop_is_recorded,
            trigger_when_idle_keeps_its_first_reason,
        );
    };
    (@each $harness:ty; $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                common::$name::<$harness>();
            }
        )*
    };
}

mod tasks;
pub(crate) use tasks::*;

// ===== helpers =====

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A deadline that a scenario must not reach.
const LONG: Duration = Duration::from_secs(10);

/// Runs `scenario` on `H` with a fresh runtime, under the watchdog.
fn run<H: Harness, F, Fut>(scenario: F)
where
    F: FnOnce(H::Runtime) -> Fut,
    Fut: Future<Output = ()>,
{
    H::block_on(async {
        let runtime = H::runtime();
        within(&runtime, scenario(runtime.clone())).await;
    });
}

/// `future`'s output, or a panic if it takes longer than the watchdog's 20 seconds.
async fn within<R: Runtime, F: Future>(runtime: &R, future: F) -> F::Output {
    let mut future = pin!(future);
    let mut watchdog = pin!(runtime.sleep(Duration::from_secs(20)));
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(output);
        }
        if watchdog.as_mut().poll(cx).is_ready() {
            panic!("the scenario did not finish within 20 seconds");
        }
        Poll::Pending
    })
    .await
}

/// A one-shot event between tasks. It is a `Shutdown` used only for its trigger: set once,
/// waited on by anyone, from any thread.
#[derive(Clone, Default)]
struct Latch(Shutdown);

impl Latch {
    fn set(&self) {
        if !self.0.is_triggered() {
            self.0.trigger(Reason::requested());
        }
    }

    async fn wait(&self) {
        self.0.triggered().await;
    }
}

/// Sets a latch when dropped: proof that a future was dropped (cancelled).
struct SetOnDrop(Latch);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// What happened, in order, across tasks.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A closer that logs its name, then returns `result`.
fn closer(name: &'static str, result: Result<(), &'static str>, log: &Log) -> Resource {
    let log = log.clone();
    Resource::new(name, move || async move {
        log.push(name);
        result.map_err(Into::into)
    })
}

fn plan(drain: Duration) -> Plan {
    let config = Config::builder().drain(drain).build().unwrap();
    Plan::new(Shutdown::new(), config)
}

fn phases(report: &Report) -> Vec<Phase> {
    report.phases.iter().map(|record| record.phase).collect()
}

fn outcomes(records: &[winddown::ResourceRecord]) -> Vec<(&str, Outcome)> {
    records
        .iter()
        .map(|record| (&*record.name, record.outcome.clone()))
        .collect()
}

// ===== scenarios =====

/// A worker stops at the trigger; the drain completes; resources close by priority, then the
/// flush hooks run; every phase is reported in order.
pub(crate) fn clean_run<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let log = Log::default();
        plan.register(closer("cache", Ok(()), &log).priority(5))
            .unwrap();
        plan.register(closer("db", Ok(()), &log).priority(10))
            .unwrap();
        plan.flush(closer("log", Ok(()), &log)).unwrap();

        let tasks = TaskSet::new(&plan, runtime.clone());
        let started = Latch::default();
        tasks
            .spawn("worker", {
                let (log, started, runtime) = (log.clone(), started.clone(), runtime.clone());
                move |ctx| async move {
                    started.set();
                    while ctx
                        .shutdown()
                        .until_shutdown(runtime.sleep(ms(1)))
                        .await
                        .is_some()
                    {}
                    log.push("worker stopped");
                }
            })
            .unwrap();
        started.wait().await;

        shutdown.trigger(Reason::Signal(15));
        let report = plan.run(runtime).await;

        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(report.exit_code(), 0);
        assert_eq!(report.reason, Some(Reason::Signal(15)));
        assert_eq!(
            phases(&report),
            [
                Phase::Initiated,
                Phase::StoppingNewRequests,
                Phase::Draining,
                Phase::ClosingResources,
                Phase::FlushingBuffers,
                Phase::Completed,
            ]
        );
        assert!(!report.drain.timed_out);
        assert_eq!(report.drain.left, 0);
        assert!(report.drain.still_in_flight.is_empty());
        assert_eq!(
            outcomes(&report.resources),
            [("db", Outcome::Ok), ("cache", Outcome::Ok)]
        );
        assert_eq!(outcomes(&report.flushes), [("log", Outcome::Ok)]);
        assert_eq!(log.entries(), ["worker stopped", "db", "cache", "log"]);
        assert!(tasks.is_empty());
        assert_eq!(shutdown.phase(), Phase::Completed);
    });
}

/// A task that ignores the trigger outlasts the drain deadline: the report says the drain
/// timed out and names that task (and not the one that stopped), and the resources still close.
///
/// The polite task is awaited (through its handle) before the sequence starts, so its stop
/// does not race the drain deadline on a loaded machine, and the deadline can be short.
pub(crate) fn drain_overrun_names_the_stuck_task<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(ms(30));
        let shutdown = plan.shutdown().clone();
        let log = Log::default();
        plan.register(closer("db", Ok(()), &log)).unwrap();

        let tasks = TaskSet::new(&plan, runtime.clone());
        tasks.spawn("stuck upload", |_| pending::<()>()).unwrap();
        let polite = tasks
            .spawn("polite", |ctx| async move {
                ctx.shutdown().triggered().await;
            })
            .unwrap();

        shutdown.trigger(Reason::Signal(15));
        assert_eq!(polite.await, winddown::task_set::TaskExit::Finished);
        let report = plan.run(runtime).await;

        assert_eq!(report.status, Status::TimedOut, "{report}");
        assert_eq!(report.exit_code(), 2);
        assert!(report.drain.timed_out);
        assert_eq!(report.drain.left, 1);
        assert_eq!(report.drain.still_in_flight, ["stuck upload"]);
        assert_eq!(outcomes(&report.resources), [("db", Outcome::Ok)]);
        assert_eq!(tasks.names(), ["stuck upload"]);
    });
}

/// Dropping a task set cancels the tasks still running: their futures are
/// dropped and their guards released, so the shutdown drains.
pub(crate) fn dropping_the_task_set_cancels_its_tasks<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(ms(30));
        let shutdown = plan.shutdown().clone();
        let tasks = TaskSet::new(&plan, runtime.clone());
        let dropped = Latch::default();
        tasks
            .spawn("stuck", {
                let dropped = SetOnDrop(dropped.clone());
                move |_| async move {
                    let _dropped = dropped;
                    pending::<()>().await;
                }
            })
            .unwrap();

        shutdown.trigger(Reason::Signal(15));
        let report = plan.run(runtime).await;
        assert_eq!(report.drain.still_in_flight, ["stuck"]);
        assert!(!shutdown.is_drained());

        drop(tasks);
        dropped.wait().await;
        shutdown.drained().await;
        assert_eq!(shutdown.in_flight(), 0);
    });
}

/// A closer that returns an error is recorded with its text, and the next one still runs.
pub(crate) fn closer_error_is_recorded_and_the_rest_run<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let log = Log::default();
        plan.register(closer("queue", Ok(()), &log)).unwrap();
        plan.register(closer("db", Err("connection reset"), &log).priority(1))
            .unwrap();

        plan.shutdown().trigger(Reason::Signal(15));
        let report = plan.run(runtime).await;

        assert_eq!(report.status, Status::Failed, "{report}");
        assert_eq!(report.exit_code(), 1);
        assert_eq!(
            outcomes(&report.resources),
            [
                ("db", Outcome::Error("connection reset".into())),
                ("queue", Outcome::Ok)
            ]
        );
        assert_eq!(log.entries(), ["db", "queue"]);
    });
}

/// A closer that panics is recorded with the panic's message (the runtime's panic detection),
/// the panic does not take the runtime down, and the next closer still runs.
pub(crate) fn closer_panic_is_recorded_and_the_rest_run<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let log = Log::default();
        plan.register(closer("queue", Ok(()), &log)).unwrap();
        plan.register(
            Resource::new("db", || async {
                if true {
                    panic!("pool poisoned");
                }
                Ok(())
            })
            .priority(1),
        )
        .unwrap();

        plan.shutdown().trigger(Reason::Signal(15));
        let report = plan.run(runtime).await;

        assert_eq!(report.status, Status::Failed, "{report}");
        assert_eq!(
            outcomes(&report.resources),
            [
                ("db", Outcome::Panicked(Some("pool poisoned".into()))),
                ("queue", Outcome::Ok)
            ]
        );
        assert_eq!(log.entries(), ["queue"]);
    });
}

/// A closer that hangs times out at its own deadline, is cancelled (its future is dropped), and
/// the next closer still runs.
pub(crate) fn closer_hang_times_out_and_is_cancelled<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let log = Log::default();
        let dropped = Latch::default();
        plan.register(closer("queue", Ok(()), &log)).unwrap();
        plan.register(
            Resource::new("db", {
                let dropped = SetOnDrop(dropped.clone());
                move || async move {
                    let _dropped = dropped;
                    pending::<()>().await
                }
            })
            .priority(1)
            .deadline(ms(30)),
        )
        .unwrap();

        plan.shutdown().trigger(Reason::Signal(15));
        let report = plan.run(runtime).await;

        assert_eq!(report.status, Status::TimedOut, "{report}");
        assert_eq!(
            outcomes(&report.resources),
            [("db", Outcome::TimedOut), ("queue", Outcome::Ok)]
        );
        assert_eq!(log.entries(), ["queue"]);
        // Cancelled, not just abandoned.
        dropped.wait().await;
    });
}

/// A blocking closer that never returns is abandoned at its deadline: the report comes, the
/// rest still run, and the runtime can be dropped afterwards (`main` returns) while the
/// abandoned closer still blocks. `block_on` runs on its own thread here, so a runtime whose
/// drop waits for the closer fails the bound instead of hanging the suite.
pub(crate) fn hung_blocking_closer_is_abandoned<H: Harness>() {
    let (release, hung) = std::sync::mpsc::channel::<()>();
    let finished = std::thread::spawn(move || {
        run::<H, _, _>(|runtime| async move {
            let plan = plan(LONG);
            let log = Log::default();
            plan.register(closer("queue", Ok(()), &log)).unwrap();
            plan.register(
                Resource::blocking("db", move || {
                    // Blocks until the test ends.
                    let _ = hung.recv();
                    Ok(())
                })
                .priority(1)
                .deadline(ms(30)),
            )
            .unwrap();

            plan.shutdown().trigger(Reason::Signal(15));
            let report = plan.run(runtime).await;

            assert_eq!(report.status, Status::TimedOut, "{report}");
            assert_eq!(
                outcomes(&report.resources),
                [("db", Outcome::TimedOut), ("queue", Outcome::Ok)]
            );
            assert_eq!(log.entries(), ["queue"]);
        });
    });
    let bound = std::time::Instant::now() + Duration::from_secs(20);
    while !finished.is_finished() {
        assert!(
            std::time::Instant::now() < bound,
            "the runtime could not be dropped: it waits for the abandoned closer"
        );
        std::thread::sleep(ms(10));
    }
    // Re-raises the scenario's own assertion failures.
    finished.join().unwrap();
    drop(release);
}

/// A plan (drain `LONG`) with a "db" resource and a "log" flush hook, its shutdown, and the
/// log of the closers that ran.
fn plan_with_db_and_log() -> (Plan, Shutdown, Log) {
    let plan = plan(LONG);
    let shutdown = plan.shutdown().clone();
    let log = Log::default();
    plan.register(closer("db", Ok(()), &log)).unwrap();
    plan.flush(closer("log", Ok(()), &log)).unwrap();
    (plan, shutdown, log)
}

/// Two parts of a program that each ask for the stop (a signal, then an admin endpoint during
/// the drain) get one complete, graceful stop: a repeated trigger changes nothing. Runs
/// through the adapter's `run_until_shutdown`, whose application future sends the second
/// trigger.
pub(crate) fn second_trigger_changes_nothing<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let (plan, shutdown, log) = plan_with_db_and_log();
        let tasks = TaskSet::new(&plan, runtime.clone());
        tasks
            .spawn(
                "worker",
                |ctx| async move { ctx.shutdown().triggered().await },
            )
            .unwrap();

        shutdown.trigger(Reason::Signal(15));
        let app = {
            let shutdown = shutdown.clone();
            async move {
                shutdown.reached(Phase::Draining).await;
                assert!(!shutdown.trigger(Reason::requested_because("admin endpoint")));
            }
        };
        let report = winddown::run_until_shutdown(&plan, H::runtime(), app).await;

        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(report.exit_code(), 0);
        assert_eq!(report.forced_by, None);
        assert_eq!(report.reason, Some(Reason::Signal(15)));
        assert_eq!(outcomes(&report.resources), [("db", Outcome::Ok)]);
        assert_eq!(outcomes(&report.flushes), [("log", Outcome::Ok)]);
        assert_eq!(log.entries(), ["db", "log"]);
        assert_eq!(shutdown.phase(), Phase::Completed);
    });
}

/// A force during the drain (the signal listener's second signal) forces the shutdown: the
/// sequence stops waiting, skips every closer, runs the flush hooks within the forced flush
/// budget, and reports `Forced`, asked to stop at once.
pub(crate) fn force_forces_and_still_flushes<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let (plan, shutdown, log) = plan_with_db_and_log();
        let tasks = TaskSet::new(&plan, runtime.clone());
        tasks.spawn("stuck", |_| pending::<()>()).unwrap();

        shutdown.trigger(Reason::Signal(15));
        let app = {
            let shutdown = shutdown.clone();
            async move {
                shutdown.reached(Phase::Draining).await;
                shutdown.force(Reason::Signal(15));
            }
        };
        let report = winddown::run_until_shutdown(&plan, H::runtime(), app).await;

        assert_eq!(report.status, Status::Forced, "{report}");
        assert_eq!(report.exit_code(), 3);
        assert_eq!(report.forced_by, Some(ForcedBy::Requested));
        assert_eq!(
            phases(&report),
            [
                Phase::Initiated,
                Phase::StoppingNewRequests,
                Phase::Draining,
                Phase::Forced,
            ]
        );
        assert!(!report.drain.timed_out);
        assert_eq!(report.drain.still_in_flight, ["stuck"]);
        assert_eq!(outcomes(&report.resources), [("db", Outcome::Skipped)]);
        assert_eq!(outcomes(&report.flushes), [("log", Outcome::Ok)]);
        assert_eq!(log.entries(), ["log"], "only the flush hook ran");
        assert_eq!(shutdown.phase(), Phase::Forced);
    });
}

/// Tasks see the trigger in each of the three ways a task can look (`until_shutdown`,
/// `triggered().await`, `is_triggered()` between steps), stop, and the drain waits for all of
/// them before the resources close.
pub(crate) fn tasks_see_the_trigger<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let log = Log::default();
        plan.register(closer("db", Ok(()), &log)).unwrap();
        let tasks = TaskSet::new(&plan, runtime.clone());

        let (l, r) = (log.clone(), runtime.clone());
        tasks
            .spawn("until_shutdown", move |ctx| async move {
                while ctx
                    .shutdown()
                    .until_shutdown(r.sleep(ms(1)))
                    .await
                    .is_some()
                {}
                l.push("until_shutdown stopped");
            })
            .unwrap();
        let l = log.clone();
        tasks
            .spawn("triggered", move |ctx| async move {
                ctx.shutdown().triggered().await;
                l.push("triggered stopped");
            })
            .unwrap();
        let (l, r) = (log.clone(), runtime.clone());
        tasks
            .spawn("is_triggered", move |ctx| async move {
                while !ctx.shutdown().is_triggered() {
                    r.sleep(ms(1)).await;
                }
                l.push("is_triggered stopped");
            })
            .unwrap();
        assert_eq!(shutdown.in_flight(), 3);

        shutdown.trigger(Reason::Signal(15));
        let report = plan.run(runtime).await;

        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(report.drain.left, 0);
        let mut entries = log.entries();
        assert_eq!(
            entries.pop().as_deref(),
            Some("db"),
            "the drain waited for every task"
        );
        entries.sort();
        assert_eq!(
            entries,
            [
                "is_triggered stopped",
                "triggered stopped",
                "until_shutdown stopped"
            ]
        );
        assert!(tasks.is_empty());
    });
}

/// A task that panics is recorded by the task set with its message, its guard is released (the
/// drain completes), the runtime survives, and the report lists it and exits 1 although the
/// sequence completed.
pub(crate) fn task_panic_is_recorded_and_releases_its_guard<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let tasks = TaskSet::new(&plan, runtime.clone());
        tasks
            .spawn("parser", |ctx| async move {
                ctx.shutdown().triggered().await;
                if ctx.shutdown().is_triggered() {
                    panic!("bad input");
                }
            })
            .unwrap();

        shutdown.trigger(Reason::Signal(15));
        let report = plan.run(runtime).await;

        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(report.drain.left, 0);
        assert_eq!(
            tasks.panicked(),
            [("parser".to_string(), Some("bad input".to_string()))]
        );
        assert_eq!(
            report.task_failures,
            [TaskFailure::panic("parser", Some("bad input".into()))]
        );
        assert_eq!(report.exit_code(), 1);
        assert!(tasks.is_empty());
    });
}

/// `until_shutdown` passes the output through before the trigger, returns `None` at the
/// trigger (well before a deadline it would otherwise wait for), and prefers the trigger over a
/// future that is ready.
pub(crate) fn until_shutdown_returns_at_the_trigger<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        assert_eq!(shutdown.until_shutdown(ready(5)).await, Some(5));

        let tasks = TaskSet::new(&plan, runtime.clone());
        let waiting = Latch::default();
        let got = Arc::new(Mutex::new(None));
        tasks
            .spawn("waiter", {
                let (waiting, got, runtime) = (waiting.clone(), got.clone(), runtime.clone());
                move |ctx| async move {
                    waiting.set();
                    let slept = ctx.shutdown().until_shutdown(runtime.sleep(LONG)).await;
                    *got.lock().unwrap() = Some(slept);
                }
            })
            .unwrap();
        waiting.wait().await;

        shutdown.trigger(Reason::Signal(15));
        let report = plan.run(runtime).await;

        assert_eq!(report.status, Status::Completed, "{report}");
        assert!(!report.drain.timed_out);
        assert_eq!(*got.lock().unwrap(), Some(None), "returned at the trigger");
        assert_eq!(shutdown.until_shutdown(ready(5)).await, None);
    });
}

/// Work run through `guarded` is admitted when made and counted in the drain (which waits for
/// it); once admissions are closed, new guarded work is refused with `Closed`.
pub(crate) fn guarded_work_is_drained_and_refused_after_close<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let log = Log::default();
        plan.register(closer("db", Ok(()), &log)).unwrap();

        let gate = Latch::default();
        let work = shutdown.guarded({
            let (gate, log) = (gate.clone(), log.clone());
            async move {
                gate.wait().await;
                log.push("request done");
            }
        });
        assert!(work.is_admitted());
        let join = runtime.spawn(Box::pin(async move {
            work.await.unwrap();
        }) as BoxFuture<()>);

        shutdown.trigger(Reason::Signal(15));
        let app = {
            let (shutdown, gate, log) = (shutdown.clone(), gate.clone(), log.clone());
            async move {
                shutdown.reached(Phase::Draining).await;
                let refused = shutdown.guarded(async {}).await.unwrap_err();
                assert!(refused.phase() >= Phase::StoppingNewRequests);
                log.push("late request refused");
                gate.set();
                pending::<()>().await;
            }
        };
        let report = winddown::run_until_shutdown(&plan, H::runtime(), app).await;

        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(report.drain.in_flight_at_start, 1);
        assert_eq!(report.drain.left, 0);
        assert_eq!(
            log.entries(),
            ["late request refused", "request done", "db"]
        );
        assert_eq!(shutdown.refused(), 1);
        drop(join);
    });
}

/// An application future that fails before any trigger starts the shutdown, and its error is
/// the report's reason.
pub(crate) fn app_error_triggers_with_its_reason<H: Harness>() {
    run::<H, _, _>(|_runtime| async move {
        let plan = plan(LONG);
        let log = Log::default();
        plan.register(closer("db", Ok(()), &log)).unwrap();

        let app = async { Err::<(), _>("listener failed") };
        let report = winddown::run_until_shutdown(&plan, H::runtime(), app).await;

        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(report.reason, Some(Reason::error("listener failed")));
        assert_eq!(report.exit_code(), 1, "a stop for an error exits 1");
        assert_eq!(report.forced_by, None);
        assert_eq!(log.entries(), ["db"]);
    });
}

/// A synchronous `main`'s recipe, the plan's run blocked on from a plain thread, waits for a
/// trigger from another thread, then runs the sequence, whose drain waits for the work that
/// thread still holds.
pub(crate) fn run_blocking_waits_for_the_trigger<H: Harness>() {
    let plan = plan(LONG);
    let shutdown = plan.shutdown().clone();
    let log = Log::default();
    plan.register(closer("db", Ok(()), &log)).unwrap();

    let worker = std::thread::spawn({
        let (log, shutdown) = (log.clone(), shutdown.clone());
        let guard = shutdown.enter().unwrap();
        move || {
            shutdown.trigger(Reason::requested());
            shutdown.blocking().reached(Phase::Draining, None);
            log.push("worker done");
            drop(guard);
        }
    });
    let report = H::block_on(plan.run(H::runtime()));
    worker.join().unwrap();

    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!(report.reason, Some(Reason::requested()));
    assert_eq!(report.drain.left, 0);
    assert_eq!(log.entries(), ["worker done", "db"]);
}

/// Issue 13, item 10: a short graceful deadline alone is a valid configuration: the drain and
/// close defaults shrink to fit it, so a stuck task times the drain out and the resources still
/// close, well before the graceful deadline would force the stop.
pub(crate) fn short_graceful_deadline_shrinks_the_defaults<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let config = Config::builder().graceful(ms(600)).build().unwrap();
        assert!(config.drain() <= ms(200), "{config:?}");
        let plan = Plan::new(Shutdown::new(), config);
        let log = Log::default();
        plan.register(closer("db", Ok(()), &log)).unwrap();
        let tasks = TaskSet::new(&plan, runtime.clone());
        tasks.spawn("stuck", |_| pending::<()>()).unwrap();

        plan.shutdown().trigger(Reason::Signal(15));
        let report = plan.run(runtime).await;
        assert_eq!(report.status, Status::TimedOut, "{report}");
        assert_eq!(report.forced_by, None);
        assert_eq!(report.drain.still_in_flight, ["stuck"]);
        assert_eq!(outcomes(&report.resources), [("db", Outcome::Ok)]);
    });
}
