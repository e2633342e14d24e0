//! The HTTP scenario suite on tokio: a multi-thread runtime with one worker, the shape in
//! which a busy worker leaves its I/O driver unturned.
#![cfg(all(feature = "hyper", feature = "tls", feature = "tokio"))]

#[macro_use]
mod common;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::OnceLock;

use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use winddown_adapters::tokio::TokioRuntime;
use winddown_core::runtime::BoxFuture;
use winddown_core::{Plan, Report};
use winddown_http::server::ConnectionService;
use winddown_http::{ConnectionStats, Server};

struct Tokio;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

impl common::Net for Tokio {
    type Io = TokioIo<TcpStream>;

    fn block_on<F: Future>(future: F) -> F::Output {
        runtime().block_on(future)
    }

    fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> BoxFuture<T> {
        let task = tokio::spawn(future);
        Box::pin(async move { task.await.expect("a spawned task") })
    }

    fn sleep(duration: std::time::Duration) -> BoxFuture<()> {
        Box::pin(tokio::time::sleep(duration))
    }

    fn connect(addr: SocketAddr) -> BoxFuture<io::Result<Self::Io>> {
        Box::pin(async move { Ok(TokioIo::new(TcpStream::connect(addr).await?)) })
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
            let server = Server::new(&plan, TokioRuntime::new());
            let stats = server.stats();
            let served = Self::spawn(common::serve_with(server, listener, service, setup));
            (addr, stats, served)
        })
    }

    fn run_plan(plan: &Plan) -> BoxFuture<Report> {
        let plan = plan.clone();
        Self::spawn(async move { plan.run(TokioRuntime::new()).await })
    }

    type H2Io = TcpStream;

    fn connect_h2(addr: SocketAddr) -> BoxFuture<io::Result<TcpStream>> {
        Box::pin(TcpStream::connect(addr))
    }

    fn block_executor() -> common::Blocker {
        let (body, started, release) = common::blocking_task();
        runtime().spawn(async move { body() });
        started.recv().expect("the blocking task runs");
        common::Blocker(release)
    }
}

http_scenarios!(Tokio);
