//! The HTTP scenario suite, written once and run on every runtime: `tests/tokio.rs`,
//! `tests/smol.rs` and `tests/async_std.rs` implement [`Net`] for their runtime and expand
//! [`http_scenarios!`].
//!
//! Real sockets on 127.0.0.1, real clients (hyper's client connections, and raw sockets where
//! the scenario needs bytes hyper's client would never send: half a request head, nothing at
//! all). Order comes from the core's events (`reached`, `drained`, the report) and from what
//! the clients observe; handlers hand over through [`Gate`]s, never sleeps. Every scenario
//! runs under a 30-second watchdog, so a broken one fails instead of hanging.

pub(crate) mod tls;
pub(crate) mod upload;
pub(crate) mod ws;

pub(crate) use tls::{
    a_connection_accepted_just_before_the_close_gets_its_first_byte_grace,
    a_keep_alive_connection_just_used_gets_its_keep_alive_grace,
    a_silent_connection_is_closed_when_its_first_byte_grace_ends,
    a_stalled_tls_handshake_stalls_neither_accepts_nor_the_close,
    a_tls_client_that_connected_just_before_the_close_finishes_its_handshake,
    requests_already_in_a_tls_socket_at_the_close_are_answered,
};

pub(crate) use upload::{
    a_request_whose_body_has_arrived_outlasts_the_upload_grace,
    a_slow_upload_at_the_close_ends_when_its_upload_grace_does,
    an_upload_that_ends_within_its_grace_is_answered,
};

pub(crate) use ws::{
    a_firehose_whose_client_never_reads_is_cut_and_named,
    a_firehose_whose_client_reads_hears_going_away,
    a_websocket_close_timeout_cuts_before_the_drain_deadline,
    a_websocket_hears_going_away_answers_and_counts_as_drained,
    a_websocket_that_ignores_the_close_is_cut_and_named,
};

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::rt::{Read, ReadBuf, Write};
use winddown_core::runtime::{BoxFuture, Runtime};
use winddown_core::{Config, ForcedBy, Outcome, Phase, Plan, Reason, Report, Shutdown, Status};
use winddown_http::server::{ConnectionService, Handshake, Listener};
use winddown_http::tls::Tls;
use winddown_http::Server;
use winddown_http::{
    AdminService, ConnectionCounts, ConnectionStats, EndOnShutdown, Readiness, ShutdownLayer,
};

/// What a scenario needs from a runtime.
pub(crate) trait Net: 'static {
    /// A client socket.
    type Io: Read + Write + Unpin + Send + 'static;

    /// Runs `future` to completion on this runtime, from a plain thread.
    fn block_on<F: Future>(future: F) -> F::Output;

    /// Spawns `future`; the returned future yields its output.
    fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> BoxFuture<T>;

    /// Sleeps (only the SSE handler's tick uses it).
    fn sleep(duration: Duration) -> BoxFuture<()>;

    /// Connects to `addr`.
    fn connect(addr: SocketAddr) -> BoxFuture<io::Result<Self::Io>>;

    /// Binds 127.0.0.1:0 and serves `service` with this runtime's server set up as `setup`
    /// says (see [`serve_with`]); returns the address, the connection counts and the server's
    /// (spawned) future.
    fn serve<M: ConnectionService<K>, K: 'static>(
        plan: &Plan,
        service: M,
        setup: Setup,
    ) -> BoxFuture<(SocketAddr, ConnectionStats, BoxFuture<io::Result<()>>)>;

    /// Runs `plan` on this runtime's adapter, spawned.
    fn run_plan(plan: &Plan) -> BoxFuture<Report>;

    /// A client socket with tokio's IO traits, for the `h2` crate's client.
    type H2Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;

    /// Connects to `addr`, for the `h2` crate's client.
    fn connect_h2(addr: SocketAddr) -> BoxFuture<io::Result<Self::H2Io>>;

    /// Blocks the thread(s) of the executor the server runs on, and returns once they are
    /// blocked; dropping the [`Blocker`] lets them go.
    fn block_executor() -> Blocker;
}

/// tokio's IO traits over a `futures-io` socket (smol's, async-std's), for the `h2` crate's
/// client.
#[allow(dead_code)] // tokio's harness has tokio's sockets
pub(crate) struct TokioCompat<T>(pub(crate) T);

impl<T: futures_lite::AsyncRead + Unpin> tokio::io::AsyncRead for TokioCompat<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = std::task::ready!(Pin::new(&mut self.0).poll_read(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: futures_lite::AsyncWrite + Unpin> tokio::io::AsyncWrite for TokioCompat<T> {
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

/// Holds an executor's thread until dropped.
pub(crate) struct Blocker(pub(crate) std::sync::mpsc::Sender<()>);

impl Drop for Blocker {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// A task body that blocks its thread until the returned sender is dropped or sent to; the
/// receiver hears once it runs. For [`Net::block_executor`].
pub(crate) fn blocking_task() -> (
    impl FnOnce() + Send + 'static,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let body = move || {
        let _ = started_tx.send(());
        let _ = released.recv();
    };
    (body, started, release)
}

pub(crate) type H1Sender = http1::SendRequest<Empty<Bytes>>;

/// How a scenario's server is set up, beyond the defaults.
#[derive(Clone, Default)]
pub(crate) struct Setup {
    /// Served as an admin listener.
    pub(crate) admin: bool,
    pub(crate) first_byte_grace: Option<Duration>,
    pub(crate) keep_alive_grace: Option<Duration>,
    pub(crate) websocket_close_timeout: Option<Duration>,
    /// `Some(grace)`: `Server::upload_grace(grace)`.
    pub(crate) upload_grace: Option<Option<Duration>>,
    /// Served over TLS.
    pub(crate) tls: Option<Tls>,
    /// The layer the routes are behind.
    pub(crate) layering: Layering,
}

/// The server's future for `listener` as `setup` says: `serve` (over TLS, or not), or
/// `serve_admin`. Each harness spawns it.
pub(crate) fn serve_with<R, L, M, K: 'static>(
    server: Server<R>,
    listener: L,
    service: M,
    setup: Setup,
) -> BoxFuture<io::Result<()>>
where
    R: Runtime + 'static,
    L: Listener,
    Tls: Handshake<L::Io>,
    M: ConnectionService<K>,
{
    let mut server = server;
    if let Some(grace) = setup.first_byte_grace {
        server = server.first_byte_grace(grace);
    }
    if let Some(grace) = setup.keep_alive_grace {
        server = server.keep_alive_grace(grace);
    }
    if let Some(timeout) = setup.websocket_close_timeout {
        server = server.websocket_close_timeout(timeout);
    }
    if let Some(grace) = setup.upload_grace {
        server = server.upload_grace(grace);
    }
    match (setup.admin, setup.tls) {
        (true, _) => Box::pin(server.serve_admin(listener, service)),
        (false, Some(tls)) => Box::pin(server.serve(listener.with_handshake(tls), service)),
        (false, None) => Box::pin(server.serve(listener, service)),
    }
}

/// Expands to one `#[test]` per scenario, for the runtime given. Async scenarios run in the
/// runtime's `block_on`; the `sync` ones drive the runtime themselves (they block threads on
/// purpose).
macro_rules! http_scenarios {
    ($net:ty) => {
        http_scenarios!(@async $net;
            keep_alive_load_gets_200_or_503_and_nothing_is_cut,
            idle_and_silent_connections_do_not_hold_the_drain,
            sse_ends_with_its_last_chunk_and_half_a_head_does_not_hold_the_drain,
            a_request_past_the_drain_deadline_is_cut_and_named,
            a_second_signal_reports_what_it_cut,
            readiness_fails_first_and_requests_are_served_during_pre_stop,
            http2_gets_goaway_and_its_streams_finish,
            an_upgraded_connection_sees_the_trigger_and_is_cut_at_the_deadline,
            a_response_stuck_behind_a_client_that_does_not_read_is_named,
            an_http2_response_stuck_behind_a_full_window_is_named,
            http2_with_no_request_yet_gets_goaway,
            a_connect_tunnel_is_cut_at_the_deadline_and_named,
            an_upgraded_handler_blocked_in_a_write_is_cut_and_serve_returns,
            an_upgraded_socket_nobody_polls_counts_as_gone_at_the_deadline,
            axum_connect_info_finds_the_peer_address,
            status_is_reachable_on_the_admin_listener_through_the_stop,
            connection_errors_are_counted_and_the_close_causes_none,
            keep_alive_load_through_a_for_server_layer_gets_200_or_503,
            a_request_answered_after_its_layers_close_says_close,
            sse_through_a_for_server_layer_ends_with_its_last_chunk,
            a_for_server_layers_response_stuck_behind_a_client_is_named,
            a_for_server_layers_http2_response_stuck_behind_a_full_window_is_named,
            a_websocket_hears_going_away_answers_and_counts_as_drained,
            a_websocket_that_ignores_the_close_is_cut_and_named,
            a_firehose_whose_client_never_reads_is_cut_and_named,
            a_firehose_whose_client_reads_hears_going_away,
            a_websocket_close_timeout_cuts_before_the_drain_deadline,
            a_stalled_tls_handshake_stalls_neither_accepts_nor_the_close,
            a_connection_accepted_just_before_the_close_gets_its_first_byte_grace,
            a_silent_connection_is_closed_when_its_first_byte_grace_ends,
            a_tls_client_that_connected_just_before_the_close_finishes_its_handshake,
            a_keep_alive_connection_just_used_gets_its_keep_alive_grace,
            a_slow_upload_at_the_close_ends_when_its_upload_grace_does,
            an_upload_that_ends_within_its_grace_is_answered,
            a_request_whose_body_has_arrived_outlasts_the_upload_grace,
        );
        http_scenarios!(@sync $net;
            requests_already_in_the_socket_at_the_close_are_answered,
            requests_already_in_a_tls_socket_at_the_close_are_answered,
        );
    };
    (@async $net:ty; $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                common::watchdog(stringify!($name), || {
                    <$net as common::Net>::block_on(common::$name::<$net>())
                });
            }
        )*
    };
    (@sync $net:ty; $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                common::watchdog(stringify!($name), common::$name::<$net>);
            }
        )*
    };
}

// ===== helpers =====

/// Asserts the drain's report names a request whose line is `request` (`GET /stuck`: the name
/// is the line, two spaces, then its age).
pub(crate) fn assert_request_named(report: &Report, request: &str) {
    let names = &report.drain.still_in_flight;
    let prefix = format!("{request}  ");
    assert!(names.iter().any(|n| n.starts_with(&prefix)), "{names:?}");
}

/// Asserts the drain's report names a connection from 127.0.0.1 whose name ends with `what`
/// (`1 request in flight`, `: upgraded (GET /upgrade)`, ...).
pub(crate) fn assert_connection_named(report: &Report, what: &str) {
    let names = &report.drain.still_in_flight;
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("http connection from 127.0.0.1:") && n.ends_with(what)),
        "{names:?}"
    );
}

pub(crate) const LONG: Duration = Duration::from_secs(10);

/// Runs `scenario` on its own thread and fails if it does not finish in 30 seconds.
pub(crate) fn watchdog(name: &str, scenario: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            scenario();
            let _ = done.send(());
        })
        .expect("spawn the scenario thread");
    match finished.recv_timeout(Duration::from_secs(30)) {
        Ok(()) => thread.join().expect("the scenario thread"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // It panicked: fail with its panic.
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("scenario {name} did not finish within 30 s (the watchdog)")
        }
    }
}

/// A counter that tasks can wait on: handlers `add` when they start, the scenario waits for
/// a count.
#[derive(Default)]
pub(crate) struct Gate {
    state: Mutex<(usize, Vec<Waker>)>,
}

impl Gate {
    pub(crate) fn add(&self) {
        let wakers = {
            let mut state = self.state.lock().unwrap();
            state.0 += 1;
            std::mem::take(&mut state.1)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    pub(crate) async fn at_least(&self, n: usize) {
        poll_fn(|cx| {
            let mut state = self.state.lock().unwrap();
            if state.0 >= n {
                return Poll::Ready(());
            }
            state.1.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// What a scenario's server is made of.
pub(crate) struct Rig {
    pub(crate) _plan: Plan,
    pub(crate) shutdown: Shutdown,
    pub(crate) addr: SocketAddr,
    pub(crate) stats: ConnectionStats,
    pub(crate) served: BoxFuture<io::Result<()>>,
    pub(crate) report: BoxFuture<Report>,
    /// Handlers of `/hold` add here when they start.
    pub(crate) entered: Arc<Gate>,
    /// Opened (to 1) to let `/hold` answer.
    pub(crate) release: Arc<Gate>,
    /// The pending upgrades of `/upgrade` and `CONNECT` requests (`entered` counts them too).
    pub(crate) upgrades: Arc<Mutex<Vec<hyper::upgrade::OnUpgrade>>>,
    /// The layer, for its counts.
    pub(crate) layer: ShutdownLayer,
    /// The admin listener's address and future, when there is one.
    pub(crate) admin: Option<(SocketAddr, BoxFuture<io::Result<()>>)>,
    /// The WebSocket handlers of `/ws`, each ending with what it saw.
    pub(crate) ws_handlers: ws::Handlers,
}

impl Rig {
    /// Waits until the server has accepted `n` connections: a connection still in the
    /// listener's backlog when admissions close is reset by the kernel, never served.
    pub(crate) async fn accepted<N: Net>(&self, n: u64) {
        while self.stats.snapshot().accepted < n {
            N::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits for the report and the server's end; checks that the connection counts add up.
    pub(crate) async fn finish(self) -> (Report, ConnectionCounts) {
        let report = self.report.await;
        self.served.await.expect("the server's result");
        let counts = self.stats.snapshot();
        assert_partition(&counts);
        (report, counts)
    }
}

/// The scenarios' service: `/` and `/work` (fast), `/hold` (answers once released), `/stuck`
/// (never answers), `POST /upload` (reads its body; with `?hold`, then answers once released), `/sse` (ticks until the close), `/ws` (a WebSocket echo; a firehose with
/// `?firehose=1`), behind the layer; `/readyz` outside it.
pub(crate) async fn rig<N: Net>(config: Config) -> Rig {
    rig_with::<N>(config, false).await
}

/// [`rig`], with an admin listener ([`AdminService`]) when `with_admin`.
pub(crate) async fn rig_with<N: Net>(config: Config, with_admin: bool) -> Rig {
    rig_set_up::<N>(config, with_admin, Setup::default()).await
}

/// Which layer the rig's routes are behind: the default one (its guard in the response
/// body, which the server takes from it), or a `for_server` one (the body keeps axum's type,
/// the server takes the guard as it calls the layer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Layering {
    #[default]
    InBody,
    ForServer,
}

/// [`rig`], behind the layer `layering` says.
pub(crate) async fn rig_layered<N: Net>(config: Config, layering: Layering) -> Rig {
    let setup = Setup {
        layering,
        ..Setup::default()
    };
    rig_set_up::<N>(config, false, setup).await
}

/// `GET /hold`: counts itself in `entered`, then answers `held` once `release` has a count.
fn hold(entered: Arc<Gate>, release: Arc<Gate>) -> axum::routing::MethodRouter {
    get(move || {
        let (entered, release) = (entered.clone(), release.clone());
        async move {
            entered.add();
            release.at_least(1).await;
            "held\n"
        }
    })
}

/// [`rig_with`], the server set up as `setup` says.
pub(crate) async fn rig_set_up<N: Net>(config: Config, with_admin: bool, setup: Setup) -> Rig {
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), config);
    let entered = Arc::new(Gate::default());
    let release = Arc::new(Gate::default());
    let layer = ShutdownLayer::new(&shutdown).name_requests(&plan);
    let (hold_entered, hold_release, stuck_entered) =
        (entered.clone(), release.clone(), entered.clone());
    let (upload_entered, upload_release) = (entered.clone(), release.clone());
    let sse_shutdown = shutdown.clone();
    let upgrades = Arc::new(Mutex::new(Vec::new()));
    let handlers: ws::Handlers = Arc::default();
    let ws_handlers = handlers.clone();
    let (upgrade_list, upgrade_entered) = (upgrades.clone(), entered.clone());
    let (connect_list, connect_entered) = (upgrades.clone(), entered.clone());
    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route("/work", get(|| async { "work\n" }))
        .route("/hold", hold(hold_entered, hold_release))
        .route(
            "/stuck",
            get(move || {
                let entered = stuck_entered.clone();
                async move {
                    entered.add();
                    std::future::pending::<()>().await;
                    "never\n"
                }
            }),
        )
        .route(
            "/sse",
            get(move || {
                let body = EndOnShutdown::new(Ticks::<N>::new(), &sse_shutdown);
                async move { AxumBody::new(body) }
            }),
        )
        .route(
            "/upgrade",
            get(move |mut request: axum::extract::Request| {
                upgrade_list
                    .lock()
                    .unwrap()
                    .push(hyper::upgrade::on(&mut request));
                upgrade_entered.add();
                async move {
                    http::Response::builder()
                        .status(StatusCode::SWITCHING_PROTOCOLS)
                        .header(http::header::CONNECTION, "upgrade")
                        .header(http::header::UPGRADE, "echo")
                        .body(AxumBody::empty())
                        .unwrap()
                }
            }),
        )
        .route("/big", get(|| async { AxumBody::from(big_body()) }))
        .route(
            "/upload",
            post(move |request: axum::extract::Request| {
                let (entered, release) = (upload_entered.clone(), upload_release.clone());
                async move {
                    entered.add();
                    let hold = request.uri().query() == Some("hold");
                    match request.into_body().collect().await {
                        Ok(body) => {
                            if hold {
                                entered.add();
                                release.at_least(1).await;
                            }
                            let got = format!("got {} bytes\n", body.to_bytes().len());
                            (StatusCode::OK, got)
                        }
                        Err(err) => (StatusCode::BAD_REQUEST, format!("{err}\n")),
                    }
                }
            }),
        )
        .route(
            "/ws",
            get(move |request: axum::extract::Request| {
                let response = ws::accept::<N>(request, &ws_handlers);
                async move { response }
            }),
        )
        .fallback(move |mut request: axum::extract::Request| {
            // CONNECT host:port: a tunnel, once answered with a 2xx.
            let tunnel = request.method() == http::Method::CONNECT;
            if tunnel {
                connect_list
                    .lock()
                    .unwrap()
                    .push(hyper::upgrade::on(&mut request));
                connect_entered.add();
            }
            async move {
                let status = if tunnel {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                };
                http::Response::builder()
                    .status(status)
                    .body(AxumBody::empty())
                    .unwrap()
            }
        })
        .route_service("/readyz", Readiness::new(&shutdown));
    let app = match setup.layering {
        Layering::InBody => app.layer(layer.clone()),
        Layering::ForServer => app.layer(layer.clone().for_server()),
    };
    let admin = if with_admin {
        let service = AdminService::new(&plan).requests(&layer);
        let admin_setup = Setup {
            admin: true,
            ..Setup::default()
        };
        let (addr, _stats, served) = N::serve(&plan, service, admin_setup).await;
        Some((addr, served))
    } else {
        None
    };
    let (addr, stats, served) = N::serve(&plan, app, setup).await;
    let report = N::run_plan(&plan);
    Rig {
        _plan: plan,
        shutdown,
        addr,
        stats,
        served,
        report,
        entered,
        release,
        upgrades,
        layer,
        admin,
        ws_handlers: handlers,
    }
}

/// The body of `/big`: 32 MiB, more than a socket's buffers hold on both ends, so a client
/// that does not read leaves most of it unsent.
pub(crate) fn big_body() -> Bytes {
    static BIG: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    BIG.get_or_init(|| Bytes::from(vec![b'x'; 32 << 20]))
        .clone()
}

fn config(drain: Duration) -> Config {
    Config::builder()
        .drain(drain)
        .graceful(LONG + LONG)
        .build()
        .unwrap()
}

/// `data: tick N` every 20 ms, forever.
struct Ticks<N> {
    next: BoxFuture<()>,
    count: u64,
    _net: std::marker::PhantomData<fn() -> N>,
}

impl<N: Net> Ticks<N> {
    fn new() -> Self {
        Ticks {
            next: Box::pin(async {}),
            count: 0,
            _net: std::marker::PhantomData,
        }
    }
}

impl<N: Net> http_body::Body for Ticks<N> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        if self.next.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.count += 1;
        self.next = N::sleep(Duration::from_millis(20));
        let event = format!("data: tick {}\n\n", self.count);
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(event)))))
    }
}

/// An HTTP/1 client connection; the second value resolves when the connection ends.
pub(crate) async fn h1<N: Net>(
    addr: SocketAddr,
) -> io::Result<(H1Sender, BoxFuture<hyper::Result<()>>)> {
    let io = N::connect(addr).await?;
    let (sender, conn) = http1::handshake(io).await.map_err(io::Error::other)?;
    Ok((sender, N::spawn(conn)))
}

/// A GET request.
pub(crate) fn get_request(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header(http::header::HOST, "127.0.0.1")
        .body(Empty::new())
        .unwrap()
}

/// A response, read to its end.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// How a request on a connection ended.
#[derive(Debug)]
pub(crate) enum Exchange {
    /// A whole response.
    Answered(Answer),
    /// The request was never sent: the client found its connection closed first.
    Unsent(hyper::Error),
    /// The request failed before any of the response arrived.
    NoResponse(hyper::Error),
    /// The response started, then its body failed: cut mid-body.
    CutMidBody(hyper::Error),
}

pub(crate) async fn send1(sender: &mut H1Sender, path: &str) -> Exchange {
    if let Err(err) = sender.ready().await {
        return Exchange::Unsent(err);
    }
    match sender.send_request(get_request(path)).await {
        Err(err) if err.is_canceled() => Exchange::Unsent(err),
        response => collect(response).await,
    }
}

async fn collect(response: hyper::Result<http::Response<hyper::body::Incoming>>) -> Exchange {
    let response = match response {
        Ok(response) => response,
        Err(err) => return Exchange::NoResponse(err),
    };
    let (parts, body) = response.into_parts();
    match body.collect().await {
        Ok(body) => Exchange::Answered(Answer {
            status: parts.status,
            headers: parts.headers,
            body: body.to_bytes(),
        }),
        Err(err) => Exchange::CutMidBody(err),
    }
}

pub(crate) fn answered(sent: Exchange) -> Answer {
    match sent {
        Exchange::Answered(answer) => answer,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// Writes all of `bytes`.
pub(crate) async fn write_all<I: Write + Unpin>(io: &mut I, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, bytes)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
    }
    poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
}

/// Reads what is there (at most 8 KiB); an empty result is the end of the stream.
pub(crate) async fn read_some<I: Read + Unpin>(io: &mut I) -> io::Result<Vec<u8>> {
    let mut storage = vec![0u8; 8192];
    let mut buf = ReadBuf::new(&mut storage);
    poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, buf.unfilled())).await?;
    let n = buf.filled().len();
    storage.truncate(n);
    Ok(storage)
}

/// Reads until the end of the stream; what came, and whether it ended cleanly (EOF rather
/// than a reset).
pub(crate) async fn read_to_end<I: Read + Unpin>(
    io: &mut I,
    mut seen: Vec<u8>,
) -> (Vec<u8>, io::Result<()>) {
    loop {
        match read_some(io).await {
            Ok(chunk) if chunk.is_empty() => return (seen, Ok(())),
            Ok(chunk) => seen.extend_from_slice(&chunk),
            Err(err) => return (seen, Err(err)),
        }
    }
}

/// Reads until `needle` has arrived; everything read so far.
pub(crate) async fn read_until<I: Read + Unpin>(io: &mut I, needle: &[u8]) -> Vec<u8> {
    let mut seen = Vec::new();
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let chunk = read_some(io).await.expect("read");
        assert!(
            !chunk.is_empty(),
            "the stream ended before {needle:?}: {seen:?}"
        );
        seen.extend_from_slice(&chunk);
    }
    seen
}

/// The connection line's buckets add up to `accepted`: `N accepted: a ..., b ..., c open;`
/// and what follows the `;` are kinds and errors, not buckets.
pub(crate) fn assert_partition(counts: &ConnectionCounts) {
    let line = counts.to_string();
    let rest = line
        .strip_prefix("connections: ")
        .unwrap_or_else(|| panic!("{line}"));
    let (accepted, rest) = rest
        .split_once(" accepted: ")
        .unwrap_or_else(|| panic!("no `N accepted: ` in {line}"));
    let (buckets, _kinds) = rest
        .split_once(';')
        .unwrap_or_else(|| panic!("no `;` after the buckets in {line}"));
    let sum: u64 = buckets
        .split(", ")
        .map(|bucket| {
            bucket
                .split(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("bucket {bucket:?} in {line}"))
        })
        .sum();
    assert_eq!(accepted.parse::<u64>().ok(), Some(sum), "{line}");
    assert!(buckets.ends_with(" open"), "{line}");
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The layer's refusal (HTTP/1): 503, `Connection: close`, `Retry-After`.
pub(crate) fn is_refusal(answer: &Answer) -> bool {
    answer.status == StatusCode::SERVICE_UNAVAILABLE
        && answer
            .headers
            .get(http::header::CONNECTION)
            .is_some_and(|v| v == "close")
        && answer.headers.contains_key(http::header::RETRY_AFTER)
}

// ===== scenarios =====

/// 1. Eight keep-alive clients send requests back to back; the 60th response triggers the
///    shutdown. Every request sent gets a whole `200` or the layer's `503`: none is cut or
///    reset. A request whose idle keep-alive connection was closed at the close is sent again
///    on a new connection, which the closed listener refuses: whether the client knew before
///    sending (not sent) or sent it just as the server closed the connection without reading
///    it (the keep-alive race every HTTP/1 client retries; at most one per connection).
pub(crate) async fn keep_alive_load_gets_200_or_503_and_nothing_is_cut<N: Net>() {
    keep_alive_load::<N>(Layering::InBody).await;
}

/// 1 with a `for_server` layer.
pub(crate) async fn keep_alive_load_through_a_for_server_layer_gets_200_or_503<N: Net>() {
    keep_alive_load::<N>(Layering::ForServer).await;
}

async fn keep_alive_load<N: Net>(layering: Layering) {
    const CLIENTS: usize = 8;
    const PER_CLIENT: usize = 40;
    let rig = rig_layered::<N>(config(LONG), layering).await;
    let answered_total = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (addr, shutdown, answered_total) =
            (rig.addr, rig.shutdown.clone(), answered_total.clone());
        clients.push(N::spawn(async move {
            let mut tally = Tally::default();
            // The sender, and the connection's driver (dropping a smol task cancels it).
            let mut conn: Option<(H1Sender, BoxFuture<hyper::Result<()>>)> = None;
            let mut reused = false;
            let mut i = 0;
            while i < PER_CLIENT {
                let sender = match &mut conn {
                    Some((sender, _driver)) => sender,
                    None => match h1::<N>(addr).await {
                        Ok(connected) => {
                            reused = false;
                            &mut conn.insert(connected).0
                        }
                        Err(_) => {
                            // The listener is closed: the kernel refuses the connection.
                            tally.connect_refused += 1;
                            break;
                        }
                    },
                };
                let sent = send1(sender, "/work").await;
                match sent {
                    Exchange::Answered(answer) if answer.status == StatusCode::OK => {
                        assert_eq!(answer.body, "work\n");
                        tally.ok += 1;
                        i += 1;
                        reused = true;
                        if answered_total.fetch_add(1, Ordering::SeqCst) + 1 == 60 {
                            shutdown.trigger(Reason::requested());
                        }
                        if answer
                            .headers
                            .get(http::header::CONNECTION)
                            .is_some_and(|v| v == "close")
                        {
                            conn = None;
                        }
                    }
                    Exchange::Answered(answer) => {
                        assert!(
                            is_refusal(&answer),
                            "neither 200 nor the layer's 503: {answer:?}"
                        );
                        tally.refused += 1;
                        i += 1;
                        conn = None;
                    }
                    Exchange::Unsent(err) => {
                        // The connection was closed while idle, and the client knew before
                        // sending: send it on a new connection.
                        assert!(err.is_closed() || err.is_canceled(), "{err}");
                        tally.not_sent += 1;
                        conn = None;
                    }
                    Exchange::NoResponse(err) if reused && err.is_incomplete_message() => {
                        // The keep-alive race: sent on an idle connection just as the server
                        // closed it, never read. Every HTTP/1 client retries it.
                        tally.races += 1;
                        conn = None;
                    }
                    other => {
                        tally.failures.push(format!("{other:?}"));
                        i += 1;
                        conn = None;
                    }
                }
            }
            tally.sent = i;
            tally
        }));
    }
    let mut total = Tally::default();
    for client in clients {
        total.add(client.await);
    }
    let (report, counts) = rig.finish().await;
    eprintln!("load: {total:?}\n{counts}");
    assert!(
        total.failures.is_empty(),
        "cut or reset: {:?}",
        total.failures
    );
    assert_eq!(total.ok + total.refused, total.sent, "{total:?}");
    assert!(total.ok >= 60, "{total:?}");
    assert!(total.races <= CLIENTS, "{total:?}");
    assert_eq!(report.status, Status::Completed, "{report}");
    assert!(!report.drain.timed_out);
    assert_eq!(counts.cut, 0, "{counts}");
}

#[derive(Debug, Default)]
struct Tally {
    sent: usize,
    ok: usize,
    refused: usize,
    connect_refused: usize,
    not_sent: usize,
    races: usize,
    failures: Vec<String>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.ok += other.ok;
        self.refused += other.refused;
        self.connect_refused += other.connect_refused;
        self.not_sent += other.not_sent;
        self.races += other.races;
        self.failures.extend(other.failures);
    }
}

/// 2. A hundred idle keep-alive connections and ten that never sent a byte close as soon as
///    admissions close, while one request is still in flight: the drain then waits for that
///    request alone, and ends when it does.
pub(crate) async fn idle_and_silent_connections_do_not_hold_the_drain<N: Net>() {
    let rig = rig::<N>(config(LONG)).await;
    let mut idle = Vec::new();
    for _ in 0..100 {
        let (mut sender, driver) = h1::<N>(rig.addr).await.expect("connect");
        let answer = answered(send1(&mut sender, "/").await);
        assert_eq!(answer.status, StatusCode::OK);
        idle.push((sender, driver));
    }
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(N::connect(rig.addr).await.expect("connect"));
    }
    let (mut busy, _busy_driver) = h1::<N>(rig.addr).await.expect("connect");
    rig.accepted::<N>(111).await;
    let held_done = Arc::new(AtomicBool::new(false));
    let held = N::spawn({
        let held_done = held_done.clone();
        async move {
            let sent = send1(&mut busy, "/hold").await;
            held_done.store(true, Ordering::SeqCst);
            sent
        }
    });
    rig.entered.at_least(1).await;

    rig.shutdown.trigger(Reason::requested());
    for (_sender, driver) in idle {
        driver.await.expect("an idle connection closes cleanly");
    }
    for mut io in silent {
        let (bytes, end) = read_to_end(&mut io, Vec::new()).await;
        assert!(bytes.is_empty(), "{}", text(&bytes));
        end.expect("closed with an end of file, not a reset");
    }
    // All 110 closed; the held request is what the drain waits for.
    assert_eq!(rig.shutdown.phase(), Phase::Draining);
    assert!(!rig.shutdown.is_drained());
    assert!(!held_done.load(Ordering::SeqCst));

    rig.release.add();
    let answer = answered(held.await);
    assert_eq!(
        (answer.status, &answer.body[..]),
        (StatusCode::OK, &b"held\n"[..])
    );
    assert_eq!(
        answer.headers.get(http::header::CONNECTION).unwrap(),
        "close"
    );
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert!(!report.drain.timed_out);
    assert_eq!(report.drain.left, 0);
    assert_eq!(counts.closed_idle, 110, "{counts}");
    assert_eq!(counts.drained, 1, "{counts}");
    assert_eq!(counts.cut, 0, "{counts}");
}

/// 2, the layer on a shutdown of its own: a request admitted before that shutdown's close
///    and answered after it says `Connection: close`, though the server is not closing (hyper
///    says nothing then). The server says it for the layer, which handed it the request's
///    guard as the server called it (the default layer and a `for_server` one).
pub(crate) async fn a_request_answered_after_its_layers_close_says_close<N: Net>() {
    for for_server in [false, true] {
        let (shutdown, layered) = (Shutdown::new(), Shutdown::new());
        let plan = Plan::new(shutdown.clone(), config(LONG));
        let (entered, release) = (Arc::new(Gate::default()), Arc::new(Gate::default()));
        let app = Router::new().route("/hold", hold(entered.clone(), release.clone()));
        let layer = ShutdownLayer::new(&layered);
        let app = if for_server {
            app.layer(layer.for_server())
        } else {
            app.layer(layer)
        };
        let (addr, stats, served) = N::serve(&plan, app, Setup::default()).await;
        let report = N::run_plan(&plan);
        let (mut sender, _driver) = h1::<N>(addr).await.expect("connect");
        let held = N::spawn(async move { send1(&mut sender, "/hold").await });
        entered.at_least(1).await;

        layered.trigger(Reason::requested());
        layered.close();
        release.add();
        let answer = answered(held.await);
        assert_eq!(answer.status, StatusCode::OK, "for_server: {for_server}");
        assert_eq!(
            answer.headers.get(http::header::CONNECTION).unwrap(),
            "close",
            "for_server: {for_server}"
        );

        shutdown.trigger(Reason::requested());
        let report = report.await;
        served.await.expect("the server's result");
        assert_eq!(report.status, Status::Completed, "{report}");
        assert_partition(&stats.snapshot());
        assert!(layered.is_drained(), "for_server: {for_server}");
    }
}

/// 3. An SSE stream open at the close ends with the chunked body's last chunk, and a
///    connection holding half a request head is closed at once (no response: the request was
///    never admitted), so neither holds the drain.
pub(crate) async fn sse_ends_with_its_last_chunk_and_half_a_head_does_not_hold_the_drain<N: Net>() {
    sse_and_half_a_head::<N>(Layering::InBody).await;
}

/// 3 with a `for_server` layer: the server holds the stream's guard from its call of the
/// layer on.
pub(crate) async fn sse_through_a_for_server_layer_ends_with_its_last_chunk<N: Net>() {
    sse_and_half_a_head::<N>(Layering::ForServer).await;
}

async fn sse_and_half_a_head<N: Net>(layering: Layering) {
    let rig = rig_layered::<N>(config(LONG), layering).await;
    let mut sse = N::connect(rig.addr).await.expect("connect");
    write_all(&mut sse, b"GET /sse HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let seen = read_until(&mut sse, b"data: tick 2").await;
    let mut half = N::connect(rig.addr).await.expect("connect");
    write_all(&mut half, b"GET / HTTP/1.1\r\nhost: t\r\n")
        .await
        .unwrap();
    rig.accepted::<N>(2).await;

    rig.shutdown.trigger(Reason::requested());
    let (stream, end) = read_to_end(&mut sse, seen).await;
    end.expect("the SSE connection ends with an end of file, not a reset");
    let stream = text(&stream);
    assert!(stream.contains("transfer-encoding: chunked"), "{stream}");
    assert!(
        stream.ends_with("\n\r\n0\r\n\r\n"),
        "no last chunk: {stream:?}"
    );
    let (bytes, end) = read_to_end(&mut half, Vec::new()).await;
    assert!(bytes.is_empty(), "{}", text(&bytes));
    end.expect("the half head's connection ends with an end of file");

    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert!(!report.drain.timed_out, "{report}");
    assert_eq!(counts.cut, 0, "{counts}");
    assert_eq!(counts.drained, 1, "the SSE connection: {counts}");
}

/// 4. A request that outlives the drain deadline is cut, and the report names it (method and
///    path) and its connection; the server's resource says how many connections it cut.
pub(crate) async fn a_request_past_the_drain_deadline_is_cut_and_named<N: Net>() {
    let rig = rig::<N>(config(Duration::from_millis(200))).await;
    let (mut sender, _driver) = h1::<N>(rig.addr).await.expect("connect");
    let stuck = N::spawn(async move { send1(&mut sender, "/stuck").await });
    rig.entered.at_least(1).await;

    rig.shutdown.trigger(Reason::requested());
    let sent = stuck.await;
    assert!(matches!(sent, Exchange::NoResponse(_)), "{sent:?}");
    let addr = rig.addr;
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::TimedOut, "{report}");
    assert!(report.drain.timed_out);
    assert_request_named(&report, "GET /stuck");
    assert_connection_named(&report, "1 request in flight");
    let server = report
        .resources
        .iter()
        .find(|r| r.name == format!("http {addr}"))
        .expect("the server's resource");
    assert_eq!(
        server.outcome,
        Outcome::Error("cut 1 connection at the drain deadline".into())
    );
    assert_eq!(counts.cut, 1, "{counts}");
}

/// A second signal while a request is in flight forces the stop, and the report says so
/// truly on every runtime: the request and its connection counted left and named, the force
/// as the cause, the connection cut, the request unanswered. Whichever of the connections'
/// tasks and the sequence the runtime runs first after the force (`ordered.rs` pins both
/// orders on a hand-polled runtime).
pub(crate) async fn a_second_signal_reports_what_it_cut<N: Net>() {
    let rig = rig::<N>(config(LONG)).await;
    let (mut sender, _driver) = h1::<N>(rig.addr).await.expect("connect");
    let stuck = N::spawn(async move { send1(&mut sender, "/stuck").await });
    rig.entered.at_least(1).await;

    rig.shutdown.trigger(Reason::Signal(15));
    rig.shutdown.reached(Phase::Draining).await;
    // The second SIGTERM, as the signal listener delivers it.
    rig.shutdown.force(Reason::Signal(15));
    let sent = stuck.await;
    assert!(matches!(sent, Exchange::NoResponse(_)), "{sent:?}");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Forced, "{report}");
    assert_eq!(report.forced_by, Some(ForcedBy::Requested), "{report}");
    assert_eq!(report.drain.left, 2, "{report}");
    assert_request_named(&report, "GET /stuck");
    assert_connection_named(&report, "1 request in flight");
    assert_eq!(counts.cut, 1, "{counts}");
}

/// 5. With `pre_stop`, `/readyz` says 503 from the trigger while requests are still served
///    `200`; only after the pre-stop delay do admissions close, and from then on no request is
///    answered `200`: it gets the layer's `503` or finds its connection closed.
pub(crate) async fn readiness_fails_first_and_requests_are_served_during_pre_stop<N: Net>() {
    let config = Config::builder()
        .pre_stop(Duration::from_secs(1))
        .drain(LONG)
        .graceful(LONG + LONG)
        .build()
        .unwrap();
    let rig = rig::<N>(config).await;
    let (mut probe, _probe_driver) = h1::<N>(rig.addr).await.expect("connect");
    let (mut client, _client_driver) = h1::<N>(rig.addr).await.expect("connect");
    assert_eq!(
        answered(send1(&mut probe, "/readyz").await).status,
        StatusCode::OK
    );
    assert_eq!(
        answered(send1(&mut client, "/").await).status,
        StatusCode::OK
    );

    rig.shutdown.trigger(Reason::requested());
    let ready = answered(send1(&mut probe, "/readyz").await);
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    // Not ready, and still served: these answers came while admissions were open.
    let mut served_after_not_ready = 0;
    loop {
        let answer = answered(send1(&mut client, "/").await);
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        if rig.shutdown.phase() != Phase::Initiated {
            break;
        }
        served_after_not_ready += 1;
        if served_after_not_ready == 20 {
            break;
        }
    }
    assert!(served_after_not_ready >= 1);
    assert_eq!(
        rig.shutdown.phase(),
        Phase::Initiated,
        "the pre-stop delay is a second long"
    );

    rig.shutdown.reached(Phase::StoppingNewRequests).await;
    // Admissions are closed: a request on the open connection is refused by the layer if the
    // server read it, or finds the connection closed; never served.
    let refused = match send1(&mut client, "/").await {
        Exchange::Answered(answer) => {
            assert!(is_refusal(&answer), "{answer:?}");
            1
        }
        Exchange::Unsent(_) | Exchange::NoResponse(_) => 0,
        Exchange::CutMidBody(err) => panic!("cut mid-body: {err}"),
    };
    // The status page tells the layer's 503s apart from the other refused admissions.
    let status = winddown_http::StatusService::new(&rig._plan)
        .requests(&rig.layer)
        .snapshot();
    assert!(
        status.contains(&format!("\"refused_requests\":{refused},")),
        "{status}"
    );
    // And the layer itself refuses after the close, whoever calls it.
    let refused = refusal_from_the_layer(&rig.shutdown).await;
    assert!(is_refusal(&refused), "{refused:?}");
    let (report, _counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    let initiated = report.phase(Phase::Initiated).unwrap();
    assert!(initiated.duration >= Duration::from_secs(1), "{report}");
}

async fn refusal_from_the_layer(shutdown: &Shutdown) -> Answer {
    use tower_service::Service as _;
    let mut service = tower_layer::Layer::layer(
        &ShutdownLayer::new(shutdown),
        tower_service_fn(|| http::Response::new(Empty::<Bytes>::new())),
    );
    let response = service.call(get_request("/")).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// A service that answers `make()` to every request.
fn tower_service_fn<B, F: FnMut() -> http::Response<B>>(make: F) -> FnService<F> {
    FnService(make)
}

struct FnService<F>(F);

impl<B, F: FnMut() -> http::Response<B>> tower_service::Service<Request<Empty<Bytes>>>
    for FnService<F>
{
    type Response = http::Response<B>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<http::Response<B>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<Empty<Bytes>>) -> Self::Future {
        std::future::ready(Ok((self.0)()))
    }
}

/// 6. An HTTP/2 connection (the `h2` crate's client: hyper's client tears its connection
///    down when a new stream meets a GOAWAY) with three streams in flight at the close gets
///    GOAWAY: new streams are refused (or, before the GOAWAY arrives, answered by the layer's
///    `503`), the three finish with whole `200`s, and then the connection ends cleanly.
pub(crate) async fn http2_gets_goaway_and_its_streams_finish<N: Net>() {
    let rig = rig::<N>(config(LONG)).await;
    let io = N::connect_h2(rig.addr).await.expect("connect");
    let (client, connection) = h2::client::handshake(io)
        .await
        .expect("an HTTP/2 connection");
    let driver = N::spawn(connection);
    let mut client = client.ready().await.expect("ready");
    let mut streams = Vec::new();
    for _ in 0..3 {
        let (response, _send) = client
            .send_request(h2_request("/hold"), true)
            .expect("a stream");
        streams.push(N::spawn(h2_answer(response)));
    }
    rig.entered.at_least(3).await;

    rig.shutdown.trigger(Reason::requested());
    rig.shutdown.reached(Phase::Draining).await;
    let goaway = loop {
        let sent = match client.clone().ready().await {
            Ok(mut ready) => ready.send_request(h2_request("/"), true),
            Err(err) => Err(err),
        };
        match sent {
            Ok((response, _send)) => match h2_answer(response).await {
                Ok((status, _)) => assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE),
                Err(err) => break err,
            },
            Err(err) => break err,
        }
    };
    assert!(goaway.is_go_away(), "{goaway:?}");
    assert_eq!(goaway.reason(), Some(h2::Reason::NO_ERROR), "{goaway:?}");
    assert!(!rig.shutdown.is_drained());

    rig.release.add();
    for stream in streams {
        let (status, body) = stream.await.expect("a held stream finishes");
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"held\n"[..]));
    }
    drop(client);
    driver
        .await
        .expect("the HTTP/2 connection ends cleanly after its streams");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!(counts.drained, 1, "{counts}");
    assert_eq!(counts.cut, 0, "{counts}");
}

fn h2_request(path: &str) -> Request<()> {
    Request::get(format!("http://127.0.0.1{path}"))
        .body(())
        .unwrap()
}

async fn h2_answer(
    response: h2::client::ResponseFuture,
) -> Result<(StatusCode, Vec<u8>), h2::Error> {
    let response = response.await?;
    let status = response.status();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    Ok((status, bytes))
}

/// 7. An upgraded connection (a protocol of its own after `101 Switching Protocols`, as a
///    WebSocket is) counts as in flight while its handler holds the socket; the handler sees
///    the trigger through the shutdown handle; one that ignores it is cut at the drain deadline
///    (its read fails) and named in the report as upgraded.
pub(crate) async fn an_upgraded_connection_sees_the_trigger_and_is_cut_at_the_deadline<N: Net>() {
    let rig = rig::<N>(config(Duration::from_millis(300))).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    write_all(
        &mut client,
        b"GET /upgrade HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n",
    )
    .await
    .unwrap();
    let head = text(&read_until(&mut client, b"\r\n\r\n").await);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    rig.entered.at_least(1).await;
    let on_upgrade = rig.upgrades.lock().unwrap().pop().expect("the upgrade");
    let mut upgraded = on_upgrade.await.expect("upgraded");

    // The new protocol: an echo.
    write_all(&mut client, b"ping\n").await.unwrap();
    let line = read_some(&mut upgraded).await.unwrap();
    write_all(&mut upgraded, &line).await.unwrap();
    assert_eq!(read_until(&mut client, b"ping\n").await, b"ping\n");

    // The handler sees the trigger, says so, and then (badly) keeps the socket.
    let handler = {
        let shutdown = rig.shutdown.clone();
        N::spawn(async move {
            shutdown.triggered().await;
            write_all(&mut upgraded, b"bye\n").await.unwrap();
            let end = read_some(&mut upgraded).await;
            drop(upgraded);
            end
        })
    };
    rig.shutdown.trigger(Reason::requested());
    assert_eq!(read_until(&mut client, b"bye\n").await, b"bye\n");
    let end = handler.await;
    let err = end.expect_err("the handler's read fails when the connection is cut");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted, "{err}");
    let (bytes, _) = read_to_end(&mut client, Vec::new()).await;
    assert!(bytes.is_empty(), "{}", text(&bytes));

    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::TimedOut, "{report}");
    assert_connection_named(&report, ": upgraded (GET /upgrade)");
    assert_eq!((counts.upgraded, counts.cut), (1, 1), "{counts}");
}

// ===== what the close promises, per connection state =====

/// A blocking client socket with a whole-response reader, for the scenarios that must not
/// depend on the server's executor (it is blocked on purpose).
pub(crate) struct StdClient<S = std::net::TcpStream>(pub(crate) S);

impl StdClient {
    pub(crate) fn connect(addr: SocketAddr) -> StdClient {
        let stream = std::net::TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        StdClient(stream)
    }
}

impl<S: std::io::Read + std::io::Write> StdClient<S> {
    pub(crate) fn send(&mut self, request: &[u8]) {
        self.0.write_all(request).expect("write");
    }

    /// One response: the head, and a body of its `content-length`.
    pub(crate) fn response(&mut self) -> String {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"\r\n\r\n") {
            match self.0.read(&mut byte) {
                Ok(1) => seen.push(byte[0]),
                Ok(_) => panic!("end of file after {:?}", text(&seen)),
                Err(err) => panic!("{err} after {:?}", text(&seen)),
            }
        }
        let head = text(&seen).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        self.0.read_exact(&mut body).expect("the body");
        seen.extend_from_slice(&body);
        text(&seen)
    }

    /// Everything until the end of the stream; whether it ended with an end of file.
    pub(crate) fn rest(&mut self) -> (String, io::Result<()>) {
        let mut seen = Vec::new();
        let end = self.0.read_to_end(&mut seen).map(drop);
        (text(&seen), end)
    }
}

/// 8. Requests that have arrived on idle keep-alive connections while the server's executor
///    was busy, and were still unread when admissions closed, are read and answered with the
///    layer's `503`: a runtime that answers "not readable" from a readiness cache it has not
///    refreshed (tokio, while its worker has not turned its I/O driver) does not make the
///    server take them for idle connections and close them.
pub(crate) fn requests_already_in_the_socket_at_the_close_are_answered<N: Net>() {
    const CONNECTIONS: usize = 20;
    let rig = N::block_on(rig::<N>(config(LONG)));
    let mut clients: Vec<StdClient> = (0..CONNECTIONS)
        .map(|_| {
            let mut client = StdClient::connect(rig.addr);
            client.send(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n");
            let answer = client.response();
            assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
            client
        })
        .collect();
    N::block_on(rig.accepted::<N>(CONNECTIONS as u64));

    let blocker = N::block_executor();
    for client in &mut clients {
        client.send(b"GET /work HTTP/1.1\r\nhost: t\r\n\r\n");
    }
    rig.shutdown.trigger(Reason::requested());
    rig.shutdown.close();
    drop(blocker);

    let mut lost = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        let (answer, _end) = client.rest();
        let refused = answer.starts_with("HTTP/1.1 503 ")
            && answer
                .to_ascii_lowercase()
                .contains("connection: close\r\n");
        if !refused {
            lost.push((i, answer));
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {CONNECTIONS} requests got no 503: {lost:?}",
        lost.len()
    );
    let (report, counts) = N::block_on(rig.finish());
    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!(counts.drained, CONNECTIONS as u64, "{counts}");
    assert_eq!(counts.unread_at_close, 0, "{counts}");
}

/// 9. A response whose client does not read (32 MiB, a `Full` body that ends at its first
///    poll) is still being written at the drain deadline: the report names its request, with
///    its connection, and the connection is cut.
pub(crate) async fn a_response_stuck_behind_a_client_that_does_not_read_is_named<N: Net>() {
    response_stuck_behind_a_client_that_does_not_read::<N>(Layering::InBody).await;
}

/// 9 with a `for_server` layer: the guard the server took as it called the layer names the
/// request until the bytes are out.
pub(crate) async fn a_for_server_layers_response_stuck_behind_a_client_is_named<N: Net>() {
    response_stuck_behind_a_client_that_does_not_read::<N>(Layering::ForServer).await;
}

async fn response_stuck_behind_a_client_that_does_not_read<N: Net>(layering: Layering) {
    let rig = rig_layered::<N>(config(Duration::from_millis(300)), layering).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    write_all(&mut client, b"GET /big HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    // The head has arrived: the body is being written, and the client reads no further.
    let head = text(&read_until(&mut client, b"\r\n\r\n").await);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");

    rig.shutdown.trigger(Reason::requested());
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::TimedOut, "{report}");
    assert_request_named(&report, "GET /big");
    assert_connection_named(&report, ": 1 response being written");
    assert_eq!(counts.cut, 1, "{counts}");
    drop(client);
}

/// 10. An HTTP/2 response larger than the peer's flow-control window, whose client never
///     gives the window back, is named at the drain deadline like an HTTP/1 one.
pub(crate) async fn an_http2_response_stuck_behind_a_full_window_is_named<N: Net>() {
    http2_response_stuck_behind_a_full_window::<N>(Layering::InBody).await;
}

/// 10 with a `for_server` layer.
pub(crate) async fn a_for_server_layers_http2_response_stuck_behind_a_full_window_is_named<
    N: Net,
>() {
    http2_response_stuck_behind_a_full_window::<N>(Layering::ForServer).await;
}

async fn http2_response_stuck_behind_a_full_window<N: Net>(layering: Layering) {
    let rig = rig_layered::<N>(config(Duration::from_millis(300)), layering).await;
    let io = N::connect_h2(rig.addr).await.expect("connect");
    let (client, connection) = h2::client::handshake(io).await.expect("HTTP/2");
    let driver = N::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.expect("ready");
    let (response, _send) = client
        .send_request(h2_request("/big"), true)
        .expect("a stream");
    // The head arrives; the body fills the window and waits for a WINDOW_UPDATE that never
    // comes (the client releases no capacity).
    let response = response.await.expect("the response head");
    assert_eq!(response.status(), StatusCode::OK);

    rig.shutdown.trigger(Reason::requested());
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::TimedOut, "{report}");
    assert_request_named(&report, "GET /big");
    assert_eq!(counts.cut, 1, "{counts}");
    drop(response);
    drop(client);
    driver.await;
}

/// 11. An HTTP/2 connection that has sent its preface and SETTINGS but no request yet gets
///     a GOAWAY at the close (the first of the two: last stream id 2^31-1), not a bare end
///     of file; it then ends cleanly when the client goes.
pub(crate) async fn http2_with_no_request_yet_gets_goaway<N: Net>() {
    let rig = rig::<N>(config(LONG)).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    // The preface and an empty SETTINGS frame.
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    write_all(&mut client, &hello).await.unwrap();
    // The server's SETTINGS: it took the connection for HTTP/2.
    let mut frames = H2Frames::default();
    let settings = frames.next(&mut client).await.expect("a frame");
    assert_eq!(settings.kind, 0x4, "{settings:?}");
    rig.accepted::<N>(1).await;

    rig.shutdown.trigger(Reason::requested());
    let goaway = loop {
        match frames.next(&mut client).await {
            Some(frame) if frame.kind == 0x7 => break frame,
            Some(_) => continue,
            None => panic!("end of file before a GOAWAY"),
        }
    };
    let last_stream = u32::from_be_bytes(goaway.payload[..4].try_into().unwrap()) & !(1 << 31);
    assert_eq!(last_stream, (1 << 31) - 1, "{goaway:?}");
    let code = u32::from_be_bytes(goaway.payload[4..8].try_into().unwrap());
    assert_eq!(code, 0, "NO_ERROR: {goaway:?}");
    drop(client);
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!(counts.cut, 0, "{counts}");
}

/// One HTTP/2 frame as read off the wire.
#[derive(Debug)]
pub(crate) struct H2Frame {
    pub(crate) kind: u8,
    pub(crate) payload: Vec<u8>,
}

/// Reads HTTP/2 frames off a raw socket.
#[derive(Default)]
pub(crate) struct H2Frames {
    buf: Vec<u8>,
}

impl H2Frames {
    /// The next frame; `None` at the end of the stream (or a reset).
    pub(crate) async fn next<I: Read + Unpin>(&mut self, io: &mut I) -> Option<H2Frame> {
        loop {
            if self.buf.len() >= 9 {
                let len = usize::from(self.buf[0]) << 16
                    | usize::from(self.buf[1]) << 8
                    | usize::from(self.buf[2]);
                if self.buf.len() >= 9 + len {
                    let frame = H2Frame {
                        kind: self.buf[3],
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    return Some(frame);
                }
            }
            match read_some(io).await {
                Ok(chunk) if !chunk.is_empty() => self.buf.extend_from_slice(&chunk),
                _ => return None,
            }
        }
    }
}

/// An upgrade's socket, once the server has handed it over.
async fn upgraded(rig: &Rig) -> hyper::upgrade::Upgraded {
    rig.entered.at_least(1).await;
    let on_upgrade = rig.upgrades.lock().unwrap().pop().expect("the upgrade");
    on_upgrade.await.expect("upgraded")
}

/// 12. A `CONNECT` tunnel (hyper upgrades a connection on a 2xx to `CONNECT`, not only on
///     `101`) is an upgraded connection: counted as one, named as one, and cut at the drain
///     deadline (its handler's read fails).
pub(crate) async fn a_connect_tunnel_is_cut_at_the_deadline_and_named<N: Net>() {
    let rig = rig::<N>(config(Duration::from_millis(300))).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    write_all(
        &mut client,
        b"CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n",
    )
    .await
    .unwrap();
    let head = text(&read_until(&mut client, b"\r\n\r\n").await);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let mut tunnel = upgraded(&rig).await;
    let handler = N::spawn(async move { read_some(&mut tunnel).await });

    rig.shutdown.trigger(Reason::requested());
    let end = handler.await;
    let err = end.expect_err("the tunnel's read fails when it is cut");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted, "{err}");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::TimedOut, "{report}");
    let names = &report.drain.still_in_flight;
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("http connection from 127.0.0.1:")
                && n.contains(": upgraded")
                && n.contains("CONNECT example.com:443")),
        "{names:?}"
    );
    assert_eq!((counts.upgraded, counts.cut), (1, 1), "{counts}");
}

/// 13. An upgraded handler blocked writing to a peer that does not read is cut at the drain
///     deadline like a reader: its write fails, and `serve` returns.
pub(crate) async fn an_upgraded_handler_blocked_in_a_write_is_cut_and_serve_returns<N: Net>() {
    let rig = rig::<N>(config(Duration::from_millis(300))).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    write_all(
        &mut client,
        b"GET /upgrade HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n",
    )
    .await
    .unwrap();
    let head = text(&read_until(&mut client, b"\r\n\r\n").await);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let mut socket = upgraded(&rig).await;
    let writing = Arc::new(AtomicUsize::new(0));
    let handler = N::spawn({
        let writing = writing.clone();
        async move {
            // The peer reads nothing: the writes stop once both ends' buffers are full.
            let chunk = vec![b'w'; 64 * 1024];
            loop {
                if let Err(err) = write_all(&mut socket, &chunk).await {
                    return err;
                }
                writing.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    rig.shutdown.trigger(Reason::requested());
    let err = handler.await;
    assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted, "{err}");
    assert!(writing.load(Ordering::SeqCst) > 0);
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::TimedOut, "{report}");
    assert_eq!((counts.upgraded, counts.cut), (1, 1), "{counts}");
    drop(client);
}

/// 14. An upgraded socket its handler holds but never polls counts as gone once it is cut:
///     `serve` returns at the drain deadline whatever the handler does.
pub(crate) async fn an_upgraded_socket_nobody_polls_counts_as_gone_at_the_deadline<N: Net>() {
    let rig = rig::<N>(config(Duration::from_millis(300))).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    write_all(
        &mut client,
        b"GET /upgrade HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n",
    )
    .await
    .unwrap();
    let head = text(&read_until(&mut client, b"\r\n\r\n").await);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let socket = upgraded(&rig).await;

    rig.shutdown.trigger(Reason::requested());
    // `finish` waits for `serve`, with the socket still held here.
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::TimedOut, "{report}");
    assert_eq!(
        (counts.upgraded, counts.cut, counts.open),
        (1, 1, 0),
        "{counts}"
    );
    drop(socket);
    drop(client);
}

/// 15. A per-connection factory (axum's `into_make_service_with_connect_info`) is served as
///     `axum::serve` serves it: its `ConnectInfo` extractor finds the peer's address.
pub(crate) async fn axum_connect_info_finds_the_peer_address<N: Net>() {
    use axum::extract::ConnectInfo;
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), config(LONG));
    let app = Router::new()
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .layer(ShutdownLayer::new(&shutdown));
    let (addr, stats, served) = N::serve(
        &plan,
        app.into_make_service_with_connect_info::<SocketAddr>(),
        Setup::default(),
    )
    .await;
    let report = N::run_plan(&plan);
    let (mut sender, _driver) = h1::<N>(addr).await.expect("connect");
    let answer = answered(send1(&mut sender, "/peer").await);
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let peer: SocketAddr = text(&answer.body).parse().expect("an address");
    assert_eq!(peer.ip(), addr.ip());
    assert_ne!(
        peer.port(),
        addr.port(),
        "the client's port, not the server's"
    );

    shutdown.trigger(Reason::requested());
    let report = report.await;
    served.await.expect("the server's result");
    assert_eq!(report.status, Status::Completed, "{report}");
    assert_partition(&stats.snapshot());
}

/// 16. The admin listener keeps `/readyz`, `/livez` and `/status` reachable while the main
///     listener is closed and a request drains; it closes once the sequence has ended.
pub(crate) async fn status_is_reachable_on_the_admin_listener_through_the_stop<N: Net>() {
    let mut rig = rig_with::<N>(config(LONG), true).await;
    let (admin, admin_served) = rig.admin.take().expect("an admin listener");
    let (mut busy, _busy_driver) = h1::<N>(rig.addr).await.expect("connect");
    let held = N::spawn(async move { send1(&mut busy, "/hold").await });
    rig.entered.at_least(1).await;
    let (mut probe, _probe_driver) = h1::<N>(admin).await.expect("connect to admin");
    assert_eq!(
        answered(send1(&mut probe, "/readyz").await).status,
        StatusCode::OK
    );

    rig.shutdown.trigger(Reason::requested());
    rig.shutdown.reached(Phase::Draining).await;
    // The main listener closes (its server's task drops it); the admin listener answers, on
    // a new connection too.
    while N::connect(rig.addr).await.is_ok() {
        N::sleep(Duration::from_millis(1)).await;
    }
    let (mut late, _late_driver) = h1::<N>(admin).await.expect("connect to admin");
    let status = answered(send1(&mut late, "/status").await);
    assert_eq!(status.status, StatusCode::OK);
    let json = text(&status.body);
    assert!(
        json.starts_with(r#"{"ready":false,"#) && json.contains(r#""phase":"draining","#),
        "{json}"
    );
    assert!(json.contains(r#""requests_in_flight":1,"#), "{json}");
    assert_eq!(
        answered(send1(&mut probe, "/readyz").await).status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        answered(send1(&mut probe, "/livez").await).status,
        StatusCode::OK
    );
    assert_eq!(
        answered(send1(&mut probe, "/nothing").await).status,
        StatusCode::NOT_FOUND
    );

    rig.release.add();
    assert_eq!(answered(held.await).status, StatusCode::OK);
    let (report, _counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    // The sequence has ended: the admin listener closes.
    admin_served.await.expect("the admin server's result");
    assert!(
        N::connect(admin).await.is_err(),
        "the admin listener still accepts"
    );
}

/// 17. A connection whose peer sends something that is not HTTP ends with an error, counted
///     in the report's connection line; a half-sent head that the close ends, and a request
///     cut at the drain deadline, end on purpose and are not counted.
pub(crate) async fn connection_errors_are_counted_and_the_close_causes_none<N: Net>() {
    let rig = rig::<N>(config(Duration::from_millis(300))).await;
    let mut garbage = N::connect(rig.addr).await.expect("connect");
    write_all(&mut garbage, b"NOT HTTP AT ALL\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_to_end(&mut garbage, Vec::new()).await;
    assert!(
        text(&answer).starts_with("HTTP/1.1 400 "),
        "{}",
        text(&answer)
    );
    let mut half = N::connect(rig.addr).await.expect("connect");
    write_all(&mut half, b"GET / HTTP/1.1\r\nhost: t\r\n")
        .await
        .unwrap();
    let (mut stuck, _driver) = h1::<N>(rig.addr).await.expect("connect");
    let stuck = N::spawn(async move { send1(&mut stuck, "/stuck").await });
    rig.entered.at_least(1).await;
    rig.accepted::<N>(3).await;

    rig.shutdown.trigger(Reason::requested());
    let (bytes, _) = read_to_end(&mut half, Vec::new()).await;
    assert!(bytes.is_empty(), "{}", text(&bytes));
    let _ = stuck.await;
    let (report, counts) = rig.finish().await;
    assert_eq!(counts.errors, 1, "{counts}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("errors: 1 on connections, 0 at accept")),
        "{report}"
    );
}
