//! The report as the sequence writes it: [`Draft`], in the plan's shared run state, read by
//! [`Plan::progress`](crate::Plan::progress) while the sequence runs and turned into the
//! [`Report`] when it ends. Written only through `record.rs`.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::report::{
    DrainRecord, ForcedBy, ObserverPanic, PhaseRecord, Progress, ResourceRecord, Status,
    TaskFailure,
};
use crate::{Phase, Report, Shutdown};

/// The report as the sequence writes it.
#[derive(Default)]
pub(super) struct Draft {
    pub(super) phases: Vec<PhaseRecord>,
    /// Set when the drain begins (`drain_open`), completed when it ends.
    pub(super) drain: Option<DrainRecord>,
    pub(super) drain_open: bool,
    pub(super) resources: Vec<ResourceRecord>,
    pub(super) flushes: Vec<ResourceRecord>,
    /// The closer or flush hook running now, with the phase whose list it belongs to.
    pub(super) running: Option<(Phase, ResourceRecord)>,
    /// When the bounded step running now passes its own deadline, from the start.
    pub(super) step_end: Option<Duration>,
    /// Taken from the plan, not started yet, last to run first (the next one is popped).
    pub(super) queued_resources: Vec<ResourceRecord>,
    pub(super) queued_flushes: Vec<ResourceRecord>,
    pub(super) observer_panics: Vec<ObserverPanic>,
    pub(super) task_failures: Vec<TaskFailure>,
    pub(super) notes: Vec<String>,
    pub(super) forced_by: Option<ForcedBy>,
    pub(super) deadline_passed_in: Option<Phase>,
    pub(super) timed_out: bool,
    pub(super) failed: bool,
}

impl Draft {
    /// What [`Plan::progress`](crate::Plan::progress) shows of a sequence still running.
    /// What the sequence has done so far (the shutdown's own state is the caller's to add).
    pub(super) fn progress(&self) -> Progress {
        Progress {
            phase: Phase::Running,
            reason: None,
            in_flight: 0,
            refused: 0,
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

    pub(super) fn list(&mut self, phase: Phase) -> &mut Vec<ResourceRecord> {
        if phase == Phase::FlushingBuffers {
            &mut self.flushes
        } else {
            &mut self.resources
        }
    }

    pub(super) fn queue(&mut self, phase: Phase) -> &mut Vec<ResourceRecord> {
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

    /// Ends the last phase record at `at` and starts one for `phase`.
    pub(super) fn push_phase(&mut self, phase: Phase, at: Duration) {
        self.close_last_phase(at);
        self.phases
            .push(PhaseRecord::new(phase, at, Duration::ZERO));
    }

    /// Ends the last phase record at `at`.
    fn close_last_phase(&mut self, at: Duration) {
        if let Some(last) = self.phases.last_mut() {
            last.duration = at.saturating_sub(last.started);
        }
    }

    /// Moves the draft into a report.
    pub(super) fn into_report(mut self, shutdown: &Shutdown, total: Duration) -> Report {
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
