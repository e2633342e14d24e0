//! The shutdown sequence: a `Plan` of resources and flush hooks, run over a `Runtime`.
//!
//! The sequence, once triggered: `Initiated` (not ready; the pre-stop delay) →
//! `StoppingNewRequests` (admissions closed) → `Draining` (until drained or the drain deadline)
//! → `ClosingResources` (by priority, each within its deadline) → `FlushingBuffers` (within the
//! flush deadline) → `Completed`. A second trigger, or the graceful deadline with forcing on,
//! moves it to `Forced` from wherever it is.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;
use core::time::Duration;

use crate::report::{DrainRecord, ForcedBy, Outcome, PhaseRecord, ResourceRecord, Status};
use crate::resource::Closer;
use crate::runtime::{Runtime, TaskOutcome};
use crate::sync::Lock;
use crate::{Config, Phase, Report, Resource, Shutdown};

/// A subscriber to phase changes: called with the phase and its offset from the trigger.
type Observer = Box<dyn FnMut(Phase, Duration) + Send>;

/// Names what is still in flight when the drain deadline passes.
type InFlightNamer = Box<dyn FnMut(&mut Vec<String>) + Send>;

/// Resources, flush hooks and deadlines for one [`Shutdown`], and the sequence that uses them.
///
/// A plan is a cheap handle (clone it to give libraries a way to register their resources).
/// Registration is open until the shutdown is triggered; [`run`](Self::run) waits for the
/// trigger, then runs the sequence once and returns the [`Report`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use winddown_core::runtime::Runtime;
/// use winddown_core::testing::VirtualRuntime;
/// use winddown_core::{Config, Phase, Plan, Reason, Resource, Shutdown, Status};
///
/// let shutdown = Shutdown::new();
/// let config = Config::builder().drain(Duration::from_secs(2)).build()?;
/// let plan = Plan::new(shutdown.clone(), config);
/// plan.register(Resource::new("db", || async { Ok::<(), String>(()) }).priority(10))?;
/// plan.flush(Resource::blocking("log", || Ok::<(), String>(())))?;
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

struct PlanInner {
    shutdown: Shutdown,
    config: Config,
    entries: Lock<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Set when the sequence takes the entries; registration is refused from then on.
    sealed: bool,
    resources: Vec<Resource>,
    flushes: Vec<Resource>,
    observers: Vec<Observer>,
    namers: Vec<InFlightNamer>,
}

/// A refused registration.
///
/// # Examples
///
/// ```
/// use winddown_core::{Config, Plan, Reason, RegisterError, Resource, Shutdown};
///
/// let shutdown = Shutdown::new();
/// let plan = Plan::new(shutdown.clone(), Config::default());
/// shutdown.trigger(Reason::requested());
/// let err = plan.register(Resource::blocking("db", || Ok::<(), String>(()))).unwrap_err();
/// assert_eq!(err, RegisterError::Triggered { name: "db".into() });
/// assert_eq!(err.to_string(), "cannot register \"db\": the shutdown has already been triggered");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterError {
    /// The shutdown was already triggered: the sequence may have taken its list already, so
    /// the resource would never be closed.
    Triggered {
        /// The resource's name.
        name: String,
    },
    /// The resource's own deadline is zero.
    ZeroDeadline {
        /// The resource's name.
        name: String,
    },
    /// The resource's own deadline is larger than [`MAX_DEADLINE`](crate::MAX_DEADLINE).
    DeadlineTooLarge {
        /// The resource's name.
        name: String,
    },
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::Triggered { name } => {
                write!(
                    f,
                    "cannot register {name:?}: the shutdown has already been triggered"
                )
            }
            RegisterError::ZeroDeadline { name } => {
                write!(f, "cannot register {name:?}: its deadline is zero")
            }
            RegisterError::DeadlineTooLarge { name } => write!(
                f,
                "cannot register {name:?}: its deadline is larger than {} seconds",
                crate::MAX_DEADLINE.as_secs()
            ),
        }
    }
}

impl core::error::Error for RegisterError {}

impl Plan {
    /// A plan for `shutdown` with `config`'s deadlines.
    pub fn new(shutdown: Shutdown, config: Config) -> Self {
        Plan {
            inner: Arc::new(PlanInner {
                shutdown,
                config,
                entries: Lock::new(Entries::default()),
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
    /// # Errors
    ///
    /// [`RegisterError`] if the shutdown has been triggered, or the resource's deadline is zero
    /// or too large. The resource is returned to nobody: it is dropped, unrun.
    pub fn register(&self, resource: Resource) -> Result<(), RegisterError> {
        self.add(resource, |entries| &mut entries.resources)
    }

    /// Registers a flush hook to run in the `FlushingBuffers` phase, ordered like resources,
    /// all within the config's flush deadline (a hook may set a shorter one of its own).
    ///
    /// # Errors
    ///
    /// As [`register`](Self::register).
    pub fn flush(&self, hook: Resource) -> Result<(), RegisterError> {
        self.add(hook, |entries| &mut entries.flushes)
    }

    /// Calls `observer` with each phase the sequence moves to, and its offset from the
    /// trigger: a hook for progress logging or metrics. Observers run inline in the sequence;
    /// keep them quick. Unlike resources, observers may be added at any time before the
    /// sequence starts running.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown_core::{Config, Plan, Shutdown};
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// plan.on_phase(|phase, at| eprintln!("[{at:?}] {phase}"));
    /// ```
    pub fn on_phase(&self, observer: impl FnMut(Phase, Duration) + Send + 'static) {
        self.inner.entries.lock().observers.push(Box::new(observer));
    }

    /// Registers a source of names for work in flight: when the drain deadline passes with work
    /// still in flight, the sequence calls `namer` to push the names of what is still running
    /// into the report's [`DrainRecord::still_in_flight`](crate::DrainRecord::still_in_flight).
    /// Task sets in the runtime adapters use it to name their stuck tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown_core::{Config, Plan, Shutdown};
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// plan.name_in_flight(|names| names.push("worker 3".into()));
    /// ```
    pub fn name_in_flight(&self, namer: impl FnMut(&mut Vec<String>) + Send + 'static) {
        self.inner.entries.lock().namers.push(Box::new(namer));
    }

    fn add(
        &self,
        resource: Resource,
        list: impl FnOnce(&mut Entries) -> &mut Vec<Resource>,
    ) -> Result<(), RegisterError> {
        resource.validate()?;
        let mut entries = self.inner.entries.lock();
        // Checked under the lock the sequence takes its list with, after the trigger: either
        // this registration is in the list it takes, or it sees the trigger.
        if entries.sealed || self.inner.shutdown.is_triggered() {
            return Err(RegisterError::Triggered {
                name: String::from(resource.name()),
            });
        }
        list(&mut entries).push(resource);
        Ok(())
    }

    /// Waits for the trigger, runs the sequence once, and reports what happened.
    ///
    /// Running the same plan again (or from a clone) after it ran returns at once with a
    /// report whose resources are empty: the closers ran the first time.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe once triggered: dropping the future stops the sequence where it is
    /// (closers already taken are dropped unrun). Before the trigger, dropping it loses nothing.
    pub async fn run<R: Runtime>(&self, runtime: R) -> Report {
        let shutdown = &self.inner.shutdown;
        shutdown.triggered().await;
        let taken = {
            let mut entries = self.inner.entries.lock();
            entries.sealed = true;
            Taken {
                resources: order(core::mem::take(&mut entries.resources)),
                flushes: order(core::mem::take(&mut entries.flushes)),
                observers: core::mem::take(&mut entries.observers),
                namers: core::mem::take(&mut entries.namers),
            }
        };
        let start = runtime.now();
        let sequence = Sequence {
            shutdown,
            config: &self.inner.config,
            runtime: &runtime,
            start,
            graceful_end: start + self.inner.config.graceful(),
            observers: taken.observers,
            namers: taken.namers,
            phases: Vec::new(),
            forced_by: None,
            deadline_passed_in: None,
            timed_out: false,
            failed: false,
        };
        sequence.run(taken.resources, taken.flushes).await
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

struct Taken {
    resources: Vec<Resource>,
    flushes: Vec<Resource>,
    observers: Vec<Observer>,
    namers: Vec<InFlightNamer>,
}

/// Higher priority first; equal priorities in reverse registration order.
fn order(mut resources: Vec<Resource>) -> Vec<Resource> {
    resources.reverse();
    // Stable: among equal priorities the reversed registration order stays.
    resources.sort_by_key(|resource| core::cmp::Reverse(resource.priority));
    resources
}

/// How a bounded step ended.
enum StepEnd<T> {
    /// It finished.
    Done(T),
    /// Its own deadline passed.
    OwnDeadline,
    /// The graceful deadline passed and forcing is on.
    Graceful,
    /// The shutdown was forced (escalation or from outside).
    Forced,
}

/// One run of the sequence.
struct Sequence<'a, R> {
    shutdown: &'a Shutdown,
    config: &'a Config,
    runtime: &'a R,
    /// The runtime's clock when the sequence saw the trigger.
    start: Duration,
    /// When the graceful deadline passes, on the runtime's clock.
    graceful_end: Duration,
    observers: Vec<Observer>,
    namers: Vec<InFlightNamer>,
    phases: Vec<PhaseRecord>,
    forced_by: Option<ForcedBy>,
    deadline_passed_in: Option<Phase>,
    timed_out: bool,
    failed: bool,
}

impl<R: Runtime> Sequence<'_, R> {
    async fn run(mut self, resources: Vec<Resource>, flushes: Vec<Resource>) -> Report {
        self.enter_phase(Phase::Initiated);

        // Pre-stop: not ready, still admitting, for load balancers to notice.
        if !self.config.pre_stop().is_zero() {
            let delay = self.config.pre_stop();
            self.bounded(core::future::pending::<()>(), delay, Phase::Initiated)
                .await;
        }

        let mut drain = DrainRecord::default();
        if self.forced_by.is_none() {
            self.advance(Phase::StoppingNewRequests);
            self.advance(Phase::Draining);
            drain.in_flight_at_start = self.shutdown.in_flight();
            let drained = self.shutdown.drained();
            match self
                .bounded(drained, self.config.drain(), Phase::Draining)
                .await
            {
                StepEnd::Done(()) => {}
                StepEnd::OwnDeadline => {
                    drain.timed_out = true;
                    self.timed_out = true;
                }
                StepEnd::Graceful | StepEnd::Forced => {}
            }
            drain.left = self.shutdown.in_flight();
            if drain.left > 0 {
                for namer in &mut self.namers {
                    namer(&mut drain.still_in_flight);
                }
                #[cfg(feature = "track")]
                {
                    drain.guard_sites = self.shutdown.guard_sites();
                }
            }
            crate::progress::drain(&drain);
        }

        let resources = self
            .close_all(resources, Phase::ClosingResources, None)
            .await;
        let flush_end = self.now().saturating_add(self.config.flush());
        let flushes = self
            .close_all(flushes, Phase::FlushingBuffers, Some(flush_end))
            .await;

        if self.forced_by.is_none() {
            self.advance(Phase::Completed);
        }
        self.finish(drain, resources, flushes)
    }

    /// Runs the closers of one phase, in order; after a force, the rest are skipped.
    async fn close_all(
        &mut self,
        entries: Vec<Resource>,
        phase: Phase,
        phase_end: Option<Duration>,
    ) -> Vec<ResourceRecord> {
        if self.forced_by.is_none() {
            self.advance(phase);
        }
        let mut records = Vec::with_capacity(entries.len());
        for resource in entries {
            let Resource {
                name,
                priority,
                deadline,
                kind,
                closer,
            } = resource;
            let started = self.offset();
            let own = deadline.unwrap_or(self.config.close());
            let own = match phase_end {
                Some(end) => own.min(end.saturating_sub(self.now())),
                None => own,
            };
            // A force that came while the previous closer was finishing: do not start this one.
            self.notice_escalation();
            let outcome = if self.forced_by.is_some() {
                Outcome::Skipped
            } else if own.is_zero() {
                // The phase's own deadline has passed: no time to start this one.
                self.timed_out = true;
                Outcome::Skipped
            } else {
                self.close_one(closer, own, phase).await
            };
            let duration = self.offset().saturating_sub(started);
            let record = ResourceRecord {
                name,
                kind,
                priority,
                outcome,
                started,
                duration,
            };
            crate::progress::resource(phase, &record);
            records.push(record);
        }
        records
    }

    /// Runs one closer as its own task, within `own` (and the graceful deadline).
    async fn close_one(&mut self, closer: Closer, own: Duration, phase: Phase) -> Outcome {
        let slot: Arc<Lock<Option<Result<(), String>>>> = Arc::new(Lock::new(None));
        let task = {
            let slot = slot.clone();
            Box::pin(async move {
                let result = closer().await;
                *slot.lock() = Some(result);
            })
        };
        let join = self.runtime.spawn(task);
        match self.bounded(join, own, phase).await {
            StepEnd::Done(TaskOutcome::Finished) => match slot.lock().take() {
                Some(Ok(())) => Outcome::Ok,
                Some(Err(message)) => {
                    self.failed = true;
                    Outcome::Error(message)
                }
                // Finished without storing a result cannot happen; count it as a failure.
                None => {
                    self.failed = true;
                    Outcome::Panicked(None)
                }
            },
            StepEnd::Done(TaskOutcome::Panicked(message)) => {
                self.failed = true;
                Outcome::Panicked(message)
            }
            StepEnd::Done(TaskOutcome::Cancelled) | StepEnd::Forced | StepEnd::Graceful => {
                Outcome::Cancelled
            }
            StepEnd::OwnDeadline => {
                self.timed_out = true;
                Outcome::TimedOut
            }
        }
    }

    /// Runs `step` until it finishes, its own deadline passes, the graceful deadline passes
    /// (forcing, if on), or the shutdown escalates (forcing).
    ///
    /// With forcing off, a step running when the graceful deadline passes keeps its own
    /// deadline: the passing is recorded and the step goes on.
    async fn bounded<F: Future>(
        &mut self,
        step: F,
        own: Duration,
        phase: Phase,
    ) -> StepEnd<F::Output> {
        let own_end = self.now().saturating_add(own);
        let mut step = pin!(step);
        loop {
            let now = self.now();
            let graceful_applies = self.deadline_passed_in.is_none();
            let graceful_first = graceful_applies && self.graceful_end <= own_end;
            let wait = if graceful_first {
                self.graceful_end
            } else {
                own_end
            };
            let end = {
                let mut timer = pin!(self.runtime.sleep(wait.saturating_sub(now)));
                let mut escalated = pin!(self.shutdown.escalated());
                poll_fn(|cx| {
                    // The step first: a closer that finished at the very moment of a force or a
                    // deadline did finish, and the report says so.
                    if let Poll::Ready(output) = step.as_mut().poll(cx) {
                        return Poll::Ready((StepEnd::Done(output), None));
                    }
                    if let Poll::Ready(found) = escalated.as_mut().poll(cx) {
                        return Poll::Ready((StepEnd::Forced, Some(found)));
                    }
                    if timer.as_mut().poll(cx).is_ready() {
                        let end = if graceful_first {
                            StepEnd::Graceful
                        } else {
                            StepEnd::OwnDeadline
                        };
                        return Poll::Ready((end, None));
                    }
                    Poll::Pending
                })
                .await
            };
            return match end {
                (StepEnd::Forced, Some(found)) => {
                    self.force(self.escalation_cause(found));
                    StepEnd::Forced
                }
                (StepEnd::Graceful, _) => {
                    self.deadline_passed_in = Some(phase);
                    if !self.config.force_after_deadline() {
                        self.timed_out = true;
                        continue;
                    }
                    self.force(ForcedBy::Deadline(phase));
                    StepEnd::Graceful
                }
                (end, _) => end,
            };
        }
    }

    /// Why the shutdown escalated, given the phase found when it did.
    fn escalation_cause(&self, found: Phase) -> ForcedBy {
        if found == Phase::Forced && self.shutdown.trigger_count() < 2 {
            ForcedBy::External
        } else {
            ForcedBy::Escalation
        }
    }

    /// Forces the sequence now if the shutdown has escalated (checked without waiting).
    fn notice_escalation(&mut self) {
        let phase = self.shutdown.phase();
        if self.forced_by.is_none()
            && (phase == Phase::Forced || self.shutdown.trigger_count() >= 2)
        {
            self.force(self.escalation_cause(phase));
        }
    }

    fn force(&mut self, by: ForcedBy) {
        if self.forced_by.is_some() {
            return;
        }
        self.forced_by = Some(by);
        // Not a trigger: the escalation (if any) was already counted.
        let _ = self.shutdown.advance(Phase::Forced);
        self.enter_phase(Phase::Forced);
    }

    /// Moves the shutdown forward and records the phase. A refusal means the shutdown moved
    /// past `to` from outside (forced): that is noticed by the escalation watch.
    fn advance(&mut self, to: Phase) {
        if self.shutdown.advance(to).is_ok() {
            self.enter_phase(to);
        } else if self.shutdown.phase() == Phase::Forced && self.forced_by.is_none() {
            self.forced_by = Some(ForcedBy::External);
            self.enter_phase(Phase::Forced);
        }
    }

    fn enter_phase(&mut self, phase: Phase) {
        let at = self.offset();
        if let Some(last) = self.phases.last_mut() {
            last.duration = at.saturating_sub(last.started);
        }
        self.phases.push(PhaseRecord {
            phase,
            started: at,
            duration: Duration::ZERO,
        });
        crate::progress::phase(phase, at);
        for observer in &mut self.observers {
            observer(phase, at);
        }
    }

    fn now(&self) -> Duration {
        self.runtime.now()
    }

    fn offset(&self) -> Duration {
        self.now().saturating_sub(self.start)
    }

    fn finish(
        mut self,
        drain: DrainRecord,
        resources: Vec<ResourceRecord>,
        flushes: Vec<ResourceRecord>,
    ) -> Report {
        let total = self.offset();
        if let Some(last) = self.phases.last_mut() {
            last.duration = total.saturating_sub(last.started);
        }
        let status = if self.forced_by.is_some() {
            Status::Forced
        } else if self.timed_out {
            Status::TimedOut
        } else if self.failed {
            Status::Failed
        } else {
            Status::Completed
        };
        let report = Report {
            status,
            reason: self.shutdown.reason().cloned(),
            forced_by: self.forced_by,
            deadline_passed_in: self.deadline_passed_in,
            phases: self.phases,
            drain,
            resources,
            flushes,
            total,
        };
        crate::progress::report(&report);
        report
    }
}
