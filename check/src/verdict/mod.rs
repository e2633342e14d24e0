//! The checks: each judges the records of a run against the signal, the close of admissions,
//! the end of the in-flight work and the exit, and says passed, failed or skipped with one
//! line of detail.
//!
//! The instants every check uses:
//! - `T`, the signal;
//! - `A`, admissions closed: the first sign after `T` that the server refuses new work (a
//!   503, a refused connect, a GOAWAY, a keep-alive connection it closed), or the exit;
//! - `W`, the in-flight work done: the later of `A` and the end of the slow requests;
//! - `D = W + slack`: by then every idle, silent, half-sent and slow-upload connection and
//!   every stream must have ended.
//!
//! On HTTP/1.1, "EOF before response" (the server closed the connection, cleanly, before any
//! byte of an answer) counts as a clean refusal: it is what a request racing the close of an
//! idle keep-alive connection sees, and a client may retry it (RFC 9112, section 9.3.1). A
//! reset never does: the server's kernel resets a connection closed with a request unread.
//! On HTTP/2 a server must say GOAWAY instead, so there the same EOF is a failure.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::options::Options;
use crate::outcome::{Class, Outcome, Record};
use crate::run::{Escalation, Stop, SECOND_WITHIN, THIRD_WITHIN};
use crate::target::{describe_exit, signal_name};

mod close;
mod streams;

use close::{lingering, race};
use streams::{goaway, readiness, sse, websocket};

/// A check's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It holds.
    Passed,
    /// It does not.
    Failed,
    /// Nothing to check: the path answered 404, the server has no HTTP/2, it was not asked.
    Skipped,
}

impl Status {
    /// `passed`, `failed`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// One named check.
#[derive(Clone, Debug)]
pub struct Check {
    /// Its name, e.g. `in-flight`.
    pub name: &'static str,
    /// Its verdict.
    pub status: Status,
    /// One line: what was seen.
    pub detail: String,
}

fn check(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
    }
}

/// Seconds from the signal, signed: `+0.512 s`, `-0.300 s`.
pub(crate) fn rel(t: Instant, at: Instant) -> String {
    if at >= t {
        format!("+{:.3} s", (at - t).as_secs_f64())
    } else {
        format!("-{:.3} s", (t - at).as_secs_f64())
    }
}

/// The instants the checks use.
#[derive(Clone, Copy, Debug)]
pub struct Marks {
    /// The signal.
    pub t: Instant,
    /// Admissions closed.
    pub a: Instant,
    /// The in-flight work done.
    pub w: Instant,
    /// The deadline for lingering connections.
    pub d: Instant,
    /// The exit (or the kill).
    pub end: Instant,
}

impl Marks {
    /// The marks of `stop`.
    pub fn of(stop: &Stop, slack: Duration) -> Marks {
        let t = stop.signal_at;
        let end = stop.exit.map(|exit| exit.at).unwrap_or_else(|| {
            stop.records
                .iter()
                .map(|record| record.end)
                .max()
                .unwrap_or(t)
        });
        let refusal = stop
            .records
            .iter()
            .filter(|record| record.class != Class::Readiness && record.end >= t)
            .filter_map(|record| {
                let refused = matches!(
                    record.outcome,
                    Outcome::Refused503
                        | Outcome::RefusedAtConnect
                        | Outcome::GoawayRefused
                        | Outcome::EofBeforeResponse
                ) && matches!(
                    record.class,
                    Class::Http1Load | Class::Http2Load | Class::Race | Class::InFlight
                );
                let closed = record.outcome == Outcome::Closed
                    && matches!(record.class, Class::IdleKeepAlive | Class::Race);
                let goaway = record.goaway.filter(|at| *at >= t);
                [
                    refused.then_some(record.end),
                    closed.then_some(record.end),
                    goaway,
                ]
                .into_iter()
                .flatten()
                .min()
            })
            .min();
        let a = refusal.unwrap_or(end).min(end).max(t);
        let work_end = stop
            .records
            .iter()
            .filter(|record| matches!(record.class, Class::InFlight | Class::Http2InFlight))
            .filter(|record| record.end >= t)
            .map(|record| record.end)
            .max();
        let w = work_end.map_or(a, |work| work.max(a));
        Marks {
            t,
            a,
            w,
            d: w + slack,
            end,
        }
    }
}

/// Counts of outcomes, in the scorecard's order, as `12 ok, 3 refused 503`.
fn counts(records: &[&Record]) -> String {
    let mut by: BTreeMap<Outcome, usize> = BTreeMap::new();
    for record in records {
        *by.entry(record.outcome).or_default() += 1;
    }
    let mut bad: Vec<_> = by.iter().filter(|(outcome, _)| outcome.is_loss()).collect();
    let good: Vec<_> = by
        .iter()
        .filter(|(outcome, _)| !outcome.is_loss())
        .collect();
    bad.extend(good);
    bad.iter()
        .map(|(outcome, n)| format!("{n} {outcome}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn of_class(stop: &Stop, class: Class) -> Vec<&Record> {
    stop.records
        .iter()
        .filter(|record| record.class == class)
        .collect()
}

/// Judges `stop`: every check, in the scorecard's order.
pub fn judge(stop: &Stop, opts: &Options, escalation: Option<&Escalation>) -> Vec<Check> {
    let marks = Marks::of(stop, opts.slack);
    let mut checks = vec![
        load(stop, &marks, Class::Http1Load),
        if stop.http2 {
            load(stop, &marks, Class::Http2Load)
        } else {
            no_http2("http2-load")
        },
        in_flight(stop, &marks, opts),
    ];
    for (name, class) in [
        ("idle-keep-alive", Class::IdleKeepAlive),
        ("silent-connection", Class::Silent),
        ("half-sent-head", Class::HalfSentHead),
        ("slow-upload", Class::SlowUpload),
    ] {
        checks.push(lingering(stop, &marks, name, class));
    }
    checks.push(race(stop, &marks));
    checks.push(if stop.http2 {
        goaway(stop, &marks)
    } else {
        no_http2("http2-goaway")
    });
    checks.push(sse(stop, &marks, opts));
    checks.push(websocket(stop, &marks, opts));
    checks.push(readiness(stop, &marks, opts));
    checks.push(exit(stop, &marks, opts));
    checks.extend(escalation_checks(escalation, opts));
    checks
}

fn no_http2(name: &'static str) -> Check {
    check(
        name,
        Status::Skipped,
        "no HTTP/2 over cleartext (prior knowledge)",
    )
}

// ===== load =====

fn load(stop: &Stop, marks: &Marks, class: Class) -> Check {
    let name = if class == Class::Http1Load {
        "http1-load"
    } else {
        "http2-load"
    };
    let records = of_class(stop, class);
    let clean_after = |outcome: Outcome| match class {
        Class::Http1Load => matches!(
            outcome,
            Outcome::Ok
                | Outcome::Refused503
                | Outcome::RefusedAtConnect
                | Outcome::EofBeforeResponse
        ),
        _ => matches!(
            outcome,
            Outcome::Ok | Outcome::Refused503 | Outcome::RefusedAtConnect | Outcome::GoawayRefused
        ),
    };
    let bad: Vec<&&Record> = records
        .iter()
        .filter(|record| {
            if record.end < marks.t {
                record.outcome != Outcome::Ok
            } else {
                !clean_after(record.outcome)
            }
        })
        .collect();
    let ok = records
        .iter()
        .filter(|record| record.outcome == Outcome::Ok)
        .count();
    let mut detail = counts(&records);
    if let Some(first) = bad.first() {
        let _ = write!(
            detail,
            "; first bad: {} at {}",
            first.outcome,
            rel(marks.t, first.end)
        );
        if class == Class::Http2Load && first.outcome == Outcome::EofBeforeResponse {
            detail.push_str(" (closed without GOAWAY)");
        }
        return check(name, Status::Failed, detail);
    }
    if ok == 0 {
        return check(
            name,
            Status::Failed,
            format!("no request answered 200 ({detail})"),
        );
    }
    if class == Class::Http2Load {
        let after = records
            .iter()
            .filter(|record| record.end >= marks.t)
            .count();
        let _ = write!(detail, "; {after} after the signal");
    }
    check(name, Status::Passed, detail)
}

// ===== in flight =====

fn in_flight(stop: &Stop, marks: &Marks, opts: &Options) -> Check {
    let name = "in-flight";
    let Some(path) = &opts.slow_path else {
        return check(name, Status::Skipped, "no --slow-path");
    };
    let records = of_class(stop, Class::InFlight);
    let Some(record) = records.first() else {
        return check(
            name,
            Status::Failed,
            format!("GET {path} was never sent (the target stopped first)"),
        );
    };
    if let Some(skip) = skipped_404(record, path) {
        return check(name, Status::Skipped, skip);
    }
    if record.outcome == Outcome::Ok && record.end < marks.t {
        return check(
            name,
            Status::Failed,
            format!(
                "GET {path} was answered at {}, before the signal: not in flight (it must take longer than {:.1} s)",
                rel(marks.t, record.end),
                opts.lead.as_secs_f64()
            ),
        );
    }
    if record.outcome == Outcome::Ok {
        return check(
            name,
            Status::Passed,
            format!("GET {path}: 200 in full at {}", rel(marks.t, record.end)),
        );
    }
    let mut detail = format!(
        "GET {path}: {} at {}",
        record.outcome,
        rel(marks.t, record.end)
    );
    if let Some(note) = record
        .note
        .as_deref()
        .filter(|note| note.starts_with("the warm-up"))
    {
        detail = note.to_owned();
    }
    check(name, Status::Failed, detail)
}

/// `note` when `record` ended at or after the kill, nothing otherwise.
fn if_killed(stop: &Stop, record: &Record, note: &'static str) -> &'static str {
    if stop.killed_at.is_some_and(|kill| record.end >= kill) {
        note
    } else {
        ""
    }
}

fn skipped_404(record: &Record, path: &str) -> Option<String> {
    (record.outcome == Outcome::OtherStatus(404)).then(|| format!("GET {path} answered 404"))
}

// ===== connections that must not hold the stop =====

/// "turned 503", "turned 500".
fn answered(outcome: Outcome) -> String {
    match outcome {
        Outcome::Refused503 => "turned 503".into(),
        Outcome::OtherStatus(status) => format!("turned {status}"),
        other => format!("ended with {other}"),
    }
}

// ===== the exit =====

fn exit(stop: &Stop, marks: &Marks, opts: &Options) -> Check {
    let name = "exit";
    let signal = opts.signal.as_str();
    let budget = opts.budget.as_secs_f64();
    if stop.killed {
        return check(
            name,
            Status::Failed,
            format!("still running {budget} s after {signal}: killed (its process group)"),
        );
    }
    let Some(exit) = stop.exit else {
        return check(name, Status::Failed, "its end was never seen");
    };
    let after = (exit.at - marks.t).as_secs_f64();
    match (exit.code, exit.signal) {
        (Some(0), _) => check(
            name,
            Status::Passed,
            format!("exited 0 after {after:.3} s (budget {budget} s)"),
        ),
        (None, None) if !stop.knows_code => check(
            name,
            Status::Passed,
            format!("exited after {after:.3} s (budget {budget} s; status unknown: attached)"),
        ),
        (_, Some(number)) if number == opts.signal as i32 => check(
            name,
            Status::Failed,
            format!(
                "killed by {} after {after:.3} s: it does not handle {signal}",
                signal_name(number)
            ),
        ),
        _ => check(
            name,
            Status::Failed,
            format!("{} after {after:.3} s", describe_exit(&exit)),
        ),
    }
}

// ===== escalation =====

/// The two escalation checks of an escalation run (`None`: not run).
pub fn escalation_checks(escalation: Option<&Escalation>, opts: &Options) -> Vec<Check> {
    let (second, third) = ("escalation-second", "escalation-third");
    let Some(run) = escalation else {
        let why = if opts.escalate {
            "needs a target the checker starts (not --url)"
        } else {
            "not asked (--escalate)"
        };
        return vec![
            check(second, Status::Skipped, why),
            check(third, Status::Skipped, why),
        ];
    };
    if let Some(error) = &run.error {
        return vec![
            check(second, Status::Failed, error.clone()),
            check(third, Status::Skipped, "no run"),
        ];
    }
    let Some(second_at) = run.second_at else {
        let why = match run.exit {
            Some(exit) => format!(
                "the stop was not stuck: {} {:.3} s after the first signal (GET {} must hold it)",
                describe_exit(&exit),
                (exit.at - run.first_at).as_secs_f64(),
                opts.stuck_path
            ),
            None => "no second signal was sent".into(),
        };
        return vec![
            check(second, Status::Skipped, why.clone()),
            check(third, Status::Skipped, why),
        ];
    };
    let ended = |after: Instant| {
        run.exit
            .filter(|exit| exit.at >= after)
            .map(|exit| (exit, (exit.at - after).as_secs_f64()))
    };
    match run.third_at {
        None => {
            let Some((exit, secs)) = ended(second_at) else {
                return vec![
                    check(
                        second,
                        Status::Failed,
                        "its end after the second signal was never seen",
                    ),
                    check(third, Status::Skipped, "no third signal was sent"),
                ];
            };
            vec![
                check(
                    second,
                    Status::Passed,
                    format!(
                        "{} {secs:.3} s after the second signal",
                        describe_exit(&exit)
                    ),
                ),
                check(third, Status::Skipped, "the second signal ended the stop"),
            ]
        }
        Some(third_at) => {
            let second_check = check(
                second,
                Status::Failed,
                format!(
                    "still running {} s after the second signal",
                    SECOND_WITHIN.as_secs()
                ),
            );
            let third_check = match ended(third_at) {
                Some((exit, secs)) if !run.killed => check(
                    third,
                    Status::Passed,
                    format!(
                        "{} {secs:.3} s after the third signal",
                        describe_exit(&exit)
                    ),
                ),
                _ => check(
                    third,
                    Status::Failed,
                    format!(
                        "still running {} s after the third signal: killed",
                        THIRD_WITHIN.as_secs()
                    ),
                ),
            };
            vec![second_check, third_check]
        }
    }
}
