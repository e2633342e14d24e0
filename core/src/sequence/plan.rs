//! The [`Plan`] handle: registration, progress, and `run` (which hands the sequence itself to
//! `run.rs`).
//!
//! The sequence, once triggered: `Initiated` (not ready; the pre-stop delay) →
//! `StoppingNewRequests` (admissions closed) → `Draining` (until drained or the drain deadline)
//! → `ClosingResources` (by priority, each within its deadline) → `FlushingBuffers` (within the
//! flush deadline) → `Completed`. A force (a second signal), or the graceful deadline with
//! forcing on, moves it to `Forced` from wherever it is; the flush hooks still get a short
//! budget.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::future::{poll_fn, Future};
use core::task::Poll;
use core::time::Duration;

use super::config::MAX_DEADLINE;
use super::error::{Refused, RegisterError};
use super::report::{Progress, TaskFailure};
use super::runtime::Runtime;
use super::state::{Entries, PlanInner, RunState, Stage};
use crate::raw::Lock;
use crate::{Config, Phase, Report, Resource, Shutdown};

/// Resources, flush hooks and deadlines for one [`Shutdown`], and the sequence that uses them.
///
/// A plan is a cheap handle (clone it to give libraries a way to register their resources).
/// [`run`](Self::run) waits for the trigger, then runs the sequence once and returns the
/// [`Report`].
///
/// # When registration closes
///
/// Registration stays open after the trigger, through the pre-stop delay and the drain, until
/// the sequence starts closing resources: a resource opened while a stop is pending (a signal
/// that came during startup) is still closed in order. From then on,
/// [`register`](Self::register) and [`flush`](Self::flush) refuse, and hand the resource back
/// in the error ([`Refused::into_resource`]) so the caller can close it itself.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use std::time::Duration;
/// use winddown::runtime::Runtime;
/// use winddown::testing::VirtualRuntime;
/// use winddown::{Config, Phase, Plan, Reason, Resource, Shutdown, Status};
///
/// let shutdown = Shutdown::new();
/// let config = Config::builder().drain(Duration::from_secs(2)).build()?;
/// let plan = Plan::new(shutdown.clone(), config);
/// plan.register(Resource::new("db", || async { Ok(()) }).priority(10))?;
/// plan.flush(Resource::blocking("log", || Ok(())))?;
///
/// let request = shutdown.enter()?;
/// let runtime = VirtualRuntime::new();
/// let report = runtime.block_on({
///     let runtime = runtime.clone();
///     let shutdown = shutdown.clone();
///     async move {
///         shutdown.trigger(Reason::Signal(15));
///         // The request finishes after one virtual second.
///         runtime.spawn_detached({
///             let runtime = runtime.clone();
///             async move {
///                 runtime.sleep(Duration::from_secs(1)).await;
///                 drop(request);
///             }
///         });
///         plan.run(&runtime).await
///     }
/// });
/// assert_eq!(report.status, Status::Completed);
/// assert_eq!(report.phase(Phase::Draining).unwrap().duration, Duration::from_secs(1));
/// assert_eq!(report.exit_code(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Plan {
    inner: Arc<PlanInner>,
}

impl Plan {
    /// A plan for `shutdown` with `config`'s deadlines.
    pub fn new(shutdown: Shutdown, config: Config) -> Self {
        Plan {
            inner: Arc::new(PlanInner {
                shutdown,
                config,
                entries: Lock::new(Entries::default()),
                run: Lock::new(RunState::default()),
            }),
        }
    }

    /// The shutdown this plan runs.
    pub fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// The deadlines.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Registers a resource to close in the `ClosingResources` phase. Higher priority closes
    /// first; equal priorities close in reverse registration order.
    ///
    /// Accepted until the sequence starts closing resources, even after the trigger (see
    /// [When registration closes](Self#when-registration-closes)).
    ///
    /// # Errors
    ///
    /// [`Refused`], holding the resource, if the sequence has started closing resources
    /// ([`RegisterError::Closing`]), or the resource's deadline is zero or too large.
    pub fn register(&self, resource: Resource) -> Result<(), Refused> {
        self.add(resource, |entries| &mut entries.resources)
    }

    /// Registers a flush hook to run in the `FlushingBuffers` phase, ordered like resources,
    /// all within the config's flush deadline (a hook may set a shorter one of its own).
    ///
    /// # Errors
    ///
    /// As [`register`](Self::register): open until the sequence starts closing resources.
    pub fn flush(&self, hook: Resource) -> Result<(), Refused> {
        self.add(hook, |entries| &mut entries.flushes)
    }

    /// Calls `observer` with each phase the sequence moves to, and its offset from the
    /// trigger: a hook for progress logging or metrics. Observers must be added before the
    /// sequence starts running; later ones are not called.
    ///
    /// With `std`, an observer that panics is caught: the report lists it
    /// ([`Report::observer_panics`]), it is called no more, and the sequence goes on.
    ///
    /// # Blocking
    ///
    /// An observer runs inline, on the task that carries out the sequence (a thread of your
    /// runtime), between two steps, and nothing else of the stop happens while it runs: no
    /// deadline can fire and no force can act (on a current-thread runtime no other task runs
    /// either). So an observer that blocks holds the whole stop: a `println!` to a full stdout
    /// pipe nobody reads, a synchronous HTTP call, a lock held elsewhere. The report then shows
    /// the step after it late, and only a third signal ends the process.
    ///
    /// An observer must only hand its event over, never wait: push it into a bounded queue
    /// without blocking (dropping it when the queue is full) and write it from a thread or task
    /// of your own, as below; or set an atomic. Or watch the phases from your own task instead,
    /// with [`Shutdown::reached`] (the offsets are in [`progress`](Self::progress)).
    ///
    /// Observers are not moved off the sequence's task by the crate: the core has no threads
    /// of its own (it is `no_std`), an observer on the task sees each phase in order before the
    /// step that follows it starts (what the systemd integration's `STATUS=` needs), and the
    /// virtual clock's tests stay deterministic.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use winddown::{Config, Phase, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let (events, log) = mpsc::sync_channel::<(Phase, Duration)>(64);
    /// plan.on_phase(move |phase, at| {
    ///     // Never waits: with the queue full, the event is dropped.
    ///     let _ = events.try_send((phase, at));
    /// });
    /// std::thread::spawn(move || {
    ///     for (phase, at) in log {
    ///         // May block on a full stderr pipe: only this thread waits, not the stop.
    ///         eprintln!("[{at:?}] {phase}");
    ///     }
    /// });
    /// ```
    pub fn on_phase(&self, observer: impl FnMut(Phase, Duration) + Send + 'static) {
        self.inner.registering().observers.push(Box::new(observer));
    }

    /// Registers a source of names for work in flight: when the drain ends with work still in
    /// flight (its deadline passed, or the shutdown was forced first), the sequence calls
    /// `namer` to push the names of what is still running into the report's
    /// [`DrainRecord::still_in_flight`](crate::DrainRecord::still_in_flight). Task sets in the
    /// runtime adapters use it to name their stuck tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Config, Plan, Shutdown};
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// plan.name_in_flight(|names| names.push("worker 3".into()));
    /// ```
    pub fn name_in_flight(&self, namer: impl FnMut(&mut Vec<String>) + Send + 'static) {
        self.inner.registering().namers.push(Box::new(namer));
    }

    /// Registers a source of failed tasks: when the sequence ends, it calls `collector` to push
    /// the tasks that failed or panicked into the report's
    /// [`task_failures`](crate::Report::task_failures), which make the exit code non-zero.
    /// Task sets in the runtime adapters use it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::testing::VirtualRuntime;
    /// use winddown::{Config, Plan, Reason, Shutdown, Status, TaskFailure};
    ///
    /// let shutdown = Shutdown::new();
    /// let plan = Plan::new(shutdown.clone(), Config::default());
    /// plan.collect_failures(|failures| failures.push(TaskFailure::error("indexer", "disk full")));
    /// shutdown.trigger(Reason::requested());
    /// let runtime = VirtualRuntime::new();
    /// let report = runtime.block_on(plan.run(&runtime));
    /// assert_eq!(report.status, Status::Completed); // the sequence itself went well
    /// assert_eq!(report.exit_code(), 1); // but the service did not
    /// ```
    pub fn collect_failures(&self, collector: impl FnMut(&mut Vec<TaskFailure>) + Send + 'static) {
        self.inner
            .registering()
            .collectors
            .push(Box::new(collector));
    }

    /// Registers a source of notes: when the sequence ends, `writer` pushes lines into the
    /// report's [`notes`](crate::Report::notes) (an integration's own counts, such as an HTTP
    /// server's connections: accepted, closed idle, drained, cut).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::testing::VirtualRuntime;
    /// use winddown::{Config, Plan, Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let plan = Plan::new(shutdown.clone(), Config::default());
    /// plan.note(|notes| notes.push("http 127.0.0.1:8080: 3 connections, 1 cut".into()));
    /// shutdown.trigger(Reason::requested());
    /// let runtime = VirtualRuntime::new();
    /// let report = runtime.block_on(plan.run(&runtime));
    /// assert_eq!(report.notes, ["http 127.0.0.1:8080: 3 connections, 1 cut"]);
    /// ```
    pub fn note(&self, writer: impl FnMut(&mut Vec<String>) + Send + 'static) {
        self.inner.registering().notes.push(Box::new(writer));
    }

    /// What the sequence has done so far: the phases entered, the drain once it ended, the
    /// resources and flush hooks closed so far with their outcomes, the one running now, and
    /// the status once it ended (empty before a run starts); and where the shutdown stands:
    /// its phase, reason, guards in flight and refusals. Takes a short lock; for status pages,
    /// not hot paths. With `serde` it serializes in the report's vocabulary (see
    /// [`Progress`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::testing::VirtualRuntime;
    /// use winddown::{Config, Phase, Plan, Reason, Resource, Shutdown, Status};
    ///
    /// let shutdown = Shutdown::new();
    /// let plan = Plan::new(shutdown.clone(), Config::default());
    /// plan.register(Resource::blocking("db", || Ok(())))?;
    /// shutdown.trigger(Reason::requested());
    /// let runtime = VirtualRuntime::new();
    /// runtime.block_on(plan.run(&runtime));
    ///
    /// let progress = plan.progress();
    /// assert_eq!(progress.phases.last().map(|p| p.phase), Some(Phase::Completed));
    /// assert_eq!(progress.resources[0].name, "db");
    /// assert_eq!(progress.status, Some(Status::Completed));
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn progress(&self) -> Progress {
        let mut progress = {
            let run = self.inner.run.lock();
            match &run.stage {
                Stage::Done(report) => Progress {
                    phases: report.phases.clone(),
                    drain: Some(report.drain.clone()),
                    resources: report.resources.clone(),
                    flushes: report.flushes.clone(),
                    status: Some(report.status),
                    ..Progress::default()
                },
                Stage::Idle | Stage::Running => run.draft.progress(),
            }
        };
        let shutdown = &self.inner.shutdown;
        progress.phase = shutdown.phase();
        progress.reason = shutdown.reason().cloned();
        progress.in_flight = shutdown.in_flight();
        progress.refused = shutdown.refused();
        progress
    }

    fn add(
        &self,
        resource: Resource,
        list: impl FnOnce(&mut Entries) -> &mut Vec<Resource>,
    ) -> Result<(), Refused> {
        if let Err(error) = validate(&resource) {
            return Err(Refused::new(error, resource));
        }
        let mut entries = self.inner.registering();
        // Checked under the lock the sequence takes its lists with: either this registration
        // is in the lists it takes, or it sees them taken.
        if entries.sealed {
            drop(entries);
            let name = String::from(resource.name());
            return Err(Refused::new(RegisterError::Closing { name }, resource));
        }
        super::state::insert_ordered(list(&mut entries), resource);
        // The code that closes it comes with it (`close.rs`).
        entries.closing = Some(super::close::CLOSING);
        Ok(())
    }

    /// Waits for the trigger, runs the sequence once, and reports what happened.
    ///
    /// One run carries out the sequence. Another `run` of the same plan (or a clone) while it
    /// runs waits for it and returns the same report; a `run` after it ended returns that
    /// report at once. If the future carrying out the sequence is dropped before it ends, the
    /// sequence is abandoned: the shutdown moves to [`Forced`](Phase::Forced), and the report
    /// (status [`Forced`](crate::Status::Forced), [`ForcedBy::Abandoned`](crate::ForcedBy))
    /// names the closer that was running as cancelled and the rest as skipped.
    ///
    /// # Cancel safety
    ///
    /// Before the trigger, dropping the future loses nothing. After it, dropping the future
    /// that carries out the sequence abandons it as described above; dropping one that waits
    /// for another run's report loses nothing.
    pub async fn run<R: Runtime>(&self, runtime: R) -> Report {
        self.inner.shutdown.triggered().await;
        let claimed = {
            let mut run = self.inner.run.lock();
            match run.stage {
                Stage::Idle => {
                    run.stage = Stage::Running;
                    true
                }
                Stage::Running | Stage::Done(_) => false,
            }
        };
        if claimed {
            // It stores the report as it ends (or as it is dropped); its run takes it below.
            super::run::run(&self.inner, &runtime).await;
        }
        self.wait_for_report().await
    }

    /// Waits for the run that owns the sequence to store its report.
    fn wait_for_report(&self) -> impl Future<Output = Report> + '_ {
        poll_fn(|cx| {
            let mut run = self.inner.run.lock();
            if let Some(report) = run.report() {
                return Poll::Ready(report);
            }
            if !run.waiters.iter().any(|waker| waker.will_wake(cx.waker())) {
                // Cloning a waker under the lock: the one foreign call `Lock` allows.
                run.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.inner.entries.lock();
        f.debug_struct("Plan")
            .field("config", &self.inner.config)
            .field("resources", &entries.resources)
            .field("flushes", &entries.flushes)
            .field("sealed", &entries.sealed)
            .finish_non_exhaustive()
    }
}

/// Checks what registration checks of a resource: its own deadline.
fn validate(resource: &Resource) -> Result<(), RegisterError> {
    match resource.deadline {
        Some(deadline) if deadline.is_zero() => Err(RegisterError::ZeroDeadline {
            name: resource.name.to_string(),
        }),
        Some(deadline) if deadline > MAX_DEADLINE => Err(RegisterError::DeadlineTooLarge {
            name: resource.name.to_string(),
        }),
        _ => Ok(()),
    }
}
