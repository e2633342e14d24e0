//! The scorecard: a table for people (colour on a terminal only), and JSON for programs.
//!
//! # The JSON scorecard, version 1
//!
//! ```json
//! {
//!   "version": 1,
//!   "passed": true,
//!   "target": "./axum --port 40123",
//!   "signal": "SIGTERM",
//!   "budget_seconds": 30.0,
//!   "checks": [
//!     {"name": "in-flight", "status": "passed", "detail": "GET /slow?ms=1000: 200 in full at +0.501 s"}
//!   ],
//!   "exit": {"code": 0, "signal": null, "seconds": 0.512, "killed": false},
//!   "outcomes": {"ok": 5123, "refused_503": 12, "reset_before_response": 0}
//! }
//! ```
//!
//! - `version`: 1. It changes only when a field is removed or changes meaning; new fields
//!   may appear in any version.
//! - `passed`: no check failed (skipped ones do not count against it). The checker's exit
//!   status says the same: 0 when true, 1 when false.
//! - `target`: the command (with the port filled in), or the URL in attach mode.
//! - `signal`: the stop signal's name. `budget_seconds`: the budget.
//! - `checks`: every check, in a fixed order: `name` (stable, kebab-case), `status`
//!   (`"passed"`, `"failed"` or `"skipped"`), `detail` (one line for people; its wording
//!   may change in any version).
//! - `exit`: how the target ended. `code`: its exit code, or null (killed by a signal, or
//!   unknown in attach mode); `signal`: the number of the signal that ended it, or null;
//!   `seconds`: from the stop signal to its end (after the kill, when killed); `killed`:
//!   whether it was still running at the end of the budget and was killed.
//! - `outcomes`: how many requests, streams and connections ended each way, every key
//!   present: `ok`, `refused_503`, `refused_at_connect`, `goaway_refused`,
//!   `eof_before_response`, `closed`, `ws_close_1001`, `ws_close_other_code`,
//!   `ws_close_no_code`, `other_status`, `reset_before_response`, `reset_mid_body`,
//!   `eof_mid_body`, `ws_no_close`, `malformed`, `timed_out`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::options::Options;
use crate::outcome::Outcome;
use crate::run::Stop;
use crate::verdict::{Check, Status};

/// The version of the JSON scorecard.
pub const JSON_VERSION: u32 = 1;

/// The verdict of a run, ready to print.
#[derive(Clone, Debug)]
pub struct Scorecard {
    /// What was checked: the command, or the URL.
    pub target: String,
    /// Every check.
    pub checks: Vec<Check>,
    /// The run.
    pub stop: Stop,
    /// The stop signal's name.
    pub signal: &'static str,
    /// The budget, in seconds.
    pub budget: f64,
}

impl Scorecard {
    /// Builds the scorecard of `stop`.
    pub fn new(target: String, checks: Vec<Check>, stop: Stop, opts: &Options) -> Scorecard {
        Scorecard {
            target,
            checks,
            stop,
            signal: opts.signal.as_str(),
            budget: opts.budget.as_secs_f64(),
        }
    }

    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.checks
            .iter()
            .all(|check| check.status != Status::Failed)
    }

    /// How many checks have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks
            .iter()
            .filter(|check| check.status == status)
            .count()
    }

    /// How many records ended each way, every key present.
    pub fn outcomes(&self) -> BTreeMap<&'static str, usize> {
        let mut counts: BTreeMap<&'static str, usize> =
            Outcome::KEYS.iter().map(|key| (*key, 0)).collect();
        for record in &self.stop.records {
            *counts.entry(record.outcome.key()).or_default() += 1;
        }
        counts
    }

    fn exit_seconds(&self) -> Option<f64> {
        self.stop.exit.map(|exit| {
            exit.at
                .saturating_duration_since(self.stop.signal_at)
                .as_secs_f64()
        })
    }

    /// The JSON scorecard (see the module docs for the schema).
    pub fn to_json(&self) -> Value {
        let exit = self.stop.exit;
        let outcomes: serde_json::Map<String, Value> = self
            .outcomes()
            .into_iter()
            .map(|(key, count)| (key.to_owned(), json!(count)))
            .collect();
        json!({
            "version": JSON_VERSION,
            "passed": self.passed(),
            "target": self.target,
            "signal": self.signal,
            "budget_seconds": self.budget,
            "checks": self.checks.iter().map(|check| json!({
                "name": check.name,
                "status": check.status.as_str(),
                "detail": check.detail,
            })).collect::<Vec<_>>(),
            "exit": {
                "code": exit.and_then(|exit| exit.code),
                "signal": exit.and_then(|exit| exit.signal),
                "seconds": self.exit_seconds().map(|secs| (secs * 1000.0).round() / 1000.0),
                "killed": self.stop.killed,
            },
            "outcomes": outcomes,
        })
    }

    /// The table, with ANSI colours when `colour`.
    pub fn table(&self, colour: bool) -> String {
        let paint = |status: Status, text: &str| -> String {
            if !colour {
                return text.to_owned();
            }
            let code = match status {
                Status::Passed => "32",
                Status::Failed => "1;31",
                Status::Skipped => "33",
            };
            format!("\x1b[{code}m{text}\x1b[0m")
        };
        let mut out = String::new();
        let _ = writeln!(out, "winddown-check: {}", self.target);
        let width = self
            .checks
            .iter()
            .map(|check| check.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(out);
        let _ = writeln!(out, "  {:width$}  {:7}  detail", "check", "status");
        for check in &self.checks {
            let status = format!("{:7}", check.status.as_str());
            let _ = writeln!(
                out,
                "  {:width$}  {}  {}",
                check.name,
                paint(check.status, &status),
                check.detail
            );
        }
        let _ = writeln!(out);
        let outcomes: Vec<String> = self
            .outcomes()
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(key, count)| format!("{count} {key}"))
            .collect();
        let _ = writeln!(out, "outcomes: {}", outcomes.join(", "));
        let exit = match (self.stop.exit, self.exit_seconds()) {
            (Some(exit), Some(secs)) => {
                let how = crate::target::describe_exit(&exit);
                let killed = if self.stop.killed {
                    " (killed at the end of the budget)"
                } else {
                    ""
                };
                format!("{how} {secs:.3} s after {}{killed}", self.signal)
            }
            _ => "its end was never seen".to_owned(),
        };
        let _ = writeln!(out, "target: {exit} (budget {} s)", self.budget);
        let verdict = if self.passed() { "PASSED" } else { "FAILED" };
        let verdict_status = if self.passed() {
            Status::Passed
        } else {
            Status::Failed
        };
        let _ = writeln!(
            out,
            "{}: {} passed, {} failed, {} skipped",
            paint(verdict_status, verdict),
            self.count(Status::Passed),
            self.count(Status::Failed),
            self.count(Status::Skipped)
        );
        out
    }
}
