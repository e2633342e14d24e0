//! The draining server: hyper 1 / hyper-util's auto (HTTP/1 and HTTP/2) connections, accepted
//! until admissions close, closed or drained after, cut at the drain deadline.

mod conn;
mod connections;

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper::rt::{Read, Timer, Write};
use hyper_util::server::conn::auto;
use tower_service::Service;
use winddown_core::{Phase, Plan, Resource};

pub use connections::{ConnectionCounts, ConnectionStats};

pub use conn::{CountedBody, RequestFuture};

use conn::{ConnIo, ConnService};
use connections::{ConnShared, Registry};

/// Priority of the server's resource in the plan (see [`Server::serve`]): above the default
/// (0), so connections are known closed before the resources they use close.
pub const RESOURCE_PRIORITY: i32 = 1000;

/// A listening socket the server accepts connections from. Implemented for tokio's and smol's
/// `TcpListener` (features `tokio`, `smol`); implement it for other sockets (Unix sockets,
/// TLS acceptors).
///
/// # Examples
///
/// A listener that hands out connections from a channel:
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use std::io;
/// use std::net::SocketAddr;
/// use winddown::http::server::Listener;
///
/// struct Channel<I> {
///     incoming: std::sync::mpsc::Receiver<(I, SocketAddr)>,
///     addr: SocketAddr,
/// }
///
/// impl<I> Listener for Channel<I>
/// where
///     I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
/// {
///     type Io = I;
///
///     async fn accept(&mut self) -> io::Result<(I, SocketAddr)> {
///         self.incoming.recv().map_err(|_| io::ErrorKind::BrokenPipe.into())
///     }
///
///     fn local_addr(&self) -> io::Result<SocketAddr> {
///         Ok(self.addr)
///     }
/// }
/// ```
pub trait Listener: Send + 'static {
    /// A connection's socket.
    type Io: Read + Write + Unpin + Send + 'static;

    /// The next connection and its peer's address.
    ///
    /// # Errors
    ///
    /// An accept error; the server waits 10 ms and accepts again.
    ///
    /// # Cancel safety
    ///
    /// Must be cancel-safe: the server drops it when admissions close.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;

    /// The address it listens on.
    ///
    /// # Errors
    ///
    /// As the socket's `local_addr`.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// An HTTP/1 and HTTP/2 server that takes part in a [`Plan`]'s shutdown. Generic over hyper's
/// runtime traits: the executor `E` (spawns connections and HTTP/2 streams) and the timer `T`;
/// [`tokio::server`](crate::tokio::server) and [`smol::server`](crate::smol::server) build one
/// for those runtimes.
///
/// What it does through the shutdown sequence:
///
/// | phase | listener | connections |
/// |---|---|---|
/// | running, and the `pre_stop` delay | accepts | served as usual; each holds a guard while its socket is open |
/// | admissions close | stops accepting and closes the socket: new connects are refused by the kernel | hyper's graceful shutdown: idle keep-alive connections, connections that never sent a byte and connections holding half a request head close at once; a request in flight finishes, answered with `Connection: close` (HTTP/1); HTTP/2 gets GOAWAY and its open streams finish |
/// | drain deadline (or forced) | | what is left is cut; the report names it |
///
/// Requests are admitted (and refused with `503` once admissions close) by
/// [`ShutdownLayer`](crate::ShutdownLayer): put it on the service. Long responses end at the
/// close when wrapped in [`EndOnShutdown`](crate::EndOnShutdown).
///
/// The drain waits for connections as it waits for requests: both are guards of the plan's
/// shutdown. A connection still open when the drain ends is named in the report
/// (`http connection from 127.0.0.1:50412: 1 request in flight`), next to its request.
#[derive(Debug)]
pub struct Server<E, T> {
    plan: Plan,
    builder: auto::Builder<E>,
    timer: T,
    executor: E,
    registry: Arc<Registry>,
}

impl<E, T> Server<E, T>
where
    E: Clone + Send + Sync + 'static,
    T: Timer + Clone + Send + Sync + 'static,
{
    /// A server for `plan`, spawning with `executor` and timing with `timer`.
    pub fn new(plan: &Plan, executor: E, timer: T) -> Self {
        let mut builder = auto::Builder::new(executor.clone());
        builder.http1().timer(timer.clone());
        builder.http2().timer(timer.clone());
        Server {
            plan: plan.clone(),
            builder,
            timer,
            executor,
            registry: Arc::new(Registry::default()),
        }
    }

    /// hyper-util's connection builder, to tune HTTP/1 and HTTP/2 (keep-alive, header read
    /// timeout, HTTP/2 limits). Its timer and executor are set already.
    pub fn builder_mut(&mut self) -> &mut auto::Builder<E> {
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
    /// returns once every connection has ended (drained, closed, or cut at the drain
    /// deadline).
    ///
    /// It registers with the plan, if the shutdown has not been triggered yet: a namer for the
    /// connections still open when the drain ends, and a resource named `http ADDR`
    /// (priority [`RESOURCE_PRIORITY`]) that waits for the last connection to go, failing
    /// with the count when connections had to be cut.
    ///
    /// The registration happens when `serve` is called, not when the future is first polled.
    ///
    /// # Errors
    ///
    /// The listener's `local_addr` error. Accept errors are retried.
    pub fn serve<L, S, B>(
        self,
        mut listener: L,
        service: S,
    ) -> impl Future<Output = io::Result<()>> + Send
    where
        L: Listener,
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        E: hyper::rt::bounds::Http2ServerConnExec<
                RequestFuture<S, Request<Incoming>>,
                CountedBody<B>,
            > + hyper::rt::Executor<Pin<Box<dyn Future<Output = ()> + Send>>>,
    {
        // Registered now, not at the first poll: a plan run (or a trigger) that comes before
        // the future is first polled still sees the server.
        let addr = listener.local_addr();
        if let Ok(addr) = addr {
            self.register(addr);
        }
        async move {
            addr?;
            let shutdown = self.plan.shutdown().clone();
            let builder = Arc::new(self.builder);
            let mut close = shutdown.reached(Phase::StoppingNewRequests);
            loop {
                let accepted = {
                    let mut accept = std::pin::pin!(listener.accept());
                    poll_fn(|cx| {
                        if Pin::new(&mut close).poll(cx).is_ready() {
                            return Poll::Ready(None);
                        }
                        accept.as_mut().poll(cx).map(Some)
                    })
                    .await
                };
                let (io, peer) = match accepted {
                    None => break,
                    Some(Ok(accepted)) => accepted,
                    Some(Err(_)) => {
                        // Out of file descriptors, or a connection reset before it was accepted:
                        // wait a moment rather than spin.
                        self.timer.sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let Ok(guard) = shutdown.enter() else {
                    // Admissions closed between the accept and now: drop it (the client sees the
                    // connection close before it sent anything).
                    break;
                };
                let shared = Arc::new(ConnShared::new(peer, shutdown.clone()));
                let id = self.registry.add(shared.clone());
                let io = ConnIo::new(io, shared.clone(), self.registry.clone(), id, guard);
                let service = ConnService::new(service.clone(), shared.clone());
                let task = conn::run(builder.clone(), io, service, shutdown.clone(), shared);
                hyper::rt::Executor::execute(&self.executor, Box::pin(task) as Pin<Box<_>>);
            }
            // Close the listening socket now: new connects are refused by the kernel.
            drop(listener);
            poll_fn(|cx| self.registry.poll_empty(cx)).await;
            Ok(())
        }
    }

    fn register(&self, addr: SocketAddr) {
        let registry = self.registry.clone();
        self.plan
            .name_in_flight(move |names| registry.name_into(names));
        let stats = self.stats();
        self.plan
            .note(move |notes| notes.push(format!("http {addr} {}", stats.snapshot())));
        let registry = self.registry.clone();
        let resource = Resource::new(format!("http {addr}"), move || async move {
            poll_fn(|cx| registry.poll_empty(cx)).await;
            match registry.cut_count() {
                0 => Ok(()),
                1 => Err("cut 1 connection at the drain deadline".into()),
                n => Err(format!("cut {n} connections at the drain deadline").into()),
            }
        })
        .priority(RESOURCE_PRIORITY);
        // Refused only once triggered: then the server serves without its resource record.
        let _ = self.plan.register(resource);
    }
}
