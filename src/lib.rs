//! Graceful shutdown for Rust services on any executor: admission, drain, ordered close, and a
//! report of what happened.
//!
//! A service that stops well notices the request to stop (a signal, an API call, a fatal
//! error), stops admitting new work, lets the work in flight finish within a deadline, closes
//! its resources in order (the database after the workers that use it), flushes its buffers,
//! and says how it went. winddown does that in one place: a [`Shutdown`] admits work with
//! [`enter`](Shutdown::enter) and refuses it once closed, a [`Plan`] holds the deadlines and the
//! resources, and running the plan on your runtime returns a [`Report`] with an exit code.
//!
//! If all you need is to tell a few tasks to stop, a cancellation token or a flag is simpler:
//! winddown is for the whole stop.
//!
//! # Quick start
//!
//! In `Cargo.toml`:
//!
//! ```toml
//! [dependencies]
//! winddown = { version = "0.1", features = ["tokio", "signals"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "time"] }
//! ```
//!
//! A service that stops on SIGTERM or Ctrl-C (here it also asks for the stop itself, after a
//! moment), and exits with the report's code:
//!
#![cfg_attr(all(feature = "tokio", feature = "signals"), doc = "```")]
#![cfg_attr(not(all(feature = "tokio", feature = "signals")), doc = "```ignore")]
//! use std::time::Duration;
//! use winddown::run_until_shutdown;
//! use winddown::tokio::TokioRuntime;
//! use winddown::{Config, Plan, Reason, Report, Resource, Shutdown, ShutdownExt, TaskSet};
//!
//! #[tokio::main]
//! async fn main() -> Result<Report, Box<dyn std::error::Error>> {
//!     let shutdown = Shutdown::new();
//!     let _signals = winddown::signals::listen(&shutdown)?; // SIGTERM and SIGINT trigger it
//!     let config = Config::builder().drain(Duration::from_secs(10)).build()?;
//!     let plan = Plan::new(shutdown.clone(), config);
//!
//!     // Resources close after the drain, highest priority first.
//!     plan.register(Resource::new("db pool", || async { Ok(()) }).priority(10))?;
//!
//!     // Background tasks hold a guard each; the drain waits for them.
//!     let tasks = TaskSet::new(&plan, TokioRuntime::new());
//!     tasks.spawn("worker", |ctx| async move {
//!         let mut tick = tokio::time::interval(Duration::from_millis(10));
//!         while ctx.shutdown().until_shutdown(tick.tick()).await.is_some() {
//!             // ... one unit of work ...
//!         }
//!     })?;
//!
//!     // The application: it runs until a signal, or, here, asks for the stop itself.
//!     let app = async move {
//!         tokio::time::sleep(Duration::from_millis(50)).await;
//!         shutdown.trigger(Reason::requested_because("demo over"));
//!     };
//!
//!     let report = run_until_shutdown(&plan, TokioRuntime::new(), app).await;
//!     eprintln!("{report}");
//!     // Returned, not `process::exit`: destructors run, then the process exits with the
//!     // report's code (0 if all went well; see `Report::exit_code`).
//!     Ok(report)
//! }
//! ```
//!
//! # Features
//!
//! Nothing that pulls in a runtime is on by default.
//!
//! - `std` (default): blocking waits, the process-wide [`global`] handle, [`Report`] as
//!   `main`'s return value, and the runtime-free helpers [`ShutdownExt`], [`TaskSet`] (and the rest of [`task_set`]) and
//!   [`run_until_shutdown`]. Without it the crate is
//!   the `no_std` core.
//! - `report-table` (default): [`Report`]'s `Display` in full, the lines under its headline
//!   (why it was forced, failed tasks, notes, panicked observers) and its table of phases, the
//!   drain, resources and flush hooks. Without it, `Display` writes the headline only, and a
//!   program that prints its report links none of the table's formatting.
//! - `tokio`, `smol`, `async-std`: the runtime modules [`tokio`], [`smol`] and [`async_std`]
//!   (async-std is discontinued upstream; smol is its successor).
//! - `signals`: [`signals`], OS signals (SIGTERM, SIGINT) that trigger the shutdown, force it
//!   on the second, and end the process on the third (Unix).
//! - `systemd`: [`systemd`], systemd's `Type=notify` protocol through `NOTIFY_SOCKET`:
//!   `READY=1` when the run helpers start the application, `STOPPING=1` at the trigger,
//!   `STATUS=` at each phase, `EXTEND_TIMEOUT_USEC=` while a slow stop is within its
//!   deadlines, `WATCHDOG=1`. Silent when the variable is unset.
//! - `tower`: [`http`] (winddown-http): a tower layer that admits each request through the
//!   shutdown and answers `503` once admissions close, names the requests in flight, and
//!   readiness, liveness and status services. Runtime-neutral.
//! - `hyper`: `http::Server`, a hyper 1 server on any of the runtimes that drains idle,
//!   half-sent, streaming and upgraded connections (WebSockets hear Close 1001) and cuts what
//!   is left at the drain deadline; `http::tokio`, `http::smol` and `http::async_std` with
//!   those features.
//! - `tls`: `http::tls`, TLS for that server (rustls with ring), each handshake in its
//!   connection's task.
#![cfg_attr(
    feature = "test-util",
    doc = "- `test-util`: the core's virtual-clock runtime, [`testing`]."
)]
#![cfg_attr(
    not(feature = "test-util"),
    doc = "- `test-util`: the core's virtual-clock runtime, `testing`."
)]
//! - `log`, `tracing`: progress events of the sequence through those crates.
//! - `serde`: `Serialize` for [`Report`].
//! - `track`: the leak finder ([`track`]). Each [`Guard`] remembers where it was entered
//!   ([`Shutdown::enter`], [`ShutdownExt::guarded`] and [`TaskSet::spawn`] record their
//!   caller), `track::guard_sites` lists the call sites of the live guards with their counts,
//!   and a report whose drain ended with guards in flight names those sites. A debugging aid:
//!   the guard is two words and entering and leaving take a lock, so it is not in `full`;
//!   without it, nothing of it is compiled.
//! - `full`: everything the examples use.
//!
//! # Limitations
//!
//! - Cancelling a task (a closer past its deadline) drops its future at its next await point:
//!   a closer blocked in synchronous code is abandoned, not stopped.
//! - A runtime feature needs the Rust version that runtime needs, which may be newer than this
//!   crate's own minimum.
//!
// The links above to items of a feature: to this build's page with the feature on, else to
// docs.rs, which documents every feature.
#![cfg_attr(
    feature = "std",
    doc = "[`global`]: global\n[`ShutdownExt`]: ShutdownExt\n[`ShutdownExt::guarded`]: ShutdownExt::guarded\n[`TaskSet`]: TaskSet\n[`TaskSet::spawn`]: TaskSet::spawn\n[`task_set`]: task_set\n[`run_until_shutdown`]: run_until_shutdown"
)]
#![cfg_attr(
    not(feature = "std"),
    doc = "[`global`]: https://docs.rs/winddown/0.1/winddown/fn.global.html\n[`ShutdownExt`]: https://docs.rs/winddown/0.1/winddown/trait.ShutdownExt.html\n[`ShutdownExt::guarded`]: https://docs.rs/winddown/0.1/winddown/trait.ShutdownExt.html#tymethod.guarded\n[`TaskSet`]: https://docs.rs/winddown/0.1/winddown/task_set/struct.TaskSet.html\n[`TaskSet::spawn`]: https://docs.rs/winddown/0.1/winddown/task_set/struct.TaskSet.html#method.spawn\n[`task_set`]: https://docs.rs/winddown/0.1/winddown/task_set/index.html\n[`run_until_shutdown`]: https://docs.rs/winddown/0.1/winddown/fn.run_until_shutdown.html"
)]
#![cfg_attr(feature = "tokio", doc = "[`tokio`]: tokio")]
#![cfg_attr(
    not(feature = "tokio"),
    doc = "[`tokio`]: https://docs.rs/winddown/0.1/winddown/tokio/index.html"
)]
#![cfg_attr(feature = "smol", doc = "[`smol`]: smol")]
#![cfg_attr(
    not(feature = "smol"),
    doc = "[`smol`]: https://docs.rs/winddown/0.1/winddown/smol/index.html"
)]
#![cfg_attr(feature = "async-std", doc = "[`async_std`]: async_std")]
#![cfg_attr(
    not(feature = "async-std"),
    doc = "[`async_std`]: https://docs.rs/winddown/0.1/winddown/async_std/index.html"
)]
#![cfg_attr(feature = "signals", doc = "[`signals`]: signals")]
#![cfg_attr(
    not(feature = "signals"),
    doc = "[`signals`]: https://docs.rs/winddown/0.1/winddown/signals/index.html"
)]
#![cfg_attr(feature = "systemd", doc = "[`systemd`]: systemd")]
#![cfg_attr(
    not(feature = "systemd"),
    doc = "[`systemd`]: https://docs.rs/winddown/0.1/winddown/systemd/index.html"
)]
#![cfg_attr(feature = "tower", doc = "[`http`]: http")]
#![cfg_attr(
    not(feature = "tower"),
    doc = "[`http`]: https://docs.rs/winddown/0.1/winddown/http/index.html"
)]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(
    no_crate_inject,
    attr(deny(warnings, rust_2018_idioms), allow(dead_code, unused_variables))
))]

#[macro_use]
mod cfg;

#[doc(inline)]
pub use winddown_core::{
    Closed, CloserOutput, Config, ConfigBuilder, ConfigError, DrainRecord, ForcedBy, Guard,
    Incomplete, ObserverPanic, Outcome, Phase, PhaseRecord, Plan, Progress, Reason, Refused,
    RegisterError, Report, Resource, ResourceKind, ResourceRecord, Shutdown, Status, TaskFailure,
    TransitionError,
};

#[doc(inline)]
pub use winddown_core::runtime;

#[doc(inline)]
pub use winddown_core::{track, tuning};

/// Waiting on a shutdown: the core's futures ([`Shutdown::triggered`], [`Shutdown::drained`],
/// …) and, with `std`, its blocking waits ([`Shutdown::blocking`]) and the adapters'
/// combinators (`ShutdownExt::guarded`, `ShutdownExt::until_shutdown`).
///
#[cfg_attr(
    feature = "std",
    doc = "[`Shutdown::blocking`]: crate::Shutdown::blocking"
)]
#[cfg_attr(
    not(feature = "std"),
    doc = "[`Shutdown::blocking`]: https://docs.rs/winddown/0.1/winddown/struct.Shutdown.html#method.blocking"
)]
pub mod futures {
    #[doc(inline)]
    pub use winddown_core::futures::*;

    cfg_feature! {
        "std",
        #[doc(inline)]
        pub use winddown_adapters::futures::*;
    }
}

cfg_feature! {
    "std",
    #[doc(inline)]
    pub use winddown_core::global;
    #[doc(inline)]
    pub use winddown_adapters::{run_until_shutdown, AppExit, ShutdownExt};
    // Documented once, in `task_set`; here for the common case's import.
    #[doc(no_inline)]
    pub use winddown_adapters::TaskSet;
    #[doc(inline)]
    pub use winddown_adapters::task_set;
}

cfg_feature! {
    "test-util",
    #[doc(inline)]
    pub use winddown_core::testing;
}

cfg_feature! {
    "tokio",
    #[doc(inline)]
    pub use winddown_adapters::tokio;
}

cfg_feature! {
    "smol",
    #[doc(inline)]
    pub use winddown_adapters::smol;
}

cfg_feature! {
    "async-std",
    #[doc(inline)]
    pub use winddown_adapters::async_std;
}

cfg_feature! {
    "systemd",
    #[doc(inline)]
    pub use winddown_adapters::systemd;
}

cfg_feature! {
    "signals",
    #[doc(inline)]
    pub use winddown_signals as signals;
}

// One module for HTTP, not items at the root: its `tokio` and `smol` server modules would
// clash with the runtime modules, and HTTP is an area of its own, like `signals`.
cfg_feature! {
    "tower",
    #[doc(inline)]
    pub use winddown_http as http;
}

/// The guide (`docs/guide.md`): the sequence and its deadlines on a timeline, choosing them
/// against systemd and Kubernetes, HTTP behind a load balancer, troubleshooting, testing with
/// the virtual clock, and moving over from other crates. Its examples need every feature, so
/// the guide is rendered, and its examples run as doctests, with `--all-features`.
#[cfg(any(doc, doctest))]
#[cfg_attr(
    all(feature = "full", feature = "test-util", feature = "track"),
    doc = include_str!("../docs/guide.md")
)]
#[cfg_attr(
    not(all(feature = "full", feature = "test-util", feature = "track")),
    doc = "The guide: build the docs with `--all-features` to read it here, or read \
           `docs/guide.md` in the repository."
)]
pub mod guide {}

/// The README's example, compiled and run as a doctest.
#[cfg(all(doctest, feature = "full"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
