//! HTTP for [winddown]: a tower layer that admits requests through the shutdown and refuses
//! them with `503` once admissions close, readiness/liveness/status services, and a hyper
//! server that drains everything (idle, half-sent, streaming, upgraded) on tokio and smol.
//!
//! The most common service that needs a graceful stop is an HTTP server. The usual
//! `with_graceful_shutdown` waits forever on a client that sent half a request head or holds
//! an SSE stream open, has no drain deadline, and never tells the load balancer. Here:
//!
//! - [`ShutdownLayer`] admits each request through the [`Shutdown`](winddown_core::Shutdown):
//!   its guard lives until the response body has been sent (behind [`Server`]: written out;
//!   [`for_server`](ShutdownLayer::for_server) then keeps the response's body type); after
//!   the close, `503` with `Connection: close` and `Retry-After`. It can name the requests in
//!   flight, so a drain that overruns says which (`GET /export  12.3s`).
//! - [`Readiness`] says `503` from the trigger on, while the layer still serves during the
//!   plan's `pre_stop` delay: the window for a load balancer to stop routing here.
//!   [`Liveness`] stays `200`; [`StatusService`] answers a JSON snapshot.
//! - [`Server`] (hyper 1, HTTP/1 and HTTP/2, on any winddown runtime: tokio, smol,
//!   async-std) closes its listener at the close, answers what has already arrived, closes
//!   idle connections (after a short first-byte grace for clients that have just
//!   connected), lets requests in flight finish, sends every HTTP/2 connection GOAWAY, sends
//!   every WebSocket a Close frame with code 1001 (going away) and waits for its answer, and
//!   cuts and names what is left at the drain deadline. TLS handshakes (the `tls` feature:
//!   [`tls::Tls`]) run in each connection's own task, never in the accept loop.
//!   [`EndOnShutdown`] ends a streaming body cleanly at the close;
//!   [`grpc::EndStreamsLayer`] ends gRPC server streams with `UNAVAILABLE`.
//!   [`Server::serve_admin`] keeps the probes and [`AdminService`]'s status page reachable on
//!   a port of their own through the whole stop.
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
//! # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{run_until_shutdown, smol, tokio}; pub mod http { pub use winddown_http::*; } }
//! use axum::{routing::get, Router};
//! use winddown::{Config, Plan, Shutdown};
//! use winddown::tokio::TokioRuntime;
//! use winddown::http::{Readiness, ShutdownLayer};
//!
//! # async fn run() -> std::io::Result<()> {
//! let plan = Plan::new(Shutdown::new(), Config::default());
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .route_service("/readyz", Readiness::new(plan.shutdown()))
//!     .layer(ShutdownLayer::new(plan.shutdown()).name_requests(&plan).for_server());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let server = winddown::http::Server::new(&plan, TokioRuntime::new()).serve(listener, app.into_make_service());
//! let report = winddown::run_until_shutdown(&plan, TokioRuntime::new(), server).await;
//! std::process::exit(report.exit_code().into());
//! # }
//! ```
//!
//! # What a client sees at the close
//!
//! Per connection state when admissions close, behind [`Server`] with [`ShutdownLayer`] on
//! the service. Each row is a scenario of the server's test suite (`http/tests/common`, run
//! on tokio, smol and async-std), named in the last column.
//!
//! | connection at the close | what its client sees | scenario |
//! |---|---|---|
//! | not accepted yet | the connect is refused (the listener is closed) | `keep_alive_load_gets_200_or_503_and_nothing_is_cut` |
//! | accepted, no byte sent | end of file; if it was accepted less than the [first-byte grace](Server::first_byte_grace) (1 s) before the close, not before the grace ends, and a request it sends meanwhile is answered (`503`, `Connection: close`) | `idle_and_silent_connections_do_not_hold_the_drain`, `a_connection_accepted_just_before_the_close_gets_its_first_byte_grace`, `a_silent_connection_is_closed_when_its_first_byte_grace_ends` |
//! | in its TLS handshake ([`Handshake`](server::Handshake)) | closed at once (counted: `closed mid-handshake`); within its first-byte grace, it may finish the handshake and its request is answered | `a_stalled_tls_handshake_stalls_neither_accepts_nor_the_close`, `a_tls_client_that_connected_just_before_the_close_finishes_its_handshake` |
//! | HTTP/1, idle keep-alive | end of file; if its last response went out less than the [keep-alive grace](Server::keep_alive_grace) (250 ms) before the close, not before the grace ends, and a request it sends meanwhile is answered (`503`, `Connection: close`) | `idle_and_silent_connections_do_not_hold_the_drain`, `a_keep_alive_connection_just_used_gets_its_keep_alive_grace` |
//! | HTTP/1, idle, a request already in its socket (unread) | that request answered `503` (`Connection: close`, `Retry-After`), then end of file | `requests_already_in_the_socket_at_the_close_are_answered` |
//! | HTTP/1, half a request head | end of file, no response (the request was never admitted) | `sse_ends_with_its_last_chunk_and_half_a_head_does_not_hold_the_drain` |
//! | HTTP/1, a request in flight | its response with `Connection: close`, then end of file | `idle_and_silent_connections_do_not_hold_the_drain` |
//! | HTTP/1, a request in flight whose body is still arriving | the rest of the body is read and the request answered, if it arrives within the [upload grace](Server::upload_grace) (1 s); bytes that arrive after it end the connection's reads: the handler sees an incomplete body (axum: `400`), its answer goes out with `Connection: close`, then end of file (counted: `uploads_cut`). A body that has all arrived is never cut by it; HTTP/2 uploads run to the drain deadline | `a_slow_upload_at_the_close_ends_when_its_upload_grace_does`, `an_upload_that_ends_within_its_grace_is_answered`, `a_request_whose_body_has_arrived_outlasts_the_upload_grace` |
//! | HTTP/1, a response being written (the client reads slowly) | the rest of it, then end of file; still unwritten at the drain deadline: cut, and the report names its request | `a_response_stuck_behind_a_client_that_does_not_read_is_named` |
//! | a stream in [`EndOnShutdown`] (SSE) | the chunked body's last chunk, then end of file | `sse_ends_with_its_last_chunk_and_half_a_head_does_not_hold_the_drain` |
//! | HTTP/2, no request yet | GOAWAY (last stream id 2³¹−1 and a PING, then the final GOAWAY once the PING is answered), then the connection ends | `http2_with_no_request_yet_gets_goaway` |
//! | HTTP/2, streams open | GOAWAY; streams it opens after it are refused (before it arrives: `503`); open streams finish | `http2_gets_goaway_and_its_streams_finish` |
//! | HTTP/2, a response held by flow control | the rest, if the client reads before the drain deadline; then cut and named | `an_http2_response_stuck_behind_a_full_window_is_named` |
//! | a WebSocket (`101` to `Upgrade: websocket`) | a Close frame, code 1001 (going away), between two of the handler's frames; once it answers, the end of the connection (drained, `closed with 1001`); no answer within the [close timeout](Server::websocket_close_timeout) (5 s) or the drain deadline, or writes that block so that the Close cannot go out: cut, and named as a WebSocket | `a_websocket_hears_going_away_answers_and_counts_as_drained`, `a_websocket_that_ignores_the_close_is_cut_and_named`, `a_firehose_whose_client_never_reads_is_cut_and_named`, `a_firehose_whose_client_reads_hears_going_away`, `a_websocket_close_timeout_cuts_before_the_drain_deadline` |
//! | a gRPC server stream, with [`grpc::EndStreamsLayer`] | the stream ends between two messages with `grpc-status: 14` (`UNAVAILABLE`); a unary call in flight finishes | `tests/grpc.rs` in the repository (tonic's client) |
//! | upgraded otherwise (`101` to another protocol, a `2xx` to `CONNECT`) | nothing from the server: the handler sees the trigger through the shutdown; at the drain deadline its reads and writes fail and the socket closes | `an_upgraded_connection_sees_the_trigger_and_is_cut_at_the_deadline`, `a_connect_tunnel_is_cut_at_the_deadline_and_named`, `an_upgraded_handler_blocked_in_a_write_is_cut_and_serve_returns`, `an_upgraded_socket_nobody_polls_counts_as_gone_at_the_deadline` |
//! | anything still open at the drain deadline, or when the stop is forced | the socket closes (end of file, or a reset if it holds unread bytes); the report counts it as left and names it (request and connection) | `a_request_past_the_drain_deadline_is_cut_and_named`, and `tests/ordered.rs` for the force |
//!
//! # Features
//!
//! Nothing is on by default.
//!
//! - `tower`: [`ShutdownLayer`], [`EndOnShutdown`], [`grpc`], [`Readiness`], [`Liveness`],
//!   [`StatusService`], [`AdminService`]. Runtime-neutral (http 1, http-body 1,
//!   tower-service).
//! - `hyper`: [`Server`], on any winddown [`Runtime`](winddown_core::runtime::Runtime)
//!   (hyper's executor and timer over it, inside the server).
//! - `tokio`, `smol`, `async-std` (with `hyper`): those runtimes' `TcpListener`s as the
//!   server's [`Listener`](server::Listener)s.
//! - `tls` (with `hyper`): [`tls::Tls`], TLS with rustls (ring), a
//!   [`Handshake`](server::Handshake) on any of those listeners.
//! - `tokio` or `smol` (hyper not needed): [`Agent::serve`](agent::Agent::serve), the haproxy
//!   agent on that runtime's `TcpListener`. [`agent`]'s replies need no feature.
//! - `log`, `tracing`: the server's accept and connection errors as events, under the target
//!   `winddown::http` (accept errors that back off at error level, the peer's connection
//!   errors at debug level, other connection errors at warn level).
//!
//! # Limitations
//!
//! - A refused request does not use the readiness its `poll_ready` reserved: put services
//!   that ration readiness (tower's `ConcurrencyLimit`, `Buffer`) outside the layer.
//! - The request record keeps a request's path up to 96 bytes (longer ones are cut; with a
//!   method longer than 8 bytes, `METHOD path` up to 96 bytes together) and 1024 requests at
//!   once by default (more are counted, not named). Their ages come from a coarse clock, off
//!   by at most one timer tick (1 to 10 ms) on Linux and Android.
//! - Upgraded connections count as in flight until their handler drops the socket (or, for a
//!   WebSocket, until its close handshake is done); they see the shutdown through the handle
//!   (`shutdown.triggered()`), and are cut at the drain deadline (reads and writes fail from
//!   then on, and the connection counts as gone even if the handler never polls it again).
//!   The server speaks WebSocket's close itself ([`server`#websockets]); any other
//!   protocol's polite end (a `CONNECT` tunnel's) is the handler's.
//! - WebSockets over HTTP/2 (extended `CONNECT`, RFC 8441; off unless turned on with
//!   [`Server::http2_websockets`](Server::http2_websockets)) are streams of an HTTP/2 connection,
//!   not upgraded connections: the server sees the connection's bytes, not the stream's, so
//!   it sends them no Close 1001. The connection gets its GOAWAY and waits for the stream;
//!   at the drain deadline it is cut with it. Close them from the handler (on
//!   `shutdown.triggered()`), or leave extended `CONNECT` off (clients then use HTTP/1.1).
//! - The first-byte grace and the WebSocket close go by the socket's bytes: a client that
//!   sends its request more than the grace after it connected, or a WebSocket handler whose
//!   writes never reach a frame boundary, is closed or cut as before.
//! - Behind another server, the layer cannot see the socket: its guard leaves when the last
//!   frame of the body has been handed to that server, with bytes possibly unsent (see
//!   [`ShutdownLayer`]).
//! - If the future running the plan's sequence is dropped before it ends (the plan's run
//!   abandoned), nothing cuts the server's connections any more: `serve` returns once they
//!   end by themselves.
//!
//! [winddown]: https://docs.rs/winddown

// The docs describe every feature (docs.rs builds them all; CI checks that build's links with
// `-D rustdoc::broken_intra_doc_links`): in a build with some features off, the links to the
// items of those features have nothing to resolve to, and are let be.
#![cfg_attr(
    not(all(
        feature = "tower",
        feature = "hyper",
        feature = "tokio",
        feature = "smol",
        feature = "async-std",
        feature = "tls"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]
// Denied, not forbidden: three scoped `allow`s, each with its `SAFETY`: `clock` reads the
// coarse clock with one system call, `layer::handoff` writes through the server's lent slot,
// and `server::held` keeps an HTTP/1 connection's admission in a slot owned by compare and swap.
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(
    no_crate_inject,
    attr(deny(warnings, rust_2018_idioms), allow(dead_code, unused_variables))
))]

#[cfg(feature = "tower")]
mod admin;
#[cfg(feature = "tower")]
mod answer;
#[cfg(feature = "tower")]
mod clock;
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

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod grpc;

#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod server;

#[cfg(all(feature = "hyper", feature = "tokio"))]
mod tokio;

#[cfg(all(feature = "hyper", feature = "smol"))]
mod smol;

#[cfg(all(feature = "hyper", feature = "async-std"))]
mod async_std;

#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use admin::AdminService;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use end_on_shutdown::EndOnShutdown;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use health::{Liveness, Readiness};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use layer::{ForServer, GuardedBody, InBody, ResponseFuture, ShutdownLayer, ShutdownService};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use status::StatusService;

// Here, not in `server` (which holds what a listener or a handshake of one's own implements):
// one path each.
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use server::counts::{ConnectionCounts, ConnectionStats};
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use server::serve::Server;
