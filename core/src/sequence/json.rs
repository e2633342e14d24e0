//! The report's JSON shape (feature `serde`): `Serialize` for [`Report`] and what it holds.
//!
//! One vocabulary for the report and for a status page ([`Progress`]: what an HTTP `/status`
//! answers with). Written by hand, not derived, so that the shape is stable and documented
//! (see the [`Report`] docs) rather than whatever the Rust types happen to be: a `version` field,
//! durations as milliseconds (numbers, with microsecond precision), statuses, phases and
//! outcomes as lower-case `snake_case` strings, and the exit code included.

use core::time::Duration;

use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use super::report::{
    DrainRecord, ForcedBy, ObserverPanic, Outcome, PhaseRecord, Progress, ResourceRecord,
    TaskFailure,
};
use crate::{Phase, Reason, Report, ResourceKind, Status};

/// A duration as milliseconds, a number with microsecond precision.
struct Millis(Duration);

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Whole microseconds, so the number prints without binary noise (0.001, not
        // 0.0010000000000000002).
        let micros = self.0.as_micros();
        let millis = (micros / 1000) as f64 + (micros % 1000) as f64 / 1000.0;
        serializer.serialize_f64(millis)
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Completed => "completed",
        Status::Failed => "failed",
        Status::TimedOut => "timed_out",
        Status::Forced => "forced",
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Running => "running",
        Phase::Initiated => "initiated",
        Phase::StoppingNewRequests => "stopping_new_requests",
        Phase::Draining => "draining",
        Phase::ClosingResources => "closing_resources",
        Phase::FlushingBuffers => "flushing_buffers",
        Phase::Completed => "completed",
        Phase::Forced => "forced",
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(status_name(*self))
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(phase_name(*self))
    }
}

impl Serialize for Reason {
    /// `{"kind": "signal", "signal": 15}`, `{"kind": "requested", "message": null}`,
    /// `{"kind": "error", "message": "..."}`, `{"kind": "parent"}`, `{"kind": "deadline"}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Reason", 2)?;
        match self {
            Reason::Signal(number) => {
                out.serialize_field("kind", "signal")?;
                out.serialize_field("signal", number)?;
            }
            Reason::Requested(message) => {
                out.serialize_field("kind", "requested")?;
                out.serialize_field("message", message)?;
            }
            Reason::Error(message) => {
                out.serialize_field("kind", "error")?;
                out.serialize_field("message", message)?;
            }
            Reason::Parent => out.serialize_field("kind", "parent")?,
            Reason::Deadline => out.serialize_field("kind", "deadline")?,
        }
        out.end()
    }
}

impl Serialize for ForcedBy {
    /// `{"kind": "requested" | "abandoned"}` or
    /// `{"kind": "deadline", "phase": "closing_resources"}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("ForcedBy", 2)?;
        match self {
            ForcedBy::Requested => out.serialize_field("kind", "requested")?,
            ForcedBy::Abandoned => out.serialize_field("kind", "abandoned")?,
            ForcedBy::Deadline(phase) => {
                out.serialize_field("kind", "deadline")?;
                out.serialize_field("phase", phase)?;
            }
        }
        out.end()
    }
}

impl Serialize for ResourceKind {
    /// `"database"`, `"cache"`, `"http_client"`, `"queue"`, `"file"`, or the custom name.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            ResourceKind::Database => "database",
            ResourceKind::Cache => "cache",
            ResourceKind::HttpClient => "http_client",
            ResourceKind::Queue => "queue",
            ResourceKind::File => "file",
            ResourceKind::Custom(name) => name,
        })
    }
}

/// An outcome's name and message: `("late", ..)` is handled by the record.
fn outcome_parts(outcome: &Outcome) -> (&'static str, Option<&str>) {
    match outcome {
        Outcome::Ok => ("ok", None),
        Outcome::Error(message) => ("error", Some(message)),
        Outcome::Panicked(message) => ("panicked", message.as_deref()),
        Outcome::TimedOut => ("timed_out", None),
        Outcome::Cancelled => ("cancelled", None),
        Outcome::Skipped => ("skipped", None),
        Outcome::Late(inner) => ("late", outcome_parts(inner).1),
    }
}

impl Serialize for Outcome {
    /// The outcome's name: `"ok"`, `"error"`, `"panicked"`, `"timed_out"`, `"cancelled"`,
    /// `"skipped"` or `"late"` (its message and late result are fields of the record).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(outcome_parts(self).0)
    }
}

impl Serialize for ResourceRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (outcome, message) = outcome_parts(&self.outcome);
        let late_result = match &self.outcome {
            Outcome::Late(inner) => Some(outcome_parts(inner).0),
            _ => None,
        };
        let mut out = serializer.serialize_struct("ResourceRecord", 8)?;
        out.serialize_field("name", &*self.name)?;
        out.serialize_field("kind", &self.kind)?;
        out.serialize_field("priority", &self.priority)?;
        out.serialize_field("outcome", outcome)?;
        out.serialize_field("message", &message)?;
        out.serialize_field("late_result", &late_result)?;
        out.serialize_field("started_ms", &Millis(self.started))?;
        out.serialize_field("duration_ms", &Millis(self.duration))?;
        out.end()
    }
}

impl Serialize for PhaseRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("PhaseRecord", 3)?;
        out.serialize_field("phase", &self.phase)?;
        out.serialize_field("started_ms", &Millis(self.started))?;
        out.serialize_field("duration_ms", &Millis(self.duration))?;
        out.end()
    }
}

/// The drain's guard sites: the `track` leak finder's, or none.
struct Sites<'a>(&'a DrainRecord);

impl Serialize for Sites<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[cfg(feature = "track")]
        {
            let mut out = serializer.serialize_seq(Some(self.0.guard_sites.len()))?;
            for site in &self.0.guard_sites {
                out.serialize_element(site)?;
            }
            out.end()
        }
        #[cfg(not(feature = "track"))]
        {
            let _ = self.0;
            serializer.serialize_seq(Some(0))?.end()
        }
    }
}

impl Serialize for DrainRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("DrainRecord", 7)?;
        out.serialize_field("in_flight_at_start", &self.in_flight_at_start)?;
        out.serialize_field("drained", &self.drained())?;
        out.serialize_field("left", &self.left)?;
        out.serialize_field("timed_out", &self.timed_out)?;
        out.serialize_field("skipped", &self.skipped)?;
        out.serialize_field("still_in_flight", &self.still_in_flight)?;
        out.serialize_field("guard_sites", &Sites(self))?;
        out.end()
    }
}

#[cfg(feature = "track")]
impl Serialize for crate::track::GuardSite {
    /// `{"file", "line", "column", "label", "count", "oldest_ms"}` (label and age may be null).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("GuardSite", 6)?;
        out.serialize_field("file", self.file())?;
        out.serialize_field("line", &self.line())?;
        out.serialize_field("column", &self.column())?;
        out.serialize_field("label", &self.label())?;
        out.serialize_field("count", &self.count())?;
        out.serialize_field("oldest_ms", &self.oldest().map(Millis))?;
        out.end()
    }
}

impl Serialize for ObserverPanic {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("ObserverPanic", 2)?;
        out.serialize_field("phase", &self.phase)?;
        out.serialize_field("message", &self.message)?;
        out.end()
    }
}

impl Serialize for TaskFailure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("TaskFailure", 3)?;
        out.serialize_field("name", &self.name)?;
        out.serialize_field("panicked", &self.panicked)?;
        out.serialize_field("message", &self.message)?;
        out.end()
    }
}

/// A list of records, as a JSON array.
struct List<'a, T>(&'a [T]);

impl<T: Serialize> Serialize for List<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            out.serialize_element(item)?;
        }
        out.end()
    }
}

impl Serialize for Report {
    /// The shape documented on [`Report`] (`version` 1).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Report", 14)?;
        out.serialize_field("version", &Report::JSON_VERSION)?;
        out.serialize_field("status", &self.status)?;
        out.serialize_field("exit_code", &self.exit_code())?;
        out.serialize_field("reason", &self.reason)?;
        out.serialize_field("forced_by", &self.forced_by)?;
        out.serialize_field("deadline_passed_in", &self.deadline_passed_in)?;
        out.serialize_field("total_ms", &Millis(self.total))?;
        out.serialize_field("phases", &List(&self.phases))?;
        out.serialize_field("drain", &self.drain)?;
        out.serialize_field("resources", &List(&self.resources))?;
        out.serialize_field("flushes", &List(&self.flushes))?;
        out.serialize_field("task_failures", &List(&self.task_failures))?;
        out.serialize_field("notes", &self.notes)?;
        out.serialize_field("observer_panics", &List(&self.observer_panics))?;
        out.end()
    }
}

impl Serialize for Progress {
    /// The shape documented on [`Progress`]: the report's names and units, with its version.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Progress", 12)?;
        out.serialize_field("version", &Report::JSON_VERSION)?;
        out.serialize_field("phase", &self.phase)?;
        out.serialize_field("reason", &self.reason)?;
        out.serialize_field("in_flight", &self.in_flight)?;
        out.serialize_field("refused", &self.refused)?;
        out.serialize_field("status", &self.status)?;
        out.serialize_field("phases", &List(&self.phases))?;
        out.serialize_field("drain", &self.drain)?;
        out.serialize_field("resources", &List(&self.resources))?;
        out.serialize_field("flushes", &List(&self.flushes))?;
        out.serialize_field("running", &self.running.as_deref())?;
        out.serialize_field("step_deadline_ms", &self.step_deadline.map(Millis))?;
        out.end()
    }
}
