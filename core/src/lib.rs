//! The `no_std` core of [winddown]: shutdown phases, the admission/drain counter, guards,
//! waiters and scopes, with no runtime and no OS.
//!
//! A service that stops well notices the request to stop, stops admitting new work, lets the
//! work in flight finish, and then closes its resources. This crate is the part of that which
//! every executor shares: a [`Shutdown`] moves forward through [`Phase`]s, admits work with
//! [`Shutdown::enter`] (an owned, one-word [`Guard`]) until admissions close, and tells waiters
//! when it was triggered, reached a phase, or drained.
//!
//! Applications usually depend on the facade crate, [winddown], which adds runtime adapters
//! and OS signals. Depend on this crate directly from a library that must stay executor-neutral
//! or `no_std`.
//!
//! # When not to use it
//!
//! If all you need is "tell these tasks to stop", a cancellation token (tokio-util's
//! `CancellationToken`) or a flag is simpler. winddown is for the whole stop: admission,
//! drain, ordered close, report.
//!
//! # Examples
//!
//! ```
//! # use winddown_core as winddown;
//! use winddown::{Phase, Reason, Shutdown};
//!
//! let shutdown = Shutdown::new();
//!
//! // Each request holds a guard while it is in flight.
//! let request = shutdown.enter().expect("admissions are open");
//! let worker = std::thread::spawn(move || {
//!     // ... handle the request ...
//!     drop(request);
//! });
//!
//! // SIGTERM arrives: trigger, then close admissions.
//! shutdown.trigger(Reason::Signal(15));
//! shutdown.close();
//! assert!(shutdown.enter().is_err()); // new work is refused
//!
//! // Wait for the work in flight (or `.drained().await` on any executor).
//! shutdown.blocking().drained(None);
//! worker.join().unwrap();
//! assert_eq!(shutdown.phase(), Phase::StoppingNewRequests);
//! assert_eq!(shutdown.in_flight(), 0);
//! ```
//!
//! # The whole sequence
//!
//! A [`Plan`] holds the resources to close ([`Resource`]: a name, a priority, an async or
//! blocking closer, an optional deadline) and the flush hooks, with the deadlines of a
//! [`Config`]. [`Plan::run`] waits for the trigger and runs the sequence on any executor that
//! implements the small [`runtime::Runtime`] trait (the `winddown-adapters` crate has tokio,
//! smol and async-std), then returns a [`Report`]: status, reason, phase timings, the drain,
//! each resource's outcome, and an exit code.
//!
//! ```
//! # use winddown_core as winddown;
//! use std::time::Duration;
//! use winddown::testing::VirtualRuntime;
//! use winddown::{Config, Plan, Reason, Resource, Shutdown, Status};
//!
//! let shutdown = Shutdown::new();
//! let plan = Plan::new(shutdown.clone(), Config::builder().drain(Duration::from_secs(5)).build()?);
//! plan.register(Resource::new("db pool", || async { Ok(()) }).priority(10))?;
//!
//! shutdown.trigger(Reason::Signal(15));
//! let runtime = VirtualRuntime::new(); // a virtual clock, for tests and examples
//! let report = runtime.block_on(plan.run(&runtime));
//! assert_eq!(report.status, Status::Completed);
//! println!("{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! - `std` (default): the blocking waits ([`Shutdown::blocking`]), the process-wide `global`
//!   handle, `Report` as `main`'s return value, and a stripe count taken from the number of
//!   CPUs. Without it the crate needs only `core` and `alloc`.
//! - `report-table` (default): [`Report`]'s `Display` in full, the lines under its headline and
//!   its table of phases, the drain, resources and flush hooks; without it, the headline only.
//! - `test-util`: [`testing::VirtualRuntime`], a runtime with a virtual clock, so tests of
//!   deadlines are exact and instant.
//! - `serde`: `Serialize` for [`Report`] and what it holds.
//! - `log`, `tracing`: progress events of the sequence (each phase, the drain, each closer,
//!   the end) through those crates, under the target `winddown`.
//! - `critical-section`: without `std`, the core's short critical sections (a scope's waiter
//!   lists and children, a plan's entries, the `track` registries) lock with the [`critical-section`](https://docs.rs/critical-section)
//!   crate instead of a spin lock, for targets where an interrupt handler may wait on a scope.
//! - `track`: the leak finder ([`track`]). Each [`Guard`] remembers where it was entered
//!   ([`Shutdown::enter`] is `#[track_caller]`), `track::guard_sites` lists the call sites of
//!   the live guards with their counts, and a [`Report`] whose drain ended with guards in
//!   flight names those sites. It costs: the guard is two words, and entering and leaving each
//!   take a lock of the stripe. A debugging aid, off by default; without it nothing of it is
//!   compiled, and the guard costs exactly what it does without the leak finder. Without
//!   `std`, pair it with `critical-section` if interrupt handlers enter or drop guards: the
//!   stripe's lock is otherwise a spin lock the interrupted code may hold.
//! - `loom`: the crate's model-checking build, for its own tests. Not covered by semver.
//!
//! # How it is built
//!
//! Two parts: the admission engine ([`Shutdown`], [`Guard`], phases, waiters, scopes, the leak
//! finder) and the stop sequence ([`Plan`], [`Report`], [`Config`], [`Resource`], the
//! [`runtime::Runtime`] trait), which uses the engine only through the public API shown here,
//! as an integration would. Every `unsafe` line is in one internal module beneath both. The
//! repository's `core/ARCHITECTURE.md` maps the files, the invariants, and where a change of
//! each kind goes.
//!
//! # Limitations
//!
//! - Without `std` (and without `critical-section`), the lock that guards a scope's waiter
//!   lists and children is a spin lock. It is never taken on the admission path (unless the
//!   `track` leak finder is on), only when a waiter parks or leaves before it is woken, when a
//!   phase change or the drain wakes the waiters, and when a child scope is made, dropped or
//!   reached by a phase change; on a preemptive single-core system a low-priority thread
//!   holding it can still delay a high-priority one.
//! - Each stripe occupies its own cache line (64 or 128 bytes), so a shutdown with 16 stripes
//!   uses about 2 KiB. Child scopes inherit their parent's stripe count.
//!
//! [winddown]: https://docs.rs/winddown

// The links above to items of a feature: to this build's item with the feature on, else to
// docs.rs, which documents every feature.
#![cfg_attr(
    all(feature = "std", not(loom)),
    doc = "[`Shutdown::blocking`]: Shutdown::blocking"
)]
#![cfg_attr(
    not(all(feature = "std", not(loom))),
    doc = "[`Shutdown::blocking`]: https://docs.rs/winddown-core/0.1/winddown_core/struct.Shutdown.html#method.blocking"
)]
#![cfg_attr(
    all(feature = "test-util", not(loom)),
    doc = "[`testing::VirtualRuntime`]: testing::VirtualRuntime"
)]
#![cfg_attr(
    not(all(feature = "test-util", not(loom))),
    doc = "[`testing::VirtualRuntime`]: https://docs.rs/winddown-core/0.1/winddown_core/testing/struct.VirtualRuntime.html"
)]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
// All of the crate's `unsafe` is in `raw/` (the one `allow` below); `.ci/core-rooms.sh` also
// checks that the word appears nowhere else.
#![deny(unsafe_code)]
#![warn(
    clippy::alloc_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::std_instead_of_core
)]
#![doc(test(
    no_crate_inject,
    attr(deny(warnings, rust_2018_idioms), allow(dead_code, unused_variables))
))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod engine;
#[cfg(all(feature = "std", not(loom)))]
mod panic;
#[allow(unsafe_code)]
mod raw;
mod sequence;
mod sync;

#[doc(inline)]
pub use engine::futures;
#[doc(inline)]
pub use engine::track;
#[doc(inline)]
pub use engine::tuning;
#[doc(inline)]
pub use sequence::runtime;
#[cfg(all(feature = "test-util", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[doc(inline)]
pub use sequence::testing;

pub use engine::error::Closed;
#[cfg(all(feature = "std", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use engine::global::global;
pub use engine::guard::Guard;
pub use engine::phase::{Phase, TransitionError};
pub use engine::reason::Reason;
pub use engine::shutdown::Shutdown;
pub use sequence::config::{Config, ConfigBuilder, ConfigError};
pub use sequence::error::{Refused, RegisterError};
pub use sequence::plan::Plan;
pub use sequence::report::{
    DrainRecord, ForcedBy, Incomplete, ObserverPanic, Outcome, PhaseRecord, Progress, Report,
    ResourceRecord, Status, TaskFailure,
};
pub use sequence::resource::{CloserOutput, Resource, ResourceKind};

/// Compile-time checks of the sizes and auto traits the docs promise.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Shutdown>();
    assert_send_sync::<Guard>();
    assert_send_sync::<futures::Drained>();
    assert_send_sync::<futures::Triggered>();
    assert_send_sync::<futures::Reached>();
    // One word; with the leak finder, its registry slot too.
    const GUARD: usize =
        if cfg!(feature = "track") { 2 } else { 1 } * core::mem::size_of::<usize>();
    assert!(core::mem::size_of::<Guard>() == GUARD);
    assert!(core::mem::size_of::<Shutdown>() == core::mem::size_of::<usize>());
    assert!(core::mem::size_of::<Option<Guard>>() == GUARD);
};
