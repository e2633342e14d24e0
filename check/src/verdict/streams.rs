//! The checks of the streams: HTTP/2's GOAWAY, an SSE response, a WebSocket, and the
//! readiness probe.

use super::{answered, check, if_killed, of_class, rel, skipped_404, Check, Marks, Status};
use crate::options::Options;
use crate::outcome::{Class, Outcome, Record};
use crate::run::Stop;

pub(super) fn goaway(stop: &Stop, marks: &Marks) -> Check {
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

/// The record of a stream check (SSE, WebSocket) to `path`, or the check itself when there is
/// none to judge: skipped without the path's option, or when the path answered 404; failed
/// when the stream was never started.
fn stream_record<'a>(
    stop: &'a Stop,
    name: &'static str,
    class: Class,
    path: Option<&str>,
) -> Result<&'a Record, Check> {
    let sse = class == Class::Sse;
    let Some(path) = path else {
        let option = if sse { "--sse-path" } else { "--ws-path" };
        return Err(check(name, Status::Skipped, format!("no {option}")));
    };
    let Some(record) = of_class(stop, class).into_iter().next() else {
        let never = if sse {
            format!("GET {path} was never sent")
        } else {
            format!("{path} was never opened")
        };
        return Err(check(name, Status::Failed, never));
    };
    match skipped_404(record, path) {
        Some(skip) => Err(check(name, Status::Skipped, skip)),
        None => Ok(record),
    }
}

pub(super) fn sse(stop: &Stop, marks: &Marks, opts: &Options) -> Check {
    let name = "sse";
    let record = match stream_record(stop, name, Class::Sse, opts.sse_path.as_deref()) {
        Ok(record) => record,
        Err(not_judged) => return not_judged,
    };
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
                if_killed(stop, record, " (the kill)")
            ),
        ),
    }
}

pub(super) fn websocket(stop: &Stop, marks: &Marks, opts: &Options) -> Check {
    let name = "websocket";
    let record = match stream_record(stop, name, Class::WebSocket, opts.ws_path.as_deref()) {
        Ok(record) => record,
        Err(not_judged) => return not_judged,
    };
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

pub(super) fn readiness(stop: &Stop, marks: &Marks, opts: &Options) -> Check {
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
    // The probe's turn, and the close of admissions, as every verdict below says them.
    let turn = format!(
        "GET {path} {} at {}",
        answered(turned.outcome),
        rel(marks.t, turned.end)
    );
    let closed = rel(marks.t, marks.a);
    if turned.end >= marks.a {
        return check(
            name,
            Status::Failed,
            format!("{turn} but admissions closed at {closed}: no pre-stop window for a load balancer to notice"),
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
            format!("{turn}, admissions closed at {closed}, and no request was served in between"),
        );
    }
    check(
        name,
        Status::Passed,
        format!("{turn}, admissions closed at {closed}: {served} requests served in between"),
    )
}
