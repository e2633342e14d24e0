//! The server itself: [`Server`], its accept loop and its registration with the plan. Its
//! settings are in `settings`, its admin listener in `admin`.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper_util::server::conn::auto;
use winddown_core::runtime::Runtime;
use winddown_core::{Phase, Plan, Resource};

use super::conn::{self, ConnCtx, Options};
use super::connections::{ConnShared, ListenerState};
use super::listener::{self, Backoff};
use super::registry::Registry;
use super::rt::HyperRuntime;
use super::{ConnectionService, ConnectionStats, Listener};

/// The listening socket while the server accepts. Dropped (by the accept loop at the close,
/// or with the server's future), it closes the socket first, then tells the connections.
struct OpenListener<L> {
    listener: Option<L>,
    state: Arc<ListenerState>,
}

impl<L> Drop for OpenListener<L> {
    fn drop(&mut self) {
        drop(self.listener.take());
        self.state.close();
    }
}

// The defaults of the server's settings: each setter's docs state its value and why.

/// Priority of the server's resource in the plan (see [`Server::serve`]).
const RESOURCE_PRIORITY: i32 = 1000;
/// [`Server::first_byte_grace`]'s default.
const DEFAULT_FIRST_BYTE_GRACE: Duration = Duration::from_secs(1);
/// [`Server::keep_alive_grace`]'s default.
const DEFAULT_KEEP_ALIVE_GRACE: Duration = Duration::from_millis(250);
/// [`Server::upload_grace`]'s default.
const DEFAULT_UPLOAD_GRACE: Duration = Duration::from_secs(1);
/// [`Server::handshake_timeout`]'s default.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// [`Server::websocket_close_timeout`]'s default.
const DEFAULT_WEBSOCKET_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// An HTTP/1 and HTTP/2 server that takes part in a [`Plan`]'s shutdown, on any winddown
/// [`Runtime`] (tokio's, smol's, async-std's: `TokioRuntime`, `SmolRuntime`,
/// `AsyncStdRuntime`): `Server::new(&plan, runtime).serve(listener, service)` serves with the
/// default settings.
///
/// What it does through the shutdown sequence:
///
/// | phase | listener | connections |
/// |---|---|---|
/// | running, and the `pre_stop` delay | accepts | served as usual; each holds a guard while its socket is open |
/// | admissions close | stops accepting and closes the socket: new connects are refused by the kernel | idle HTTP/1 connections (keep-alive, never a byte, half a request head) end, after what already arrived in their socket is answered (a connection accepted within the first-byte grace, with nothing sent yet, at the end of the grace); connections in their TLS handshake close (within the grace: at its end); requests in flight finish, answered with `Connection: close` (HTTP/1); an HTTP/1 request body still arriving after the [upload grace](Server::upload_grace) ends its connection's reads; every HTTP/2 connection gets GOAWAY and its open streams finish; WebSockets get Close 1001 and end when they answer; other upgraded connections are their handlers' |
/// | WebSocket close timeout | | a WebSocket that has not answered its Close is cut, and named in the server's resource record |
/// | drain deadline, or forced | | what is left is cut (after the report has counted and named it): every read and write on it fails, and it counts as gone at once |
///
/// Nothing that tells a client to come back (a `503`, `Connection: close`, the end of an idle
/// connection) goes out before the listener is closed, so a client that reconnects is refused at
/// once rather than accepted into the backlog of a listener about to close (whose connections the
/// kernel resets). The [crate docs](crate#what-a-client-sees-at-the-close) say what a client sees
/// in each case. Requests are admitted (and refused with `503` once admissions close) by
/// [`ShutdownLayer`](crate::ShutdownLayer): put it on the service, made
/// [`for_server`](crate::ShutdownLayer::for_server) (the server keeps each request's guard until
/// its response is written; the body keeps its type). Long responses end at the close when wrapped
/// in [`EndOnShutdown`](crate::EndOnShutdown).
///
/// The drain waits for connections as it waits for requests: both are guards of the plan's
/// shutdown. A connection still open when the drain ends is named in the report
/// (`http connection from 127.0.0.1:50412: 1 request in flight`), next to its request.
///
/// # Examples
///
/// On smol (the same on tokio with `Server::new(&plan, TokioRuntime::new())`):
///
/// ```no_run
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{run_until_shutdown, smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use axum::{routing::get, Router};
/// use winddown::http::{Server, ShutdownLayer};
/// use winddown::smol::SmolRuntime;
/// use winddown::{Config, Plan, Shutdown};
///
/// # fn main() -> std::io::Result<()> {
/// smol::block_on(async {
///     let plan = Plan::new(Shutdown::new(), Config::default());
///     let app = Router::new()
///         .route("/", get(|| async { "hello" }))
///         .layer(ShutdownLayer::new(plan.shutdown()).name_requests(&plan).for_server());
///     let listener = smol::net::TcpListener::bind("127.0.0.1:8080").await?;
///     let server = Server::new(&plan, SmolRuntime::new()).serve(listener, app.into_make_service());
///     let report = winddown::run_until_shutdown(&plan, SmolRuntime::new(), server).await;
///     std::process::exit(report.exit_code().into())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct Server<R> {
    pub(super) plan: Plan,
    pub(super) runtime: HyperRuntime<R>,
    pub(super) builder: auto::Builder<HyperRuntime<R>>,
    pub(super) registry: Arc<Registry>,
    pub(super) options: Options,
}

impl<R> Server<R>
where
    R: Runtime + 'static,
{
    /// A server for `plan`, on `runtime`: it spawns connections (and HTTP/2 streams) with
    /// [`Runtime::spawn_detached`] and times with [`Runtime::sleep`].
    pub fn new(plan: &Plan, runtime: R) -> Self {
        let runtime = HyperRuntime::new(runtime);
        let mut builder = auto::Builder::new(runtime.clone());
        builder.http1().timer(runtime.clone());
        builder.http2().timer(runtime.clone());
        Server {
            plan: plan.clone(),
            runtime,
            builder,
            registry: Arc::new(Registry::default()),
            options: Options {
                first_byte_grace: DEFAULT_FIRST_BYTE_GRACE,
                keep_alive_grace: DEFAULT_KEEP_ALIVE_GRACE,
                handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
                websocket_close_timeout: DEFAULT_WEBSOCKET_CLOSE_TIMEOUT,
                upload_grace: Some(DEFAULT_UPLOAD_GRACE),
            },
        }
    }

    /// How long a connection accepted just before the close may still send its first byte
    /// (its request, or its TLS handshake and then its request) before the close ends it;
    /// one second unless set. `Duration::ZERO` turns it off.
    ///
    /// At the close, an idle connection is closed at once: for a keep-alive connection that
    /// is safe (a client retries a request that met a closed keep-alive connection), but a
    /// client that has just connected has not sent its request yet, or is in the middle of
    /// its TLS handshake, and an end of file there is an error it does not retry. So a
    /// connection that has not given HTTP a byte yet and was accepted less than the grace
    /// before the close is left open until the grace ends: its request, if it comes, is read
    /// and answered (`503` from the layer, with `Connection: close`); then it closes.
    ///
    /// Why a second: a client that connected as the listener closed sends its first bytes
    /// within a round trip or two (a TLS 1.2 handshake takes two before the request), under a
    /// second even across continents, and a silent connection (a browser's preconnect, a port
    /// scanner) then holds the drain no longer than that. Go's `Server.Shutdown` waits the
    /// same way for new connections, up to 5 s. Only connections accepted within the grace
    /// before the close wait: the close of a quiet server waits for nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{run_until_shutdown, smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use std::time::Duration;
    /// use winddown::http::Server;
    /// use winddown::smol::SmolRuntime;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let server = Server::new(&plan, SmolRuntime::new())
    ///     .first_byte_grace(Duration::from_millis(500));
    /// # let _ = server;
    /// ```
    pub fn first_byte_grace(mut self, grace: Duration) -> Self {
        self.options.first_byte_grace = grace;
        self
    }

    /// How long after its last response an idle HTTP/1 keep-alive connection stays open at the
    /// close, for a request its client may be sending already; a quarter of a second (250 ms)
    /// unless set. `Duration::ZERO` turns it off (and with it the one clock read per
    /// response that notes when the last one went out).
    ///
    /// At the close an idle keep-alive connection is closed at once. A client that sends its
    /// next request just then (a busy keep-alive client, one request right after the other)
    /// writes it into a connection the server has closed: it gets a reset, and most clients
    /// report an error rather than send it again (they cannot know it was not processed).
    /// With a grace, a connection whose last response went out less than the grace before
    /// the close stays open until the grace ends: such a request is read and answered (`503`,
    /// `Connection: close`), which a client knows it may send elsewhere. Connections idle for
    /// longer close at once, as before: the close of a quiet server waits for nothing.
    ///
    /// Why a quarter of a second: a client that keeps its connection busy sends its next
    /// request one round trip after the last response left, well under that on a local network
    /// or behind a load balancer, and across most of the internet; a connection that goes
    /// quiet instead holds the drain that much longer, no more. Measured (wrk's 50 keep-alive
    /// connections through a SIGTERM as `benches/http.sh`'s H5 runs them, 10 runs each way,
    /// alternating, on tokio and smol): without it, wrk's late requests were reset in 3 runs
    /// (24 read errors in all, 22 in one run); with it, in none, and every connection got its
    /// `503`; the drains took as long.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{run_until_shutdown, smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use std::time::Duration;
    /// use winddown::http::Server;
    /// use winddown::smol::SmolRuntime;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let server = Server::new(&plan, SmolRuntime::new()).keep_alive_grace(Duration::from_millis(100));
    /// # let _ = server;
    /// ```
    pub fn keep_alive_grace(mut self, grace: Duration) -> Self {
        self.options.keep_alive_grace = grace;
        self
    }

    /// How long after the close an HTTP/1 request's body may still arrive before the
    /// connection stops reading it; one second unless set. `None` turns it
    /// off: uploads then run until the drain deadline, like any request in flight.
    ///
    /// A request in flight at the close is work the server has taken on, and the drain waits for
    /// it. But while its body is still arriving, its pace is the client's: a slow or stalled upload
    /// (a phone on a bad network, a client trickling bytes on purpose) would hold the whole stop
    /// until the drain deadline, as an idle connection would without its end of file. So once the
    /// grace has passed after the close (or after such a request came, if it came later), bytes
    /// that still arrive for a request whose response has not started end the connection's reads:
    /// the read fails, hyper hands the handler an incomplete body (axum's `Bytes` extractor answers
    /// `400`; a handler reading the body itself sees the error), and the connection closes after
    /// the handler's answer, counted as
    /// [`ConnectionCounts::uploads_cut`](crate::ConnectionCounts::uploads_cut), not as drained. An
    /// upload that ends within the grace is read and answered as usual; a request whose body has
    /// all arrived is never cut by it, however long its handler takes (its client sends nothing
    /// while it waits).
    ///
    /// Why a second, as the [first-byte grace](Self::first_byte_grace): an upload that is
    /// nearly done when the close comes (the common case for a short request) finishes well
    /// within it, and one that would take longer holds the stop no more than that. The client
    /// of a cut upload gets a response it can act on (`400`, `Connection: close`), or a
    /// closed connection, and sends it again, elsewhere. Raise it for large uploads that are
    /// worth finishing (and a drain deadline that leaves room for them).
    ///
    /// # Caveats
    ///
    /// - HTTP/2 is not affected: its streams share the connection, and ending the socket's
    ///   reads would end them all. An HTTP/2 upload gets the GOAWAY and runs to the drain
    ///   deadline, where what is left is cut.
    /// - A stalled upload (its client sends nothing more) cannot be told, on the socket, from
    ///   a client whose body has all arrived and waits for its answer: it is not cut by the
    ///   grace, only at the drain deadline.
    /// - A request with a body whose handler answers before reading it all is not cut either:
    ///   from its response on, ending the reads would cut the response too; hyper reads or
    ///   discards the rest of the body, and closes the connection after the response.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{run_until_shutdown, smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use std::time::Duration;
    /// use winddown::http::Server;
    /// use winddown::smol::SmolRuntime;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// // Large uploads get five seconds to finish after the close.
    /// let server = Server::new(&plan, SmolRuntime::new()).upload_grace(Duration::from_secs(5));
    /// // Or none is ever cut before the drain deadline.
    /// let server = server.upload_grace(None);
    /// # let _ = server;
    /// ```
    pub fn upload_grace(mut self, grace: impl Into<Option<Duration>>) -> Self {
        self.options.upload_grace = grace.into();
        self
    }

    /// The longest a connection's [`Handshake`](super::Handshake) (TLS) may take before the
    /// connection is closed (a connection error, the peer's); ten seconds unless set. It keeps
    /// clients that stall their handshake from holding sockets forever; the close does not wait for
    /// it (see [`Handshake`](super::Handshake)).
    ///
    /// Why ten seconds: a TLS handshake takes two round trips at most, well under a second
    /// even across continents on a slow link; ten leaves room for a client on a congested
    /// mobile network (and for its retransmissions) while a stalled one holds its socket no
    /// longer than that.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{run_until_shutdown, smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use std::time::Duration;
    /// use winddown::http::Server;
    /// use winddown::smol::SmolRuntime;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let server = Server::new(&plan, SmolRuntime::new()).handshake_timeout(Duration::from_secs(5));
    /// # let _ = server;
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.options.handshake_timeout = timeout;
        self
    }

    /// How long a WebSocket's peer has to answer the server's Close (1001, going away) at the
    /// close before the connection is cut; five seconds unless set. The drain deadline bounds
    /// it too: what is still open then is cut with the rest.
    ///
    /// Why five seconds: a peer that reads answers within a round trip; one that does not answer in
    /// seconds will not, and five leave a peer behind a slow link (or a handler's frame still being
    /// written) its chance while holding the drain no longer than that. A WebSocket cut this way
    /// counts as cut
    /// ([`ConnectionCounts::websockets_cut`](crate::ConnectionCounts::websockets_cut)) and is named
    /// in the server's resource record.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{run_until_shutdown, smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use std::time::Duration;
    /// use winddown::http::Server;
    /// use winddown::smol::SmolRuntime;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let server =
    ///     Server::new(&plan, SmolRuntime::new()).websocket_close_timeout(Duration::from_secs(2));
    /// # let _ = server;
    /// ```
    pub fn websocket_close_timeout(mut self, timeout: Duration) -> Self {
        self.options.websocket_close_timeout = timeout;
        self
    }

    /// The connection counts, live: take it before [`serve`](Self::serve) consumes the
    /// server.
    pub fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            registry: self.registry.clone(),
        }
    }

    /// Serves `service` on `listener` until admissions close, then closes the listener and
    /// returns once every connection has ended (drained, closed, or cut).
    ///
    /// `listener` is any [`Listener`](super::Listener), or one with a
    /// [`Handshake`](super::Handshake) (TLS) from
    /// [`Listener::with_handshake`](super::Listener::with_handshake): each connection's handshake
    /// then runs in its own task.
    ///
    /// `service` is what `axum::serve` takes: a service for every request (a `Router`, any
    /// tower service: each connection gets a clone), or a factory called with each
    /// connection's peer address, such as axum's
    /// `router.into_make_service_with_connect_info::<SocketAddr>()` (its `ConnectInfo`
    /// extractor then finds the address); see [`ConnectionService`]. An axum `Router`
    /// served as a service builds each handler's route anew for every request, unless it was
    /// made with `with_state(())` (axum's "A note about performance"): pass
    /// `router.into_make_service()` (what `axum::serve` does with a `Router`), or
    /// `router.with_state(())`. With [`ShutdownLayer`](crate::ShutdownLayer) on a `Router`,
    /// see its docs for what `Router::layer` costs.
    ///
    /// It registers with the plan, if the shutdown has not been triggered yet: a namer for the
    /// connections still open when the drain ends, a note with the connection counts, a phase
    /// observer that cuts what is left once the drain has been recorded (at
    /// `ClosingResources`, or when forced), and a resource named `http ADDR` (priority 1000:
    /// above the default, 0, so that the connections are known closed before the resources
    /// they use close) that fails with the count when connections had to be cut
    /// (naming the WebSockets cut at their close timeout, before the drain's end).
    /// Without a run of the plan (or when `serve` came after the trigger) the server cuts by
    /// itself when the shutdown reaches `ClosingResources` or is forced.
    ///
    /// The registration happens when `serve` is called, not when the future is first polled.
    ///
    /// # Errors
    ///
    /// The listener's `local_addr` error, or the error of a connection factory's readiness
    /// (`poll_ready`). Accept errors are logged, counted and retried (see
    /// [`Listener::accept`](super::Listener::accept)).
    ///
    /// # Examples
    ///
    /// axum's `ConnectInfo`, on tokio:
    ///
    /// ```no_run
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{run_until_shutdown, smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use std::net::SocketAddr;
    /// use axum::extract::ConnectInfo;
    /// use axum::{routing::get, Router};
    /// use winddown::http::Server;
    /// use winddown::tokio::TokioRuntime;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let app = Router::new().route(
    ///     "/",
    ///     get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { format!("hello {peer}") }),
    /// );
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// Server::new(&plan, TokioRuntime::new())
    ///     .serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
    ///     .await
    /// # }
    /// ```
    pub fn serve<L, M, K>(
        self,
        listener: L,
        mut service: M,
    ) -> impl Future<Output = std::io::Result<()>> + Send
    where
        L: Listener,
        M: ConnectionService<K>,
    {
        // Registered now, not at the first poll: a plan run (or a trigger) that comes before
        // the future is first polled still sees the server.
        let addr = listener.local_addr();
        if let Ok(addr) = addr {
            self.register(addr);
        }
        async move {
            let addr = addr?;
            let ctx = self.into_ctx();
            let (runtime, shutdown, registry) = (&ctx.runtime, &ctx.shutdown, &ctx.registry);
            let mut close = shutdown.reached(Phase::StoppingNewRequests);
            let mut backoff = Backoff::new();
            let mut open = OpenListener {
                listener: Some(listener),
                state: Arc::new(ListenerState::default()),
            };
            while let Some(listener) = open.listener.as_mut() {
                let accepted = listener::next_connection(
                    &ctx,
                    listener,
                    addr,
                    &mut service,
                    &mut close,
                    &mut backoff,
                )
                .await?;
                let Some((conn, peer)) = accepted else { break };
                let Ok(guard) = shutdown.enter() else {
                    // Admissions closed between the accept and now: drop it (the client sees
                    // the connection close before it sent anything).
                    break;
                };
                let shared = Arc::new(ConnShared::new(
                    registry.next_id(),
                    peer,
                    shutdown.clone(),
                    open.state.clone(),
                    guard,
                    !ctx.options.keep_alive_grace.is_zero(),
                ));
                registry.add(shared.clone());
                // The handshake, if any, runs in the connection's task, not here.
                let task = conn::run::<R, L, _>(ctx.clone(), conn, shared, service.make(peer));
                runtime.runtime().spawn_detached(Box::pin(task));
            }
            // Close the listening socket now: new connects are refused by the kernel. Only then
            // do the connections start closing (see `ListenerState`): each connection's task
            // is woken to see it.
            drop(open);
            registry.wake_tasks();
            let mut cut_phase = shutdown.reached(Phase::ClosingResources);
            poll_fn(|cx| loop {
                if registry.poll_empty(cx).is_ready() {
                    return Poll::Ready(());
                }
                if registry.is_sequenced() || Pin::new(&mut cut_phase).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // No run of the plan cuts for the server (it never ran one, or the server
                // came after the trigger): past the drain, cut here.
                registry.cut_all();
            })
            .await;
            Ok(())
        }
    }

    /// What the connections of an accept loop share: the server's parts, and its plan's
    /// shutdown.
    pub(super) fn into_ctx(self) -> Arc<ConnCtx<R>> {
        let Server {
            plan,
            runtime,
            builder,
            registry,
            options,
        } = self;
        Arc::new(ConnCtx {
            builder,
            runtime,
            shutdown: plan.shutdown().clone(),
            registry,
            options,
        })
    }

    /// Registers the server's namer, note, observer and resource with the plan.
    fn register(&self, addr: SocketAddr) {
        let registry = self.registry.clone();
        self.plan
            .name_in_flight(move |names| registry.name_into(names));
        let stats = self.stats();
        self.plan
            .note(move |notes| notes.push(format!("http {addr} {}", stats.snapshot())));
        // The cut comes from the sequence itself, right after it has recorded the drain (its
        // count and names): at `ClosingResources`, or when it is forced. Cutting on the phase
        // alone would race the sequence (a second signal moves the phase to `Forced` from the
        // signal thread) and let the report count the cut connections as drained.
        let registry = self.registry.clone();
        self.plan.on_phase(move |phase, _| match phase {
            Phase::Initiated => registry.set_sequenced(),
            Phase::ClosingResources | Phase::Forced => registry.cut_all(),
            _ => {}
        });
        let registry = self.registry.clone();
        let resource = Resource::new(format!("http {addr}"), move || async move {
            poll_fn(|cx| registry.poll_empty(cx)).await;
            match registry.cut_message() {
                None => Ok(()),
                Some(message) => Err(message.into()),
            }
        })
        .priority(RESOURCE_PRIORITY);
        // Refused only once triggered: then the server serves without its resource record.
        let _ = self.plan.register(resource);
    }
}
