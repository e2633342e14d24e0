//! The leak finder (feature `track`): where each live guard was entered, with its label and
//! when.
//!
//! With the feature on, every stripe keeps a [`Sites`] registry beside its admission word, under
//! its own [`Lock`](crate::sync::Lock): a slab of the [`Location`]s (with the label, if any, and
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

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::panic::Location;
use core::ptr::NonNull;
use core::time::Duration;

use crate::shared::{Shared, Stripe};

/// A scope's guard clock: see the module docs.
pub(crate) type Clock = Arc<dyn Fn() -> Duration + Send + Sync>;

/// The time now on `clock`, or on the default clock.
pub(crate) fn now(clock: Option<&Clock>) -> Option<Duration> {
    match clock {
        Some(clock) => Some(clock()),
        None => default_now(),
    }
}

#[cfg(all(feature = "std", not(loom)))]
fn default_now() -> Option<Duration> {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    Some(ORIGIN.get_or_init(std::time::Instant::now).elapsed())
}

#[cfg(not(all(feature = "std", not(loom))))]
fn default_now() -> Option<Duration> {
    None
}

/// One live guard: where it was entered, its label, and when (on its scope's clock).
#[derive(Clone, Copy)]
pub(crate) struct Live {
    site: &'static Location<'static>,
    label: Option<&'static str>,
    since: Option<Duration>,
}

/// One stripe's live call sites: a slab with an intrusive free list.
pub(crate) struct Sites {
    entries: Vec<Entry>,
    /// The first vacant entry; `entries.len()` when none is vacant.
    free: usize,
    /// Live entries. When it drops to zero the slab is emptied (its capacity kept), so a long
    /// run does not keep a free list as long as its busiest moment.
    live: usize,
}

enum Entry {
    Live(Live),
    /// Vacant; the index of the next vacant entry (or `entries.len()`).
    Vacant(usize),
}

impl Sites {
    pub(crate) const fn new() -> Self {
        Self {
            entries: Vec::new(),
            free: 0,
            live: 0,
        }
    }

    /// Records `site`; returns its slot, reused from the most recently emptied one.
    pub(crate) fn insert(&mut self, site: Live) -> usize {
        let slot = self.free;
        match self.entries.get_mut(slot) {
            Some(entry) => {
                self.free = match core::mem::replace(entry, Entry::Live(site)) {
                    Entry::Vacant(next) => next,
                    // The free list only links vacant entries.
                    Entry::Live(_) => unreachable!("winddown: a live entry in the free list"),
                };
            }
            None => {
                self.entries.push(Entry::Live(site));
                self.free = self.entries.len();
            }
        }
        self.live += 1;
        slot
    }

    /// Empties `slot`, which `insert` returned and nothing emptied since.
    pub(crate) fn remove(&mut self, slot: usize) {
        let Some(entry @ Entry::Live(_)) = self.entries.get_mut(slot) else {
            debug_assert!(false, "winddown: removing a guard site twice");
            return;
        };
        *entry = Entry::Vacant(self.free);
        self.free = slot;
        self.live -= 1;
        if self.live == 0 {
            self.entries.clear();
            self.free = 0;
        }
    }

    /// The live sites, in slot order.
    fn live(&self) -> impl Iterator<Item = &Live> + '_ {
        self.entries.iter().filter_map(|entry| match entry {
            Entry::Live(site) => Some(site),
            Entry::Vacant(_) => None,
        })
    }

    /// Calls `f` on each live site (under the stripe's lock: `f` must not take a lock).
    pub(crate) fn each(&self, f: &mut dyn FnMut(&Live)) {
        self.live().for_each(f);
    }
}

/// Records the caller's location (and `label`, and the time) for a guard just admitted on
/// `stripe`; returns its slot.
///
/// # Safety
///
/// The caller owns a unit of `stripe`'s count (invariant 2 pins the stripe for the call).
#[track_caller]
pub(crate) unsafe fn record(stripe: NonNull<Stripe>, label: Option<&'static str>) -> usize {
    let site = Location::caller();
    // SAFETY: the caller's unit pins the stripe, so its header is alive.
    let shared = unsafe { Shared::of(stripe) };
    // Read outside the stripe's lock: a set clock is user code.
    let since = now(shared.guard_clock().as_ref());
    let live = Live { site, label, since };
    // SAFETY: as above.
    unsafe { stripe.as_ref() }.sites.lock().insert(live)
}

/// Forgets the guard in `slot` of `stripe`.
///
/// # Safety
///
/// As [`record`]: the caller still owns the guard's unit (it releases it after this call).
pub(crate) unsafe fn forget(stripe: NonNull<Stripe>, slot: usize) {
    // SAFETY: the caller's unit pins the stripe.
    unsafe { stripe.as_ref() }.sites.lock().remove(slot);
}

/// The live guards of `shared` and of every scope below it, grouped by call site and label:
/// the most guards first, then by file, line, column and label.
pub(crate) fn guard_sites(shared: &Shared) -> Vec<GuardSite> {
    let mut all: Vec<Live> = Vec::new();
    shared.each_site_in_subtree(&mut |live| all.push(*live));
    let now = now(shared.guard_clock().as_ref());
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

    #[track_caller]
    fn here() -> Live {
        Live {
            site: Location::caller(),
            label: None,
            since: None,
        }
    }

    #[test]
    fn slots_are_reused_most_recent_first() {
        let (a, b) = (here(), here());
        let mut sites = Sites::new();
        assert_eq!(sites.insert(a), 0);
        assert_eq!(sites.insert(a), 1);
        assert_eq!(sites.insert(b), 2);
        sites.remove(1);
        sites.remove(0);
        let at = |sites: &Sites| sites.live().map(|live| live.site).collect::<Vec<_>>();
        assert_eq!(at(&sites), [b.site]);
        assert_eq!(sites.insert(b), 0);
        assert_eq!(sites.insert(b), 1);
        assert_eq!(sites.insert(a), 3);
        assert_eq!(at(&sites), [b.site, b.site, b.site, a.site]);
    }

    #[test]
    fn the_slab_empties_when_the_last_site_goes() {
        let mut sites = Sites::new();
        let slots: Vec<_> = (0..4).map(|_| sites.insert(here())).collect();
        for slot in slots {
            sites.remove(slot);
        }
        assert!(sites.entries.is_empty());
        assert_eq!(sites.insert(here()), 0);
    }

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
