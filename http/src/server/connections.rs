//! The server's live connections: what each one shares between its task, its socket and its
//! responses, the registry the report's namer reads, the counts, the cut, and the wait for
//! the last connection to go.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use winddown_core::{Guard, Shutdown};

use crate::layer::Admission;

/// Whether the server's listening socket is closed yet, and who waits for it to be.
///
/// At the close, nothing a client could take as "come back on a new connection" (a `503`, a
/// response with `Connection: close`, the end of an idle connection) goes out before the
/// listener is closed: a client that reconnects then is refused by the kernel, instead of
/// landing in the backlog of a listener about to close, whose connections the kernel resets.
#[derive(Debug, Default)]
pub(crate) struct ListenerState {
    closed: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}

impl ListenerState {
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        // SeqCst: written, then the waiters taken under their lock; a waiter reads it under
        // the same lock before it parks (no lost wake-up), and outside it as a fast path.
        self.closed.load(Ordering::SeqCst)
    }

    /// The listener has been dropped.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let waiters = std::mem::take(&mut *lock(&self.waiters));
        waiters.into_iter().for_each(Waker::wake);
    }

    /// Ready once the listener is closed.
    pub(crate) fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_closed() {
            return Poll::Ready(());
        }
        let mut waiters = lock(&self.waiters);
        if self.is_closed() {
            return Poll::Ready(());
        }
        // Each task parks here about once (after the close, until the accept loop drops the
        // listener): no search for a waker already in the list.
        waiters.push(cx.waker().clone());
        Poll::Pending
    }
}

/// What one connection shares between its task, its socket ([`ConnIo`](super::io::ConnIo))
/// and its requests' bodies.
///
/// # Orderings
///
/// Every atomic here is a per-connection word (no other connection touches it), so `SeqCst`
/// costs nothing measurable (the per-request path only reads and read-modify-writes, which
/// cost the same in any ordering on x86), and it keeps the handshakes simple. The one that
/// matters: a request or response that leaves ([`response_ended`](Self::response_ended),
/// [`flushed`](Self::flushed)) and the socket parking its read while closing
/// ([`park_reader`](Self::park_reader) then [`may_end`](Self::may_end)) each write their word,
/// then read the other's, so at least one of them sees the other: no lost wake-up.
#[derive(Debug)]
pub(crate) struct ConnShared {
    pub(crate) id: u64,
    pub(crate) peer: SocketAddr,
    /// The server's shutdown: a response that ends tells by it whether admissions had closed.
    pub(crate) shutdown: Shutdown,
    /// The server's listener, closed or not.
    pub(crate) listener: Arc<ListenerState>,
    /// The connection's admission: released when its socket goes, or at the cut.
    guard: Mutex<Option<Guard>>,
    /// The requests and responses on the connection, three counts in one word (see
    /// [`Traffic`]): each step of a request is one read-modify-write.
    traffic: AtomicU64,
    /// The layer's admissions the responses being written hold (their count is in `traffic`:
    /// a connection served without the layer never takes the lock).
    held: Mutex<Held>,
    /// Set when admissions have closed and the listener is closed, and the connection's task
    /// saw both.
    closing: AtomicBool,
    /// Whether a request or response was busy when admissions closed: set by
    /// `start_closing`, or by a response that ends after the close but before the
    /// connection's task got to it. Only ever set.
    busy_at_close: AtomicBool,
    /// Set when the connection's first bytes were the HTTP/2 preface.
    http2: AtomicBool,
    /// Set when the HTTP connection ended with the socket still alive (an upgrade).
    upgraded: AtomicBool,
    /// Set at the cut.
    cut: AtomicBool,
    /// Set when the socket has been dropped.
    gone: AtomicBool,
    /// `METHOD target` of the last request hyper could upgrade the connection for, to name
    /// an upgraded connection by.
    upgrade_request: Mutex<Option<String>>,
    /// Set from such a request until its response turned out not to switch protocols: the
    /// socket may be about to belong to an upgrade's handler, so its reads must not end it.
    may_upgrade: AtomicBool,
    /// Whoever waits to read the socket: hyper, or an upgrade's handler. Woken by the cut, and
    /// (while closing) by the last request or response to leave.
    reader: Mutex<Option<Waker>>,
    /// Whoever waits to write or flush the socket: woken by the cut.
    writer: Mutex<Option<Waker>>,
    /// The connection's task, parked once admissions closed: woken by the cut and when the
    /// socket goes.
    task: Mutex<Option<Waker>>,
}

/// The three counts of [`ConnShared::traffic`], `COUNT_BITS` bits each (a count is bounded
/// by the requests one connection has at once, and the responses that end between two
/// completed flushes of its socket: hyper allows 200 HTTP/2 streams at once by default, and
/// h2 buffers a few hundred KiB at most; a count that overflowed would spill into the next
/// one, which the next completed flush sets right again):
///
/// - **requests**: from the service call until hyper drops the response body;
/// - **writing**: responses whose body hyper has dropped, not yet written out: until the next
///   flush of the socket that completes;
/// - **held**: of those, the ones holding the layer's admission (in [`Held`]).
///
/// A request moves from the first to the second with one add (the `requests` count of a
/// request that ends is at least one, so subtracting it borrows nothing from the next count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Traffic(u64);

const COUNT_BITS: u32 = 21;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const ONE_REQUEST: u64 = 1;
const ONE_WRITING: u64 = 1 << COUNT_BITS;
const ONE_HELD: u64 = 1 << (2 * COUNT_BITS);
/// The `requests` count alone: what a completed flush leaves.
const REQUESTS: u64 = COUNT_MASK;

impl Traffic {
    #[inline]
    pub(crate) fn requests(self) -> u64 {
        self.0 & COUNT_MASK
    }

    #[inline]
    pub(crate) fn writing(self) -> u64 {
        (self.0 >> COUNT_BITS) & COUNT_MASK
    }

    #[inline]
    fn held(self) -> u64 {
        (self.0 >> (2 * COUNT_BITS)) & COUNT_MASK
    }

    /// Nothing in flight and nothing being written.
    #[inline]
    pub(crate) fn is_quiet(self) -> bool {
        self.0 & (COUNT_MASK | COUNT_MASK << COUNT_BITS) == 0
    }
}

/// What responses being written hold: the layer's admissions, handed over when their
/// responses left the layer (see [`crate::layer::handoff`]), released once the bytes are out.
#[derive(Debug, Default)]
struct Held {
    /// The one admission an HTTP/1 connection holds at a time, without an allocation.
    first: Option<Admission>,
    /// More, on HTTP/2.
    more: Vec<Admission>,
}

impl ConnShared {
    pub(crate) fn new(
        id: u64,
        peer: SocketAddr,
        shutdown: Shutdown,
        listener: Arc<ListenerState>,
        guard: Guard,
    ) -> Self {
        ConnShared {
            id,
            peer,
            shutdown,
            listener,
            guard: Mutex::new(Some(guard)),
            traffic: AtomicU64::new(0),
            held: Mutex::new(Held::default()),
            closing: AtomicBool::new(false),
            busy_at_close: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            upgraded: AtomicBool::new(false),
            cut: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            upgrade_request: Mutex::new(None),
            may_upgrade: AtomicBool::new(false),
            reader: Mutex::new(None),
            writer: Mutex::new(None),
            task: Mutex::new(None),
        }
    }

    // ----- requests and responses -----

    pub(crate) fn request_started(&self) {
        self.traffic.fetch_add(ONE_REQUEST, Ordering::SeqCst);
    }

    /// Remembers the request hyper may upgrade the connection for.
    pub(crate) fn upgrade_requested(&self, name: String) {
        *lock(&self.upgrade_request) = Some(name);
        self.may_upgrade.store(true, Ordering::SeqCst);
    }

    /// The response to that request does not switch protocols.
    pub(crate) fn upgrade_declined(&self) {
        self.may_upgrade.store(false, Ordering::SeqCst);
    }

    #[inline]
    pub(crate) fn may_upgrade(&self) -> bool {
        self.may_upgrade.load(Ordering::SeqCst)
    }

    /// A response's body was dropped (at its end, or early): it is being written until the
    /// next completed flush, holding `admission` (the layer's, if it handed it over).
    pub(crate) fn response_ended(&self, admission: Option<Admission>) {
        // A response that ends once admissions have closed was busy at the close, even if the
        // connection's task has not seen the close yet (a body ending at the close, an SSE
        // stream, may run first): the connection drained.
        if self.shutdown.is_closed() {
            self.busy_at_close.store(true, Ordering::SeqCst);
        }
        // Counted as being written in the same step as it stops counting as a request:
        // whoever reads the counts (`may_end`) never sees the response in neither.
        let mut step = ONE_WRITING.wrapping_sub(ONE_REQUEST);
        if let Some(admission) = admission {
            push(&mut lock(&self.held), admission);
            step = step.wrapping_add(ONE_HELD);
        }
        self.traffic.fetch_add(step, Ordering::SeqCst);
    }

    /// A flush of the socket completed: hyper's buffer is empty and the socket took every
    /// byte, so the responses that ended before it are written.
    pub(crate) fn flushed(&self) {
        if self.traffic().writing() == 0 {
            return;
        }
        self.release_held();
        if self.is_closing() {
            wake(&self.reader);
        }
    }

    /// The responses being written are done with (written, or the socket went): their count
    /// goes to zero and what they hold is released. On HTTP/2 a stream's response that ends
    /// on another thread meanwhile may be released with them, one flush early.
    fn release_held(&self) {
        let before = Traffic(self.traffic.fetch_and(REQUESTS, Ordering::SeqCst));
        if before.held() == 0 {
            return;
        }
        let (first, more) = {
            let mut held = lock(&self.held);
            (held.first.take(), std::mem::take(&mut held.more))
        };
        // Released outside the lock: a guard's release may wake the drain's waiters.
        drop((first, more));
    }

    #[inline]
    pub(crate) fn traffic(&self) -> Traffic {
        Traffic(self.traffic.load(Ordering::SeqCst))
    }

    // ----- the close -----

    pub(crate) fn start_closing(&self) {
        self.closing.store(true, Ordering::SeqCst);
        if !self.traffic().is_quiet() {
            self.busy_at_close.store(true, Ordering::SeqCst);
        }
    }

    #[inline]
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Whether a read that would wait may end the connection instead: closing, HTTP/1, not
    /// upgraded (nor about to be), and nothing in flight or being written.
    pub(crate) fn may_end(&self) -> bool {
        self.is_closing()
            && !self.is_http2()
            && !self.is_upgraded()
            && !self.may_upgrade()
            && self.traffic().is_quiet()
    }

    /// Whether a waiting reader must be parked where the cut and the last response can wake
    /// it: once closing (a read may end the connection when the last response leaves), and
    /// when the socket may belong to an upgrade's handler (from the request that may upgrade
    /// it on, before hyper hands the socket over: the handler may read before this
    /// connection's task knows).
    #[inline]
    pub(crate) fn reader_may_be_woken(&self) -> bool {
        self.is_closing() || self.may_upgrade() || self.is_upgraded()
    }

    // ----- kinds -----

    pub(crate) fn set_http2(&self) {
        self.http2.store(true, Ordering::SeqCst);
    }

    #[inline]
    pub(crate) fn is_http2(&self) -> bool {
        self.http2.load(Ordering::SeqCst)
    }

    #[inline]
    pub(crate) fn is_upgraded(&self) -> bool {
        self.upgraded.load(Ordering::SeqCst)
    }

    // ----- the cut and the end -----

    #[inline]
    pub(crate) fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    #[inline]
    pub(crate) fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    /// Marks it cut, lets its admission go, and wakes whoever waits on its socket.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let guard = lock(&self.guard).take();
        drop(guard);
        self.release_held();
        wake(&self.reader);
        wake(&self.writer);
        wake(&self.task);
    }

    /// The socket went.
    fn set_gone(&self) -> Option<Guard> {
        self.gone.store(true, Ordering::SeqCst);
        self.release_held();
        wake(&self.task);
        lock(&self.guard).take()
    }

    // ----- wakers -----

    pub(crate) fn park_reader(&self, waker: &Waker) {
        store(&self.reader, waker);
    }

    pub(crate) fn park_writer(&self, waker: &Waker) {
        store(&self.writer, waker);
    }

    pub(crate) fn park_task(&self, waker: &Waker) {
        store(&self.task, waker);
    }

    fn describe(&self) -> String {
        let state = if self.is_upgraded() {
            match &*lock(&self.upgrade_request) {
                Some(request) => format!("upgraded ({request})"),
                None => "upgraded".to_owned(),
            }
        } else {
            let traffic = self.traffic();
            let (requests, writing) = (traffic.requests(), traffic.writing());
            let requests = match requests {
                0 => None,
                1 => Some("1 request in flight".to_owned()),
                n => Some(format!("{n} requests in flight")),
            };
            let writing = match writing {
                0 => None,
                1 => Some("1 response being written".to_owned()),
                n => Some(format!("{n} responses being written")),
            };
            match (requests, writing) {
                (Some(r), Some(w)) => format!("{r}, {w}"),
                (Some(one), None) | (None, Some(one)) => one,
                (None, None) => "no request in flight".to_owned(),
            }
        };
        format!("http connection from {}: {state}", self.peer)
    }
}

/// Keeps one more admission: in `first` (an HTTP/1 connection's one at a time, without an
/// allocation), or in `more`.
fn push(held: &mut Held, admission: Admission) {
    if held.first.is_none() {
        held.first = Some(admission);
    } else {
        held.more.push(admission);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn store(slot: &Mutex<Option<Waker>>, waker: &Waker) {
    let mut slot = lock(slot);
    match &*slot {
        Some(old) if old.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

fn wake(slot: &Mutex<Option<Waker>>) {
    let waker = lock(slot).take();
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Counts of a server's connections, from [`ConnectionStats::snapshot`].
///
/// The buckets `ended_before_close`, `closed_idle`, `drained`, `cut` and `open` partition
/// `accepted`: each connection is in exactly one, by how it ended (or that it has not).
/// `upgraded` and `http2` are kinds across the buckets; `errors` and `accept_errors` count
/// events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConnectionCounts {
    /// Connections accepted.
    pub accepted: u64,
    /// Open now.
    pub open: u64,
    /// Ended before admissions closed (the client closed them, or an error).
    pub ended_before_close: u64,
    /// Had nothing in flight when admissions closed (idle keep-alive, never sent a byte, half
    /// a request head), and were closed.
    pub closed_idle: u64,
    /// Had a request in flight or a response being written when admissions closed (or a
    /// request that arrived with them), and ended after it, gracefully.
    pub drained: u64,
    /// Still open at the drain deadline (or when the shutdown was forced), and cut.
    pub cut: u64,
    /// Of all of them, the connections that were upgraded (their HTTP ended with the socket
    /// still alive: `101 Switching Protocols`, a `2xx` to `CONNECT`).
    pub upgraded: u64,
    /// Of all of them, the HTTP/2 connections.
    pub http2: u64,
    /// Connections that ended with an error of their own (the peer left mid-message, a
    /// protocol or socket error), not counting what the close and the cut end on purpose.
    pub errors: u64,
    /// Accepts that failed (out of file descriptors, a connection reset before it was
    /// accepted).
    pub accept_errors: u64,
    /// Connections the server closed after admissions closed with bytes still unread in their
    /// socket (asked of the kernel as the socket is dropped): a request that arrived after the
    /// server had found the connection idle, whose client sees a reset. Not counted: what
    /// arrives after the socket is closed (the client's own late write) and cut connections.
    pub unread_at_close: u64,
}

/// A live view of a server's connection counts. Cheap to clone; take it before serving with
/// [`Server::stats`](crate::Server::stats).
#[derive(Debug, Clone)]
pub struct ConnectionStats {
    pub(crate) registry: Arc<Registry>,
}

impl ConnectionStats {
    /// The counts now.
    pub fn snapshot(&self) -> ConnectionCounts {
        let r = &self.registry;
        // Relaxed: independent counters, read for a report; no other data hangs on them.
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConnectionCounts {
            accepted: load(&r.accepted),
            open: lock(&r.inner).live.len() as u64,
            ended_before_close: load(&r.ended_before_close),
            closed_idle: load(&r.closed_idle),
            drained: load(&r.drained),
            cut: load(&r.cut),
            upgraded: load(&r.upgraded),
            http2: load(&r.http2),
            errors: load(&r.errors),
            accept_errors: load(&r.accept_errors),
            unread_at_close: load(&r.unread_at_close),
        }
    }
}

impl std::fmt::Display for ConnectionCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connections: {} accepted: {} ended before the close, {} closed idle, {} drained, \
             {} cut, {} open; {} upgraded, {} HTTP/2; errors: {} on connections, {} at accept; \
             {} closed with bytes unread",
            self.accepted,
            self.ended_before_close,
            self.closed_idle,
            self.drained,
            self.cut,
            self.open,
            self.upgraded,
            self.http2,
            self.errors,
            self.accept_errors,
            self.unread_at_close,
        )
    }
}

/// The live connections of one server, and its counts.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    accepted: AtomicU64,
    ended_before_close: AtomicU64,
    closed_idle: AtomicU64,
    drained: AtomicU64,
    cut: AtomicU64,
    upgraded: AtomicU64,
    http2: AtomicU64,
    errors: AtomicU64,
    accept_errors: AtomicU64,
    unread_at_close: AtomicU64,
    /// Set when the plan's sequence runs with the server's phase observer: from then on the
    /// observer cuts (at `ClosingResources` or `Forced`), after the drain is recorded.
    sequenced: AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    live: HashMap<u64, Arc<ConnShared>>,
    /// Waiting for `live` to empty.
    waiters: Vec<Waker>,
}

impl Registry {
    /// A new connection's id.
    pub(crate) fn next_id(&self) -> u64 {
        // Relaxed: the id only needs to be unique (the RMW guarantees it).
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds an accepted connection.
    pub(crate) fn add(&self, shared: Arc<ConnShared>) {
        // Relaxed: the counters are read for reports and publish nothing; the map itself is
        // under the lock.
        self.accepted.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner).live.insert(shared.id, shared);
    }

    /// The socket of `shared` went: counts how the connection ended (unless the cut counted
    /// it already) and lets its admission go.
    pub(crate) fn remove(&self, shared: &ConnShared) {
        let guard = shared.set_gone();
        let (found, waiters) = {
            let mut inner = lock(&self.inner);
            let found = inner.live.remove(&shared.id).is_some();
            (found, take_waiters_if_empty(&mut inner))
        };
        if found {
            let counter = if !shared.is_closing() {
                &self.ended_before_close
            } else if shared.busy_at_close.load(Ordering::SeqCst) {
                &self.drained
            } else {
                &self.closed_idle
            };
            // Relaxed: report counters, as in `add`.
            counter.fetch_add(1, Ordering::Relaxed);
        }
        drop(guard);
        waiters.into_iter().for_each(Waker::wake);
    }

    /// Cuts every open connection: each counts as cut and gone from now on (whether or not
    /// its task or an upgrade's handler ever polls its socket again), lets its admission go,
    /// and whoever waits on its socket is woken to find it failing.
    pub(crate) fn cut_all(&self) {
        let (live, waiters) = {
            let mut inner = lock(&self.inner);
            let live: Vec<_> = inner.live.drain().map(|(_, shared)| shared).collect();
            (live, take_waiters_if_empty(&mut inner))
        };
        // Relaxed: a report counter, as in `add`.
        self.cut.fetch_add(live.len() as u64, Ordering::Relaxed);
        for shared in live {
            shared.cut();
        }
        waiters.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn set_sequenced(&self) {
        self.sequenced.store(true, Ordering::SeqCst);
    }

    /// Whether the plan's sequence cuts (through the server's observer), rather than the
    /// server itself.
    pub(crate) fn is_sequenced(&self) -> bool {
        self.sequenced.load(Ordering::SeqCst)
    }

    pub(crate) fn count_upgraded(&self, shared: &ConnShared) {
        if !shared.upgraded.swap(true, Ordering::SeqCst) {
            // Relaxed: a report counter.
            self.upgraded.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_http2(&self) {
        // Relaxed: a report counter.
        self.http2.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_error(&self) {
        // Relaxed: a report counter.
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_unread_at_close(&self) {
        // Relaxed: a report counter.
        self.unread_at_close.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_accept_error(&self) {
        // Relaxed: a report counter.
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Wakes the task of every open connection (the listener has closed: they start
    /// closing). A connection's task parks its waker before it reads whether the listener is
    /// closed, and the close is stored before this runs: each task sees the close, or is
    /// woken here.
    pub(crate) fn wake_tasks(&self) {
        let live: Vec<Arc<ConnShared>> = lock(&self.inner).live.values().cloned().collect();
        for shared in live {
            wake(&shared.task);
        }
    }

    /// Ready once no connection is open.
    pub(crate) fn poll_empty(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = lock(&self.inner);
        if inner.live.is_empty() {
            return Poll::Ready(());
        }
        if !inner.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            inner.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Names the open connections, for the report.
    pub(crate) fn name_into(&self, names: &mut Vec<String>) {
        let mut live: Vec<Arc<ConnShared>> = lock(&self.inner).live.values().cloned().collect();
        live.sort_by_key(|shared| shared.id);
        names.extend(live.iter().map(|shared| shared.describe()));
    }

    pub(crate) fn cut_count(&self) -> u64 {
        self.cut.load(Ordering::Relaxed)
    }
}

fn take_waiters_if_empty(inner: &mut Inner) -> Vec<Waker> {
    if inner.live.is_empty() {
        std::mem::take(&mut inner.waiters)
    } else {
        Vec::new()
    }
}
