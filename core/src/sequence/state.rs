//! What a plan shares between its handles and the run that carries out its sequence: the
//! registrations (resources, flush hooks, observers, namers, collectors, note writers) and the
//! run's state (who runs it, the report as it is written, the runs waiting for it).
//!
//! Two locks, never held together: `entries` (registration, and the sequence taking the
//! lists) and `run` (the stage and the draft report). User code never runs under either.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::ops::DerefMut;
use core::pin::Pin;
use core::task::Waker;
use core::time::Duration;

use super::draft::Draft;
use super::report::{DrainRecord, TaskFailure};
use super::step::{CloseHost, StepRuntime};
use crate::raw::Lock;
use crate::{Config, Phase, Report, Resource, Shutdown};

/// Closes the closers of one phase, in order, on a sequence of the plan and its runtime,
/// within the phase's own deadline if it has one: `close.rs`'s `close_all`, stored by the
/// registration of a resource or flush hook, so that a plan with none links no code to close
/// one.
pub(super) type Close = for<'s> fn(
    &'s mut (dyn CloseHost + 's),
    &'s dyn StepRuntime,
    &'s PlanInner,
    Vec<Resource>,
    Phase,
    Option<Duration>,
) -> Pin<Box<dyn Future<Output = ()> + Send + 's>>;

/// The code for a plan's resources and flush hooks (`close.rs`), stored by the registration of
/// the first one, so that a plan with none links none of it: their closing, and their records
/// when the sequence takes them, when its run is abandoned, and in each copy of the report.
#[derive(Clone, Copy)]
pub(super) struct Closing {
    /// Closes the closers of one phase, in order.
    pub(super) close_all: Close,
    /// The sequence took these resources and flush hooks, at this offset: queues their
    /// records in the draft (each reported skipped until it begins, if the run is abandoned).
    pub(super) taken: fn(&mut Draft, &[Resource], &[Resource], Duration),
    /// The run was abandoned at this offset: ends the record of the closer running, and
    /// reports the queued ones and the untaken ones (not taken by the sequence yet) skipped.
    pub(super) abandoned: fn(&mut Draft, Untaken<'_>, Duration),
}

/// The resources and flush hooks an abandoned run had not taken from the plan yet, if any.
pub(super) type Untaken<'r> = Option<(&'r [Resource], &'r [Resource])>;

/// A subscriber to phase changes: called with the phase and its offset from the trigger.
pub(super) type Observer = Box<dyn FnMut(Phase, Duration) + Send>;

/// A source of report lines, called by the sequence (outside every lock) to push into a list.
pub(super) type Source<T> = Box<dyn FnMut(&mut Vec<T>) + Send>;

/// Calls the sources that `list` picks out of the plan's entries, to push into `out` (see
/// [`Sources`]).
pub(super) type CallSources<T> =
    fn(&Lock<Entries>, list: fn(&mut Entries) -> &mut Sources<T>, out: &mut Vec<T>);

/// The sources of one kind of report line, and the code that calls them: stored by the first
/// registration, so that a program that registers none links none.
pub(super) struct Sources<T> {
    list: Vec<Source<T>>,
    call: Option<CallSources<T>>,
}

impl<T> Default for Sources<T> {
    fn default() -> Self {
        Sources {
            list: Vec::new(),
            call: None,
        }
    }
}

impl<T> Sources<T> {
    /// Registers `source`.
    pub(super) fn push(&mut self, source: Source<T>) {
        self.call = Some(call_sources::<T>);
        self.list.push(source);
    }

    /// The code that calls them, once one was registered.
    pub(super) fn call(&self) -> Option<CallSources<T>> {
        self.call
    }
}

/// Calls each of the sources `list` picks out of `entries`, to push into `out`: taken out of the
/// entries so that they run outside the lock (they are user code), then put back.
fn call_sources<T>(
    entries: &Lock<Entries>,
    list: fn(&mut Entries) -> &mut Sources<T>,
    out: &mut Vec<T>,
) {
    let mut sources = core::mem::take(&mut list(&mut entries.lock()).list);
    for source in &mut sources {
        source(out);
    }
    list(&mut entries.lock()).list.append(&mut sources);
}

pub(super) struct PlanInner {
    pub(super) shutdown: Shutdown,
    pub(super) config: Config,
    pub(super) entries: Lock<Entries>,
    /// Who runs the sequence, what it has done so far, and its report once it ends.
    pub(super) run: Lock<RunState>,
}

#[derive(Default)]
pub(super) struct Entries {
    /// Set when the sequence takes the resources and flush hooks (it starts closing, or its run
    /// was abandoned before); registration is refused from then on.
    pub(super) sealed: bool,
    /// In closing order ([`insert_ordered`]), as are the flush hooks.
    pub(super) resources: Vec<Resource>,
    pub(super) flushes: Vec<Resource>,
    pub(super) observers: Vec<Observer>,
    /// Name what is still in flight when the drain deadline passes.
    pub(super) namers: Sources<String>,
    /// Report the tasks that failed or panicked, when the sequence ends.
    pub(super) collectors: Sources<TaskFailure>,
    /// Add lines to the report's notes, when the sequence ends.
    pub(super) notes: Sources<String>,
    /// The code for `resources` and `flushes`: stored by their registration, so that a
    /// program that registers none links none (`close.rs`).
    pub(super) closing: Option<Closing>,
}

/// Copies a report whole (`Report::clone`): see [`RunState::copy`].
pub(super) type CopyReport = fn(&Report) -> Report;

/// Which run of the plan owns the sequence.
#[derive(Default)]
pub(super) enum Stage {
    /// No run has started the sequence yet.
    #[default]
    Idle,
    /// A run is carrying out the sequence; other runs wait for its report.
    Running,
    /// The sequence ended (or its run was abandoned); every run returns this report.
    Done(Box<Report>),
}

/// The sequence's shared state: what [`Plan::progress`](crate::Plan::progress) reads, what a
/// waiting run waits for.
#[derive(Default)]
pub(super) struct RunState {
    pub(super) stage: Stage,
    pub(super) draft: Draft,
    /// Runs waiting for the report of the run that owns the sequence.
    pub(super) waiters: Vec<Waker>,
    /// How each run copies the report: whole once anything was registered (stored by every
    /// registration, [`PlanInner::registering`], since only what was registered fills its
    /// lists); `None` before.
    pub(super) copy: Option<CopyReport>,
}

impl RunState {
    /// Stores the final report and takes the waiters to wake (outside the lock).
    pub(super) fn finish(&mut self, report: Report) -> Vec<Waker> {
        // A run stores its report once, over `Running`: written only over a stage that holds
        // no report, so that no report's drop is linked here.
        if !matches!(self.stage, Stage::Done(_)) {
            self.stage = Stage::Done(Box::new(report));
        }
        core::mem::take(&mut self.waiters)
    }

    /// A copy of the final report, once stored: every run returns one (the run that carried
    /// out the sequence too), so that the report is cloned in this one place.
    pub(super) fn report(&self) -> Option<Report> {
        match &self.stage {
            Stage::Done(report) => Some(self.copy(report)),
            Stage::Idle | Stage::Running => None,
        }
    }
}

impl RunState {
    /// A copy of `report`: whole once anything was registered; otherwise its lists are empty
    /// (only registrations fill them: closers, observers, namers, failure collectors, note
    /// writers), and it is copied without them, so that a plan with none links no copy of them.
    fn copy(&self, report: &Report) -> Report {
        if let Some(copy) = self.copy {
            return copy(report);
        }
        let drain = &report.drain;
        Report {
            status: report.status,
            reason: report.reason.clone(),
            forced_by: report.forced_by,
            deadline_passed_in: report.deadline_passed_in,
            phases: report.phases.clone(),
            drain: DrainRecord {
                in_flight_at_start: drain.in_flight_at_start,
                left: drain.left,
                timed_out: drain.timed_out,
                skipped: drain.skipped,
                still_in_flight: Vec::new(),
                // Filled by the leak finder without any registration.
                #[cfg(feature = "track")]
                guard_sites: drain.guard_sites.clone(),
            },
            resources: Vec::new(),
            flushes: Vec::new(),
            observer_panics: Vec::new(),
            task_failures: Vec::new(),
            notes: Vec::new(),
            total: report.total,
        }
    }
}

impl PlanInner {
    /// The entries, for a registration: from now on each run copies the report whole. Set
    /// before the registration is in the entries (the two locks one after the other, never
    /// together), so before anything it adds can reach a report.
    pub(super) fn registering(&self) -> impl DerefMut<Target = Entries> + '_ {
        self.run.lock().copy = Some(Report::clone);
        self.entries.lock()
    }
}

/// Takes the resources and flush hooks from the plan (sealing registration), ordered, if the
/// sequence had not taken them yet.
impl PlanInner {
    pub(super) fn take_closers(&self) -> Option<(Vec<Resource>, Vec<Resource>, Option<Closing>)> {
        let mut entries = self.entries.lock();
        if entries.sealed {
            return None;
        }
        entries.sealed = true;
        let resources = core::mem::take(&mut entries.resources);
        let flushes = core::mem::take(&mut entries.flushes);
        let close = entries.closing;
        drop(entries);
        // Kept in order by their registration ([`insert_ordered`]).
        Some((resources, flushes, close))
    }
}

/// Puts `resource` into `list`, which is in closing order: higher priority first, equal
/// priorities in reverse registration order. Done as each registers, so that a plan with
/// none links no ordering.
pub(super) fn insert_ordered(list: &mut Vec<Resource>, resource: Resource) {
    // Before every one of its priority (registered earlier), after every higher one. A plan
    // holds a handful of resources; this is a few hundred bytes of code where the standard
    // library's stable sort is a few kilobytes.
    let at = list.partition_point(|placed| placed.priority > resource.priority);
    list.insert(at, resource);
}
