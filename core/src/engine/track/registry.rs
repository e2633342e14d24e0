//! The leak finder's bookkeeping (feature `track`): recording and forgetting each guard's call
//! site in its stripe's registry (`sites.rs`), and grouping the live ones into [`GuardSite`]s.

use alloc::vec::Vec;
use core::panic::Location;

use super::site::GuardSite;
use super::sites::{now, Live};
use crate::raw::{Header, RawGuard};

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
pub(crate) fn sites_of(header: &Header) -> Vec<GuardSite> {
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
