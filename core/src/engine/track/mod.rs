//! Finding what holds a drain up: the guards in flight across scopes, and (feature `track`, the
//! leak finder) where each live guard was entered, with its label and when.
//!
//! A drain that does not end is work that still holds its guards. [`in_flight_subtree`]
//! counts them in a scope and every scope below it. With the `track` feature,
//! [`guard_sites`] says where they were entered (file, line, column, with the label of
//! [`Shutdown::enter_labeled`]), how many from each place, and how old the oldest is, and a
//! [`Plan`](crate::Plan)'s report names those sites when its drain ends with guards in flight
//! ([`DrainRecord::guard_sites`]). The adapters that enter
//! for you (`ShutdownExt::guarded`, `TaskSet::spawn`) record their caller's site too.
//!
//! The leak finder is a debugging aid, off by default: with it, a guard is two words instead
//! of one, and entering and leaving each take a lock of the stripe. Without the feature none of
//! it is compiled, and [`set_guard_clock`] does nothing.
//!
//! # Examples
//!
//! ```
//! # use winddown_core as winddown;
//! use winddown::{track, Shutdown};
//!
//! let shutdown = Shutdown::new();
//! let library = shutdown.child();
//! let job = library.enter_labeled("job")?;
//! shutdown.close();
//! assert_eq!(shutdown.in_flight(), 1); // the child scope, as one
//! assert_eq!(track::in_flight_subtree(&shutdown), 1); // its one job
//! # #[cfg(feature = "track")]
//! # {
//! let sites = track::guard_sites(&shutdown);
//! assert_eq!((sites[0].label(), sites[0].count()), (Some("job"), 1));
//! println!("still in flight: {}", sites[0]); // "src/main.rs:7:23 [job] (x1, oldest 0.000s)"
//! # }
//! # drop(job);
//! # Ok::<(), winddown::Closed>(())
//! ```
//!
//! # How it is kept
//!
//! With the feature on, every stripe keeps a registry beside its admission word, under its own
//! lock: a slab of the locations (with the label, if any, and the time of entry) of the guards
//! entered through that stripe and not yet dropped. [`Shutdown::enter`] is
//! `#[track_caller]` then, so the location is the caller's; the guard remembers its slot and
//! empties it when it drops, before it gives back its unit (so the stripe is still pinned).
//! One registry per stripe keeps threads that enter through different stripes off each other's
//! lock, as the admission words do.
//!
//! Without the feature none of the leak finder exists: the guard is one word, `enter` one
//! `fetch_add` and one branch, and the drop one `fetch_sub` and one test.
//!
//! Under the lock only the slab is touched: no user code runs and nothing user-supplied is
//! dropped, so nothing can re-enter it. The clock (which may be user code) is read before the
//! lock is taken.
//!
//! # Where the time comes from
//!
//! Each scope has a guard clock: by default, with `std`, a monotonic clock (`Instant`) since
//! the first tracked guard of the process; without `std` there is none, and ages are unknown
//! (`None`) until one is set. [`set_guard_clock`] replaces it, for example with a runtime's
//! clock (a test's virtual clock, an embedded target's tick counter). Child scopes made
//! afterwards inherit it.
//!
// The links above to items of `track`: to this build's with the feature on, else to docs.rs.
#![cfg_attr(
    feature = "track",
    doc = "[`guard_sites`]: guard_sites\n[`DrainRecord::guard_sites`]: crate::DrainRecord::guard_sites"
)]
#![cfg_attr(
    not(feature = "track"),
    doc = "[`guard_sites`]: https://docs.rs/winddown-core/0.1/winddown_core/track/fn.guard_sites.html\n[`DrainRecord::guard_sites`]: https://docs.rs/winddown-core/0.1/winddown_core/struct.DrainRecord.html#structfield.guard_sites"
)]

use crate::Shutdown;

#[cfg(feature = "track")]
pub(crate) mod registry;
#[cfg(feature = "track")]
mod site;
#[cfg(feature = "track")]
pub(crate) mod sites;

#[cfg(feature = "track")]
#[cfg_attr(docsrs, doc(cfg(feature = "track")))]
pub use site::GuardSite;

/// Guards in flight now in `shutdown`'s scope and every scope below it, each guard counted once
/// (where [`Shutdown::in_flight`] counts an undrained child scope as one). A snapshot.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{track, Shutdown};
///
/// let parent = Shutdown::new();
/// let library = parent.child();
/// let jobs: Vec<_> = (0..3).map(|_| library.enter().unwrap()).collect();
/// assert_eq!(parent.in_flight(), 1); // the child, as one
/// assert_eq!(track::in_flight_subtree(&parent), 3); // its three jobs
/// # drop(jobs);
/// ```
pub fn in_flight_subtree(shutdown: &Shutdown) -> usize {
    shutdown.shared().in_flight_subtree()
}

/// Where the guards in flight now were entered (feature `track`): one [`GuardSite`] per call
/// site of [`Shutdown::enter`] (and label), with how many live guards came from there, the most
/// first (then by file, line and column). A snapshot.
///
/// The guards of child scopes (and theirs) are included, even those of a child whose handles
/// are all gone: a guard leaked in a library's scope is still named. Each site also carries its
/// label ([`Shutdown::enter_labeled`]) and the age of its oldest guard
/// ([`set_guard_clock`]).
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{track, Shutdown};
///
/// let shutdown = Shutdown::new();
/// let request = shutdown.enter()?;
/// let batch: Vec<_> = (0..2).map(|_| shutdown.enter()).collect::<Result<_, _>>()?;
///
/// let sites = track::guard_sites(&shutdown);
/// assert_eq!(sites.len(), 2);
/// assert_eq!((sites[0].line(), sites[0].count()), (line!() - 4, 2)); // the batch
/// assert_eq!((sites[1].line(), sites[1].count()), (line!() - 6, 1)); // the request
/// println!("{}", sites[0]); // "src/main.rs:8:39 (x2)" or the like
///
/// drop((request, batch));
/// assert!(track::guard_sites(&shutdown).is_empty());
/// # Ok::<(), winddown::Closed>(())
/// ```
#[cfg(feature = "track")]
#[cfg_attr(docsrs, doc(cfg(feature = "track")))]
pub fn guard_sites(shutdown: &Shutdown) -> alloc::vec::Vec<GuardSite> {
    registry::sites_of(shutdown.shared())
}

/// Sets the clock the leak finder (feature `track`) stamps `shutdown`'s guards with, so
/// [`GuardSite::oldest`] can tell how old the oldest guard of each site is. By default, with
/// `std`, it is a monotonic clock; without `std` there is none (ages are `None`) until one is
/// set: an embedded target's tick counter, say. A test on a virtual clock sets that clock.
/// Child scopes made afterwards inherit it. Without `track` this does nothing (the clock is
/// dropped), so it may be called unconditionally.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use std::time::Duration;
/// use winddown::runtime::Runtime;
/// use winddown::testing::VirtualRuntime;
/// use winddown::{track, Shutdown};
///
/// let runtime = VirtualRuntime::new();
/// let shutdown = Shutdown::new();
/// track::set_guard_clock(&shutdown, {
///     let runtime = runtime.clone();
///     move || runtime.now()
/// });
/// let request = shutdown.enter()?;
/// runtime.advance(Duration::from_secs(12));
/// # #[cfg(feature = "track")]
/// assert_eq!(track::guard_sites(&shutdown)[0].oldest(), Some(Duration::from_secs(12)));
/// # drop(request);
/// # Ok::<(), winddown::Closed>(())
/// ```
#[cfg_attr(feature = "track", doc = "[`GuardSite::oldest`]: GuardSite::oldest")]
#[cfg_attr(
    not(feature = "track"),
    doc = "[`GuardSite::oldest`]: https://docs.rs/winddown-core/0.1/winddown_core/track/struct.GuardSite.html#method.oldest"
)]
pub fn set_guard_clock(
    shutdown: &Shutdown,
    clock: impl Fn() -> core::time::Duration + Send + Sync + 'static,
) {
    #[cfg(feature = "track")]
    shutdown
        .shared()
        .set_guard_clock(Some(alloc::sync::Arc::new(clock)));
    #[cfg(not(feature = "track"))]
    {
        let _ = shutdown;
        drop(clock);
    }
}
