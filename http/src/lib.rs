//! HTTP for [winddown]: a tower layer that admits requests through the shutdown and refuses
//! them with `503` once admissions close, readiness/liveness/status services, and a hyper
//! server that drains everything (idle, half-sent, streaming, upgraded) on tokio and smol.
//!
//! The most common service that needs a graceful stop is an HTTP server. The usual
//! `with_graceful_shutdown` waits forever on a client that sent half a request head or holds
//! an SSE stream open, has no drain deadline, and never tells the load balancer. Here:
//!
//! - [`ShutdownLayer`] admits each request through the [`Shutdown`](winddown_core::Shutdown):
//!   its guard lives until the response body has been sent; after the close, `503` with
//!   `Connection: close` and `Retry-After`. It can name the requests in flight, so a drain
//!   that overruns says which (`GET /export  12.3s`).
//! - [`Readiness`] says `503` from the trigger on, while the layer still serves during the
//!   plan's `pre_stop` delay: the window for a load balancer to stop routing here.
//!   [`Liveness`] stays `200`; [`StatusService`] answers a JSON snapshot.
//! - [`Server`] (hyper 1, HTTP/1 and HTTP/2) closes its listener at the close, closes idle
//!   connections at once, lets requests in flight finish, and cuts and names what is left at
//!   the drain deadline. [`EndOnShutdown`] ends a streaming body cleanly at the close.
//! - [`agent::Agent`] answers haproxy's agent check in its own words: `ready`, `drain` from
//!   the trigger, `maint` once admissions close.
//!
//! Not for you if your server already sits behind something that drains for it and you never
//! stream; the layer alone ([`ShutdownLayer`]) is still useful with any server.
//!
//! # Examples
//!
//! An axum app on tokio, stopped by SIGTERM (see `examples/axum.rs` in the repository for the
//! whole service: flags, routes, report, exit code):
//!
#![cfg_attr(all(feature = "hyper", feature = "tokio"), doc = "```no_run")]
#![cfg_attr(not(all(feature = "hyper", feature = "tokio")), doc = "```ignore")]
//! # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
//! use axum::{routing::get, Router};
//! use winddown::{Config, Plan, Shutdown};
//! use winddown::http::{Readiness, ShutdownLayer};
//!
//! # async fn run() -> std::io::Result<()> {
//! let plan = Plan::new(Shutdown::new(), Config::default());
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .route_service("/readyz", Readiness::new(plan.shutdown()))
//!     .layer(ShutdownLayer::new(plan.shutdown()).name_requests(&plan));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let server = winddown::http::tokio::serve(&plan, listener, app);
//! let report = winddown::tokio::run_until_shutdown(&plan, server).await;
//! std::process::exit(report.exit_code());
//! # }
//! ```
//!
//! # Features
//!
//! Nothing is on by default.
//!
//! - `tower`: [`ShutdownLayer`], [`EndOnShutdown`], [`Readiness`], [`Liveness`],
//!   [`StatusService`]. Runtime-neutral (http 1, http-body 1, tower-service).
//! - `hyper`: [`Server`], generic over hyper's `rt` traits (executor, timer, IO).
//! - `tokio` (with `hyper`): [`tokio::serve`] on `tokio::net::TcpListener`.
//! - `smol` (with `hyper`): [`smol::serve`] on `smol::net::TcpListener`, through a small safe
//!   IO wrapper ([`smol::SmolIo`]) and async-io's timers ([`smol::SmolTimer`]).
//! - `tokio` or `smol` (hyper not needed): [`Agent::serve`](agent::Agent::serve), the haproxy
//!   agent on that runtime's `TcpListener`. [`agent`]'s replies need no feature.
//!
//! # Limitations
//!
//! - A refused request does not use the readiness its `poll_ready` reserved: put services
//!   that ration readiness (tower's `ConcurrencyLimit`, `Buffer`) outside the layer.
//! - The request record keeps `METHOD path` up to 96 bytes (longer ones are cut) and 1024
//!   requests at once by default (more are counted, not named).
//! - Upgraded connections (WebSocket) count as in flight until their handler drops the socket;
//!   they see the shutdown through the handle (`shutdown.triggered()`), and are cut at the
//!   drain deadline (reads and writes fail from then on). Closing them politely (a close frame)
//!   is the handler's job.
//!
//! [winddown]: https://docs.rs/winddown

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(
    no_crate_inject,
    attr(deny(warnings, rust_2018_idioms), allow(dead_code, unused_variables))
))]

#[cfg(feature = "tower")]
mod end_on_shutdown;
#[cfg(feature = "tower")]
mod health;
#[cfg(feature = "tower")]
mod in_flight;
#[cfg(feature = "tower")]
mod layer;
#[cfg(feature = "tower")]
mod status;

pub mod agent;

#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod server;

#[cfg(all(feature = "hyper", feature = "tokio"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "hyper", feature = "tokio"))))]
pub mod tokio;

#[cfg(all(feature = "hyper", feature = "smol"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "hyper", feature = "smol"))))]
pub mod smol;

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use end_on_shutdown::EndOnShutdown;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use health::{Liveness, Readiness};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use layer::{GuardedBody, ResponseFuture, ShutdownLayer, ShutdownService, DEFAULT_NAMED_SLOTS};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use status::StatusService;

#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use server::{ConnectionCounts, ConnectionStats, Server};
