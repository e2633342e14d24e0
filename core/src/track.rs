//! The leak finder (feature `track`): where each live guard was entered.
//!
//! With the feature on, every stripe keeps a [`Sites`] registry beside its admission word, under
//! its own [`Lock`](crate::sync::Lock): a slab of the [`Location`]s of the guards entered through
//! that stripe and not yet dropped. [`Shutdown::enter`](crate::Shutdown::enter) is
//! `#[track_caller]` then, so the location is the caller's; the guard remembers its slot and
//! empties it when it drops, before it gives back its unit (so the stripe is still pinned).
//! One registry per stripe keeps threads that enter through different stripes off each other's
//! lock, as the admission words do.
//!
//! Nothing here exists without the feature: the guard is one word, `enter` one `fetch_add` and
//! one branch, and the drop one `fetch_sub` and one test.
//!
//! Under the lock only the slab is touched: no user code runs and nothing user-supplied is
//! dropped, so nothing can re-enter it.

use alloc::vec::Vec;
use core::fmt;
use core::panic::Location;
use core::ptr::NonNull;

use crate::shared::{Shared, Stripe};

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
    Live(&'static Location<'static>),
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
    pub(crate) fn insert(&mut self, site: &'static Location<'static>) -> usize {
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
    fn live(&self) -> impl Iterator<Item = &'static Location<'static>> + '_ {
        self.entries.iter().filter_map(|entry| match entry {
            Entry::Live(site) => Some(*site),
            Entry::Vacant(_) => None,
        })
    }
}

/// Records the caller's location for a guard just admitted on `stripe`; returns its slot.
///
/// # Safety
///
/// The caller owns a unit of `stripe`'s count (invariant 2 pins the stripe for the call).
#[track_caller]
pub(crate) unsafe fn record(stripe: NonNull<Stripe>) -> usize {
    let site = Location::caller();
    // SAFETY: the caller's unit pins the stripe.
    unsafe { stripe.as_ref() }.sites.lock().insert(site)
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

/// The live guards of `shared`, grouped by call site: the most guards first, then by file,
/// line and column.
pub(crate) fn guard_sites(shared: &Shared) -> Vec<GuardSite> {
    let mut all = Vec::new();
    for stripe in shared.stripes() {
        all.extend(stripe.sites.lock().live());
    }
    // `Location` orders by file, line, column: equal sites end up next to each other.
    all.sort_unstable();
    let mut sites: Vec<GuardSite> = Vec::new();
    for site in all {
        match sites.last_mut() {
            Some(last) if last.is_at(site) => last.count += 1,
            _ => sites.push(GuardSite::new(site)),
        }
    }
    sites.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key().cmp(&b.key())));
    sites
}

/// Where live guards were entered, and how many: one line of
/// [`Shutdown::guard_sites`](crate::Shutdown::guard_sites) (feature `track`).
///
/// It displays as `file:line:column (xcount)`, e.g. `src/main.rs:42:17 (x3)`.
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
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GuardSite {
    file: &'static str,
    line: u32,
    column: u32,
    count: usize,
}

impl GuardSite {
    fn new(site: &'static Location<'static>) -> Self {
        Self {
            file: site.file(),
            line: site.line(),
            column: site.column(),
            count: 1,
        }
    }

    fn is_at(&self, site: &Location<'_>) -> bool {
        self.file == site.file() && self.line == site.line() && self.column == site.column()
    }

    fn key(&self) -> (&'static str, u32, u32) {
        (self.file, self.line, self.column)
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

    /// How many live guards were entered there.
    pub const fn count(&self) -> usize {
        self.count
    }
}

impl fmt::Display for GuardSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{} (x{})",
            self.file, self.line, self.column, self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn here() -> &'static Location<'static> {
        Location::caller()
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
        assert_eq!(sites.live().collect::<Vec<_>>(), [b]);
        assert_eq!(sites.insert(b), 0);
        assert_eq!(sites.insert(b), 1);
        assert_eq!(sites.insert(a), 3);
        assert_eq!(sites.live().collect::<Vec<_>>(), [b, b, b, a]);
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
        let site = GuardSite {
            file: "src/main.rs",
            line: 42,
            column: 17,
            count: 3,
        };
        assert_eq!(alloc::format!("{site}"), "src/main.rs:42:17 (x3)");
    }
}
