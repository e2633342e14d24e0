//! The shutdown sequence itself: one run of a [`Plan`](crate::Plan), step by step.
//!
//! `Initiated` (not ready; the pre-stop delay) → `StoppingNewRequests` (admissions closed) →
//! `Draining` (until drained or the drain deadline) → `ClosingResources` (by priority, each
//! within its deadline) → `FlushingBuffers` (within the flush deadline) → `Completed`. A second
//! trigger, a force from outside, or the graceful deadline with forcing on moves it to `Forced`
//! from wherever it is.
//!
//! # What the report promises
//!
//! 1. It is never kinder than the clock. Every bounded step compares the clock with its
//!    deadlines when it ends, not only when a timer fires: a step that could not be stopped in
//!    time (it blocked the runtime's thread) and finished late is [`Outcome::Late`], a drain
//!    that ended late is timed out, and a graceful deadline that passed meanwhile is recorded
//!    (and forces, when forcing is on) as if its timer had fired.
//! 2. It is written as the sequence goes, in the plan's shared [`Draft`]: [`Plan::progress`]
//!    reads it, and if the future carrying out the sequence is dropped, its `Drop` finishes the
//!    draft truthfully (the closer running is cancelled, the rest skipped, the status forced).
//! 3. User code (closers, observers, namers) never runs under the plan's locks.
//!
//! [`Plan::progress`]: crate::Plan::progress

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;
use core::time::Duration;

use crate::plan::{order, Entries, Observer, PlanInner, Source};
use crate::report::{
    DrainRecord, ForcedBy, ObserverPanic, Outcome, PhaseRecord, Progress, ResourceRecord, Status,
    TaskFailure,
};
use crate::resource::Closer;
use crate::runtime::{Runtime, TaskOutcome};
use crate::sync::Lock;
use crate::{Config, Phase, Report, Resource, Shutdown};

/// The report as the sequence writes it.
#[derive(Default)]
pub(crate) struct Draft {
    phases: Vec<PhaseRecord>,
    /// Set when the drain begins (`drain_open`), completed when it ends.
    drain: Option<DrainRecord>,
    drain_open: bool,
    resources: Vec<ResourceRecord>,
    flushes: Vec<ResourceRecord>,
    /// The closer or flush hook running now, with the phase whose list it belongs to.
    running: Option<(Phase, ResourceRecord)>,
    /// When the bounded step running now passes its own deadline, from the start.
    step_end: Option<Duration>,
    /// Taken from the plan, not started yet, in the order they will run.
    queued_resources: Vec<ResourceRecord>,
    queued_flushes: Vec<ResourceRecord>,
    observer_panics: Vec<ObserverPanic>,
    task_failures: Vec<TaskFailure>,
    notes: Vec<String>,
    forced_by: Option<ForcedBy>,
    deadline_passed_in: Option<Phase>,
    timed_out: bool,
    failed: bool,
}

impl Draft {
    /// What [`Plan::progress`](crate::Plan::progress) shows of a sequence still running.
    pub(crate) fn progress(&self) -> Progress {
        Progress {
            phases: self.phases.clone(),
            drain: if self.drain_open {
                None
            } else {
                self.drain.clone()
            },
            resources: self.resources.clone(),
            flushes: self.flushes.clone(),
            running: self.running.as_ref().map(|(_, record)| record.name.clone()),
            step_deadline: self.step_end,
            status: None,
        }
    }

    fn list(&mut self, phase: Phase) -> &mut Vec<ResourceRecord> {
        if phase == Phase::FlushingBuffers {
            &mut self.flushes
        } else {
            &mut self.resources
        }
    }

    fn queue(&mut self, phase: Phase) -> &mut Vec<ResourceRecord> {
        if phase == Phase::FlushingBuffers {
            &mut self.queued_flushes
        } else {
            &mut self.queued_resources
        }
    }

    fn status(&self) -> Status {
        if self.forced_by.is_some() {
            Status::Forced
        } else if self.timed_out {
            Status::TimedOut
        } else if self.failed {
            Status::Failed
        } else {
            Status::Completed
        }
    }

    /// Ends the last phase record at `at`.
    fn close_last_phase(&mut self, at: Duration) {
        if let Some(last) = self.phases.last_mut() {
            last.duration = at.saturating_sub(last.started);
        }
    }

    /// Moves the draft into a report.
    fn into_report(mut self, shutdown: &Shutdown, total: Duration) -> Report {
        self.close_last_phase(total);
        Report {
            status: self.status(),
            reason: shutdown.reason().cloned(),
            forced_by: self.forced_by,
            deadline_passed_in: self.deadline_passed_in,
            phases: self.phases,
            drain: self.drain.unwrap_or_default(),
            resources: self.resources,
            flushes: self.flushes,
            observer_panics: self.observer_panics,
            task_failures: self.task_failures,
            notes: self.notes,
            total,
        }
    }
}

/// Carries out the sequence for the run that claimed it (`Stage::Running`).
pub(crate) async fn run<R: Runtime>(inner: &PlanInner, runtime: &R) -> Report {
    let observers = core::mem::take(&mut inner.entries.lock().observers);
    let start = runtime.now();
    let mut sequence = Sequence {
        inner,
        shutdown: &inner.shutdown,
        config: &inner.config,
        runtime,
        start,
        graceful_end: start.saturating_add(inner.config.graceful()),
        observers: observers.into_iter().map(Some).collect(),
        finished: false,
        left_at_force: None,
    };
    sequence.run().await
}

/// How a bounded step ended.
enum StepEnd<T> {
    /// It finished; `true` if only after its own deadline had passed.
    Done(T, bool),
    /// Its own deadline passed.
    OwnDeadline,
    /// The graceful deadline passed and forcing is on.
    Graceful,
    /// The shutdown was forced (escalation or from outside).
    Forced,
}

/// One run of the sequence. Dropped before it finishes, it abandons the sequence (promise 2).
struct Sequence<'a, R: Runtime> {
    inner: &'a PlanInner,
    shutdown: &'a Shutdown,
    config: &'a Config,
    runtime: &'a R,
    /// The runtime's clock when the sequence saw the trigger.
    start: Duration,
    /// When the graceful deadline passes, on the runtime's clock.
    graceful_end: Duration,
    /// `None` once an observer has panicked: it is called no more.
    observers: Vec<Option<Observer>>,
    /// Set when the report is stored; until then, dropping abandons.
    finished: bool,
    /// What was in flight when a force came during the drain (its count and names in a drain
    /// record), taken before anyone heard of the force from the sequence: see
    /// [`force`](Self::force).
    left_at_force: Option<DrainRecord>,
}

impl<R: Runtime> Sequence<'_, R> {
    async fn run(&mut self) -> Report {
        self.enter_phase(Phase::Initiated);

        // Pre-stop: not ready, still admitting, for load balancers to notice.
        if !self.config.pre_stop().is_zero() {
            let delay = self.config.pre_stop();
            self.bounded(core::future::pending::<()>(), delay, Phase::Initiated)
                .await;
        }

        let mut drain = DrainRecord::default();
        let mut named = false;
        if self.forced_by().is_none() {
            self.advance(Phase::StoppingNewRequests);
            self.advance(Phase::Draining);
            drain.in_flight_at_start = self.shutdown.in_flight();
            self.with_draft(|draft| {
                draft.drain = Some(drain.clone());
                draft.drain_open = true;
            });
            let drained = self.shutdown.drained();
            match self
                .bounded(drained, self.config.drain(), Phase::Draining)
                .await
            {
                StepEnd::Done((), late) => drain.timed_out = late,
                StepEnd::OwnDeadline => drain.timed_out = true,
                StepEnd::Graceful | StepEnd::Forced => {}
            }
            drain.left = self.shutdown.in_flight();
            if let Some(at_force) = self.left_at_force.take() {
                // Forced during the drain: what was in flight then is what the force left,
                // whether or not the `Forced` observers have ended it since.
                drain.left = at_force.left;
                drain.still_in_flight = at_force.still_in_flight;
                #[cfg(feature = "track")]
                {
                    drain.guard_sites = at_force.guard_sites;
                }
                named = true;
            }
        } else {
            // Forced in the pre-stop delay: what is in flight now is abandoned, undrained.
            drain.skipped = true;
            drain.in_flight_at_start = self.shutdown.in_flight();
            drain.left = drain.in_flight_at_start;
        }
        if drain.left > 0 && !named {
            self.name_in_flight(&mut drain);
        }
        crate::progress::drain(&drain);
        self.with_draft(|draft| {
            draft.timed_out |= drain.timed_out;
            draft.drain = Some(drain);
            draft.drain_open = false;
        });

        let (resources, flushes) = self.take_entries();
        self.close_all(resources, Phase::ClosingResources, None)
            .await;
        let flush_end = self.now().saturating_add(self.config.flush());
        self.close_all(flushes, Phase::FlushingBuffers, Some(flush_end))
            .await;

        if self.forced_by().is_none() {
            self.advance(Phase::Completed);
        }
        self.finish()
    }

    /// Calls the plan's namers (outside every lock) for what is still in flight.
    fn name_in_flight(&self, drain: &mut DrainRecord) {
        self.call_sources(|entries| &mut entries.namers, &mut drain.still_in_flight);
        #[cfg(feature = "track")]
        {
            drain.guard_sites = self.shutdown.guard_sites();
        }
    }

    /// Calls each of the plan's sources in `list` to push into `out`: taken out of the entries
    /// so that they run outside the lock (they are user code), then put back.
    fn call_sources<T>(&self, list: fn(&mut Entries) -> &mut Vec<Source<T>>, out: &mut Vec<T>) {
        let mut sources = core::mem::take(list(&mut self.inner.entries.lock()));
        for source in &mut sources {
            source(out);
        }
        list(&mut self.inner.entries.lock()).append(&mut sources);
    }

    /// Takes the resources and flush hooks (sealing registration), ordered, and queues their
    /// records in the draft.
    fn take_entries(&self) -> (Vec<Resource>, Vec<Resource>) {
        let (resources, flushes) = {
            let mut entries = self.inner.entries.lock();
            entries.sealed = true;
            (
                core::mem::take(&mut entries.resources),
                core::mem::take(&mut entries.flushes),
            )
        };
        let (resources, flushes) = (order(resources), order(flushes));
        let at = self.offset();
        self.with_draft(|draft| {
            draft.queued_resources = resources.iter().map(|r| skipped(r, at)).collect();
            draft.queued_flushes = flushes.iter().map(|r| skipped(r, at)).collect();
        });
        (resources, flushes)
    }

    /// Runs the closers of one phase, in order; after a force, the rest are skipped.
    async fn close_all(
        &mut self,
        entries: Vec<Resource>,
        phase: Phase,
        phase_end: Option<Duration>,
    ) {
        if self.forced_by().is_none() {
            self.advance(phase);
        }
        for resource in entries {
            let Resource {
                deadline, closer, ..
            } = resource;
            let started = self.offset();
            let own = deadline.unwrap_or(self.config.close());
            let own = match phase_end {
                Some(end) => own.min(end.saturating_sub(self.now())),
                None => own,
            };
            // A force that came while the previous closer was finishing: do not start this one.
            self.notice_escalation();
            // Nor when the graceful deadline has been reached meanwhile (the previous closer
            // ended just at it): its timer would fire at the first poll, before this closer
            // could run, and the report would call a closer that ran "cancelled".
            if self.deadline_passed_in().is_none()
                && self.forced_by().is_none()
                && self.now() >= self.graceful_end
            {
                self.graceful_passed(phase);
            }
            let start_it = self.forced_by().is_none() && !own.is_zero();
            self.with_draft(|draft| {
                let queue = draft.queue(phase);
                if !queue.is_empty() {
                    let mut record = queue.remove(0);
                    record.started = started;
                    // What it is if the run is dropped while it runs.
                    record.outcome = if start_it {
                        Outcome::Cancelled
                    } else {
                        Outcome::Skipped
                    };
                    draft.running = Some((phase, record));
                }
            });
            let outcome = if self.forced_by().is_some() {
                Outcome::Skipped
            } else if own.is_zero() {
                // The phase's own deadline has passed: no time to start this one.
                self.with_draft(|draft| draft.timed_out = true);
                Outcome::Skipped
            } else {
                self.close_one(closer.into_inner(), own, phase).await
            };
            let duration = self.offset().saturating_sub(started);
            let record = self.with_draft(|draft| {
                let (_, mut record) = draft.running.take()?;
                record.outcome = outcome;
                record.duration = duration;
                draft.list(phase).push(record.clone());
                Some(record)
            });
            if let Some(record) = record {
                crate::progress::resource(phase, &record);
            }
        }
    }

    /// Runs one closer (an async one as its own task, a blocking one where the runtime puts
    /// blocking work) within `own` (and the graceful deadline).
    async fn close_one(&mut self, closer: Closer, own: Duration, phase: Phase) -> Outcome {
        let slot: Arc<Lock<Option<Result<(), String>>>> = Arc::new(Lock::new(None));
        let end = match closer {
            Closer::Async(closer) => {
                let slot = slot.clone();
                let join = self.runtime.spawn(Box::pin(async move {
                    let result = closer().await;
                    *slot.lock() = Some(result);
                }));
                self.bounded(join, own, phase).await
            }
            Closer::Blocking(closer) => {
                let slot = slot.clone();
                let join = self.runtime.spawn_blocking(Box::new(move || {
                    let result = closer();
                    *slot.lock() = Some(result);
                }));
                self.bounded(join, own, phase).await
            }
        };
        let (outcome, late) = match end {
            StepEnd::Done(TaskOutcome::Finished, late) => {
                let result = slot.lock().take();
                match result {
                    Some(Ok(())) => (Outcome::Ok, late),
                    Some(Err(message)) => (Outcome::Error(message), late),
                    // Finished without storing a result cannot happen; count it as a failure.
                    None => (Outcome::Panicked(None), late),
                }
            }
            StepEnd::Done(TaskOutcome::Panicked(message), late) => {
                (Outcome::Panicked(message), late)
            }
            StepEnd::Done(TaskOutcome::Cancelled, _) | StepEnd::Forced | StepEnd::Graceful => {
                return Outcome::Cancelled
            }
            StepEnd::OwnDeadline => {
                self.with_draft(|draft| draft.timed_out = true);
                return Outcome::TimedOut;
            }
        };
        let failed = !outcome.is_ok();
        self.with_draft(|draft| {
            draft.failed |= failed;
            draft.timed_out |= late;
        });
        if late {
            Outcome::Late(Box::new(outcome))
        } else {
            outcome
        }
    }

    /// Runs `step` until it finishes, its own deadline passes, the graceful deadline passes
    /// (forcing, if on), or the shutdown escalates (forcing).
    ///
    /// With forcing off, a step running when the graceful deadline passes keeps its own
    /// deadline: the passing is recorded and the step goes on. A step that finishes is checked
    /// against the clock (promise 1): past its own deadline it is late; past the graceful one,
    /// the passing is recorded and acted on now.
    async fn bounded<F: Future>(
        &mut self,
        step: F,
        own: Duration,
        phase: Phase,
    ) -> StepEnd<F::Output> {
        let own_end = self.now().saturating_add(own);
        let step_end = own_end.saturating_sub(self.start);
        self.with_draft(|draft| draft.step_end = Some(step_end));
        let end = self.bounded_step(step, own_end, phase).await;
        self.with_draft(|draft| draft.step_end = None);
        end
    }

    /// [`bounded`](Self::bounded), once the step's own end is known.
    async fn bounded_step<F: Future>(
        &mut self,
        step: F,
        own_end: Duration,
        phase: Phase,
    ) -> StepEnd<F::Output> {
        let mut step = pin!(step);
        loop {
            let now = self.now();
            let graceful_applies = self.deadline_passed_in().is_none();
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
                        return Poll::Ready((StepEnd::Done(output, false), None));
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
                (StepEnd::Done(output, _), _) => {
                    let now = self.now();
                    let late = now > own_end;
                    if self.deadline_passed_in().is_none() && now > self.graceful_end {
                        self.graceful_passed(phase);
                    }
                    StepEnd::Done(output, late)
                }
                (StepEnd::Forced, Some(found)) => {
                    self.force(self.escalation_cause(found));
                    StepEnd::Forced
                }
                (StepEnd::Graceful, _) => {
                    if !self.graceful_passed(phase) {
                        continue;
                    }
                    StepEnd::Graceful
                }
                (end, _) => end,
            };
        }
    }

    /// Records that the graceful deadline passed during `phase`, and forces if forcing is on
    /// (returns whether it forced). With forcing off it counts as a timeout.
    fn graceful_passed(&mut self, phase: Phase) -> bool {
        let force = self.config.force_after_deadline();
        self.with_draft(|draft| {
            draft.deadline_passed_in = Some(phase);
            draft.timed_out |= !force;
        });
        if force {
            self.force(ForcedBy::Deadline(phase));
        }
        force
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
        if self.forced_by().is_none()
            && (phase == Phase::Forced || self.shutdown.trigger_count() >= 2)
        {
            self.force(self.escalation_cause(phase));
        }
    }

    fn force(&mut self, by: ForcedBy) {
        let first = self.with_draft(|draft| {
            let first = draft.forced_by.is_none();
            if first {
                draft.forced_by = Some(by);
            }
            first
        });
        if first {
            // Not a trigger: the escalation (if any) was already counted.
            let _ = self.shutdown.advance(Phase::Forced);
            // The drain's left-overs are counted and named before the observers hear of the
            // force: an observer of `Forced` may end them at once (an HTTP server cuts its
            // connections there), and what a force cuts is left, not drained.
            if self.with_draft(|draft| draft.drain_open) {
                let mut at_force = DrainRecord {
                    left: self.shutdown.in_flight(),
                    ..DrainRecord::default()
                };
                if at_force.left > 0 {
                    self.name_in_flight(&mut at_force);
                }
                self.left_at_force = Some(at_force);
            }
            self.enter_phase(Phase::Forced);
        }
    }

    /// Moves the shutdown forward and records the phase. A refusal means the shutdown moved
    /// past `to` from outside (forced): that is noticed by the escalation watch.
    fn advance(&mut self, to: Phase) {
        if self.shutdown.advance(to).is_ok() {
            self.enter_phase(to);
        } else if self.shutdown.phase() == Phase::Forced && self.forced_by().is_none() {
            // Forced while the step before ended on its own (a drain whose last guard went
            // as the second signal landed): the cause is whatever forced it.
            self.force(self.escalation_cause(Phase::Forced));
        }
    }

    fn enter_phase(&mut self, phase: Phase) {
        let at = self.offset();
        self.with_draft(|draft| {
            draft.close_last_phase(at);
            draft.phases.push(PhaseRecord {
                phase,
                started: at,
                duration: Duration::ZERO,
            });
        });
        crate::progress::phase(phase, at);
        let inner = self.inner;
        for slot in &mut self.observers {
            let Some(observer) = slot else { continue };
            if let Err(message) = call_observer(observer, phase, at) {
                *slot = None;
                let draft = &mut inner.run.lock().draft;
                draft.failed = true;
                draft.observer_panics.push(ObserverPanic { phase, message });
            }
        }
    }

    fn forced_by(&self) -> Option<ForcedBy> {
        self.with_draft(|draft| draft.forced_by)
    }

    fn deadline_passed_in(&self) -> Option<Phase> {
        self.with_draft(|draft| draft.deadline_passed_in)
    }

    /// Runs `f` on the draft under the plan's run lock; `f` must not run user code.
    fn with_draft<T>(&self, f: impl FnOnce(&mut Draft) -> T) -> T {
        f(&mut self.inner.run.lock().draft)
    }

    fn now(&self) -> Duration {
        self.runtime.now()
    }

    fn offset(&self) -> Duration {
        self.now().saturating_sub(self.start)
    }

    /// Stores the report for every run of the plan and returns it.
    fn finish(&mut self) -> Report {
        let mut failures = Vec::new();
        self.call_sources(|entries| &mut entries.collectors, &mut failures);
        let mut notes = Vec::new();
        self.call_sources(|entries| &mut entries.notes, &mut notes);
        self.with_draft(|draft| {
            draft.task_failures = failures;
            draft.notes = notes;
        });
        self.finished = true;
        let total = self.offset();
        let (report, waiters) = {
            let mut run = self.inner.run.lock();
            let report = core::mem::take(&mut run.draft).into_report(self.shutdown, total);
            let waiters = run.finish(report.clone());
            (report, waiters)
        };
        for waker in waiters {
            waker.wake();
        }
        crate::progress::report(&report);
        report
    }

    /// The run was dropped before it finished: finish the draft truthfully (promise 2). Runs
    /// no user code but the drop of the closers it takes (after the locks are released).
    fn abandon(&mut self) {
        let at = self.offset();
        let untaken = {
            let mut entries = self.inner.entries.lock();
            if entries.sealed {
                None
            } else {
                entries.sealed = true;
                Some((
                    order(core::mem::take(&mut entries.resources)),
                    order(core::mem::take(&mut entries.flushes)),
                ))
            }
        };
        let in_flight = self.shutdown.in_flight();
        let moved = self.shutdown.advance(Phase::Forced).is_ok();
        let (report, waiters) = {
            let mut run = self.inner.run.lock();
            let draft = &mut run.draft;
            if let Some((phase, mut record)) = draft.running.take() {
                record.duration = at.saturating_sub(record.started);
                draft.list(phase).push(record);
            }
            for phase in [Phase::ClosingResources, Phase::FlushingBuffers] {
                let queued = core::mem::take(draft.queue(phase));
                draft
                    .list(phase)
                    .extend(queued.into_iter().map(|mut record| {
                        record.started = at;
                        record
                    }));
            }
            if let Some((resources, flushes)) = &untaken {
                draft
                    .resources
                    .extend(resources.iter().map(|r| skipped(r, at)));
                draft.flushes.extend(flushes.iter().map(|r| skipped(r, at)));
            }
            match &mut draft.drain {
                Some(drain) if draft.drain_open => {
                    drain.left = in_flight;
                    draft.drain_open = false;
                }
                Some(_) => {}
                None => {
                    draft.drain = Some(DrainRecord {
                        in_flight_at_start: in_flight,
                        left: in_flight,
                        skipped: true,
                        ..DrainRecord::default()
                    });
                }
            }
            if draft.forced_by.is_none() {
                draft.forced_by = Some(ForcedBy::Abandoned);
            }
            if moved || draft.phases.last().map(|p| p.phase) != Some(Phase::Forced) {
                draft.close_last_phase(at);
                draft.phases.push(PhaseRecord {
                    phase: Phase::Forced,
                    started: at,
                    duration: Duration::ZERO,
                });
            }
            let report = core::mem::take(draft).into_report(self.shutdown, at);
            let waiters = run.finish(report.clone());
            (report, waiters)
        };
        for waker in waiters {
            waker.wake();
        }
        crate::progress::report(&report);
        // The closers it took are dropped here, outside every lock.
        drop(untaken);
    }
}

impl<R: Runtime> Drop for Sequence<'_, R> {
    fn drop(&mut self) {
        if !self.finished {
            self.abandon();
        }
    }
}

/// The record of a closer that has not run.
fn skipped(resource: &Resource, at: Duration) -> ResourceRecord {
    ResourceRecord {
        name: resource.name.clone(),
        kind: resource.kind.clone(),
        priority: resource.priority,
        outcome: Outcome::Skipped,
        started: at,
        duration: Duration::ZERO,
    }
}

/// Calls an observer, catching its panic where unwinding can be caught: `Err` with the panic
/// message.
fn call_observer(
    observer: &mut Observer,
    phase: Phase,
    at: Duration,
) -> Result<(), Option<String>> {
    #[cfg(all(feature = "std", not(loom)))]
    {
        std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| observer(phase, at)))
            .map_err(|payload| crate::panic::message(&*payload))
    }
    #[cfg(not(all(feature = "std", not(loom))))]
    {
        observer(phase, at);
        Ok(())
    }
}
