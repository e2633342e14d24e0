//! winddown-check: a shutdown checker any HTTP server binary can be run through.
//!
//! The crate is the `winddown-check` binary; this library is what the binary is made of,
//! public so that its tests (and yours) can run the checks against a server in the same
//! process. Its API is not covered by semver yet: the binary's command line, exit status and
//! JSON scorecard (`version` 1, see [`report`]) are.
//!
//! ```text
//! cargo install winddown-check
//! winddown-check -- ./my-server --port {port}
//! ```
//!
//! It starts the command with a free port, waits until it answers HTTP, runs load and
//! stubborn clients against it (HTTP/1.1 and HTTP/2 load, a request in flight, idle, silent
//! and half-sent connections, a slow upload, requests racing the close, an SSE stream, a
//! WebSocket, the readiness probe), sends SIGTERM, and scores the stop. Exit status: 0 every
//! check passed or was skipped, 1 a check failed, 2 the target could not be started or
//! reached.
//!
//! Driving a run from code, against a server in this process:
//!
//! ```no_run
//! use std::time::Instant;
//! use tokio::sync::watch;
//! use winddown_check::{judge, run, Options, Target};
//!
//! # async fn example(addr: std::net::SocketAddr) {
//! let (exit_tx, exit_rx) = watch::channel(None);
//! let exit_tx = std::sync::Arc::new(exit_tx);
//! let on_signal = exit_tx.clone();
//! let target = Target::in_process(
//!     addr,
//!     // Asked to stop: this toy server stops at once.
//!     Box::new(move || {
//!         let _ = on_signal.send(Some(winddown_check::Exit { at: Instant::now(), code: Some(0), signal: None }));
//!     }),
//!     Box::new(|| {}),
//!     exit_rx,
//! );
//! let opts = Options::default();
//! let has_ready = target.wait_ready(opts.ready_path.as_deref(), opts.start_timeout).await.unwrap();
//! let stop = run::stop(&opts, &target, has_ready).await.unwrap();
//! for check in judge(&stop, &opts, None) {
//!     println!("{} {} {}", check.name, check.status.as_str(), check.detail);
//! }
//! # }
//! ```
//!
//! # Limitations
//!
//! - Linux and other Unixes only (signals, process groups).
//! - Cleartext only: HTTP/2 by prior knowledge, `ws://`. A server that speaks only TLS needs
//!   a TLS-terminating proxy in front (or a cleartext port for the check).
//! - The checker cannot see inside the server: "in flight" means sent half a second before
//!   the signal and not yet answered; a connection still in the kernel's accept queue when
//!   the listener closes is reset by the kernel, and counts against the server; on HTTP/1.1
//!   a connection closed cleanly before any byte of an answer counts as a clean refusal (a
//!   request racing a keep-alive close, which a client may retry), whether or not the server
//!   had read the request.
//! - The slow upload needs a path that reads its body (`--upload-path`, default `/upload`, as
//!   winddown's examples serve it); where the server answers without reading it, the check is
//!   skipped.
#![forbid(unsafe_code)]

pub mod cli;
pub mod http1;
pub mod http2;
mod options;
pub mod outcome;
pub mod report;
pub mod run;
mod scenario;
pub mod svg;
pub mod target;
pub mod verdict;

pub use options::Options;
pub use outcome::{Class, Outcome, Record};
pub use report::Scorecard;
pub use target::{Exit, StartError, Target};
pub use verdict::{judge, Check, Status};
