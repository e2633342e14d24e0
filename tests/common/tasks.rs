//! Scenarios of the task set's everyday API (issue 13): spawners that do not keep the set
//! alive, failing and panicking tasks, per-task handles, forked guards, stopping when the work
//! is done, task sets on a scope, and the stream form of `until_shutdown`.

use std::future::{pending, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use winddown::runtime::{BoxFuture, Runtime, TaskOutcome};
use winddown::task_set::{OnFailure, SpawnError, TaskExit};
use winddown::{Reason, ShutdownExt, Status, TaskFailure, TaskSet};

use super::{plan, run, Harness, Latch, Log, SetOnDrop, LONG};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A runtime that counts its drops: the set's runtime is dropped with the set's shared state,
/// so a count of 1 after the set is dropped proves that state was freed.
struct Counted<R> {
    runtime: R,
    drops: Arc<AtomicUsize>,
}

impl<R: Runtime> Runtime for Counted<R> {
    fn now(&self) -> Duration {
        self.runtime.now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        self.runtime.sleep(duration)
    }

    fn spawn(&self, task: BoxFuture<()>) -> BoxFuture<TaskOutcome> {
        self.runtime.spawn(task)
    }

    fn spawn_detached(&self, task: BoxFuture<()>) {
        self.runtime.spawn_detached(task)
    }
}

impl<R> Drop for Counted<R> {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Defect 1: a task that keeps its context's spawner (and a sibling it spawned, which keeps
/// one too) does not keep the set alive: dropping the set cancels both tasks and frees the
/// set (its runtime is dropped), and the spawner then refuses. (Before, a task spawned
/// siblings through a clone of the set, and that clone kept the set and its tasks alive.)
pub(crate) fn a_task_holding_a_spawner_is_cancelled_with_its_set<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let drops = Arc::new(AtomicUsize::new(0));
        let tasks = TaskSet::new(
            &plan,
            Counted {
                runtime,
                drops: drops.clone(),
            },
        );
        let (parent_dropped, child_dropped) = (Latch::default(), Latch::default());
        let spawner = Arc::new(std::sync::Mutex::new(None));
        let parent_spawned = Latch::default();
        tasks
            .spawn("parent", {
                let (parent_dropped, child_dropped) =
                    (parent_dropped.clone(), child_dropped.clone());
                let (spawner, parent_spawned) = (spawner.clone(), parent_spawned.clone());
                // Made before the futures, so they are set even if a future is dropped before
                // its first poll.
                let (parent_dropped, child_dropped) =
                    (SetOnDrop(parent_dropped), SetOnDrop(child_dropped));
                move |ctx| async move {
                    let _dropped = parent_dropped;
                    let keep = ctx.spawner().clone();
                    ctx.spawner()
                        .spawn("child", move |ctx| async move {
                            let _dropped = child_dropped;
                            let _keep = ctx.spawner().clone();
                            pending::<()>().await;
                        })
                        .unwrap();
                    *spawner.lock().unwrap() = Some(keep.clone());
                    parent_spawned.set();
                    let _keep = (keep, ctx);
                    pending::<()>().await;
                }
            })
            .unwrap();
        parent_spawned.wait().await;
        assert_eq!(tasks.names(), ["parent", "child"]);
        assert_eq!(shutdown.in_flight(), 2);

        drop(tasks);
        assert_eq!(drops.load(Ordering::SeqCst), 1, "the set was not freed");
        parent_dropped.wait().await;
        child_dropped.wait().await;
        shutdown.close();
        shutdown.drained().await;
        let spawner = spawner.lock().unwrap().take().unwrap();
        assert!(matches!(
            spawner.spawn("late", |_| async {}),
            Err(SpawnError::SetDropped)
        ));
    });
}

/// Item 3 and 4: a task that returns an error triggers the shutdown (the default policy) with
/// a reason naming it; the report lists it in `task_failures` and in its table, and the stop
/// exits 1 although the sequence completed.
pub(crate) fn a_failed_task_triggers_and_the_stop_exits_1<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let tasks = TaskSet::new(&plan, runtime.clone());
        tasks
            .spawn(
                "worker",
                |ctx| async move { ctx.shutdown().triggered().await },
            )
            .unwrap();
        let indexer = tasks
            .spawn("indexer", |_| async { Err("disk full") })
            .unwrap();
        assert_eq!(indexer.await, TaskExit::Failed("disk full"));
        assert_eq!(
            shutdown.reason(),
            Some(&Reason::error("task indexer failed: disk full"))
        );

        let report = plan.run(runtime).await;
        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(
            report.task_failures,
            [TaskFailure::error("indexer", "disk full")]
        );
        assert_eq!(report.exit_code(), 1);
        assert!(report
            .to_string()
            .contains("task indexer failed: disk full"));
    });
}

/// Item 3: under `OnFailure::Record`, failures and panics do not trigger; they are recorded,
/// in order, with their messages, and still make the exit code 1.
pub(crate) fn recorded_failures_do_not_trigger<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let tasks = TaskSet::new(&plan, runtime.clone()).on_failure(OnFailure::Record);
        let error = tasks
            .spawn("loader", |_| async {
                Err::<(), Box<dyn std::error::Error + Send + Sync>>("no such file".into())
            })
            .unwrap();
        assert!(matches!(error.await, TaskExit::Failed(e) if e.to_string() == "no such file"));
        let panic = tasks
            .spawn("parser", |_| async {
                let input = "";
                assert!(!input.is_empty(), "bad input");
            })
            .unwrap();
        assert_eq!(panic.await, TaskExit::Panicked(Some("bad input".into())));
        assert!(!shutdown.is_triggered());

        shutdown.trigger(Reason::Signal(15));
        let report = plan.run(runtime).await;
        assert_eq!(
            report.task_failures,
            [
                TaskFailure::error("loader", "no such file"),
                TaskFailure::panic("parser", Some("bad input".into())),
            ]
        );
        assert_eq!(report.reason, Some(Reason::Signal(15)));
        assert_eq!(report.exit_code(), 1);
    });
}

/// Item 6: each spawn returns a handle that tells whether the task ended and how; `abort`
/// cancels a task (dropping its future and releasing its guard) and is not a failure.
pub(crate) fn task_handles_abort_and_tell_how_a_task_ended<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let tasks = TaskSet::new(&plan, runtime.clone());
        let finished = tasks.spawn("quick", |_| async {}).unwrap();
        let dropped = Latch::default();
        let forever = tasks
            .spawn("forever", {
                let dropped = SetOnDrop(dropped.clone());
                move |_| async move {
                    let _dropped = dropped;
                    pending::<()>().await;
                }
            })
            .unwrap();
        assert_eq!(forever.name(), "forever");
        assert_eq!(finished.await, TaskExit::Finished);
        assert!(!forever.is_finished());

        forever.abort();
        dropped.wait().await;
        assert_eq!(forever.await, TaskExit::Cancelled);
        assert!(tasks.is_empty());
        assert_eq!(shutdown.in_flight(), 0);
        assert!(tasks.failures().is_empty());
        assert!(!shutdown.is_triggered());
    });
}

/// Item 5: a request admitted before the close fans out during the drain: its sub-tasks get
/// forks of its guard (through the set, and as a plain guard), the drain waits for all of
/// them, and new admissions stay refused.
pub(crate) fn forked_guards_fan_out_during_the_drain<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let tasks = TaskSet::new(&plan, runtime.clone());
        let log = Log::default();
        let request = shutdown.enter().unwrap();
        shutdown.trigger(Reason::Signal(15));
        let run = {
            let (plan, runtime) = (plan.clone(), runtime.clone());
            async move { plan.run(runtime).await }
        };
        let release = Latch::default();
        let fan_out = {
            let (shutdown, log, release) = (shutdown.clone(), log.clone(), release.clone());
            async move {
                shutdown.reached(winddown::Phase::Draining).await;
                assert!(shutdown.enter().is_err());
                assert!(tasks.spawn("refused", |_| async {}).is_err());
                let audit = tasks.spawn_with_guard("audit", request.fork(), {
                    let (log, release) = (log.clone(), release.clone());
                    move |_| async move {
                        release.wait().await;
                        log.push("audit done");
                    }
                });
                let plain = request.fork();
                drop(request);
                assert!(!shutdown.is_drained());
                drop(plain);
                assert!(!shutdown.is_drained());
                release.set();
                assert_eq!(audit.await, TaskExit::Finished);
                log.push("request done");
            }
        };
        let (report, ()) = join(run, fan_out).await;
        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(report.drain.left, 0);
        assert_eq!(log.entries(), ["audit done", "request done"]);
    });
}

/// Item 7: `idle` completes when the set's tasks have all ended, admissions still open; and
/// `trigger_when_idle` stops a batch by itself. A task that spawns its follow-up before it
/// ends keeps the batch going.
pub(crate) fn trigger_when_idle_stops_a_batch<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let tasks = TaskSet::new(&plan, runtime.clone());
        tasks.spawn("warm-up", |_| async {}).unwrap();
        tasks.idle().await;
        assert!(tasks.is_empty());
        assert!(!shutdown.is_triggered() && shutdown.enter().is_ok());

        let log = Log::default();
        for part in ["part 1", "part 2"] {
            let log = log.clone();
            tasks
                .spawn(part, move |ctx| async move {
                    // A follow-up, spawned before this task ends.
                    let follow_up = format!("{part} follow-up");
                    let log2 = log.clone();
                    ctx.spawner()
                        .spawn(follow_up.clone(), move |_| async move {
                            log2.push(follow_up);
                        })
                        .unwrap();
                    log.push(part);
                })
                .unwrap();
        }
        tasks.trigger_when_idle(Reason::requested_because("batch done"));
        let report = winddown::run_until_shutdown(&plan, H::runtime(), pending::<()>()).await;
        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(report.reason, Some(Reason::requested_because("batch done")));
        assert_eq!(report.exit_code(), 0);
        let mut entries = log.entries();
        entries.sort();
        assert_eq!(
            entries,
            ["part 1", "part 1 follow-up", "part 2", "part 2 follow-up"]
        );
    });
}

/// Item 8: a library's task set on a child scope, with no plan of its own: the service's
/// drain waits for it through the scope, and the plan it reports to names its stuck task.
pub(crate) fn a_task_set_on_a_scope_is_named_by_the_plan<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(ms(50));
        let library = plan.shutdown().child();
        let tasks = TaskSet::with_shutdown(&library, runtime.clone());
        tasks.report_to(&plan);
        tasks.spawn("stuck poller", |_| pending::<()>()).unwrap();
        let polite = tasks
            .spawn("polite poller", |ctx| async move {
                ctx.shutdown().triggered().await
            })
            .unwrap();

        plan.shutdown().trigger(Reason::Signal(15));
        // Stopped before the sequence starts: no race with the short drain deadline.
        assert_eq!(polite.await, TaskExit::Finished);
        let report = plan.run(runtime).await;
        assert_eq!(report.status, Status::TimedOut, "{report}");
        assert_eq!(report.drain.still_in_flight, ["stuck poller"]);
        assert!(library.is_triggered());
        assert_eq!(tasks.names(), ["stuck poller"]);
    });
}

/// Item 9: `until_shutdown` on a stream yields its items until the trigger, then ends (an
/// always-ready stream too, and a stream that waits); the inner stream can be recovered.
pub(crate) fn until_shutdown_ends_a_stream<H: Harness>() {
    use smol::stream::StreamExt;

    run::<H, _, _>(|runtime| async move {
        let shutdown = winddown::Shutdown::new();
        let tasks = TaskSet::with_shutdown(&shutdown, runtime.clone());
        let waiting = tasks
            .spawn("waiting consumer", |ctx| async move {
                let mut never = ctx
                    .shutdown()
                    .until_shutdown(smol::stream::pending::<u32>());
                assert_eq!(never.next().await, None);
            })
            .unwrap();

        let mut jobs = shutdown.until_shutdown(smol::stream::iter(1..));
        assert_eq!(jobs.next().await, Some(1));
        assert_eq!(jobs.next().await, Some(2));
        shutdown.trigger(Reason::requested());
        assert_eq!(jobs.next().await, None);
        assert_eq!(jobs.next().await, None, "an ended stream stays ended");
        assert_eq!(jobs.get_mut().next().await, Some(3));
        assert_eq!(jobs.into_inner().next().await, Some(4));
        assert_eq!(waiting.await, TaskExit::Finished);
    });
}

/// An error whose `Display` panics: it cannot say what went wrong, but the task still failed.
#[derive(Debug)]
struct Unprintable;

impl std::fmt::Display for Unprintable {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("no words")
    }
}

/// Issue 21, item 8: a task error whose `Display` panics is still a failure: it triggers the
/// shutdown, is listed in the report, and makes the exit code 1. (Before, the panic escaped
/// while the failure was being recorded: no failure, no trigger, exit 0.)
pub(crate) fn a_task_error_whose_display_panics_is_still_a_failure<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let shutdown = plan.shutdown().clone();
        let tasks = TaskSet::new(&plan, runtime.clone());
        let task = tasks.spawn("mute", |_| async { Err(Unprintable) }).unwrap();
        assert!(matches!(task.await, TaskExit::Failed(Unprintable)));
        let failure = TaskFailure::error("mute", "(the error's Display panicked: no words)");
        assert_eq!(tasks.failures(), std::slice::from_ref(&failure));
        assert_eq!(
            shutdown.reason(),
            Some(&Reason::error(format_args!("task {failure}")))
        );
        let report = plan.run(runtime).await;
        assert_eq!(report.task_failures, [failure]);
        assert_eq!(report.exit_code(), 1, "{report}");
    });
}

/// Panics when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("destructor")
    }
}

/// Issue 21, item 8: a task whose destructor panics, cancelled by dropping its set, ends as a
/// panic and is recorded as one, on every runtime. (Before, smol cancelled it inside its task
/// handle's drop, where a panic aborts the process: SIGABRT.)
pub(crate) fn a_destructor_that_panics_at_the_set_drop_is_recorded<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let tasks = TaskSet::new(&plan, runtime.clone()).on_failure(OnFailure::Record);
        let started = Latch::default();
        let doomed = tasks
            .spawn("doomed", {
                let started = started.clone();
                move |_| async move {
                    let _bomb = PanicsOnDrop;
                    started.set();
                    pending::<()>().await
                }
            })
            .unwrap();
        started.wait().await;
        drop(tasks);
        assert_eq!(doomed.await, TaskExit::Panicked(Some("destructor".into())));
        plan.shutdown().trigger(Reason::requested());
        let report = plan.run(runtime).await;
        assert_eq!(
            report.task_failures,
            [TaskFailure::panic("doomed", Some("destructor".into()))]
        );
    });
}

/// Issue 21, item 8: `trigger_when_idle` called twice fires once, with the first reason.
/// (Before, the second call's reason replaced the first.)
pub(crate) fn trigger_when_idle_keeps_its_first_reason<H: Harness>() {
    run::<H, _, _>(|runtime| async move {
        let plan = plan(LONG);
        let tasks = TaskSet::new(&plan, runtime.clone());
        let release = Latch::default();
        tasks
            .spawn("batch", {
                let release = release.clone();
                move |_| async move { release.wait().await }
            })
            .unwrap();
        tasks.trigger_when_idle(Reason::requested_because("first"));
        tasks.trigger_when_idle(Reason::requested_because("second"));
        release.set();
        let report = winddown::run_until_shutdown(&plan, H::runtime(), pending::<()>()).await;
        assert_eq!(report.reason, Some(Reason::requested_because("first")));
        assert_eq!(report.forced_by, None);
    });
}

/// Both futures to completion, polled in turn.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(|cx| {
        if out_a.is_none() {
            if let std::task::Poll::Ready(out) = a.as_mut().poll(cx) {
                out_a = Some(out);
            }
        }
        if out_b.is_none() {
            if let std::task::Poll::Ready(out) = b.as_mut().poll(cx) {
                out_b = Some(out);
            }
        }
        if out_a.is_some() && out_b.is_some() {
            std::task::Poll::Ready((out_a.take().unwrap(), out_b.take().unwrap()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
