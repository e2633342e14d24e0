//! The draining server: hyper 1 / hyper-util's auto (HTTP/1 and HTTP/2) connections on any
//! winddown [`Runtime`], accepted until admissions close, closed or drained after, cut at the
//! drain deadline. The table of what a client sees at the close, connection by connection, is
//! in the [crate docs](crate#what-a-client-sees-at-the-close).

mod admin;
mod conn;
mod connections;
mod events;
mod futures_io;
mod io;
mod listener;
mod rt;
mod service;

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use hyper_util::server::conn::auto;
use winddown_core::runtime::Runtime;
use winddown_core::{Phase, Plan, Resource};

pub use connections::{ConnectionCounts, ConnectionStats};
pub use futures_io::FuturesIo;
pub use listener::{bytes_waiting_in, Listener};
pub use rt::HyperRuntime;
pub use service::{ConnectionService, HttpService, MakeFuture, PerConnection, Shared};

use conn::ConnCtx;
use connections::{ConnShared, ListenerState, Registry};
use io::ConnIo;
use listener::Backoff;

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

/// Priority of the server's resource in the plan (see [`Server::serve`]): above the default
/// (0), so connections are known closed before the resources they use close.
pub const RESOURCE_PRIORITY: i32 = 1000;

/// An HTTP/1 and HTTP/2 server that takes part in a [`Plan`]'s shutdown, on any winddown
/// [`Runtime`] (tokio's, smol's, async-std's: [`tokio::server`](crate::tokio::server),
/// [`smol::server`](crate::smol::server), [`async_std::server`](crate::async_std::server)).
///
/// What it does through the shutdown sequence:
///
/// | phase | listener | connections |
/// |---|---|---|
/// | running, and the `pre_stop` delay | accepts | served as usual; each holds a guard while its socket is open |
/// | admissions close | stops accepting and closes the socket: new connects are refused by the kernel | idle HTTP/1 connections (keep-alive, never a byte, half a request head) end, after what already arrived in their socket is answered; requests in flight finish, answered with `Connection: close` (HTTP/1); every HTTP/2 connection gets GOAWAY and its open streams finish; upgraded connections are their handlers' |
/// | drain deadline, or forced | | what is left is cut (after the report has counted and named it): every read and write on it fails, and it counts as gone at once |
///
/// Nothing that tells a client to come back (a `503`, `Connection: close`, the end of an idle
/// connection) goes out before the listener is closed, so a client that reconnects is refused
/// at once rather than accepted into the backlog of a listener about to close (whose
/// connections the kernel resets). The [crate docs](crate#what-a-client-sees-at-the-close)
/// say what a client sees in each case. Requests are admitted (and refused with `503` once admissions close) by
/// [`ShutdownLayer`](crate::ShutdownLayer): put it on the service, made
/// [`for_server`](crate::ShutdownLayer::for_server) (the server keeps each request's guard
/// until its response is written; the body keeps its type). Long responses end at the
/// close when wrapped in [`EndOnShutdown`](crate::EndOnShutdown).
///
/// The drain waits for connections as it waits for requests: both are guards of the plan's
/// shutdown. A connection still open when the drain ends is named in the report
/// (`http connection from 127.0.0.1:50412: 1 request in flight`), next to its request.
///
/// # Examples
///
/// On smol (the same on tokio with [`tokio::server`](crate::tokio::server)):
///
/// ```no_run
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
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
///     let report = winddown::smol::run_until_shutdown(&plan, server).await;
///     std::process::exit(report.exit_code())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct Server<R> {
    plan: Plan,
    runtime: HyperRuntime<R>,
    builder: auto::Builder<HyperRuntime<R>>,
    registry: Arc<Registry>,
}

impl<R> Server<R>
where
    R: Runtime + 'static,
    R::Sleep: 'static,
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
        }
    }

    /// hyper-util's connection builder, to tune HTTP/1 and HTTP/2 (keep-alive, header read
    /// timeout, HTTP/2 limits). Its timer and executor are set already.
    pub fn builder_mut(&mut self) -> &mut auto::Builder<HyperRuntime<R>> {
        &mut self.builder
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
    /// `ClosingResources`, or when forced), and a resource named `http ADDR` (priority
    /// [`RESOURCE_PRIORITY`]) that fails with the count when connections had to be cut.
    /// Without a run of the plan (or when `serve` came after the trigger) the server cuts by
    /// itself when the shutdown reaches `ClosingResources` or is forced.
    ///
    /// The registration happens when `serve` is called, not when the future is first polled.
    ///
    /// # Errors
    ///
    /// The listener's `local_addr` error, or the error of a connection factory's readiness
    /// (`poll_ready`). Accept errors are logged, counted and retried (see
    /// [`Listener::accept`]).
    ///
    /// # Examples
    ///
    /// axum's `ConnectInfo`, on tokio:
    ///
    /// ```no_run
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use std::net::SocketAddr;
    /// use axum::extract::ConnectInfo;
    /// use axum::{routing::get, Router};
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let app = Router::new().route(
    ///     "/",
    ///     get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { format!("hello {peer}") }),
    /// );
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// winddown::http::tokio::server(&plan)
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
            let Server {
                plan,
                runtime,
                builder,
                registry,
            } = self;
            let shutdown = plan.shutdown().clone();
            let ctx = Arc::new(ConnCtx {
                builder,
                shutdown: shutdown.clone(),
                registry: registry.clone(),
            });
            let mut close = shutdown.reached(Phase::StoppingNewRequests);
            let mut backoff = Backoff::new();
            let mut open = OpenListener {
                listener: Some(listener),
                state: Arc::new(ListenerState::default()),
            };
            while let Some(listener) = open.listener.as_mut() {
                let ready = poll_fn(|cx| {
                    if Pin::new(&mut close).poll(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                    service.poll_ready(cx).map(Some)
                })
                .await;
                match ready {
                    None => break,
                    Some(Ok(())) => {}
                    Some(Err(err)) => return Err(std::io::Error::other(err)),
                }
                let accepted = listener::accept(
                    listener,
                    addr,
                    &mut close,
                    &mut backoff,
                    |wait| runtime.runtime().sleep(wait),
                    || registry.count_accept_error(),
                )
                .await;
                let Some((io, peer)) = accepted else { break };
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
                ));
                registry.add(shared.clone());
                let io = ConnIo::new(io, shared.clone(), registry.clone(), L::bytes_waiting);
                let task = conn::run(ctx.clone(), io, shared, service.make(peer));
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
            match registry.cut_count() {
                0 => Ok(()),
                1 => Err("cut 1 connection at the drain deadline".to_owned()),
                n => Err(format!("cut {n} connections at the drain deadline")),
            }
        })
        .priority(RESOURCE_PRIORITY);
        // Refused only once triggered: then the server serves without its resource record.
        let _ = self.plan.register(resource);
    }
}
