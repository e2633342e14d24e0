//! The server's events, through `log` and `tracing` when those features are on (the same
//! features that turn on the core's progress events), under the target `winddown::http`.
//! Without them every function here compiles to nothing.

use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// An accept failed. `retry_in` is the back-off before the next try, `None` for a connection
/// error (the peer reset before it was accepted: the next accept comes at once).
pub(crate) fn accept_error(addr: SocketAddr, err: &io::Error, retry_in: Option<Duration>) {
    #[cfg(feature = "log")]
    match retry_in {
        Some(retry_in) => {
            log::error!(target: "winddown::http", "http {addr}: accept error: {err} (next try in {retry_in:?})")
        }
        None => log::debug!(target: "winddown::http", "http {addr}: accept error: {err}"),
    }
    #[cfg(feature = "tracing")]
    match retry_in {
        Some(retry_in) => {
            tracing::error!(target: "winddown::http", %addr, error = %err, ?retry_in, "accept error")
        }
        None => tracing::debug!(target: "winddown::http", %addr, error = %err, "accept error"),
    }
    let _ = (addr, err, retry_in);
}

/// A connection ended with an error. `by_peer`: the peer's doing (it left mid-message, reset,
/// sent something that is not HTTP), logged at debug level; anything else at warn level.
pub(crate) fn connection_error(peer: SocketAddr, err: &(dyn Error + 'static), by_peer: bool) {
    #[cfg(feature = "log")]
    {
        let level = if by_peer {
            log::Level::Debug
        } else {
            log::Level::Warn
        };
        log::log!(target: "winddown::http", level, "http connection from {peer}: {err}");
    }
    #[cfg(feature = "tracing")]
    if by_peer {
        tracing::debug!(target: "winddown::http", %peer, error = %err, "connection error");
    } else {
        tracing::warn!(target: "winddown::http", %peer, error = %err, "connection error");
    }
    let _ = (peer, err, by_peer);
}

/// A connection's service could not be made (a factory failed).
pub(crate) fn make_service_error(peer: SocketAddr, err: &(dyn Error + 'static)) {
    #[cfg(feature = "log")]
    log::warn!(target: "winddown::http", "http connection from {peer}: no service: {err}");
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "winddown::http", %peer, error = %err, "no service for the connection");
    let _ = (peer, err);
}

/// A WebSocket's peer did not answer the server's Close within the close timeout: cut.
/// `name` says which connection. The peer's doing: debug level.
pub(crate) fn websocket_cut(peer: SocketAddr, name: &str, after: Duration) {
    #[cfg(feature = "log")]
    log::debug!(target: "winddown::http", "{name}: no answer to the Close after {after:?}, cut");
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "winddown::http", %peer, connection = name, ?after, "WebSocket cut: no answer to the Close");
    let _ = (peer, name, after);
}

/// A request's body was still arriving when the upload grace ended at the close: the
/// connection's reads were ended. The peer's slowness: debug level.
pub(crate) fn upload_cut(peer: SocketAddr) {
    #[cfg(feature = "log")]
    log::debug!(target: "winddown::http", "http connection from {peer}: request body still arriving after the upload grace, its reads ended");
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "winddown::http", %peer, "upload cut at the close");
    let _ = peer;
}
