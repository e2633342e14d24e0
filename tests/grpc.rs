//! gRPC through the close, with tonic's client, on tokio and on smol: tonic's routes served
//! by winddown's server with `EndStreamsLayer`. A server stream open at the close ends with
//! `UNAVAILABLE`, a unary call in flight finishes, new calls are refused, and the drain
//! completes long before its deadline.
#![cfg(feature = "full")]

#[path = "../examples/shared/greeter.rs"]
#[allow(dead_code)]
mod greeter;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use greeter::{Greeter, HelloReply, HelloRequest, Sleep, Tick, TicksRequest, SAY_HELLO, TICKS};
use http::uri::PathAndQuery;
use hyper::client::conn::http2;
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use winddown::http::grpc::EndStreamsLayer;
use winddown::http::{ConnectionStats, Server, ShutdownLayer};
use winddown::runtime::{BoxFuture, Runtime};
use winddown::smol::SmolRuntime;
use winddown::tokio::TokioRuntime;
use winddown::{Config, Phase, Plan, Reason, Report, Shutdown, Status as RunStatus};

/// What the scenario needs from a runtime.
trait Net: 'static {
    type Runtime: Runtime + Clone + Send + Sync + 'static;
    fn runtime() -> Self::Runtime;
    fn block_on<F: Future>(future: F) -> F::Output;
    fn sleep() -> Sleep;
    /// Serves `app` on 127.0.0.1 as part of `plan`; its address, counts, and future.
    fn serve(
        plan: &Plan,
        app: axum::Router,
    ) -> BoxFuture<(SocketAddr, ConnectionStats, BoxFuture<std::io::Result<()>>)>;
    /// An HTTP/2 connection to `addr`, driven on the runtime.
    fn connect(addr: SocketAddr) -> BoxFuture<http2::SendRequest<tonic::body::Body>>;
}

/// tonic's client over a hyper HTTP/2 connection (tonic's own transport is tokio's).
#[derive(Clone)]
struct H2(http2::SendRequest<tonic::body::Body>);

impl tower_service::Service<http::Request<tonic::body::Body>> for H2 {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = BoxFuture<Result<Self::Response, hyper::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(request))
    }
}

type Client = tonic::client::Grpc<H2>;

fn client(sender: http2::SendRequest<tonic::body::Body>, addr: SocketAddr) -> Client {
    let origin = format!("http://{addr}").parse().unwrap();
    tonic::client::Grpc::with_origin(H2(sender), origin)
}

async fn say_hello(mut client: Client, delay_ms: u64) -> Result<HelloReply, Status> {
    client
        .ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let request = tonic::Request::new(HelloRequest {
        name: "grpc".into(),
        delay_ms,
    });
    let codec = ProstCodec::<HelloRequest, HelloReply>::default();
    let reply = client
        .unary(request, PathAndQuery::from_static(SAY_HELLO), codec)
        .await?;
    Ok(reply.into_inner())
}

async fn ticks(client: &mut Client) -> Result<tonic::Streaming<Tick>, Status> {
    client
        .ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let request = tonic::Request::new(TicksRequest { every_ms: 20 });
    let codec = ProstCodec::<TicksRequest, Tick>::default();
    let stream = client
        .server_streaming(request, PathAndQuery::from_static(TICKS), codec)
        .await?;
    Ok(stream.into_inner())
}

/// The scenario, on runtime `N`.
fn a_stream_ends_with_unavailable_and_a_unary_call_finishes<N: Net>() {
    N::block_on(async {
        let shutdown = Shutdown::new();
        let config = Config::builder()
            .drain(Duration::from_secs(10))
            .graceful(Duration::from_secs(20))
            .build()
            .unwrap();
        let plan = Plan::new(shutdown.clone(), config);
        let greeter = Greeter::new(N::sleep());
        let hellos = greeter.hellos.clone();
        let app = tonic::service::Routes::new(greeter)
            .into_axum_router()
            .layer(EndStreamsLayer::new(&shutdown))
            .layer(ShutdownLayer::new(&shutdown).name_requests(&plan));
        let (addr, stats, served) = N::serve(&plan, app).await;
        let runtime = N::runtime();
        let report: BoxFuture<Report> = {
            let plan = plan.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            runtime.spawn_detached(Box::pin(async move {
                let _ = tx.send(plan.run(N::runtime()).await);
            }));
            Box::pin(async move {
                loop {
                    if let Ok(report) = rx.try_recv() {
                        return report;
                    }
                    (N::sleep())(Duration::from_millis(5)).await;
                }
            })
        };

        let sender = N::connect(addr).await;
        let mut grpc = client(sender, addr);
        let mut stream = ticks(&mut grpc).await.expect("a stream");
        for n in 1..=2 {
            let tick = stream
                .message()
                .await
                .expect("a tick")
                .expect("not the end");
            assert_eq!(tick.n, n);
        }
        // A unary call in flight at the close (it takes 300 ms).
        let (tx, unary) = std::sync::mpsc::channel();
        let call = say_hello(grpc.clone(), 300);
        runtime.spawn_detached(Box::pin(async move {
            let _ = tx.send(call.await);
        }));
        while hellos.load(Ordering::SeqCst) == 0 {
            (N::sleep())(Duration::from_millis(1)).await;
        }

        shutdown.trigger(Reason::requested());
        let end = loop {
            match stream.message().await {
                Ok(Some(_tick)) => continue,
                Ok(None) => panic!("the stream ended without a status"),
                Err(status) => break status,
            }
        };
        assert_eq!(end.code(), Code::Unavailable, "{end:?}");
        assert_eq!(end.message(), "the server is shutting down");
        let reply = loop {
            if let Ok(reply) = unary.try_recv() {
                break reply;
            }
            (N::sleep())(Duration::from_millis(5)).await;
        };
        assert_eq!(reply.expect("the unary call").message, "hello grpc");
        // A call after the close is refused (GOAWAY, or the layer's 503): UNAVAILABLE or a
        // closed connection, never an answer.
        shutdown.reached(Phase::Draining).await;
        let late = say_hello(grpc.clone(), 0).await;
        assert!(late.is_err(), "{late:?}");
        drop(stream);
        drop(grpc);

        let report = report.await;
        served.await.expect("the server's result");
        let counts = stats.snapshot();
        assert_eq!(report.status, RunStatus::Completed, "{report}");
        assert!(!report.drain.timed_out, "{report}");
        assert_eq!((counts.http2, counts.cut), (1, 0), "{counts}");
    });
}

// ===== tokio =====

struct Tokio;

fn tokio_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

impl Net for Tokio {
    type Runtime = TokioRuntime;

    fn runtime() -> Self::Runtime {
        TokioRuntime::with_handle(tokio_runtime().handle().clone())
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio_runtime().block_on(future)
    }

    fn sleep() -> Sleep {
        Arc::new(|d| Box::pin(tokio::time::sleep(d)))
    }

    fn serve(
        plan: &Plan,
        app: axum::Router,
    ) -> BoxFuture<(SocketAddr, ConnectionStats, BoxFuture<std::io::Result<()>>)> {
        let plan = plan.clone();
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = Server::new(&plan, TokioRuntime::new());
            let stats = server.stats();
            let task = tokio::spawn(server.serve(listener, app));
            let served: BoxFuture<std::io::Result<()>> =
                Box::pin(async move { task.await.unwrap() });
            (addr, stats, served)
        })
    }

    fn connect(addr: SocketAddr) -> BoxFuture<http2::SendRequest<tonic::body::Body>> {
        Box::pin(async move {
            let io = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (sender, conn) = http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                hyper_util::rt::TokioIo::new(io),
            )
            .await
            .unwrap();
            tokio::spawn(conn);
            sender
        })
    }
}

#[test]
fn a_stream_ends_with_unavailable_and_a_unary_call_finishes_on_tokio() {
    a_stream_ends_with_unavailable_and_a_unary_call_finishes::<Tokio>();
}

// ===== smol =====

struct Smol;

/// The HTTP/2 client's executor on smol.
#[derive(Clone, Copy)]
struct SmolExecutor;

impl<F> hyper::rt::Executor<F> for SmolExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        smol::spawn(future).detach();
    }
}

impl Net for Smol {
    type Runtime = SmolRuntime;

    fn runtime() -> Self::Runtime {
        SmolRuntime::new()
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }

    fn sleep() -> Sleep {
        Arc::new(|d| {
            Box::pin(async move {
                smol::Timer::after(d).await;
            })
        })
    }

    fn serve(
        plan: &Plan,
        app: axum::Router,
    ) -> BoxFuture<(SocketAddr, ConnectionStats, BoxFuture<std::io::Result<()>>)> {
        let plan = plan.clone();
        Box::pin(async move {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = Server::new(&plan, SmolRuntime::new());
            let stats = server.stats();
            let served: BoxFuture<std::io::Result<()>> =
                Box::pin(smol::spawn(server.serve(listener, app)));
            (addr, stats, served)
        })
    }

    fn connect(addr: SocketAddr) -> BoxFuture<http2::SendRequest<tonic::body::Body>> {
        Box::pin(async move {
            let io = smol::net::TcpStream::connect(addr).await.unwrap();
            let (sender, conn) =
                http2::handshake(SmolExecutor, winddown::http::server::FuturesIo::new(io))
                    .await
                    .unwrap();
            smol::spawn(conn).detach();
            sender
        })
    }
}

#[test]
fn a_stream_ends_with_unavailable_and_a_unary_call_finishes_on_smol() {
    a_stream_ends_with_unavailable_and_a_unary_call_finishes::<Smol>();
}
