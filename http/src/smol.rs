//! The server on smol: [`serve`] a `smol::net::TcpListener`.
//!
//! The socket glue is smol-hyper's [`FuturesIo`] (hyper's `rt::Read`/`rt::Write` over
//! `futures-io`), the timer smol-hyper's [`SmolTimer`] (async-io's timers), and connections
//! and HTTP/2 streams are spawned on smol's global executor ([`SmolSpawner`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use smol::net::{TcpListener, TcpStream};
use smol_hyper::rt::{FuturesIo, SmolTimer};
use tower_service::Service;
use winddown_core::Plan;

use crate::server::{Listener, Server};

/// Spawns on smol's global executor ([`smol::spawn`]), detached: hyper's executor for the
/// connections and HTTP/2 streams of a [`Server`] on smol.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolSpawner;

impl<F> hyper::rt::Executor<F> for SmolSpawner
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        smol::spawn(future).detach();
    }
}

/// A [`Server`] on smol's global executor and async-io's timers.
pub fn server(plan: &Plan) -> Server<SmolSpawner, SmolTimer> {
    Server::new(plan, SmolSpawner, SmolTimer::new())
}

/// Serves `service` on `listener` as part of `plan`'s shutdown: [`server`]`(plan).serve(..)`.
/// See [`Server`] for what happens at each phase.
///
/// # Examples
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use winddown_core::{Config, Plan, Shutdown};
/// use winddown_http::ShutdownLayer;
///
/// # fn main() -> std::io::Result<()> {
/// smol::block_on(async {
///     let plan = Plan::new(Shutdown::new(), Config::default());
///     let app = Router::new()
///         .route("/", get(|| async { "hello" }))
///         .layer(ShutdownLayer::new(plan.shutdown()));
///     let listener = smol::net::TcpListener::bind("127.0.0.1:8080").await?;
///     winddown_http::smol::serve(&plan, listener, app).await
/// })
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
    type Io = FuturesIo<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Small responses go out at once rather than waiting for an ACK (Nagle).
        let _ = stream.set_nodelay(true);
        Ok((FuturesIo::new(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}
