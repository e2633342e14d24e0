//! The draining server: hyper 1 / hyper-util's auto (HTTP/1 and HTTP/2) connections on any winddown
//! [`Runtime`](winddown_core::runtime::Runtime), accepted until admissions close, closed or drained
//! after, cut at the drain deadline. The table of what a client sees at the close, connection by
//! connection, is in the [crate docs](crate#what-a-client-sees-at-the-close).
//!
//! # Handshakes (TLS)
//!
//! The accept loop only accepts. A [`Handshake`] ([`Listener::with_handshake`]; TLS is the
//! `tls` feature's `tls::Tls`) runs in each connection's own task, under the connection's
//! guard: a client that stalls its handshake holds its own connection and nothing else. At the
//! close a connection still in its handshake is closed at once and counted
//! ([`ConnectionCounts::closed_handshaking`]), unless it was accepted within the
//! [first-byte grace](Server::first_byte_grace); a handshake that outlasts the
//! [handshake timeout](Server::handshake_timeout) fails. Once done, a TLS stream's
//! [`bytes_waiting`](Handshake::bytes_waiting) asks both the plaintext its TLS state holds
//! and the socket underneath.
//!
//! # WebSockets
//!
//! When a request asking for a WebSocket (`Upgrade: websocket`) is answered `101`, the
//! connection's socket follows the WebSocket's frames in both directions (their headers; the
//! payloads are skipped by count). At the close (admissions closed, and the listener) it
//! writes a Close frame with code 1001, going away (RFC 6455 7.4.1), between two of the
//! handler's frames, and waits for the peer's Close:
//!
//! - the peer answers: the server shuts its side of the socket (the server closes first,
//!   7.1.1), and the connection counts at once as drained, and as a WebSocket closed with 1001
//!   ([`ConnectionCounts::websockets_closed`]), whether or not its handler still holds the
//!   socket;
//! - the peer does not answer within the [close timeout](Server::websocket_close_timeout)
//!   (5 s), or the handler's writes block so that the Close cannot go out (a peer that never
//!   reads): the connection is cut then, or at the drain deadline if that comes first, and
//!   named as a WebSocket (`http connection from ADDR: WebSocket (GET /ws), Close sent, no
//!   answer`).
//!
//! The server does this, rather than a wrapper each handler would put on its socket, because:
//! every WebSocket it upgraded hears it, whatever the library (axum's `WebSocket`,
//! tokio-tungstenite, async-tungstenite, one of your own) and whatever the handler does; it
//! sees the socket's bytes, so it never writes into the middle of a handler's frame, and it
//! knows when a handler has sent a Close of its own (then it only waits for the answer); and
//! it knows when the close handshake is done, to count the connection as drained rather than
//! cut.
//!
//! The handler's library does not know the server sent a Close. The protocol allows nothing
//! after a Close, so what the handler writes after it is sorted: control frames (its answer
//! to the peer's Close, a Pong) are dropped; a data frame waits until the peer's Close has come
//! (read meanwhile, and kept for the handler's reads, so a handler that only writes still
//! completes the handshake), then fails with `ConnectionAborted`. A handler's reads see the
//! peer's Close (most libraries then end the stream) and then the end of the stream. A handler
//! that wants another code or a reason sends its own Close before admissions close (on
//! `shutdown.triggered()`, during the plan's `pre_stop`); the server then sends none and
//! waits for the answer. WebSockets over HTTP/2 are not upgraded connections: see the crate
//! docs' [limitations](crate#limitations).
//!
//! [`ConnectionCounts::closed_handshaking`]: crate::ConnectionCounts::closed_handshaking
//! [`ConnectionCounts::websockets_closed`]: crate::ConnectionCounts::websockets_closed

mod admin;
mod conn;
mod connections;
pub(crate) mod counts;
mod events;
mod futures_io;
mod handshake;
mod held;
mod io;
mod listener;
mod registry;
mod rt;
pub(crate) mod serve;
mod service;
mod settings;
mod websocket;

// `Server` and its counts are the crate root's (`winddown::http::Server`); the traits and
// helpers here are what a listener or a handshake of one's own implements.
pub(crate) use counts::ConnectionStats;
pub(crate) use serve::Server;

#[cfg(all(feature = "tls", feature = "tokio"))]
pub(crate) use futures_io::forward_write;
#[cfg(any(feature = "smol", feature = "async-std"))]
pub(crate) use futures_io::futures_io_tcp_listener;
pub use futures_io::FuturesIo;
pub use handshake::{Handshake, WithHandshake};
#[cfg(any(unix, windows))]
pub use listener::bytes_waiting_in;
pub use listener::Listener;
pub use service::ConnectionService;

// A bound only, never named by a user: the sockets `bytes_waiting_in` peeks (and TLS's
// handshake takes).
#[cfg(all(feature = "tls", any(unix, windows)))]
pub(crate) use listener::OsSocket;
