//! The server on smol: [`serve`] a `smol::net::TcpListener`.
//!
//! The glue is small and safe: [`SmolIo`] gives hyper's `rt::Read`/`rt::Write` to any
//! `futures-io` socket, [`SmolTimer`] gives hyper async-io's timers, and [`SmolSpawner`]
//! spawns connections and HTTP/2 streams on smol's global executor.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper::rt::ReadBufCursor;
use pin_project_lite::pin_project;
use smol::io::{AsyncRead, AsyncWrite};
use smol::net::{TcpListener, TcpStream};
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

/// hyper's timer on async-io's [`smol::Timer`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolTimer;

pin_project! {
    /// A [`SmolTimer`] sleep.
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct SmolSleep {
        #[pin]
        timer: smol::Timer,
    }
}

impl Future for SmolSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().timer.poll(cx).map(drop)
    }
}

impl hyper::rt::Sleep for SmolSleep {}

impl hyper::rt::Timer for SmolTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(SmolSleep {
            timer: smol::Timer::after(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(SmolSleep {
            timer: smol::Timer::at(deadline),
        })
    }
}

pin_project! {
    /// hyper's `rt::Read` and `rt::Write` for a `futures-io` socket (smol's `TcpStream`).
    ///
    /// Reads go through a 16 KiB buffer on the stack and are copied into hyper's buffer (one
    /// `memcpy` per read): the price of reading into hyper's uninitialised buffer without
    /// `unsafe`.
    #[derive(Debug)]
    pub struct SmolIo<T> {
        #[pin]
        inner: T,
    }
}

impl<T> SmolIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        SmolIo { inner }
    }

    /// The socket.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The socket, unwrapped.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

const SCRATCH: usize = 16 * 1024;

impl<T: AsyncRead> hyper::rt::Read for SmolIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut scratch = [0u8; SCRATCH];
        let want = buf.remaining().min(SCRATCH);
        let n = ready!(self.project().inner.poll_read(cx, &mut scratch[..want]))?;
        buf.put_slice(&scratch[..n]);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> hyper::rt::Write for SmolIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_close(cx)
    }
}

/// A [`Server`] on smol's global executor and async-io's timers.
pub fn server(plan: &Plan) -> Server<SmolSpawner, SmolTimer> {
    Server::new(plan, SmolSpawner, SmolTimer)
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
/// # fn main() -> std::io::Result<()> {
/// smol::block_on(async {
///     let plan = Plan::new(Shutdown::new(), Config::default());
///     let app = Router::new()
///         .route("/", get(|| async { "hello" }))
///         .layer(ShutdownLayer::new(plan.shutdown()));
///     let listener = smol::net::TcpListener::bind("127.0.0.1:8080").await?;
///     winddown::http::smol::serve(&plan, listener, app).await
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
    type Io = SmolIo<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Small responses go out at once rather than waiting for an ACK (Nagle).
        let _ = stream.set_nodelay(true);
        Ok((SmolIo::new(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}
