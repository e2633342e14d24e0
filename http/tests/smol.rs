//! The HTTP scenario suite on smol (its global executor).
#![cfg(all(feature = "hyper", feature = "smol"))]

#[macro_use]
mod http_common;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use smol::io::{AsyncRead, AsyncWrite};

use axum::Router;
use smol::net::{TcpListener, TcpStream};
use winddown::http::smol::SmolIo;
use winddown::http::ConnectionStats;
use winddown::runtime::BoxFuture;
use winddown::smol::SmolRuntime;
use winddown::{Plan, Report};

struct Smol;

impl http_common::Net for Smol {
    type Io = SmolIo<TcpStream>;

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }

    fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> BoxFuture<T> {
        Box::pin(smol::spawn(future))
    }

    fn sleep(duration: std::time::Duration) -> BoxFuture<()> {
        Box::pin(async move {
            smol::Timer::after(duration).await;
        })
    }

    fn connect(addr: SocketAddr) -> BoxFuture<io::Result<Self::Io>> {
        Box::pin(async move { Ok(SmolIo::new(TcpStream::connect(addr).await?)) })
    }

    fn serve(
        plan: &Plan,
        app: Router,
    ) -> BoxFuture<(SocketAddr, ConnectionStats, BoxFuture<io::Result<()>>)> {
        let plan = plan.clone();
        Box::pin(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().unwrap();
            let server = winddown::http::smol::server(&plan);
            let stats = server.stats();
            let served = Self::spawn(server.serve(listener, app));
            (addr, stats, served)
        })
    }

    fn run_plan(plan: &Plan) -> BoxFuture<Report> {
        let plan = plan.clone();
        Self::spawn(async move { plan.run(SmolRuntime::new()).await })
    }

    type H2Io = TokioCompat;

    fn connect_h2(addr: SocketAddr) -> BoxFuture<io::Result<TokioCompat>> {
        Box::pin(async move { Ok(TokioCompat(TcpStream::connect(addr).await?)) })
    }
}

/// tokio's IO traits over smol's socket, for the `h2` crate's client.
struct TokioCompat(TcpStream);

impl tokio::io::AsyncRead for TokioCompat {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(Pin::new(&mut self.0).poll_read(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for TokioCompat {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

http_scenarios!(Smol);
