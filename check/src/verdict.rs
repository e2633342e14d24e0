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
use crate::scenario::NO_KEEP_ALIVE;
use crate::target::{describe_exit, signal_name};

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

fn skipped_404(record: &Record, path: &str) -> Option<String> {
    (record.outcome == Outcome::OtherStatus(404)).then(|| format!("GET {path} answered 404"))
}

// ===== connections that must not hold the stop =====

fn lingering(stop: &Stop, marks: &Marks, name: &'static str, class: Class) -> Check {
    let records = of_class(stop, class);
    let Some(record) = records.first() else {
        return check(
            name,
            Status::Failed,
            "the connection was never opened (the target stopped first)",
        );
    };
    if let Some(note) = record
        .note
        .as_deref()
        .filter(|note| note.starts_with("the warm-up"))
    {
        return check(name, Status::Failed, note);
    }
    if record.note.as_deref() == Some(NO_KEEP_ALIVE) {
        return check(name, Status::Skipped, NO_KEEP_ALIVE);
    }
    let how = match &record.note {
        Some(note) => format!("{note}; "),
        None => String::new(),
    };
    match record.outcome {
        Outcome::Closed if record.end < marks.t => check(
            name,
            Status::Skipped,
            format!(
                "{how}closed before the signal, at {}: nothing to check at the stop{}",
                rel(marks.t, record.end),
                if class == Class::SlowUpload {
                    " (--upload-path should read its body)"
                } else {
                    ""
                }
            ),
        ),
        Outcome::Closed if record.end <= marks.d => {
            let when = if stop.exit.is_some_and(|exit| record.end >= exit.at) {
                format!("closed at the exit, {}", rel(marks.t, record.end))
            } else {
                format!("closed at {}", rel(marks.t, record.end))
            };
            check(name, Status::Passed, format!("{how}{when}"))
        }
        Outcome::Closed => check(
            name,
            Status::Failed,
            format!(
                "{how}still open {:.2} s after the in-flight work ended ({}): closed only at {}{}",
                (record.end - marks.w).as_secs_f64(),
                rel(marks.t, marks.w),
                rel(marks.t, record.end),
                if stop.killed_at.is_some_and(|kill| record.end >= kill) {
                    ", by the kill"
                } else {
                    ""
                }
            ),
        ),
        Outcome::TimedOut => check(
            name,
            Status::Failed,
            format!(
                "still open when the run ended at {}",
                rel(marks.t, record.end)
            ),
        ),
        other => check(
            name,
            Status::Failed,
            format!("{other} at {}", rel(marks.t, record.end)),
        ),
    }
}

// ===== the keep-alive race =====

fn race(stop: &Stop, marks: &Marks) -> Check {
    let name = "keep-alive-race";
    let all = of_class(stop, Class::Race);
    if all.is_empty() {
        return check(name, Status::Failed, "no racing connection was opened");
    }
    let records: Vec<&Record> = all
        .into_iter()
        .filter(|record| record.note.as_deref() != Some(NO_KEEP_ALIVE))
        .collect();
    if records.is_empty() {
        return check(name, Status::Skipped, NO_KEEP_ALIVE);
    }
    let clean = |outcome: Outcome| {
        matches!(
            outcome,
            Outcome::Ok | Outcome::Refused503 | Outcome::EofBeforeResponse | Outcome::Closed
        )
    };
    let detail = counts(&records);
    match records.iter().find(|record| !clean(record.outcome)) {
        Some(bad) => {
            let detail = match bad
                .note
                .as_deref()
                .filter(|note| note.starts_with("the warm-up"))
            {
                Some(note) => note.to_owned(),
                None => format!(
                    "{detail}; first bad: {} at {}",
                    bad.outcome,
                    rel(marks.t, bad.end)
                ),
            };
            check(name, Status::Failed, detail)
        }
        None => check(name, Status::Passed, detail),
    }
}

// ===== HTTP/2 GOAWAY =====

fn goaway(stop: &Stop, marks: &Marks) -> Check {
    let name = "http2-goaway";
    let idle = of_class(stop, Class::Http2Idle);
    if idle.is_empty() {
        return check(name, Status::Failed, "no idle HTTP/2 connection was opened");
    }
    let mut problems = Vec::new();
    let mut good = Vec::new();
    for idle in idle {
        let which = idle
            .note
            .as_deref()
            .and_then(|note| note.split(':').next())
            .unwrap_or("idle");
        match (idle.outcome, idle.goaway) {
            (Outcome::Closed, Some(at)) if idle.end <= marks.d => good.push(format!(
                "idle ({which}): GOAWAY at {}, closed at {}",
                rel(marks.t, at),
                rel(marks.t, idle.end)
            )),
            (Outcome::Closed, Some(at)) => problems.push(format!(
                "idle ({which}): GOAWAY at {} but open until {}",
                rel(marks.t, at),
                rel(marks.t, idle.end)
            )),
            (Outcome::Closed, None) if which.contains("never answered") && idle.end <= marks.d => {
                good.push(format!(
                    "idle ({which}): closed at {}",
                    rel(marks.t, idle.end)
                ))
            }
            (Outcome::Closed, None) => problems.push(format!(
                "idle ({which}): closed at {} without GOAWAY",
                rel(marks.t, idle.end)
            )),
            (Outcome::TimedOut, _) => {
                problems.push(format!("idle ({which}): still open when the run ended"))
            }
            (other, _) => problems.push(format!("idle ({which}): {other}")),
        }
        if let Some(note) = idle
            .note
            .as_deref()
            .filter(|note| note.contains("code ") && !note.ends_with("code 0"))
        {
            problems.push(format!(
                "idle ({note}): a graceful GOAWAY says NO_ERROR (0)"
            ));
        }
    }
    if let Some(stream) = of_class(stop, Class::Http2InFlight).first() {
        if stream.outcome == Outcome::OtherStatus(404) {
            good.push("no slow stream (404)".into());
        } else if stream.outcome != Outcome::Ok {
            problems.push(format!(
                "stream in flight: {} at {}",
                stream.outcome,
                rel(marks.t, stream.end)
            ));
        } else if stream.end < marks.t {
            problems.push("stream in flight: answered before the signal".into());
        } else {
            good.push(format!(
                "stream in flight: 200 in full at {}",
                rel(marks.t, stream.end)
            ));
            if stream.goaway.is_none() {
                problems.push("its connection got no GOAWAY".into());
            }
        }
    }
    if problems.is_empty() {
        check(name, Status::Passed, good.join("; "))
    } else {
        check(name, Status::Failed, problems.join("; "))
    }
}

// ===== streams =====

fn sse(stop: &Stop, marks: &Marks, opts: &Options) -> Check {
    let name = "sse";
    let Some(path) = &opts.sse_path else {
        return check(name, Status::Skipped, "no --sse-path");
    };
    let Some(record) = of_class(stop, Class::Sse).into_iter().next() else {
        return check(name, Status::Failed, format!("GET {path} was never sent"));
    };
    if let Some(skip) = skipped_404(record, path) {
        return check(name, Status::Skipped, skip);
    }
    let framing = record.note.as_deref().unwrap_or("");
    match record.outcome {
        Outcome::Ok if record.end < marks.t => check(
            name,
            Status::Failed,
            format!(
                "the stream ended by itself before the signal ({})",
                rel(marks.t, record.end)
            ),
        ),
        Outcome::Ok if record.end > marks.d => check(
            name,
            Status::Failed,
            format!(
                "ended cleanly, but only at {}, {:.2} s after the in-flight work",
                rel(marks.t, record.end),
                (record.end - marks.w).as_secs_f64()
            ),
        ),
        Outcome::Ok if framing == "chunked" => check(
            name,
            Status::Passed,
            format!("ended with the last chunk at {}", rel(marks.t, record.end)),
        ),
        Outcome::Ok => check(
            name,
            Status::Passed,
            format!(
                "ended at {} ({framing}: a cut would look the same)",
                rel(marks.t, record.end)
            ),
        ),
        other => check(
            name,
            Status::Failed,
            format!(
                "{other} at {}{}",
                rel(marks.t, record.end),
                if stop.killed_at.is_some_and(|kill| record.end >= kill) {
                    " (the kill)"
                } else {
                    ""
                }
            ),
        ),
    }
}

fn websocket(stop: &Stop, marks: &Marks, opts: &Options) -> Check {
    let name = "websocket";
    let Some(path) = &opts.ws_path else {
        return check(name, Status::Skipped, "no --ws-path");
    };
    let Some(record) = of_class(stop, Class::WebSocket).into_iter().next() else {
        return check(name, Status::Failed, format!("{path} was never opened"));
    };
    if let Some(skip) = skipped_404(record, path) {
        return check(name, Status::Skipped, skip);
    }
    let at = rel(marks.t, record.end);
    if record.end > marks.d && !record.outcome.is_loss() {
        return check(
            name,
            Status::Failed,
            format!(
                "{} only at {at}, {:.2} s after the in-flight work",
                record.outcome,
                (record.end - marks.w).as_secs_f64()
            ),
        );
    }
    match record.outcome {
        Outcome::WsClose(1001) => check(
            name,
            Status::Passed,
            format!("Close 1001 (going away) at {at}"),
        ),
        Outcome::WsCloseNoCode => check(
            name,
            Status::Passed,
            format!("warning: a clean Close without a code at {at} (1001, going away, is best)"),
        ),
        Outcome::WsClose(code) => check(
            name,
            Status::Passed,
            format!("warning: Close {code} at {at} (1001, going away, is best)"),
        ),
        other => {
            let note = record
                .note
                .as_deref()
                .map(|note| format!(" ({note})"))
                .unwrap_or_default();
            check(name, Status::Failed, format!("{other} at {at}{note}"))
        }
    }
}

// ===== readiness =====

fn readiness(stop: &Stop, marks: &Marks, opts: &Options) -> Check {
    let name = "readiness";
    let Some(path) = opts.ready_path.as_deref().filter(|_| stop.has_ready) else {
        let why = match &opts.ready_path {
            Some(path) => format!("GET {path} answered 404"),
            None => "no --ready-path".into(),
        };
        return check(name, Status::Skipped, why);
    };
    let probes = of_class(stop, Class::Readiness);
    let turned = probes
        .iter()
        .filter(|probe| probe.start >= marks.t)
        .find(|probe| matches!(probe.outcome, Outcome::Refused503 | Outcome::OtherStatus(_)));
    let Some(turned) = turned else {
        let last = probes.iter().rfind(|probe| probe.start >= marks.t);
        return check(
            name,
            Status::Failed,
            match last {
                Some(last) if last.outcome == Outcome::RefusedAtConnect => format!(
                    "admissions closed at {} before GET {path} answered non-200: no pre-stop window for a load balancer to notice",
                    rel(marks.t, marks.a)
                ),
                Some(last) => format!(
                    "GET {path} never answered non-200 after the signal (last: {} at {})",
                    last.outcome,
                    rel(marks.t, last.end)
                ),
                None => format!("GET {path} was not asked after the signal"),
            },
        );
    };
    if turned.end >= marks.a {
        return check(
            name,
            Status::Failed,
            format!(
                "GET {path} {} at {} but admissions closed at {}: no pre-stop window for a load balancer to notice",
                answered(turned.outcome),
                rel(marks.t, turned.end),
                rel(marks.t, marks.a)
            ),
        );
    }
    let served = stop
        .records
        .iter()
        .filter(|record| {
            matches!(
                record.class,
                Class::Http1Load | Class::Http2Load | Class::Race
            )
        })
        .filter(|record| {
            record.outcome == Outcome::Ok && record.start >= turned.end && record.end <= marks.a
        })
        .count();
    if served == 0 {
        return check(
            name,
            Status::Failed,
            format!(
                "GET {path} {} at {}, admissions closed at {}, and no request was served in between",
                answered(turned.outcome),
                rel(marks.t, turned.end),
                rel(marks.t, marks.a)
            ),
        );
    }
    check(
        name,
        Status::Passed,
        format!(
            "GET {path} {} at {}, admissions closed at {}: {served} requests served in between",
            answered(turned.outcome),
            rel(marks.t, turned.end),
            rel(marks.t, marks.a)
        ),
    )
}

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
