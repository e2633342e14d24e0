//! What a shutdown sequence did: the `Report`.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::{Phase, Reason, ResourceKind};

/// How the sequence ended, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Status {
    /// Every step finished within its deadline and every closer succeeded.
    Completed,
    /// Every step ran, but a closer or flush hook returned an error or panicked, or a phase
    /// observer panicked.
    Failed,
    /// A deadline passed: the drain, a closer's, the flush phase's, or (with forcing off) the
    /// graceful one; also when a step finished only after its deadline
    /// ([`Outcome::Late`]). The sequence went on and ran every step.
    TimedOut,
    /// The shutdown was forced: asked to stop at once ([`Shutdown::force`](crate::Shutdown::force),
    /// a second signal), out of graceful time with forcing on, or its run abandoned. The
    /// closer running was cancelled, the rest skipped, and the flush hooks given a short budget
    /// of their own ([`Config::forced_flush`](crate::Config::forced_flush)).
    Forced,
}

impl Status {
    /// The process exit code for this status.
    ///
    /// | status | code |
    /// |---|---|
    /// | `Completed` | 0 |
    /// | `Failed` | 1 |
    /// | `TimedOut` | 2 |
    /// | `Forced` | 3 |
    ///
    /// (A process killed by a third signal exits with 128 + the signal number instead, as a
    /// shell reports it; see the signals crate.)
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Status;
    /// assert_eq!(Status::Completed.exit_code(), 0);
    /// assert_eq!(Status::Forced.exit_code(), 3);
    /// ```
    pub const fn exit_code(self) -> u8 {
        match self {
            Status::Completed => 0,
            Status::Failed => 1,
            Status::TimedOut => 2,
            Status::Forced => 3,
        }
    }

    /// The lowercase name, e.g. `"timed out"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::TimedOut => "timed out",
            Status::Forced => "forced",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why a shutdown was forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForcedBy {
    /// Asked to stop at once: [`Shutdown::force`](crate::Shutdown::force) was called (by the
    /// signal listener for a second signal, by an operator's command), or a parent scope was
    /// forced. A repeated trigger never forces.
    Requested,
    /// The graceful deadline passed, in the phase named.
    Deadline(Phase),
    /// The future running the sequence ([`Plan::run`](crate::Plan::run)) was dropped before the
    /// sequence ended: the closer it was running is reported cancelled, the ones it had not
    /// started skipped. A later `run` of the plan returns this report.
    Abandoned,
}

impl fmt::Display for ForcedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForcedBy::Requested => f.write_str("asked to stop at once"),
            ForcedBy::Deadline(phase) => write!(f, "graceful deadline passed while {phase}"),
            ForcedBy::Abandoned => f.write_str("the run was dropped before it ended"),
        }
    }
}

/// How one closer or flush hook ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// It returned `Ok`.
    Ok,
    /// It returned an error; its text.
    Error(String),
    /// It panicked; the message when there was one.
    Panicked(Option<String>),
    /// It overran its deadline and was cancelled.
    TimedOut,
    /// It was running when the shutdown was forced, and was cancelled.
    Cancelled,
    /// It never started: the shutdown was forced first, or (for a flush hook) the flush
    /// phase's deadline had already passed.
    Skipped,
    /// It finished, but only after its deadline had passed: nothing could stop it in time
    /// (typically a closer that blocked the runtime's thread, so no timer could fire). Holds
    /// how it finished ([`Ok`](Self::Ok), [`Error`](Self::Error) or
    /// [`Panicked`](Self::Panicked)). Counts as a timeout in the report's status.
    Late(Box<Outcome>),
}

impl Outcome {
    /// Whether it returned `Ok` within its deadline.
    pub const fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.pad("ok"),
            Outcome::Error(message) => write!(f, "error: {message}"),
            Outcome::Panicked(Some(message)) => write!(f, "panicked: {message}"),
            Outcome::Panicked(None) => f.pad("panicked"),
            Outcome::TimedOut => f.pad("timed out"),
            Outcome::Cancelled => f.pad("cancelled"),
            Outcome::Skipped => f.pad("skipped"),
            Outcome::Late(outcome) => write!(f, "late, past its deadline: {outcome}"),
        }
    }
}

/// A phase observer ([`Plan::on_phase`](crate::Plan::on_phase)) that panicked. The sequence
/// went on without it (with `std`; without `std` a panic is the target's panic).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ObserverPanic {
    /// The phase it was told about when it panicked.
    pub phase: Phase,
    /// The panic message, when it was a string.
    pub message: Option<String>,
}

/// A task that failed or panicked while the service ran or stopped, as a task set reports it
/// through [`Plan::collect_failures`](crate::Plan::collect_failures).
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::TaskFailure;
///
/// let failure = TaskFailure::error("indexer", "disk full");
/// assert_eq!(failure.to_string(), "indexer failed: disk full");
/// assert_eq!(TaskFailure::panic("poller", None).to_string(), "poller panicked");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TaskFailure {
    /// The task's name.
    pub name: String,
    /// Whether it panicked (otherwise it returned an error).
    pub panicked: bool,
    /// The error's text, or the panic message when it was a string.
    pub message: Option<String>,
}

impl TaskFailure {
    /// A task that returned an error.
    pub fn error(name: impl Into<String>, message: impl Into<String>) -> Self {
        TaskFailure {
            name: name.into(),
            panicked: false,
            message: Some(message.into()),
        }
    }

    /// A task that panicked, with the panic message if it had one.
    pub fn panic(name: impl Into<String>, message: Option<String>) -> Self {
        TaskFailure {
            name: name.into(),
            panicked: true,
            message,
        }
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.panicked { "panicked" } else { "failed" };
        write!(f, "{} {what}", self.name)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

/// When a phase started (from the trigger) and how long it lasted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PhaseRecord {
    /// The phase.
    pub phase: Phase,
    /// When it started, from the moment the sequence saw the trigger.
    pub started: Duration,
    /// How long it lasted.
    pub duration: Duration,
}

impl PhaseRecord {
    /// A record of `phase`, started `started` after the trigger, lasting `duration`: for
    /// code that builds reports or progress of its own (tests of a status page, say).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use std::time::Duration;
    /// use winddown::{Phase, PhaseRecord};
    ///
    /// let record = PhaseRecord::new(Phase::Draining, Duration::ZERO, Duration::from_secs(2));
    /// assert_eq!(record.phase, Phase::Draining);
    /// ```
    pub const fn new(phase: Phase, started: Duration, duration: Duration) -> Self {
        PhaseRecord {
            phase,
            started,
            duration,
        }
    }
}

/// What happened to one resource or flush hook.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ResourceRecord {
    /// Its name.
    pub name: Cow<'static, str>,
    /// Its kind, if it was given one.
    pub kind: Option<ResourceKind>,
    /// Its priority.
    pub priority: i32,
    /// How it ended.
    pub outcome: Outcome,
    /// When it started, from the trigger (when it was skipped: when it was skipped).
    pub started: Duration,
    /// How long it ran (zero when skipped).
    pub duration: Duration,
}

/// What the drain saw.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct DrainRecord {
    /// Guards (and undrained child scopes) in flight when the drain began. When the shutdown
    /// was forced before the drain could begin, those in flight at that moment (all of them
    /// abandoned: [`skipped`](Self::skipped) is set).
    pub in_flight_at_start: usize,
    /// Of those, how many were still in flight when the drain ended (zero when it drained).
    pub left: usize,
    /// Whether the drain deadline passed before the drain completed (also when the drain
    /// completed only after its deadline, because nothing could end the wait in time).
    pub timed_out: bool,
    /// Whether the drain never began: the shutdown was forced first (in the pre-stop delay).
    /// What was in flight then was abandoned, and is counted in [`left`](Self::left) and
    /// named like a drain that timed out.
    pub skipped: bool,
    /// Names of what was still in flight when the drain ended without draining, from the
    /// sources registered with [`Plan::name_in_flight`](crate::Plan::name_in_flight).
    pub still_in_flight: Vec<String>,
    /// Where the guards still in flight when the drain ended without draining were entered
    /// (feature `track`): [`track::guard_sites`](crate::track::guard_sites) of the plan's
    /// shutdown at that moment. Empty when it drained.
    #[cfg(feature = "track")]
    #[cfg_attr(docsrs, doc(cfg(feature = "track")))]
    pub guard_sites: Vec<crate::track::GuardSite>,
}

impl DrainRecord {
    /// How many guards finished during the drain.
    pub const fn drained(&self) -> usize {
        self.in_flight_at_start.saturating_sub(self.left)
    }
}

/// What a shutdown sequence did: how it ended, why it started, each phase's timing, the drain,
/// and each resource's outcome.
///
/// Print it (`Display` is a headline and a small aligned table for a log; the table needs the
/// `report-table` feature, on by default), return it from `main` (with `std`
/// it is a [`Termination`](https://doc.rust-lang.org/std/process/trait.Termination.html): the process exits with
/// [`exit_code`](Self::exit_code), after every destructor ran), or turn it into an error with
/// [`into_result`](Self::into_result).
///
/// ```no_run
/// # use winddown_core as winddown;
/// # fn stop() -> winddown::Report { unimplemented!() }
/// fn main() -> winddown::Report {
///     // ... serve, then run the plan ...
///     let report = stop();
///     println!("{report}");
///     report // exits 0, 1, 2 or 3
/// }
/// ```
///
/// # JSON
///
/// With the `serde` feature it implements `Serialize`, in a documented, versioned shape (not
/// the Rust field layout). Version 2 ([`Report::JSON_VERSION`]):
///
/// ```json
/// {
///   "version": 2,
///   "status": "timed_out",
///   "exit_code": 2,
///   "reason": {"kind": "signal", "signal": 15},
///   "forced_by": null,
///   "deadline_passed_in": null,
///   "total_ms": 3500.0,
///   "phases": [{"phase": "initiated", "started_ms": 0.0, "duration_ms": 0.0}, "..."],
///   "drain": {
///     "in_flight_at_start": 1, "drained": 0, "left": 1, "timed_out": true, "skipped": false,
///     "still_in_flight": ["GET /export"],
///     "guard_sites": [{"file": "src/db.rs", "line": 40, "column": 9, "label": "db-write",
///                      "count": 1, "oldest_ms": 8000.0}]
///   },
///   "resources": [{"name": "db", "kind": "database", "priority": 10, "outcome": "late",
///                  "message": "connection reset", "late_result": "error",
///                  "started_ms": 2000.0, "duration_ms": 1500.0}],
///   "flushes": [],
///   "task_failures": [{"name": "poller", "panicked": true, "message": null}],
///   "notes": ["http 127.0.0.1:8080 connections: 12 accepted, 10 closed idle, 1 drained, 1 cut"],
///   "observer_panics": [{"phase": "draining", "message": "exporter down"}]
/// }
/// ```
///
/// - Durations are milliseconds, as numbers with microsecond precision (`*_ms`).
/// - `status`: `completed`, `failed`, `timed_out`, `forced`. Phases in `snake_case`
///   (`stopping_new_requests`). `exit_code` is [`exit_code`](Self::exit_code).
/// - `reason.kind`: `signal` (with `signal`), `requested` (with `message` or null), `error`
///   (with `message`), `parent`, `deadline`; `null` if never triggered.
/// - `forced_by.kind`: `requested`, `abandoned`, or `deadline` (with `phase`).
/// - `outcome`: `ok`, `error`, `panicked`, `timed_out`, `cancelled`, `skipped`, `late`;
///   `message` is the error or panic text; `late_result` is what a `late` step returned
///   (`ok`, `error`, `panicked`), otherwise null. `kind` is `database`, `cache`,
///   `http_client`, `queue`, `file`, a custom name, or null.
/// - `drain.guard_sites` is filled by the `track` leak finder, empty without it.
///
/// A new field may appear in a later release without a new version; a field removed or
/// changed in meaning raises the version. Version 2 replaced `forced_by.kind`'s `escalation`
/// and `external` with `requested`. [`Plan::progress`](crate::Plan::progress) serializes with
/// the same names and units.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// How it ended.
    pub status: Status,
    /// Why it started: the first trigger's reason.
    pub reason: Option<Reason>,
    /// Why it was forced, when it was.
    pub forced_by: Option<ForcedBy>,
    /// The phase during which the graceful deadline passed, if it did.
    pub deadline_passed_in: Option<Phase>,
    /// Each phase the sequence went through, in order.
    pub phases: Vec<PhaseRecord>,
    /// The drain.
    pub drain: DrainRecord,
    /// Each resource, in the order they were closed.
    pub resources: Vec<ResourceRecord>,
    /// Each flush hook, in the order they ran.
    pub flushes: Vec<ResourceRecord>,
    /// The phase observers that panicked (each is called no more after its panic).
    pub observer_panics: Vec<ObserverPanic>,
    /// The tasks that failed or panicked, from the sources registered with
    /// [`Plan::collect_failures`](crate::Plan::collect_failures) (the task sets). They make
    /// the exit code non-zero even when the sequence completed: see
    /// [`exit_code`](Self::exit_code).
    pub task_failures: Vec<TaskFailure>,
    /// Lines the integrations added ([`Plan::note`](crate::Plan::note)): an HTTP server's
    /// connection counts, for example.
    pub notes: Vec<String>,
    /// From the trigger to the end.
    pub total: Duration,
}

impl Report {
    /// The version of the JSON shape, in the report's `version` field (see
    /// [JSON](Self#json)). Raised when a field is removed or changes meaning; adding a field
    /// does not raise it.
    pub const JSON_VERSION: u32 = 2;

    /// The process exit code: [`Status::exit_code`], except that a sequence that completed
    /// cleanly still exits 1 when the service did not end well: the shutdown's reason is an
    /// error ([`Reason::Error`]), or a task failed or panicked ([`task_failures`](Self::task_failures)).
    /// So systemd's `Restart=on-failure` restarts a service that stopped because it broke.
    ///
    /// | the stop | code |
    /// |---|---|
    /// | completed, for a reason that is not an error, no task failed | 0 |
    /// | completed, but the reason is an error or a task failed or panicked | 1 |
    /// | failed: a closer or flush hook returned an error or panicked, or an observer panicked | 1 |
    /// | timed out: a deadline passed (or a step finished late) | 2 |
    /// | forced: a second signal, a force, the graceful deadline, or the run abandoned | 3 |
    /// | (ended by a third signal: no report) | 128 + the signal |
    ///
    /// A `u8`, as [`ExitCode::from`](https://doc.rust-lang.org/std/process/struct.ExitCode.html)
    /// takes it; returning the report
    /// from `main` exits with it (see [`Report`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use winddown_core as winddown;
    /// use std::process::ExitCode;
    ///
    /// # async fn run(plan: winddown::Plan, rt: impl winddown::runtime::Runtime) -> ExitCode {
    /// let report = plan.run(&rt).await;
    /// eprintln!("{report}");
    /// ExitCode::from(report.exit_code())
    /// # }
    /// ```
    pub fn exit_code(&self) -> u8 {
        let failed =
            matches!(self.reason, Some(Reason::Error(_))) || !self.task_failures.is_empty();
        match self.status {
            Status::Completed if failed => Status::Failed.exit_code(),
            status => status.exit_code(),
        }
    }

    /// The report if the sequence completed, an error carrying it otherwise.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] unless the status is [`Status::Completed`].
    pub fn into_result(self) -> Result<Report, Incomplete> {
        if self.status == Status::Completed {
            Ok(self)
        } else {
            Err(Incomplete {
                report: Box::new(self),
            })
        }
    }

    /// The record of `phase`, if the sequence went through it.
    pub fn phase(&self, phase: Phase) -> Option<&PhaseRecord> {
        self.phases.iter().find(|record| record.phase == phase)
    }
}

#[cfg(all(feature = "std", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::process::Termination for Report {
    /// [`exit_code`](Report::exit_code), as the process's exit status. Prints nothing: print
    /// the report yourself (where a full pipe cannot hold the exit, if that matters).
    fn report(self) -> std::process::ExitCode {
        std::process::ExitCode::from(self.exit_code())
    }
}

/// What a sequence has done so far, and where the shutdown stands:
/// [`Plan::progress`](crate::Plan::progress), for status pages and dashboards while a stop is
/// under way.
///
/// # JSON
///
/// With the `serde` feature it serializes with the report's names and units (see
/// [`Report`](crate::Report#json)), the one vocabulary for a report and a status page:
///
/// ```json
/// {
///   "version": 2,
///   "phase": "closing_resources",
///   "reason": {"kind": "signal", "signal": 15},
///   "in_flight": 0,
///   "refused": 17,
///   "status": null,
///   "phases": [{"phase": "initiated", "started_ms": 0.0, "duration_ms": 0.0}, "..."],
///   "drain": {"in_flight_at_start": 3, "drained": 3, "left": 0, "timed_out": false,
///             "skipped": false, "still_in_flight": [], "guard_sites": []},
///   "resources": [{"name": "http 127.0.0.1:8080", "kind": null, "priority": 1000,
///                  "outcome": "ok", "message": null, "late_result": null,
///                  "started_ms": 1.2, "duration_ms": 0.3}],
///   "flushes": [],
///   "running": "db pool",
///   "step_deadline_ms": 6250.0
/// }
/// ```
///
/// `version` is [`Report::JSON_VERSION`](crate::Report::JSON_VERSION); `drain`, `running`,
/// `step_deadline_ms` and `status` are `null` until there is one.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{Config, Plan, Shutdown};
///
/// let plan = Plan::new(Shutdown::new(), Config::default());
/// let progress = plan.progress();
/// assert!(progress.phases.is_empty()); // nothing has run yet
/// assert_eq!(progress.status, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Progress {
    /// The shutdown's phase when the snapshot was taken.
    pub phase: Phase,
    /// Why it was triggered (the first trigger's reason), once it was.
    pub reason: Option<Reason>,
    /// Guards in flight then ([`Shutdown::in_flight`](crate::Shutdown::in_flight)).
    pub in_flight: usize,
    /// Admissions refused so far ([`Shutdown::refused`](crate::Shutdown::refused)).
    pub refused: usize,
    /// The phases entered so far, with their timings (the last one's duration is up to its
    /// latest event, not to now).
    pub phases: Vec<PhaseRecord>,
    /// The drain, once it has ended.
    pub drain: Option<DrainRecord>,
    /// The resources closed so far, in order.
    pub resources: Vec<ResourceRecord>,
    /// The flush hooks run so far, in order.
    pub flushes: Vec<ResourceRecord>,
    /// The closer or flush hook running now, if one is.
    pub running: Option<Cow<'static, str>>,
    /// When the step running now (the pre-stop delay, the drain, a closer or flush hook) passes
    /// its own deadline, from the trigger; `None` between steps and once the sequence ended. A
    /// service manager may be told the stop is still legitimately in progress until then (the
    /// `systemd` integration does).
    pub step_deadline: Option<Duration>,
    /// How the sequence ended, once it has.
    pub status: Option<Status>,
}

/// A shutdown that did not complete, from [`Report::into_result`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    report: Box<Report>,
}

impl Incomplete {
    /// The report.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The report, by value.
    pub fn into_report(self) -> Report {
        *self.report
    }
}

impl fmt::Display for Incomplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shutdown {}", self.report.status)?;
        if let Some(forced_by) = self.report.forced_by {
            write!(f, ": {forced_by}")?;
        }
        Ok(())
    }
}

impl core::error::Error for Incomplete {}
