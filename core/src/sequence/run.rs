//! The shutdown sequence itself: one run of a [`Plan`](crate::Plan), step by step. This file is
//! its control flow; what it records is written by `record.rs`, and each closer's step is run
//! by `close.rs` (linked only by a registration of one).
//!
//! `Initiated` (not ready; the pre-stop delay) → `StoppingNewRequests` (admissions closed) →
//! `Draining` (until drained or the drain deadline) → `ClosingResources` (by priority, each
//! within its deadline) → `FlushingBuffers` (within the flush deadline) → `Completed`. A force
//! ([`Shutdown::force`], a parent's) or the graceful deadline with forcing on moves it to
//! `Forced` from wherever it is. A repeated trigger changes nothing.
//!
//! Every wait is a *bounded step* ([`Sequence::bounded_step`]): it ends when it finishes, when its
//! own deadline passes, when the graceful deadline passes (forcing, if on), or when the
//! shutdown is forced. After a force, nothing more starts but the flush hooks: the drain is
//! skipped, the closer running is cancelled and the closers not yet run are skipped, and the
//! flush hooks run within the forced flush budget ([`Config::forced_flush`]) counted from the
//! force, a flush hook already running included (it is not cancelled by the force itself).
//! With a zero budget they are skipped (or cancelled) too.
//!
//! # What the report promises
//!
//! 1. It is never kinder than the clock. Every bounded step compares the clock with its
//!    deadlines when it ends, not only when a timer fires: a step that could not be stopped in
//!    time (it blocked the runtime's thread) and finished late is
//!    [`Outcome::Late`](super::report::Outcome::Late), a drain that ended late is timed out,
//!    and a graceful deadline that passed meanwhile is recorded (and forces, when forcing is
//!    on) as if its timer had fired.
//! 2. It is written as the sequence goes, in the plan's shared draft (`record.rs`):
//!    [`Plan::progress`] reads it, and if the future carrying out the sequence is dropped, its
//!    `Drop` finishes the draft truthfully (the closer running is cancelled, the rest skipped,
//!    the status forced).
//! 3. User code (closers, observers, namers) never runs under the plan's locks.
//!
//! [`Plan::progress`]: crate::Plan::progress
//! [`Shutdown::force`]: crate::Shutdown::force
//! [`Config::forced_flush`]: crate::Config::forced_flush

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::Poll;
use core::time::Duration;

use super::record::Recorder;
use super::report::{DrainRecord, ForcedBy};
use super::runtime::{Runtime, TaskOutcome};
use super::state::{Closing, Entries, Observer, PlanInner, Sources};
use super::step::{catch, CloseHost, DrainStep, Step, StepEnd, StepRuntime};
use crate::{Config, Phase, Resource, Shutdown};

/// Carries out the sequence for the run that claimed it (`Stage::Running`).
///
/// The sequence's future owns it: dropped before it finishes, it abandons the run (promise 2).
pub(super) fn run<'a, R: Runtime>(
    inner: &'a PlanInner,
    runtime: &'a R,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    let observers = core::mem::take(&mut inner.entries.lock().observers);
    let start = runtime.now();
    let sequence = Sequence {
        inner,
        shutdown: &inner.shutdown,
        config: &inner.config,
        runtime,
        record: Recorder::new(inner),
        start,
        now: start,
        graceful_end: start.saturating_add(inner.config.graceful()),
        observers,
        forced_by: None,
        forced_at: start,
        deadline_passed_in: None,
        finished: false,
        draining: false,
        left_at_force: None,
        close: None,
    };
    // Boxed once per run: the state of the sequence lives on the heap, not in every future
    // that carries it (`Plan::run`'s and the caller's, which are moved on their way to the
    // executor), and its poll is one function rather than inlined into the caller's.
    Box::pin(sequence.run())
}

/// One run of the sequence. Dropped before it finishes, it abandons the sequence (promise 2).
struct Sequence<'a, R: Runtime> {
    inner: &'a PlanInner,
    shutdown: &'a Shutdown,
    config: &'a Config,
    runtime: &'a R,
    record: Recorder<'a>,
    /// The runtime's clock when the sequence saw the trigger.
    start: Duration,
    /// The runtime's clock at the last reading ([`clock`](Self::clock)).
    now: Duration,
    /// When the graceful deadline passes, on the runtime's clock.
    graceful_end: Duration,
    /// An observer that panics is removed: it is called no more.
    observers: Vec<Observer>,
    /// Why the sequence was forced, once it was: nothing more starts but the flush hooks.
    forced_by: Option<ForcedBy>,
    /// When it was forced, on the runtime's clock (meaningful once `forced_by` is set): the
    /// forced flush budget counts from here.
    forced_at: Duration,
    /// The phase in which the graceful deadline passed, once it did: it bounds no more steps.
    deadline_passed_in: Option<Phase>,
    /// Set when the report is stored; until then, dropping abandons.
    finished: bool,
    /// Set while the drain step runs.
    draining: bool,
    /// What was in flight when a force came during the drain (its count and names in a drain
    /// record), taken before anyone heard of the force from the sequence: see
    /// [`force`](Self::force).
    left_at_force: Option<DrainRecord>,
    /// The code for the plan's closers, taken with them (`close.rs`): `None` when nothing was
    /// ever registered, and none linked.
    close: Option<Closing>,
}

impl<R: Runtime> Sequence<'_, R> {
    async fn run(mut self) {
        self.enter_phase(Phase::Initiated);

        // Pre-stop: not ready, still admitting, for load balancers to notice.
        if !self.config.pre_stop().is_zero() {
            let delay = self.config.pre_stop();
            let now = self.clock();
            let never = pin!(core::future::pending::<TaskOutcome>());
            let own_end = now.saturating_add(delay);
            self.bounded_step(never, own_end, Phase::Initiated, true)
                .await;
        }

        let drain = self.drain().await;
        self.record.drain_ended(drain);

        let (resources, flushes) = self.take_closers();
        if let Some(close) = self.close_all(resources, Phase::ClosingResources, None) {
            close.await;
        }
        let flush_end = self.clock().saturating_add(self.config.flush());
        if let Some(close) = self.close_all(flushes, Phase::FlushingBuffers, Some(flush_end)) {
            close.await;
        }

        if self.forced_by.is_none() {
            self.advance(Phase::Completed);
        }
        self.finish()
    }

    /// Closes admissions and waits for the drain within its deadline; or, forced in the
    /// pre-stop delay, abandons what is in flight undrained.
    async fn drain(&mut self) -> DrainRecord {
        let mut drain = DrainRecord::default();
        if self.forced_by.is_none() {
            self.advance(Phase::StoppingNewRequests);
            self.advance(Phase::Draining);
            drain.in_flight_at_start = self.shutdown.in_flight();
            self.record.drain_started(drain.in_flight_at_start);
            let drained = pin!(DrainStep(self.shutdown.drained()));
            let own_end = self.clock().saturating_add(self.config.drain());
            self.draining = true;
            match self
                .bounded_step(drained, own_end, Phase::Draining, true)
                .await
            {
                StepEnd::Done(_, late) => drain.timed_out = late,
                StepEnd::OwnDeadline => drain.timed_out = true,
                StepEnd::Graceful | StepEnd::Forced => {}
            }
            self.draining = false;
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
                return drain;
            }
        } else {
            drain.skipped = true;
            drain.in_flight_at_start = self.shutdown.in_flight();
            drain.left = drain.in_flight_at_start;
        }
        if drain.left > 0 {
            self.name_in_flight(&mut drain);
        }
        drain
    }

    /// Calls the plan's namers (outside every lock) for what is still in flight.
    fn name_in_flight(&self, drain: &mut DrainRecord) {
        self.call_sources(|entries| &mut entries.namers, &mut drain.still_in_flight);
        #[cfg(feature = "track")]
        {
            drain.guard_sites = crate::track::guard_sites(self.shutdown);
        }
    }

    /// Calls each of the plan's sources in `list` to push into `out`, outside the lock (they
    /// are user code), if any was ever registered.
    fn call_sources<T>(&self, list: fn(&mut Entries) -> &mut Sources<T>, out: &mut Vec<T>) {
        let call = list(&mut self.inner.entries.lock()).call();
        if let Some(call) = call {
            call(&self.inner.entries, list, out);
        }
    }

    /// Takes the resources and flush hooks (sealing registration), ordered.
    fn take_closers(&mut self) -> (Vec<Resource>, Vec<Resource>) {
        // Nothing else takes them while this run lives (an abandoned run takes them in its
        // `Drop`, after this run is over).
        let (resources, flushes, close) = self.inner.take_closers().unwrap_or_default();
        self.close = close;
        let at = self.elapsed();
        // With none ever registered, there is nothing to queue.
        if let Some(closing) = close {
            self.record.closers_taken(closing, &resources, &flushes, at);
        }
        (resources, flushes)
    }

    /// Enters `phase` and returns the closing of its closers, in order, to await (`close.rs`,
    /// with [`CloseHost`] below), or `None` when nothing was ever registered. After a force,
    /// resources are skipped, and flush hooks run within what is left of the forced flush
    /// budget.
    fn close_all<'s>(
        &'s mut self,
        closers: Vec<Resource>,
        phase: Phase,
        end: Option<Duration>,
    ) -> Option<Pin<Box<dyn Future<Output = ()> + Send + 's>>> {
        if self.forced_by.is_none() {
            self.advance(phase);
        }
        // Stored by the registration of the first closer: with none, there is nothing to close.
        let closing = self.close?;
        let runtime: &dyn StepRuntime = self.runtime;
        let inner = self.inner;
        Some((closing.close_all)(
            self, runtime, inner, closers, phase, end,
        ))
    }

    /// What is left at `now` of the forced flush budget, for a step of `phase`, once forced:
    /// `None` for a step that is not a flush hook's, or when the budget is off (zero) or the
    /// run was abandoned.
    fn forced_flush_left(&self, phase: Phase, now: Duration) -> Option<Duration> {
        let budget = self.config.forced_flush();
        let flushes = phase == Phase::FlushingBuffers && !budget.is_zero();
        flushes.then(|| self.forced_at.saturating_add(budget).saturating_sub(now))
    }

    /// Runs `step` until it finishes, its own deadline `own_end` passes, the graceful deadline
    /// passes (forcing, if on), or the shutdown is forced. With `record`, the step's deadline is
    /// recorded as it begins and its end as it ends (a closer's deadline is recorded with the
    /// closer instead).
    ///
    /// With forcing off, a step running when the graceful deadline passes keeps its own
    /// deadline: the passing is recorded and the step goes on. A step that finishes is checked
    /// against the clock (promise 1): past its own deadline it is late; past the graceful one,
    /// the passing is recorded and acted on now.
    ///
    /// A flush hook's step outlives a force: from then on it is bounded by the forced flush
    /// budget instead (and its own end), and watches nothing else.
    async fn bounded_step(
        &mut self,
        mut step: Step<'_>,
        mut own_end: Duration,
        phase: Phase,
        record: bool,
    ) -> StepEnd {
        if record {
            self.record.step_began(own_end.saturating_sub(self.start));
        }
        let end = loop {
            let watching = self.forced_by.is_none();
            let graceful_first =
                watching && self.deadline_passed_in.is_none() && self.graceful_end <= own_end;
            let wait = if graceful_first {
                self.graceful_end
            } else {
                own_end
            };
            let end = {
                // Made at the first poll that finds the step still running, so a step that
                // ends in it (a drain with nothing in flight) needs no timer at all; it ends at
                // `wait` on the runtime's clock, however long that first poll took.
                let mut timer = None;
                // Only while the sequence is not forced yet (a forced flush hook's step would
                // find it ready at once).
                let mut forced = watching.then(|| self.shutdown.reached(Phase::Forced));
                poll_fn(|cx| {
                    // The step first: a closer that finished at the very moment of a force or a
                    // deadline did finish, and the report says so.
                    if let Poll::Ready(output) = step.as_mut().poll(cx) {
                        return Poll::Ready(StepEnd::Done(output, false));
                    }
                    if let Some(forced) = forced.as_mut() {
                        if Pin::new(forced).poll(cx).is_ready() {
                            return Poll::Ready(StepEnd::Forced);
                        }
                    }
                    let timer = timer.get_or_insert_with(|| {
                        self.runtime.sleep(wait.saturating_sub(self.runtime.now()))
                    });
                    if timer.as_mut().poll(cx).is_ready() {
                        let end = if graceful_first {
                            StepEnd::Graceful
                        } else {
                            StepEnd::OwnDeadline
                        };
                        return Poll::Ready(end);
                    }
                    Poll::Pending
                })
                .await
            };
            let end = match end {
                StepEnd::Done(output, _) => {
                    let late = self.step_ended(own_end, phase);
                    break StepEnd::Done(output, late);
                }
                StepEnd::Forced => {
                    self.force(ForcedBy::Requested);
                    StepEnd::Forced
                }
                StepEnd::Graceful => {
                    self.clock();
                    if !self.graceful_passed(phase) {
                        continue;
                    }
                    StepEnd::Graceful
                }
                StepEnd::OwnDeadline => {
                    self.clock();
                    break StepEnd::OwnDeadline;
                }
            };
            // Forced (from outside or by the graceful deadline): a flush hook goes on within
            // the forced budget; any other step ends here.
            let now = self.now;
            match self.forced_flush_left(phase, now) {
                Some(left) if !left.is_zero() => own_end = own_end.min(now.saturating_add(left)),
                _ => break end,
            }
        };
        if record {
            self.record.step_ended();
        }
        end
    }

    /// A step of `phase` whose own deadline passes at `own_end` has finished: reads the clock,
    /// records a graceful deadline that passed meanwhile (and acts on it: promise 1), and says
    /// whether the step finished late.
    fn step_ended(&mut self, own_end: Duration, phase: Phase) -> bool {
        let now = self.clock();
        if self.deadline_passed_in.is_none() && now > self.graceful_end {
            self.graceful_passed(phase);
        }
        now > own_end
    }

    /// Records that the graceful deadline passed during `phase`, and forces if forcing is on
    /// (returns whether it forced). With forcing off it counts as a timeout.
    fn graceful_passed(&mut self, phase: Phase) -> bool {
        let force = self.config.force_after_deadline();
        self.deadline_passed_in = Some(phase);
        self.record.graceful_passed(phase, force);
        if force {
            self.force(ForcedBy::Deadline(phase));
        }
        force
    }

    /// Forces the sequence now if the shutdown was forced from outside (checked without
    /// waiting).
    fn notice_force(&mut self) {
        if self.forced_by.is_none() && self.shutdown.phase() == Phase::Forced {
            self.force(ForcedBy::Requested);
        }
    }

    /// Forces the sequence, for `by`, now.
    fn force(&mut self, by: ForcedBy) {
        if self.forced_by.is_some() {
            return;
        }
        self.forced_by = Some(by);
        self.forced_at = self.clock();
        self.record.forced(by);
        // Already there when the force came from outside.
        let _ = self.shutdown.advance(Phase::Forced);
        // The drain's left-overs are counted and named before the observers hear of the
        // force: an observer of `Forced` may end them at once (an HTTP server cuts its
        // connections there), and what a force cuts is left, not drained.
        if self.draining {
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

    /// Moves the shutdown forward and records the phase. A refusal means the shutdown moved
    /// past `to` from outside (forced).
    fn advance(&mut self, to: Phase) {
        if self.shutdown.advance(to).is_ok() {
            self.enter_phase(to);
        } else {
            // Forced while the step before ended on its own (a drain whose last guard went
            // as the second signal landed).
            self.notice_force();
        }
    }

    /// Records `phase` and tells the observers (outside every lock).
    fn enter_phase(&mut self, phase: Phase) {
        let at = self.elapsed();
        self.record.phase_entered(phase, at);
        let mut next = 0;
        while let Some(observer) = self.observers.get_mut(next) {
            match catch(|| observer(phase, at)) {
                Ok(()) => next += 1,
                Err(message) => {
                    drop(self.observers.remove(next));
                    self.record.observer_panicked(phase, message);
                }
            }
        }
    }

    /// Reads the runtime's clock (and keeps the reading).
    fn clock(&mut self) -> Duration {
        self.now = self.runtime.now();
        self.now
    }

    /// Reads the runtime's clock (and keeps the reading), as an offset from the start.
    fn elapsed(&mut self) -> Duration {
        let now = self.clock();
        self.offset(now)
    }

    /// `now` as an offset from the start.
    fn offset(&self, now: Duration) -> Duration {
        now.saturating_sub(self.start)
    }

    /// Stores the report for every run of the plan.
    fn finish(&mut self) {
        let mut failures = Vec::new();
        self.call_sources(|entries| &mut entries.collectors, &mut failures);
        let mut notes = Vec::new();
        self.call_sources(|entries| &mut entries.notes, &mut notes);
        self.finished = true;
        let total = self.elapsed();
        self.record.finish(failures, notes, total);
    }

    /// The run was dropped before it finished: finish the draft truthfully (promise 2). Runs
    /// no user code but the drop of the closers it takes (after the locks are released).
    fn abandon(&mut self) {
        let at = self.offset(self.runtime.now());
        let untaken = self.inner.take_closers();
        let in_flight = self.shutdown.in_flight();
        let moved = self.shutdown.advance(Phase::Forced).is_ok();
        // The code for the closers: taken with them, here if this run had not taken them yet.
        let closing = match &untaken {
            Some((_, _, closing)) => *closing,
            None => self.close,
        };
        let untaken_lists = untaken
            .as_ref()
            .map(|(r, f, _)| (r.as_slice(), f.as_slice()));
        self.record
            .abandoned(at, in_flight, moved, closing, untaken_lists);
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

impl<R: Runtime> CloseHost for Sequence<'_, R> {
    fn read_clock(&mut self) -> Duration {
        self.clock()
    }

    fn last_clock(&self) -> Duration {
        self.now
    }

    fn since_start(&self, now: Duration) -> Duration {
        self.offset(now)
    }

    fn before_closer(&mut self, phase: Phase, now: Duration) -> Option<Duration> {
        // A force that came while the previous closer was finishing: do not start this one.
        self.notice_force();
        // Nor when the graceful deadline has been reached meanwhile (the previous closer
        // ended just at it): its timer would fire at the first poll, before this closer
        // could run, and the report would call a closer that ran "cancelled".
        if self.deadline_passed_in.is_none() && self.forced_by.is_none() && now >= self.graceful_end
        {
            self.graceful_passed(phase);
        }
        self.forced_by
            .map(|_| self.forced_flush_left(phase, now).unwrap_or_default())
    }

    fn wait<'s>(
        &'s mut self,
        step: Step<'s>,
        own_end: Duration,
        phase: Phase,
    ) -> Pin<Box<dyn Future<Output = StepEnd> + Send + 's>> {
        Box::pin(self.bounded_step(step, own_end, phase, false))
    }

    fn ended(&mut self, own_end: Duration, phase: Phase) -> bool {
        self.step_ended(own_end, phase)
    }
}
