//! The server's connection counts: the counters the registry keeps, and the snapshot and view
//! users read ([`ConnectionCounts`], [`ConnectionStats`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::registry::Registry;

/// Counts of a server's connections, from [`ConnectionStats::snapshot`].
///
/// The buckets `ended_before_close`, `closed_idle`, `drained`, `uploads_cut`, `cut` and `open` partition
/// `accepted`: each connection is in exactly one, by how it ended (or that it has not).
/// `upgraded` and `http2` are kinds across the buckets; `errors` and `accept_errors` count
/// events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConnectionCounts {
    /// Connections accepted.
    pub accepted: u64,
    /// Open now.
    pub open: u64,
    /// Ended before admissions closed (the client closed them, or an error).
    pub ended_before_close: u64,
    /// Had nothing in flight when admissions closed (idle keep-alive, never sent a byte, half
    /// a request head), and were closed.
    pub closed_idle: u64,
    /// Had a request in flight or a response being written when admissions closed (or a
    /// request that arrived with them), and ended after it, gracefully.
    pub drained: u64,
    /// Had a request in flight whose body was still arriving when the
    /// [upload grace](crate::Server::upload_grace) ended: the connection's reads were ended
    /// (its handler saw an incomplete body and answered, or failed), and it closed after its
    /// response. HTTP/1 only.
    pub uploads_cut: u64,
    /// Still open at the drain deadline (or when the shutdown was forced), and cut.
    pub cut: u64,
    /// Of all of them, the connections that were upgraded (their HTTP ended with the socket
    /// still alive: `101 Switching Protocols`, a `2xx` to `CONNECT`).
    pub upgraded: u64,
    /// Of all of them, the HTTP/2 connections.
    pub http2: u64,
    /// Of the upgraded ones, the WebSockets (a `101` to a request with `Upgrade: websocket`).
    pub websockets: u64,
    /// Of the WebSockets, those that ended with a close handshake after the close: the
    /// server's Close 1001 (or the handler's own Close with that code), answered by the
    /// peer. They are in `drained`.
    pub websockets_closed: u64,
    /// Of the WebSockets, those cut (at the close timeout or the drain deadline): the peer
    /// never answered the Close, or it never went out. They are in `cut`.
    pub websockets_cut: u64,
    /// Of all of them, the connections that went through a [`Handshake`](super::Handshake)
    /// (TLS).
    pub handshakes: u64,
    /// Of those, the ones still in their handshake when the listener closed (and out of
    /// their first-byte grace), closed at once. They are in `closed_idle`.
    pub closed_handshaking: u64,
    /// Connections that ended with an error of their own (the peer left mid-message, a
    /// protocol or socket error), not counting what the close and the cut end on purpose.
    pub errors: u64,
    /// Accepts that failed (out of file descriptors, a connection reset before it was
    /// accepted).
    pub accept_errors: u64,
    /// HTTP/1 connections the server closed after admissions closed with bytes still unread
    /// in their socket (asked of the kernel as the socket is dropped): a request that arrived
    /// after the server had found the connection idle, whose client sees a reset. Not
    /// counted: what arrives after the socket is closed (the client's own late write), cut
    /// connections, and HTTP/2 connections, whose GOAWAY tells the client which streams were
    /// not served (what is left unread there is frames about the end, not a lost request).
    pub unread_at_close: u64,
}

/// A live view of a server's connection counts. Cheap to clone; take it before serving with
/// [`Server::stats`](crate::Server::stats).
#[derive(Debug, Clone)]
pub struct ConnectionStats {
    pub(crate) registry: Arc<Registry>,
}

impl ConnectionStats {
    /// The counts now.
    pub fn snapshot(&self) -> ConnectionCounts {
        self.registry.counts()
    }
}

impl std::fmt::Display for ConnectionCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connections: {} accepted: {} ended before the close, {} closed idle, {} drained, \
             {} with their upload cut at the close, {} cut, {} open; {} upgraded, {} HTTP/2, {} WebSockets ({} closed with 1001, {} \
             cut)",
            self.accepted,
            self.ended_before_close,
            self.closed_idle,
            self.drained,
            self.uploads_cut,
            self.cut,
            self.open,
            self.upgraded,
            self.http2,
            self.websockets,
            self.websockets_closed,
            self.websockets_cut,
        )?;
        if self.handshakes > 0 {
            write!(
                f,
                ", {} TLS ({} closed mid-handshake)",
                self.handshakes, self.closed_handshaking
            )?;
        }
        write!(
            f,
            "; errors: {} on connections, {} at accept; {} closed with bytes unread",
            self.errors, self.accept_errors, self.unread_at_close,
        )
    }
}

/// The counters behind [`ConnectionCounts`], one per field. Each is incremented on its own
/// and read for a report; no other data hangs on any of them (see [`Counters::snapshot`]).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(super) accepted: AtomicU64,
    pub(super) ended_before_close: AtomicU64,
    pub(super) closed_idle: AtomicU64,
    pub(super) drained: AtomicU64,
    pub(super) uploads_cut: AtomicU64,
    pub(super) cut: AtomicU64,
    pub(super) upgraded: AtomicU64,
    pub(super) http2: AtomicU64,
    pub(super) websockets: AtomicU64,
    pub(super) websockets_closed: AtomicU64,
    pub(super) websockets_cut: AtomicU64,
    pub(super) handshakes: AtomicU64,
    pub(super) closed_handshaking: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) accept_errors: AtomicU64,
    pub(super) unread_at_close: AtomicU64,
}

impl Counters {
    /// The counts now, with `open` connections live.
    pub(super) fn snapshot(&self, open: u64) -> ConnectionCounts {
        // Relaxed: independent counters, read for a report; no other data hangs on them.
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConnectionCounts {
            open,
            accepted: load(&self.accepted),
            ended_before_close: load(&self.ended_before_close),
            closed_idle: load(&self.closed_idle),
            drained: load(&self.drained),
            uploads_cut: load(&self.uploads_cut),
            cut: load(&self.cut),
            upgraded: load(&self.upgraded),
            http2: load(&self.http2),
            websockets: load(&self.websockets),
            websockets_closed: load(&self.websockets_closed),
            websockets_cut: load(&self.websockets_cut),
            handshakes: load(&self.handshakes),
            closed_handshaking: load(&self.closed_handshaking),
            errors: load(&self.errors),
            accept_errors: load(&self.accept_errors),
            unread_at_close: load(&self.unread_at_close),
        }
    }
}
