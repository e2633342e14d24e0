//! [`GuardSite`]: one line of the leak finder's answer.

use core::fmt;
use core::panic::Location;
use core::time::Duration;

/// Where live guards were entered, with which label, how many, and the age of the oldest: one
/// line of [`guard_sites`](super::guard_sites) (feature `track`).
///
/// It displays as `file:line:column [label] (xcount, oldest age)`, e.g.
/// `src/main.rs:42:17 [db-write] (x3, oldest 12.300s)`; the label and the age are left out
/// when there is none.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{track, Shutdown};
///
/// let shutdown = Shutdown::new();
/// let guards: Vec<_> = (0..3).map(|_| shutdown.enter().unwrap()).collect();
/// let sites = track::guard_sites(&shutdown);
/// assert_eq!(sites.len(), 1); // three guards, one call site
/// assert_eq!(sites[0].count(), 3);
/// assert_eq!(sites[0].file(), file!());
/// println!("{}", sites[0]); // e.g. "src/main.rs:6:46 (x3)"
/// # drop(guards);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GuardSite {
    file: &'static str,
    line: u32,
    column: u32,
    pub(super) label: Option<&'static str>,
    pub(super) count: usize,
    pub(super) oldest: Option<Duration>,
}

impl GuardSite {
    pub(super) fn new(
        site: &'static Location<'static>,
        label: Option<&'static str>,
        age: Option<Duration>,
    ) -> Self {
        Self {
            file: site.file(),
            line: site.line(),
            column: site.column(),
            label,
            count: 1,
            oldest: age,
        }
    }

    pub(super) fn is_at(&self, site: &Location<'_>) -> bool {
        self.file == site.file() && self.line == site.line() && self.column == site.column()
    }

    pub(super) fn key(&self) -> (&'static str, u32, u32, Option<&'static str>) {
        (self.file, self.line, self.column, self.label)
    }

    /// The source file of the call that entered the guards, as [`Location::file`] gives it.
    pub const fn file(&self) -> &'static str {
        self.file
    }

    /// The line of that call (1-based).
    pub const fn line(&self) -> u32 {
        self.line
    }

    /// The column of that call (1-based).
    pub const fn column(&self) -> u32 {
        self.column
    }

    /// The label the guards were entered with
    /// ([`Shutdown::enter_labeled`](crate::Shutdown::enter_labeled)), if any.
    pub const fn label(&self) -> Option<&'static str> {
        self.label
    }

    /// How many live guards were entered there (with that label).
    pub const fn count(&self) -> usize {
        self.count
    }

    /// How long ago the oldest of them was entered, on the scope's guard clock (see
    /// [`set_guard_clock`](super::set_guard_clock)); `None` without a clock.
    pub const fn oldest(&self) -> Option<Duration> {
        self.oldest
    }
}

impl fmt::Display for GuardSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)?;
        if let Some(label) = self.label {
            write!(f, " [{label}]")?;
        }
        write!(f, " (x{}", self.count)?;
        if let Some(oldest) = self.oldest {
            let millis = oldest.as_millis();
            write!(f, ", oldest {}.{:03}s", millis / 1000, millis % 1000)?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        let mut site = GuardSite {
            file: "src/main.rs",
            line: 42,
            column: 17,
            label: None,
            count: 3,
            oldest: None,
        };
        assert_eq!(alloc::format!("{site}"), "src/main.rs:42:17 (x3)");
        site.label = Some("db-write");
        site.oldest = Some(Duration::from_millis(12_300));
        assert_eq!(
            alloc::format!("{site}"),
            "src/main.rs:42:17 [db-write] (x3, oldest 12.300s)"
        );
    }
}
