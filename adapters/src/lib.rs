//! Runtime adapters for [winddown]: the core's shutdown sequence on tokio, smol or async-std,
//! background tasks that take part in the drain, and helpers to run a service until it stops.
//!
//! The core ([`winddown_core`]) is executor-free: its [`Plan`](winddown_core::Plan) runs over a
//! small [`Runtime`](winddown_core::runtime::Runtime) trait. This crate implements that trait
//! for each runtime, behind the feature of that name, and adds what every runtime shares:
//!
//! - [`ShutdownExt`]: [`guarded`](ShutdownExt::guarded) runs a future as admitted work (and
//!   refuses it once admissions close); [`until_shutdown`](ShutdownExt::until_shutdown) runs a
//!   future until the trigger. Both work on any executor.
//! - [`TaskSet`]: background tasks that each hold a guard, see the trigger, and are named in
//!   the report when they outlast the drain deadline; their failures and panics are reported
//!   (and trigger the shutdown by default), each has a [`TaskHandle`](task_set::TaskHandle),
//!   and on a [`Local`](task_set::Local) runtime the same set runs `!Send` tasks.
//! - [`run_until_shutdown`]: the application future and the shutdown sequence together,
//!   returning the [`Report`](winddown_core::Report).
//!
//! Applications usually depend on the facade, [winddown], which re-exports this crate's
//! modules as `winddown::tokio`, `winddown::smol` and `winddown::async_std`.
//!
//! # Examples
//!
//! ```
//! use winddown::ShutdownExt;
//! use winddown::{Reason, Shutdown};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let shutdown = Shutdown::new();
//! let request = shutdown.guarded(async { "response" });
//! shutdown.trigger(Reason::Signal(15));
//! shutdown.close();
//! // Admitted before the close: it still runs, and the drain waits for it.
//! assert!(!shutdown.is_drained());
//! assert_eq!(request.await, Ok("response"));
//! assert!(shutdown.is_drained());
//! // Refused after it.
//! assert!(shutdown.guarded(async { "response" }).await.is_err());
//! # });
//! ```
//!
//! # Features
//!
//! Nothing is on by default, so depending on this crate pulls in no runtime.
//!
//! - `tokio`: [`tokio::TokioRuntime`], the tokio run helpers, and `CancellationToken` interop
//!   (tokio's `rt` and `time` features, and tokio-util).
//! - `smol`: [`smol::SmolRuntime`] on smol's global executor or yours, and the run helpers.
//! - `async-std`: [`async_std::AsyncStdRuntime`] and the run helpers. async-std is discontinued
//!   upstream; smol is its successor.
//! - `systemd`: [`systemd::Systemd`], systemd's `Type=notify` protocol: `READY=1` when the
//!   run helpers start the application, `STOPPING=1` at the trigger, `STATUS=` at each phase,
//!   `EXTEND_TIMEOUT_USEC=` while a slow stop is within its deadlines, `WATCHDOG=1`. Silent
//!   when `NOTIFY_SOCKET` is unset.
//!
//! # Limitations
//!
//! - Cancelling a closer past its deadline, or a task left in a dropped [`TaskSet`], drops its
//!   future at its next await point: one blocked in synchronous code is not stopped.
//! - The tokio feature needs the Rust version tokio needs, which may be newer than this
//!   crate's own minimum.
//!
//! [winddown]: https://docs.rs/winddown
//!
// Links to feature-gated modules: to this build's page with the feature on, else to docs.rs,
// which documents every feature.
#![cfg_attr(
    feature = "tokio",
    doc = "[`tokio::TokioRuntime`]: tokio::TokioRuntime"
)]
#![cfg_attr(
    not(feature = "tokio"),
    doc = "[`tokio::TokioRuntime`]: https://docs.rs/winddown-adapters/0.1/winddown_adapters/tokio/struct.TokioRuntime.html"
)]
#![cfg_attr(feature = "smol", doc = "[`smol::SmolRuntime`]: smol::SmolRuntime")]
#![cfg_attr(
    not(feature = "smol"),
    doc = "[`smol::SmolRuntime`]: https://docs.rs/winddown-adapters/0.1/winddown_adapters/smol/struct.SmolRuntime.html"
)]
#![cfg_attr(
    feature = "async-std",
    doc = "[`async_std::AsyncStdRuntime`]: async_std::AsyncStdRuntime"
)]
#![cfg_attr(
    not(feature = "async-std"),
    doc = "[`async_std::AsyncStdRuntime`]: https://docs.rs/winddown-adapters/0.1/winddown_adapters/async_std/struct.AsyncStdRuntime.html"
)]
#![cfg_attr(feature = "systemd", doc = "[`systemd::Systemd`]: systemd::Systemd")]
#![cfg_attr(
    not(feature = "systemd"),
    doc = "[`systemd::Systemd`]: https://docs.rs/winddown-adapters/0.1/winddown_adapters/systemd/struct.Systemd.html"
)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(
    no_crate_inject,
    attr(deny(warnings, rust_2018_idioms), allow(dead_code, unused_variables))
))]

mod ext;
pub mod futures;
mod panic;
mod run;
pub mod task_set;

// The runtime modules are declared with plain attributes, not a `cfg_*!` macro: rustfmt does
// not format modules declared inside a macro.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

#[cfg(feature = "smol")]
#[cfg_attr(docsrs, doc(cfg(feature = "smol")))]
pub mod smol;

#[cfg(feature = "async-std")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-std")))]
pub mod async_std;

#[cfg(feature = "systemd")]
#[cfg_attr(docsrs, doc(cfg(feature = "systemd")))]
pub mod systemd;

pub use ext::ShutdownExt;
pub use run::{run_until_shutdown, AppExit};
pub use task_set::TaskSet;
