//! The HTTP scenario suite on async-std (its global executor, on one thread).
#![cfg(all(feature = "hyper", feature = "tls", feature = "async-std"))]

#[macro_use]
mod common;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Once;

use async_std::net::{TcpListener, TcpStream};
use winddown_adapters::async_std::AsyncStdRuntime;
use winddown_core::runtime::BoxFuture;
use winddown_core::{Plan, Report};
use winddown_http::server::ConnectionService;
use winddown_http::server::FuturesIo;
use winddown_http::{ConnectionStats, Server};

struct AsyncStd;

/// async-std's executor on one thread, so that one blocking task blocks it: set before any
/// task of this test binary is spawned (each test calls it first).
fn one_thread() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_var("ASYNC_STD_THREAD_COUNT", "1"));
}

impl common::Net for AsyncStd {
    type Io = FuturesIo<TcpStream>;

    fn block_on<F: Future>(future: F) -> F::Output {
        one_thread();
        async_std::task::block_on(future)
    }

    fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> BoxFuture<T> {
        one_thread();
        Box::pin(async_std::task::spawn(future))
    }

    fn sleep(duration: std::time::Duration) -> BoxFuture<()> {
        Box::pin(async_std::task::sleep(duration))
    }

    fn connect(addr: SocketAddr) -> BoxFuture<io::Result<Self::Io>> {
        Box::pin(async move { Ok(FuturesIo::new(TcpStream::connect(addr).await?)) })
    }

    fn serve<M: ConnectionService<K>, K: 'static>(
        plan: &Plan,
        service: M,
        setup: common::Setup,
    ) -> BoxFuture<(SocketAddr, ConnectionStats, BoxFuture<io::Result<()>>)> {
        let plan = plan.clone();
        Box::pin(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().unwrap();
            let server = Server::new(&plan, AsyncStdRuntime::new());
            let stats = server.stats();
            let served = Self::spawn(common::serve_with(server, listener, service, setup));
            (addr, stats, served)
        })
    }

    fn run_plan(plan: &Plan) -> BoxFuture<Report> {
        let plan = plan.clone();
        Self::spawn(async move { plan.run(AsyncStdRuntime::new()).await })
    }

    type H2Io = common::TokioCompat<TcpStream>;

    fn connect_h2(addr: SocketAddr) -> BoxFuture<io::Result<Self::H2Io>> {
        Box::pin(async move { Ok(common::TokioCompat(TcpStream::connect(addr).await?)) })
    }

    fn block_executor() -> common::Blocker {
        let (body, started, release) = common::blocking_task();
        one_thread();
        drop(async_std::task::spawn(async move { body() }));
        started.recv().expect("the blocking task runs");
        common::Blocker(release)
    }
}

http_scenarios!(AsyncStd);
