//! The server on async-std: [`serve`] an `async_std::net::TcpListener`.

use std::future::Future;
use std::io;

use async_std::net::{TcpListener, TcpStream};
use winddown_adapters::async_std::AsyncStdRuntime;
use winddown_core::Plan;

use crate::server::{ConnectionService, Listener};
use crate::Server;

/// Serves `service` on `listener` (its `TcpListener`, or any [`Listener`]: one
/// [`with_handshake`](Listener::with_handshake), say) as part of `plan`'s shutdown, on async-std
/// ([`AsyncStdRuntime::new`]), with the server's default settings: what `Server::new(plan,
/// AsyncStdRuntime::new()).serve(listener, service)` does. To change a setting, make that
/// [`Server`]. See [`Server`] for what happens at each phase, and [`Server::serve`] for what
/// `service` may be.
///
/// # Examples
///
/// ```no_run
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{async_std, smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use axum::{routing::get, Router};
/// use winddown::{Config, Plan, Shutdown};
/// use winddown::http::ShutdownLayer;
///
/// # fn main() -> std::io::Result<()> {
/// async_std::task::block_on(async {
///     let plan = Plan::new(Shutdown::new(), Config::default());
///     let app = Router::new()
///         .route("/", get(|| async { "hello" }))
///         .layer(ShutdownLayer::new(plan.shutdown()).for_server());
///     let listener = async_std::net::TcpListener::bind("127.0.0.1:8080").await?;
///     winddown::http::async_std::serve(&plan, listener, app.into_make_service()).await
/// })
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
    Server::new(plan, AsyncStdRuntime::new()).serve(listener, service)
}

crate::server::futures_io_tcp_listener!(TcpListener, TcpStream);
