//! The report keeping of a run: the [`Recorder`] that writes the draft report (`draft.rs`,
//! shared in the plan's run state so that [`Plan::progress`](crate::Plan::progress) can read
//! it), one method per event of the sequence (a phase entered, the drain begun and ended, a closer
//! begun and ended, a deadline passed, a force), each one short lock of the run state.
//!
//! `run.rs` decides what happens; this module only writes down what did. What it promises
//! (the promises are numbered in `run.rs`): the report is never kinder than the events it was
//! told (promise 1), it is readable while it is written and finished truthfully when the run
//! is abandoned (promise 2), and no user code runs under the lock (promise 3: closures given
//! to the lock here only move records).

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::draft::Draft;
use super::report::{DrainRecord, ForcedBy, ObserverPanic, Outcome, TaskFailure};
use super::state::{Closing, PlanInner, Untaken};
use crate::{Phase, Resource};

/// Writes one run's report into the plan's shared draft. Offsets (`at`) are from the moment
/// the sequence saw the trigger.
pub(super) struct Recorder<'a> {
    inner: &'a PlanInner,
}

impl<'a> Recorder<'a> {
    pub(super) fn new(inner: &'a PlanInner) -> Self {
        Recorder { inner }
    }

    /// Runs `f` on the draft under the plan's run lock; `f` must not run user code.
    fn with<T>(&self, f: impl FnOnce(&mut Draft) -> T) -> T {
        f(&mut self.inner.run.lock().draft)
    }

    /// The sequence entered `phase`.
    pub(super) fn phase_entered(&self, phase: Phase, at: Duration) {
        self.with(|draft| draft.push_phase(phase, at));
        super::progress::phase(phase, at);
    }

    /// A phase observer panicked (it is called no more).
    pub(super) fn observer_panicked(&self, phase: Phase, message: Option<String>) {
        self.with(|draft| {
            draft.failed = true;
            draft.observer_panics.push(ObserverPanic { phase, message });
        });
    }

    /// The drain began with `in_flight` guards (and undrained child scopes) in flight.
    pub(super) fn drain_started(&self, in_flight: usize) {
        self.with(|draft| {
            draft.drain = Some(DrainRecord {
                in_flight_at_start: in_flight,
                ..DrainRecord::default()
            });
            draft.drain_open = true;
        });
    }

    /// The drain ended (or was skipped): `drain` is its whole record.
    pub(super) fn drain_ended(&self, drain: DrainRecord) {
        super::progress::drain(&drain);
        self.with(|draft| {
            draft.timed_out |= drain.timed_out;
            draft.drain = Some(drain);
            draft.drain_open = false;
        });
    }

    /// The sequence took the resources and flush hooks it will close, in order: until each
    /// begins, it is reported skipped if the run is abandoned (`closing`'s code).
    pub(super) fn closers_taken(
        &self,
        closing: Closing,
        resources: &[Resource],
        flushes: &[Resource],
        at: Duration,
    ) {
        self.with(|draft| (closing.taken)(draft, resources, flushes, at));
    }

    /// The next closer of `phase` begins at `at` and runs until `step_end` at most (its own
    /// deadline, from the start), or is skipped (`None`). Until it ends, an abandoned run
    /// reports it cancelled (or skipped).
    pub(super) fn closer_began(&self, phase: Phase, at: Duration, step_end: Option<Duration>) {
        self.with(|draft| {
            let Some(mut record) = draft.queue(phase).pop() else {
                return;
            };
            record.started = at;
            record.outcome = if step_end.is_some() {
                Outcome::Cancelled
            } else {
                Outcome::Skipped
            };
            draft.running = Some((phase, record));
            draft.step_end = step_end;
        });
    }

    /// The closer of `phase` that began last ended at `at` with `outcome`. An error or a panic
    /// fails the sequence; a closer that overran its deadline, or finished late, times it out.
    pub(super) fn closer_ended(&self, phase: Phase, outcome: Outcome, at: Duration) {
        let (failed, timed_out) = match &outcome {
            Outcome::Error(_) | Outcome::Panicked(_) => (true, false),
            Outcome::Late(inner) => (!inner.is_ok(), true),
            Outcome::TimedOut => (false, true),
            _ => (false, false),
        };
        let logged = self.with(|draft| {
            draft.failed |= failed;
            draft.timed_out |= timed_out;
            draft.step_end = None;
            let (_, mut record) = draft.running.take()?;
            record.outcome = outcome;
            record.duration = at.saturating_sub(record.started);
            // A copy for the progress event, sent outside the lock, only if it goes anywhere.
            let logged = super::progress::ENABLED.then(|| record.clone());
            draft.list(phase).push(record);
            logged
        });
        if let Some(record) = logged {
            super::progress::resource(phase, &record);
        }
    }

    /// A bounded step (the pre-stop delay, the drain, a closer) began; its own deadline passes
    /// at `end`.
    pub(super) fn step_began(&self, end: Duration) {
        self.with(|draft| draft.step_end = Some(end));
    }

    /// The bounded step that began last ended.
    pub(super) fn step_ended(&self) {
        self.with(|draft| draft.step_end = None);
    }

    /// A deadline passed that is not a step's own (the flush phase's, before a hook could
    /// start): the sequence timed out.
    pub(super) fn out_of_time(&self) {
        self.with(|draft| draft.timed_out = true);
    }

    /// The graceful deadline passed during `phase`; with forcing off it counts as a timeout
    /// (with forcing on, [`forced`](Self::forced) follows).
    pub(super) fn graceful_passed(&self, phase: Phase, forcing: bool) {
        self.with(|draft| {
            draft.deadline_passed_in = Some(phase);
            draft.timed_out |= !forcing;
        });
    }

    /// The sequence was forced, by `by` (it enters `Forced` next: [`phase_entered`]).
    ///
    /// [`phase_entered`]: Self::phase_entered
    pub(super) fn forced(&self, by: ForcedBy) {
        self.with(|draft| draft.forced_by = Some(by));
    }

    /// The sequence ended at `total`: stores the report for every run of the plan (and wakes
    /// the runs waiting for it).
    pub(super) fn finish(
        &self,
        task_failures: Vec<TaskFailure>,
        notes: Vec<String>,
        total: Duration,
    ) {
        let (mut task_failures, mut notes) = (task_failures, notes);
        self.store(&mut |draft| {
            // Swapped in (the draft's are empty: nothing else writes them), so that no drop of
            // a list is linked here.
            core::mem::swap(&mut draft.task_failures, &mut task_failures);
            core::mem::swap(&mut draft.notes, &mut notes);
            total
        })
    }

    /// The run was dropped at `at` before the sequence ended (promise 2): the closer running is
    /// reported cancelled, the queued ones and `untaken` (resources and flushes the sequence
    /// had not taken yet) skipped, a drain in progress ended with `in_flight` left (or skipped
    /// if it never began), and the sequence forced (`ForcedBy::Abandoned` unless forced
    /// before), entering `Forced` unless it was there already and `moved` is false.
    pub(super) fn abandoned(
        &self,
        at: Duration,
        in_flight: usize,
        moved: bool,
        closing: Option<Closing>,
        untaken: Untaken<'_>,
    ) {
        self.store(&mut |draft| {
            // With none ever registered, there is no closer to report.
            if let Some(closing) = closing {
                (closing.abandoned)(draft, untaken, at);
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
                draft.push_phase(Phase::Forced, at);
            }
            at
        })
    }

    /// Finishes the draft with `last` (which returns the total), turns it into the report,
    /// stores that for every run of the plan, and wakes the runs waiting for it (outside the
    /// lock). The run that carried out the sequence takes its copy as they do, so the report is
    /// cloned in one place. `last` is called once; a `dyn` so that both ends of a run share
    /// one copy of this function.
    fn store(&self, last: &mut dyn FnMut(&mut Draft) -> Duration) {
        let (waiters, logged) = {
            let mut run = self.inner.run.lock();
            let total = last(&mut run.draft);
            let report = core::mem::take(&mut run.draft).into_report(&self.inner.shutdown, total);
            // A copy for the progress event, sent outside the lock, only if it goes anywhere.
            let logged = super::progress::ENABLED.then(|| report.clone());
            (run.finish(report), logged)
        };
        for waker in waiters {
            waker.wake();
        }
        if let Some(report) = logged {
            super::progress::report(&report);
        }
    }
}
