//! The report as text: [`Report`]'s `Display`. The headline always; with the `report-table`
//! feature (on by default), the lines under it and the table of phases, resources and flush
//! hooks. A program that prints only the headline (a small static daemon, say) links none of
//! the table's formatting.

use core::fmt;
use core::time::Duration;

use super::report::{Report, Status};
#[cfg(feature = "report-table")]
use crate::Phase;
#[cfg(feature = "report-table")]
use alloc::string::String;

/// Seconds with millisecond precision, right-aligned.
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // In `u64`: 584 million years of milliseconds, and no 128-bit division or printing
        // linked into every binary that shows a report.
        let millis = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        // Written from the end into a buffer on the stack (no `format!`, no allocation): the
        // unit, three decimals, the point, then the whole seconds (at most 17 digits). Through
        // `get`, which leaves no bounds panic behind (every index is in the buffer).
        let mut text = [0_u8; 24];
        let mut at = text.len();
        let mut put = |byte: u8| {
            at -= 1;
            if let Some(slot) = text.get_mut(at) {
                *slot = byte;
            }
        };
        put(b's');
        let (mut left, mut place) = (millis, 0);
        loop {
            if place == 3 {
                put(b'.');
            }
            put(b'0' + (left % 10) as u8);
            left /= 10;
            place += 1;
            if place > 3 && left == 0 {
                break;
            }
        }
        // Only ASCII digits, the point and the unit were written.
        let written = text.get(at..).unwrap_or_default();
        f.pad(core::str::from_utf8(written).unwrap_or_default())
    }
}

/// Writes ` (a, b, c)`: the names of what was still in flight.
#[cfg(feature = "report-table")]
fn in_flight_list(f: &mut fmt::Formatter<'_>, names: &[String]) -> fmt::Result {
    let mut separator = " (";
    for name in names {
        f.write_str(separator)?;
        f.write_str(name)?;
        separator = ", ";
    }
    f.write_str(")")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.headline(f)?;
        #[cfg(feature = "report-table")]
        self.table(f)?;
        Ok(())
    }
}

// The code the headline names for a clean stop that still exits non-zero.
const _: () = assert!(Status::Failed.exit_code() == 1);

impl Report {
    /// The first line: how it ended, in how long, why it started, and the exit code when a
    /// clean sequence still exits non-zero.
    fn headline(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shutdown {} in {}", self.status, Secs(self.total))?;
        if let Some(reason) = &self.reason {
            write!(f, " (reason: {reason})")?;
        }
        // A clean sequence that still exits non-zero says why on the headline.
        if self.status == Status::Completed && self.exit_code() != 0 {
            // `Status::Failed`'s code, the one such a stop exits with (the assertion above
            // checks it).
            f.write_str("; exit 1: ")?;
            match self.task_failures.len() {
                0 => f.write_str("the reason is an error")?,
                1 => f.write_str("1 task failed")?,
                n => write!(f, "{n} tasks failed")?,
            }
        }
        writeln!(f)
    }

    /// The lines under the headline (why it was forced, the drain skipped, failed tasks,
    /// notes, panicked observers) and the table of phases, resources and flush hooks.
    #[cfg(feature = "report-table")]
    fn table(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(forced_by) = self.forced_by {
            writeln!(f, "forced: {forced_by}")?;
        } else if let Some(phase) = self.deadline_passed_in {
            writeln!(f, "graceful deadline passed while {phase}")?;
        }
        if self.drain.skipped && self.drain.left > 0 {
            write!(f, "drain skipped: {} in flight abandoned", self.drain.left)?;
            if !self.drain.still_in_flight.is_empty() {
                in_flight_list(f, &self.drain.still_in_flight)?;
            }
            writeln!(f)?;
        }
        for failure in &self.task_failures {
            writeln!(f, "task {failure}")?;
        }
        for note in &self.notes {
            writeln!(f, "{note}")?;
        }
        for panic in &self.observer_panics {
            write!(f, "phase observer panicked at {}", panic.phase)?;
            if let Some(message) = &panic.message {
                write!(f, ": {message}")?;
            }
            writeln!(f)?;
        }
        // The table's columns: the name padded to 22, then the times right-aligned in 9.
        f.write_str("  phase                      start  duration\n")?;
        for record in &self.phases {
            // The end of a sequence that did not complete cleanly is named by its status: no
            // "completed" row under a "failed" or "timed out" headline.
            let name: &dyn fmt::Display = match (record.phase, self.status) {
                (Phase::Completed, Status::Failed | Status::TimedOut) => &self.status,
                _ => &record.phase,
            };
            write!(
                f,
                "  {:<22} {:>9} {:>9}",
                name,
                Secs(record.started),
                Secs(record.duration)
            )?;
            if record.phase == Phase::Draining {
                let drain = &self.drain;
                write!(f, "  {} drained, {} left", drain.drained(), drain.left)?;
                if drain.timed_out {
                    f.write_str(", timed out")?;
                }
                if !drain.still_in_flight.is_empty() {
                    in_flight_list(f, &drain.still_in_flight)?;
                }
            }
            writeln!(f)?;
            #[cfg(feature = "track")]
            if record.phase == Phase::Draining {
                for site in &self.drain.guard_sites {
                    writeln!(f, "    guards entered at {site}")?;
                }
            }
        }
        for (title, records) in [("resource", &self.resources), ("flush", &self.flushes)] {
            if records.is_empty() {
                continue;
            }
            // The columns of the rows below: 22, 12, 8 and 9 wide.
            writeln!(f, "  {title:<22} kind         priority  duration  outcome")?;
            for record in records {
                // Both pad to the column's width (`ResourceKind`'s `Display` pads).
                let kind: &dyn fmt::Display = match &record.kind {
                    Some(kind) => kind,
                    None => &"-",
                };
                writeln!(
                    f,
                    "  {:<22} {:<12} {:>8} {:>9}  {}",
                    record.name,
                    kind,
                    record.priority,
                    Secs(record.duration),
                    record.outcome
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use core::time::Duration;

    use super::Secs;

    #[test]
    fn seconds_are_written_with_three_decimals_and_padded() {
        assert_eq!(Secs(Duration::ZERO).to_string(), "0.000s");
        assert_eq!(Secs(Duration::from_millis(1_234)).to_string(), "1.234s");
        assert_eq!(
            Secs(Duration::from_micros(60_000_999)).to_string(),
            "60.000s"
        );
        assert_eq!(
            alloc::format!("{:>9}", Secs(Duration::from_millis(5))),
            "   0.005s"
        );
        assert_eq!(
            alloc::format!("{:<7}|", Secs(Duration::from_secs(1))),
            "1.000s |"
        );
        // Past `u64::MAX` milliseconds it saturates.
        assert_eq!(Secs(Duration::MAX).to_string(), "18446744073709551.615s");
    }

    #[test]
    fn the_table_follows_the_headline_only_with_its_feature() {
        use crate::{Phase, PhaseRecord, Reason, Report, Status};
        let report = Report {
            status: Status::Completed,
            reason: Some(Reason::Signal(15)),
            forced_by: None,
            deadline_passed_in: None,
            phases: alloc::vec![PhaseRecord::new(
                Phase::Initiated,
                Duration::ZERO,
                Duration::from_millis(2)
            )],
            drain: crate::DrainRecord::default(),
            resources: alloc::vec::Vec::new(),
            flushes: alloc::vec::Vec::new(),
            observer_panics: alloc::vec::Vec::new(),
            task_failures: alloc::vec::Vec::new(),
            notes: alloc::vec![alloc::string::String::from("a note")],
            total: Duration::from_millis(1_500),
        };
        let text = report.to_string();
        let headline = "shutdown completed in 1.500s (reason: signal 15)\n";
        if cfg!(feature = "report-table") {
            assert_eq!(
                text,
                alloc::format!(
                    "{headline}a note\n  phase                      start  duration\n  \
                     initiated                 0.000s    0.002s\n"
                )
            );
        } else {
            assert_eq!(text, headline);
        }
    }

    #[test]
    #[cfg(feature = "report-table")]
    fn names_in_flight_are_listed_in_parentheses() {
        use super::in_flight_list;
        use alloc::string::String;
        use alloc::vec;
        use core::fmt;

        struct List(alloc::vec::Vec<String>);
        impl fmt::Display for List {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                in_flight_list(f, &self.0)
            }
        }
        let list = List(vec!["GET /a".to_string(), "job 7".to_string()]);
        assert_eq!(list.to_string(), " (GET /a, job 7)");
        assert_eq!(List(vec!["one".to_string()]).to_string(), " (one)");
    }
}
