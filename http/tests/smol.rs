//! The HTTP scenario suite on smol (its global executor).
#![cfg(all(feature = "hyper", feature = "tls", feature = "smol"))]

#[macro_use]
mod common;

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use smol::net::{TcpListener, TcpStream};
use winddown_adapters::smol::SmolRuntime;
use winddown_core::runtime::BoxFuture;
use winddown_core::{Plan, Report};
use winddown_http::server::ConnectionService;
use winddown_http::server::FuturesIo;
use winddown_http::{ConnectionStats, Server};

struct Smol;

impl common::Net for Smol {
    type Io = FuturesIo<TcpStream>;

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
            let server = Server::new(&plan, SmolRuntime::new());
            let stats = server.stats();
            let served = Self::spawn(common::serve_with(server, listener, service, setup));
            (addr, stats, served)
        })
    }

    fn run_plan(plan: &Plan) -> BoxFuture<Report> {
        let plan = plan.clone();
        Self::spawn(async move { plan.run(SmolRuntime::new()).await })
    }

    type H2Io = common::TokioCompat<TcpStream>;

    fn connect_h2(addr: SocketAddr) -> BoxFuture<io::Result<Self::H2Io>> {
        Box::pin(async move { Ok(common::TokioCompat(TcpStream::connect(addr).await?)) })
    }

    fn block_executor() -> common::Blocker {
        // smol's global executor runs on one thread unless SMOL_THREADS says otherwise.
        let (body, started, release) = common::blocking_task();
        smol::spawn(async move { body() }).detach();
        started.recv().expect("the blocking task runs");
        common::Blocker(release)
    }
}

http_scenarios!(Smol);
