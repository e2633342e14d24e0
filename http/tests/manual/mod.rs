//! Hand-driven tasks, in-memory sockets and a listener that fails, for the ordered tests.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use winddown_core::runtime::{BoxFuture, Runtime, TaskOutcome};
use winddown_core::testing::VirtualRuntime;
use winddown_core::{Plan, Report, Shutdown};
use winddown_http::server::Listener;
use winddown_http::Server;

/// A waker that does nothing: every task is polled in every round anyway.
fn noop_waker() -> Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Noop))
}

/// In which order a round polls the tasks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Order {
    /// In the order they were spawned: the server, the sequence, then each connection.
    Spawned,
    /// The connections' tasks (and whatever else the server spawned) first, then the server's
    /// accept loop, then the sequence.
    ConnectionsFirst,
    /// The sequence first, then the server's accept loop, then the connections.
    SequenceFirst,
}

/// Tasks polled by hand, round by round, with a waker that does nothing: every task is
/// polled in every round, so a missed wake-up cannot hide, and nothing runs between rounds.
#[derive(Clone, Default)]
pub(crate) struct Tasks {
    inner: Arc<Mutex<TaskList>>,
}

#[derive(Default)]
struct TaskList {
    /// The server's accept loop.
    server: Option<BoxFuture<()>>,
    /// The plan's sequence.
    sequence: Option<BoxFuture<()>>,
    /// What the server spawned: connections (and HTTP/2 streams).
    spawned: Vec<Option<BoxFuture<()>>>,
}

/// What a plan's run left: the report once it ended.
#[derive(Clone, Default)]
pub(crate) struct ReportSlot(Arc<Mutex<Option<Report>>>);

impl ReportSlot {
    pub(crate) fn take(&self) -> Option<Report> {
        self.0.lock().unwrap().take()
    }
}

const ROUNDS: usize = 64;

impl Tasks {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn push(&self, task: BoxFuture<()>) {
        self.inner.lock().unwrap().spawned.push(Some(task));
    }

    /// Runs the plan's sequence (on [`Manual`]) as the sequence task.
    pub(crate) fn run_plan(&self, plan: &Plan) -> ReportSlot {
        let slot = ReportSlot::default();
        let (plan, out, runtime) = (plan.clone(), slot.clone(), Manual(self.clone()));
        self.inner.lock().unwrap().sequence = Some(Box::pin(async move {
            let report = plan.run(runtime).await;
            *out.0.lock().unwrap() = Some(report);
        }));
        slot
    }

    /// Serves `app` on `listener` as the server task.
    pub(crate) fn spawn_server(&self, plan: &Plan, listener: MemListener, app: Router) {
        let server = Server::new(plan, Manual(self.clone()));
        let served = server.serve(listener, app);
        self.inner.lock().unwrap().server = Some(Box::pin(async move {
            let _ = served.await;
        }));
    }

    /// Polls every task once per round, in `order`, for a fixed number of rounds (more than
    /// any scenario here needs to settle).
    pub(crate) fn run(&self, order: Order) {
        for _ in 0..ROUNDS {
            self.round(order);
        }
    }

    fn round(&self, order: Order) {
        let spawned = self.inner.lock().unwrap().spawned.len();
        let connections = (0..spawned).map(Slot::Spawned);
        let slots: Vec<Slot> = match order {
            Order::Spawned => [Slot::Server, Slot::Sequence]
                .into_iter()
                .chain(connections)
                .collect(),
            Order::ConnectionsFirst => connections.chain([Slot::Server, Slot::Sequence]).collect(),
            Order::SequenceFirst => [Slot::Sequence, Slot::Server]
                .into_iter()
                .chain(connections)
                .collect(),
        };
        for slot in slots {
            self.poll(slot);
        }
    }

    fn poll(&self, slot: Slot) {
        // Taken out while it runs: it may spawn (and so lock the list).
        let task = {
            let mut list = self.inner.lock().unwrap();
            match slot {
                Slot::Server => list.server.take(),
                Slot::Sequence => list.sequence.take(),
                Slot::Spawned(i) => list.spawned[i].take(),
            }
        };
        let Some(mut task) = task else { return };
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        if task.as_mut().poll(&mut cx).is_pending() {
            let mut list = self.inner.lock().unwrap();
            match slot {
                Slot::Server => list.server = Some(task),
                Slot::Sequence => list.sequence = Some(task),
                Slot::Spawned(i) => list.spawned[i] = Some(task),
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Server,
    Sequence,
    Spawned(usize),
}

/// The runtime of the hand-driven tasks: spawning adds a task to the list, and no timer ever
/// fires (the scenarios end by a force, never by a deadline).
#[derive(Clone)]
pub(crate) struct Manual(Tasks);

impl Runtime for Manual {
    fn now(&self) -> Duration {
        Duration::ZERO
    }

    fn sleep(&self, _duration: Duration) -> BoxFuture<()> {
        Box::pin(std::future::pending())
    }

    fn spawn(&self, task: BoxFuture<()>) -> BoxFuture<TaskOutcome> {
        let done = Arc::new(Mutex::new(false));
        let flag = done.clone();
        self.0.push(Box::pin(async move {
            task.await;
            *flag.lock().unwrap() = true;
        }));
        Box::pin(std::future::poll_fn(move |_| {
            if *done.lock().unwrap() {
                Poll::Ready(TaskOutcome::Finished)
            } else {
                Poll::Pending
            }
        }))
    }

    fn spawn_detached(&self, task: BoxFuture<()>) {
        self.0.push(task);
    }
}

/// A listener over in-memory connections, made by its [`Connector`].
pub(crate) struct MemListener {
    shared: Arc<MemShared>,
}

/// What a [`MemListener`] shares with its [`Connector`].
#[derive(Default)]
struct MemShared {
    queue: Mutex<VecDeque<DuplexStream>>,
    next_port: AtomicUsize,
    /// Set when the listener is dropped (closed).
    closed: AtomicBool,
    /// The shutdown whose close the sockets watch, and what they saw: a write after
    /// admissions closed while the listener was still open.
    shutdown: Mutex<Option<Shutdown>>,
    early_writes: AtomicUsize,
}

/// Makes connections to a [`MemListener`], and tells whether it is closed.
#[derive(Clone)]
pub(crate) struct Connector {
    shared: Arc<MemShared>,
}

/// A listener and its connector.
pub(crate) fn mem_listener() -> (MemListener, Connector) {
    let shared = Arc::new(MemShared::default());
    (
        MemListener {
            shared: shared.clone(),
        },
        Connector { shared },
    )
}

impl Drop for MemListener {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
    }
}

impl Connector {
    /// A new connection: the client's end.
    pub(crate) fn connect(&self) -> MemClient {
        let (client, server) = tokio::io::duplex(1 << 20);
        self.shared.queue.lock().unwrap().push_back(server);
        MemClient(client)
    }

    /// From now on, the server's sockets count the writes they make once `shutdown`'s
    /// admissions have closed and while the listener is still open.
    pub(crate) fn watch(&self, shutdown: &Shutdown) {
        *self.shared.shutdown.lock().unwrap() = Some(shutdown.clone());
    }

    /// Writes made after admissions closed while the listener was still open.
    pub(crate) fn early_writes(&self) -> usize {
        self.shared.early_writes.load(Ordering::SeqCst)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }
}

impl Listener for MemListener {
    type Io = Watched;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        std::future::poll_fn(|_| match self.shared.queue.lock().unwrap().pop_front() {
            Some(io) => {
                let port = 40000 + self.shared.next_port.fetch_add(1, Ordering::SeqCst) as u16;
                let io = Watched {
                    inner: TokioIo::new(io),
                    shared: self.shared.clone(),
                };
                Poll::Ready(Ok((io, SocketAddr::from(([127, 0, 0, 1], port)))))
            }
            None => Poll::Pending,
        })
        .await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 8080)))
    }
}

/// The server's end of an in-memory connection, watching its writes (see
/// [`Connector::watch`]).
pub(crate) struct Watched {
    inner: TokioIo<DuplexStream>,
    shared: Arc<MemShared>,
}

impl hyper::rt::Read for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let closed = self
            .shared
            .shutdown
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|shutdown| shutdown.phase().admissions_closed());
        if closed && !self.shared.closed.load(Ordering::SeqCst) {
            self.shared.early_writes.fetch_add(1, Ordering::SeqCst);
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The client's end of an in-memory connection, written and read without waiting.
pub(crate) struct MemClient(DuplexStream);

impl MemClient {
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        match Pin::new(&mut self.0).poll_write(&mut cx, bytes) {
            Poll::Ready(Ok(n)) => assert_eq!(n, bytes.len()),
            other => panic!("write: {other:?}"),
        }
    }

    /// What has arrived, up to the end of the stream (if it came).
    pub(crate) fn read_to_end(&mut self) -> Vec<u8> {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut seen = Vec::new();
        loop {
            let mut storage = [0u8; 4096];
            let mut buf = ReadBuf::new(&mut storage);
            match Pin::new(&mut self.0).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return seen,
                Poll::Ready(Ok(())) => seen.extend_from_slice(buf.filled()),
                Poll::Ready(Err(_)) | Poll::Pending => return seen,
            }
        }
    }
}

/// A listener on 127.0.0.1:`port` whose every accept fails with `error()`, after yielding
/// once.
pub(crate) struct FailingListener {
    pub(crate) accepts: Arc<AtomicUsize>,
    pub(crate) error: fn() -> io::Error,
    pub(crate) port: u16,
}

impl Listener for FailingListener {
    type Io = TokioIo<DuplexStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        futures_lite::future::yield_now().await;
        self.accepts.fetch_add(1, Ordering::SeqCst);
        Err((self.error)())
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(([127, 0, 0, 1], self.port)))
    }
}

/// A server on the virtual-clock runtime.
pub(crate) fn virtual_server(runtime: &VirtualRuntime, plan: &Plan) -> Server<VirtualRuntime> {
    Server::new(plan, runtime.clone())
}
