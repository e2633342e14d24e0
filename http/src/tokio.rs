//! The server on tokio: [`serve`] a `tokio::net::TcpListener`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use winddown_adapters::tokio::TokioRuntime;
use winddown_core::Plan;

use crate::server::{ConnectionService, Listener};
use crate::Server;

/// Serves `service` on `listener` (its `TcpListener`, or any [`Listener`]: one
/// [`with_handshake`](Listener::with_handshake), say) as part of `plan`'s shutdown, on the current
/// tokio runtime ([`TokioRuntime::new`]: call it from inside one), with the server's default
/// settings: what `Server::new(plan, TokioRuntime::new()).serve(listener, service)` does. To change
/// a setting, make that [`Server`]. See [`Server`] for what happens at each phase, and
/// [`Server::serve`] for what `service` may be.
///
/// # Examples
///
/// ```no_run
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use axum::{routing::get, Router};
/// use winddown::{Config, Plan, Shutdown};
/// use winddown::http::ShutdownLayer;
///
/// # async fn run() -> std::io::Result<()> {
/// let plan = Plan::new(Shutdown::new(), Config::default());
/// let app = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(ShutdownLayer::new(plan.shutdown()).for_server());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// winddown::http::tokio::serve(&plan, listener, app.into_make_service()).await
/// # }
/// ```
///
/// # Errors
///
/// As [`Server::serve`].
pub fn serve<L, M, K>(
    plan: &Plan,
    listener: L,
    service: M,
) -> impl Future<Output = io::Result<()>> + Send
where
    L: Listener,
    M: ConnectionService<K>,
{
    // Not an `async fn`: the server registers with the plan now, as `Server::serve` does,
    // not when the future is first polled.
    Server::new(plan, TokioRuntime::new()).serve(listener, service)
}

impl Listener for TcpListener {
    type Io = TokioIo<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Small responses go out at once rather than waiting for an ACK (Nagle).
        let _ = stream.set_nodelay(true);
        Ok((TokioIo::new(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }

    /// tokio answers a read from its readiness cache, refreshed only when a worker turns the
    /// I/O driver: the kernel is asked instead.
    fn bytes_waiting(io: &mut Self::Io) -> Option<bool> {
        crate::server::bytes_waiting_in(io.inner())
    }
}
