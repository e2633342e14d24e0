//! What a plan shares between its handles and the run that carries out its sequence: the
//! registrations (resources, flush hooks, observers, namers, collectors, note writers) and the
//! run's state (who runs it, the report as it is written, the runs waiting for it).
//!
//! Two locks, never held together: `entries` (registration, and the sequence taking the
//! lists) and `run` (the stage and the draft report). User code never runs under either.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::task::Waker;
use core::time::Duration;

use super::close::Close;
use super::draft::Draft;
use super::report::TaskFailure;
use crate::raw::Lock;
use crate::{Config, Phase, Report, Resource, Shutdown};

/// A subscriber to phase changes: called with the phase and its offset from the trigger.
pub(super) type Observer = Box<dyn FnMut(Phase, Duration) + Send>;

/// A source of report lines, called by the sequence (outside every lock) to push into a list.
pub(super) type Source<T> = Box<dyn FnMut(&mut Vec<T>) + Send>;

/// Names what is still in flight when the drain deadline passes.
pub(super) type InFlightNamer = Source<String>;

/// Reports the tasks that failed or panicked, when the sequence ends.
pub(super) type FailureCollector = Source<TaskFailure>;

/// Adds lines to the report's notes, when the sequence ends.
pub(super) type NoteWriter = Source<String>;

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
    pub(super) resources: Vec<Resource>,
    pub(super) flushes: Vec<Resource>,
    pub(super) observers: Vec<Observer>,
    pub(super) namers: Vec<InFlightNamer>,
    pub(super) collectors: Vec<FailureCollector>,
    pub(super) notes: Vec<NoteWriter>,
    /// The code that closes `resources` and `flushes`: stored by their registration, so that
    /// a program that registers none links none (`close.rs`).
    pub(super) close: Option<Close>,
}

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

/// The sequence's shared state: what [`Plan::progress`] reads, what a waiting run waits for.
#[derive(Default)]
pub(super) struct RunState {
    pub(super) stage: Stage,
    pub(super) draft: Draft,
    /// Runs waiting for the report of the run that owns the sequence.
    pub(super) waiters: Vec<Waker>,
}

impl RunState {
    /// Stores the final report and takes the waiters to wake (outside the lock).
    pub(super) fn finish(&mut self, report: Report) -> Vec<Waker> {
        self.stage = Stage::Done(Box::new(report));
        core::mem::take(&mut self.waiters)
    }

    /// A copy of the final report, once stored: every run returns one (the run that carried
    /// out the sequence too), so that the report is cloned in this one place.
    pub(super) fn report(&self) -> Option<Report> {
        match &self.stage {
            Stage::Done(report) => Some(Report::clone(report)),
            Stage::Idle | Stage::Running => None,
        }
    }
}

/// Takes the resources and flush hooks from the plan (sealing registration), ordered, if the
/// sequence had not taken them yet.
impl PlanInner {
    pub(super) fn take_closers(&self) -> Option<(Vec<Resource>, Vec<Resource>, Option<Close>)> {
        let mut entries = self.entries.lock();
        if entries.sealed {
            return None;
        }
        entries.sealed = true;
        let resources = core::mem::take(&mut entries.resources);
        let flushes = core::mem::take(&mut entries.flushes);
        let close = entries.close;
        drop(entries);
        Some((order(resources), order(flushes), close))
    }
}

/// Higher priority first; equal priorities in reverse registration order.
pub(super) fn order(resources: Vec<Resource>) -> Vec<Resource> {
    // An insertion by binary search, from the last registered to the first: each goes after
    // every resource of its priority or higher, so equal priorities keep the reversed
    // registration order. A plan holds a handful of resources; this is a few hundred bytes of
    // code where the standard library's stable sort is a few kilobytes.
    let mut ordered: Vec<Resource> = Vec::with_capacity(resources.len());
    for resource in resources.into_iter().rev() {
        let at = ordered.partition_point(|placed| placed.priority >= resource.priority);
        ordered.insert(at, resource);
    }
    ordered
}
