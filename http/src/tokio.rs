//! The server on tokio: [`serve`] a `tokio::net::TcpListener`.

use std::io;
use std::net::SocketAddr;

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tower_service::Service;
use winddown_core::Plan;

use crate::server::{Listener, Server};

/// A [`Server`] on tokio's executor and timers.
pub fn server(plan: &Plan) -> Server<TokioExecutor, TokioTimer> {
    Server::new(plan, TokioExecutor::new(), TokioTimer::new())
}

/// Serves `service` on `listener` as part of `plan`'s shutdown: [`server`]`(plan).serve(..)`.
/// See [`Server`] for what happens at each phase.
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
///     .layer(ShutdownLayer::new(plan.shutdown()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// winddown::http::tokio::serve(&plan, listener, app).await
/// # }
/// ```
///
/// # Errors
///
/// As [`Server::serve`].
pub async fn serve<S, B>(plan: &Plan, listener: TcpListener, service: S) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    server(plan).serve(listener, service).await
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
}
