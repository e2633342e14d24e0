//! Progress events of the sequence, sent to `log` and/or `tracing` when those features are on.
//! Without them every function here compiles to nothing.

use core::time::Duration;

use super::report::{DrainRecord, ResourceRecord, Status};
use crate::{Phase, Report};

/// Whether the events go anywhere (feature `log` or `tracing`): without either, the sequence
/// need not prepare what they would carry.
pub(crate) const ENABLED: bool = cfg!(any(feature = "log", feature = "tracing"));

/// The sequence entered `phase`, `at` after the trigger.
pub(crate) fn phase(phase: Phase, at: Duration) {
    #[cfg(feature = "log")]
    log::info!(target: "winddown", "shutdown: {phase} (at {at:?})");
    #[cfg(feature = "tracing")]
    tracing::info!(target: "winddown", phase = %phase, at = ?at, "shutdown phase");
    let _ = (phase, at);
}

/// The drain ended.
pub(crate) fn drain(drain: &DrainRecord) {
    #[cfg(feature = "log")]
    if drain.timed_out {
        log::warn!(
            target: "winddown",
            "shutdown: drain deadline passed with {} in flight ({} drained)",
            drain.left,
            drain.drained()
        );
    } else {
        log::info!(target: "winddown", "shutdown: drained {} in flight", drain.drained());
    }
    #[cfg(feature = "tracing")]
    if drain.timed_out {
        tracing::warn!(target: "winddown", left = drain.left, drained = drain.drained(), "shutdown drain deadline passed");
    } else {
        tracing::info!(target: "winddown", drained = drain.drained(), "shutdown drained");
    }
    let _ = drain;
}

/// A closer or flush hook ended.
pub(crate) fn resource(phase: Phase, record: &ResourceRecord) {
    #[cfg(feature = "log")]
    {
        let level = if record.outcome.is_ok() {
            log::Level::Info
        } else {
            log::Level::Warn
        };
        log::log!(
            target: "winddown",
            level,
            "shutdown: {phase}: {} {} in {:?}",
            record.name,
            record.outcome,
            record.duration
        );
    }
    #[cfg(feature = "tracing")]
    if record.outcome.is_ok() {
        tracing::info!(target: "winddown", phase = %phase, name = %record.name, duration = ?record.duration, "shutdown closer ok");
    } else {
        tracing::warn!(target: "winddown", phase = %phase, name = %record.name, outcome = %record.outcome, duration = ?record.duration, "shutdown closer failed");
    }
    let _ = (phase, record);
}

/// The sequence ended.
pub(crate) fn report(report: &Report) {
    #[cfg(feature = "log")]
    {
        let level = if report.status == Status::Completed {
            log::Level::Info
        } else {
            log::Level::Warn
        };
        log::log!(target: "winddown", level, "shutdown {} in {:?}", report.status, report.total);
    }
    #[cfg(feature = "tracing")]
    if report.status == Status::Completed {
        tracing::info!(target: "winddown", status = %report.status, total = ?report.total, "shutdown finished");
    } else {
        tracing::warn!(target: "winddown", status = %report.status, total = ?report.total, "shutdown finished");
    }
    let _ = (report, Status::Completed);
}
