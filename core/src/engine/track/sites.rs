//! One stripe's registry of live guards for the leak finder: a slab of call sites with an
//! intrusive free list, and the clock guards are stamped with.
//!
//! Under the stripe's lock only the slab is touched: no user code runs and nothing
//! user-supplied is dropped, so nothing can re-enter it. The clock (which may be user code) is
//! read before the lock is taken (`mod.rs`).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::panic::Location;
use core::time::Duration;

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
    pub(crate) site: &'static Location<'static>,
    pub(crate) label: Option<&'static str>,
    pub(crate) since: Option<Duration>,
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
}
