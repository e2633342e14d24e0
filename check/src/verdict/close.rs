//! The checks of the connections that must not hold the stop (idle, silent, half-sent,
//! uploading) and of the requests racing the close.

use super::{check, counts, if_killed, of_class, rel, Check, Marks, Status};
use crate::outcome::{Class, Outcome, Record};
use crate::run::Stop;
use crate::scenario::NO_KEEP_ALIVE;

pub(super) fn lingering(stop: &Stop, marks: &Marks, name: &'static str, class: Class) -> Check {
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
                if_killed(stop, record, ", by the kill")
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

pub(super) fn race(stop: &Stop, marks: &Marks) -> Check {
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
