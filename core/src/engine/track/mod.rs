//! The leak finder (feature `track`): where each live guard was entered, with its label and
//! when.
//!
//! With the feature on, every stripe keeps a registry (`sites.rs`) beside its admission word, under
//! its own lock: a slab of the [`Location`]s (with the label, if any, and
//! the time of entry) of the guards entered through that stripe and not yet dropped. [`Shutdown::enter`](crate::Shutdown::enter) is
//! `#[track_caller]` then, so the location is the caller's; the guard remembers its slot and
//! empties it when it drops, before it gives back its unit (so the stripe is still pinned).
//! One registry per stripe keeps threads that enter through different stripes off each other's
//! lock, as the admission words do.
//!
//! Nothing here exists without the feature: the guard is one word, `enter` one `fetch_add` and
//! one branch, and the drop one `fetch_sub` and one test.
//!
//! Under the lock only the slab is touched: no user code runs and nothing user-supplied is
//! dropped, so nothing can re-enter it. The clock (which may be user code) is read before the
//! lock is taken.
//!
//! # Where the time comes from
//!
//! Each scope has a guard clock: by default, with `std`, a monotonic clock (`Instant`) since
//! the first tracked guard of the process; without `std` there is none, and ages are unknown
//! (`None`) until one is set. [`Shutdown::set_guard_clock`](crate::Shutdown::set_guard_clock)
//! replaces it, for example with a runtime's clock (a test's virtual clock, an embedded
//! target's tick counter). Child scopes made afterwards inherit it.

use alloc::vec::Vec;
use core::fmt;
use core::panic::Location;
use core::time::Duration;

pub(crate) mod sites;

use crate::raw::{Header, RawGuard};
use sites::{now, Live};

/// Records the caller's location (and `label`, and the time) for `guard`, just admitted;
/// returns its slot in the stripe's registry.
#[track_caller]
pub(crate) fn record(guard: &RawGuard, label: Option<&'static str>) -> usize {
    let site = Location::caller();
    // Read outside the stripe's lock: a set clock is user code.
    let since = now(guard.header().guard_clock().as_ref());
    let live = Live { site, label, since };
    guard.stripe().sites.lock().insert(live)
}

/// Forgets the guard in `slot` (before `guard` gives its unit back).
pub(crate) fn forget(guard: &RawGuard, slot: usize) {
    guard.stripe().sites.lock().remove(slot);
}

/// The live guards of `header`'s scope and of every scope below it, grouped by call site and
/// label: the most guards first, then by file, line, column and label.
pub(crate) fn guard_sites(header: &Header) -> Vec<GuardSite> {
    let mut all: Vec<Live> = Vec::new();
    collect(header, &mut all);
    let now = now(header.guard_clock().as_ref());
    all.sort_unstable_by_key(|live| (live.site, live.label));
    let mut sites: Vec<GuardSite> = Vec::new();
    for live in all {
        let age = match (now, live.since) {
            (Some(now), Some(since)) => Some(now.saturating_sub(since)),
            _ => None,
        };
        match sites.last_mut() {
            Some(last) if last.is_at(live.site) && last.label == live.label => {
                last.count += 1;
                last.oldest = last.oldest.max(age);
            }
            _ => sites.push(GuardSite::new(live.site, live.label, age)),
        }
    }
    sites.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key().cmp(&b.key())));
    sites
}

/// Pushes the live sites of `header`'s stripes and of every scope below it, ungrouped.
fn collect(header: &Header, all: &mut Vec<Live>) {
    header.each_stripe_sites(|sites| sites.each(&mut |live| all.push(*live)));
    // The children's registries are visited outside our lock, each pinned by a weak unit.
    header.for_each_child(|child| collect(child, all));
}

/// Where live guards were entered, with which label, how many, and the age of the oldest: one
/// line of [`Shutdown::guard_sites`](crate::Shutdown::guard_sites) (feature `track`).
///
/// It displays as `file:line:column [label] (xcount, oldest age)`, e.g.
/// `src/main.rs:42:17 [db-write] (x3, oldest 12.300s)`; the label and the age are left out
/// when there is none.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::Shutdown;
///
/// let shutdown = Shutdown::new();
/// let guards: Vec<_> = (0..3).map(|_| shutdown.enter().unwrap()).collect();
/// let sites = shutdown.guard_sites();
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
    label: Option<&'static str>,
    count: usize,
    oldest: Option<Duration>,
}

impl GuardSite {
    fn new(
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

    fn is_at(&self, site: &Location<'_>) -> bool {
        self.file == site.file() && self.line == site.line() && self.column == site.column()
    }

    fn key(&self) -> (&'static str, u32, u32, Option<&'static str>) {
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
    /// [`Shutdown::set_guard_clock`](crate::Shutdown::set_guard_clock)); `None` without a
    /// clock.
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
