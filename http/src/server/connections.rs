//! The server's live connections: the registry the namer reads, the counts, and the wait for
//! the last one to go.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use winddown_core::Shutdown;

/// What one connection shares between its task, its IO and its requests' bodies.
///
/// The flags and the request count use `SeqCst`: they are per-connection words (no other
/// connection touches them), so the strongest ordering costs nothing measurable, and it makes
/// the one handshake that matters simple: a request leaving ([`ConnShared::request_done`])
/// and the IO parking its read while closing ([`ConnShared::park_read`]) each write, then read
/// the other's word, so at least one of them sees the other (no lost wake-up).
#[derive(Debug)]
pub(crate) struct ConnShared {
    pub(crate) peer: SocketAddr,
    /// Requests on this connection from the service call until their body ended or dropped.
    requests: AtomicUsize,
    /// Set when admissions closed and the connection got hyper's graceful shutdown.
    closing: AtomicBool,
    /// Whether any request was in flight when admissions closed: set by `start_closing`, or by
    /// a request that ends after the close but before the connection's task got to it. Only
    /// ever set, never cleared.
    busy_at_close: AtomicBool,
    /// The server's shutdown: a request that ends tells by it whether admissions had closed.
    shutdown: Shutdown,
    /// Set when a request came over HTTP/2.
    http2: AtomicBool,
    /// Set when a response switched protocols: the IO now belongs to the upgrade's handler.
    upgraded: AtomicBool,
    /// Set at the drain deadline: the connection is being cut.
    cut: AtomicBool,
    /// Set when the IO has been dropped (the connection is gone).
    gone: AtomicBool,
    /// The IO's reader, parked while closing (or while upgraded): woken by the last request
    /// to leave, or by the cut.
    reader: Mutex<Option<Waker>>,
    /// The connection's task, parked after an upgrade: woken when the IO goes.
    task: Mutex<Option<Waker>>,
}

impl ConnShared {
    pub(crate) fn new(peer: SocketAddr, shutdown: Shutdown) -> Self {
        ConnShared {
            peer,
            shutdown,
            requests: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            busy_at_close: AtomicBool::new(false),
            upgraded: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            cut: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            reader: Mutex::new(None),
            task: Mutex::new(None),
        }
    }

    pub(crate) fn request_started(&self, http2: bool) {
        if http2 {
            self.http2.store(true, Ordering::SeqCst);
        }
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn is_http2(&self) -> bool {
        self.http2.load(Ordering::SeqCst)
    }

    pub(crate) fn request_done(&self) {
        // A request that ends once admissions have closed was in flight at the close, even if
        // the connection's task has not seen the close yet (the body ending at the close, an
        // SSE stream, may run first): the connection drained.
        if self.shutdown.phase().admissions_closed() {
            self.busy_at_close.store(true, Ordering::SeqCst);
        }
        if self.requests.fetch_sub(1, Ordering::SeqCst) == 1 && self.closing.load(Ordering::SeqCst)
        {
            wake(&self.reader);
        }
    }

    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub(crate) fn start_closing(&self) {
        if self.requests() > 0 {
            self.busy_at_close.store(true, Ordering::SeqCst);
        }
        self.closing.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Parks the reader; true if, after parking, no request is in flight (so the read may end).
    pub(crate) fn park_read(&self, waker: &Waker) -> bool {
        store(&self.reader, waker);
        self.requests() == 0
    }

    pub(crate) fn set_upgraded(&self) {
        self.upgraded.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_upgraded(&self) -> bool {
        self.upgraded.load(Ordering::SeqCst)
    }

    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        wake(&self.reader);
    }

    pub(crate) fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    pub(crate) fn park_reader(&self, waker: &Waker) {
        store(&self.reader, waker);
    }

    /// The IO went: wakes the task waiting on an upgraded connection.
    pub(crate) fn set_gone(&self) {
        self.gone.store(true, Ordering::SeqCst);
        wake(&self.task);
    }

    /// Parks the task; true if the IO has already gone.
    pub(crate) fn park_task(&self, waker: &Waker) -> bool {
        store(&self.task, waker);
        self.gone.load(Ordering::SeqCst)
    }

    fn describe(&self) -> String {
        let state = if self.is_upgraded() {
            "upgraded".to_owned()
        } else {
            match self.requests() {
                0 => "no request in flight".to_owned(),
                1 => "1 request in flight".to_owned(),
                n => format!("{n} requests in flight"),
            }
        };
        format!("http connection from {}: {state}", self.peer)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConnectionCounts {
    /// Connections accepted.
    pub accepted: u64,
    /// Open now.
    pub open: u64,
    /// Ended before admissions closed (the client closed them, or an error).
    pub ended_before_close: u64,
    /// Had no request in flight when admissions closed (idle keep-alive, never sent a byte,
    /// half a request head), and were closed at once.
    pub closed_idle: u64,
    /// Had requests in flight when admissions closed, and ended after them, gracefully.
    pub drained: u64,
    /// Still open at the drain deadline (or when the shutdown was forced), and cut.
    pub cut: u64,
    /// Switched protocols (WebSocket and other upgrades).
    pub upgraded: u64,
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
        }
    }
}

impl std::fmt::Display for ConnectionCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connections: {} accepted, {} ended before the close, {} closed idle, {} drained, {} cut, {} upgraded, {} open",
            self.accepted,
            self.ended_before_close,
            self.closed_idle,
            self.drained,
            self.cut,
            self.upgraded,
            self.open
        )
    }
}

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
}

#[derive(Debug, Default)]
struct Inner {
    live: HashMap<u64, Arc<ConnShared>>,
    /// Waiting for `live` to empty.
    waiters: Vec<Waker>,
}

impl Registry {
    /// Adds an accepted connection; returns its id.
    pub(crate) fn add(&self, shared: Arc<ConnShared>) -> u64 {
        // Relaxed: the id only needs to be unique (the RMW guarantees it); the counters are
        // read for reports and publish nothing; the map itself is under the lock.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.accepted.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner).live.insert(id, shared);
        id
    }

    /// Removes a connection whose IO went, and counts how it ended.
    pub(crate) fn remove(&self, id: u64) {
        let (shared, waiters) = {
            let mut inner = lock(&self.inner);
            let shared = inner.live.remove(&id);
            let waiters = if inner.live.is_empty() {
                std::mem::take(&mut inner.waiters)
            } else {
                Vec::new()
            };
            (shared, waiters)
        };
        if let Some(shared) = shared {
            let counter = if shared.is_cut() {
                &self.cut
            } else if !shared.is_closing() {
                &self.ended_before_close
            } else if shared.busy_at_close.load(Ordering::SeqCst) {
                &self.drained
            } else {
                &self.closed_idle
            };
            // Relaxed: report counters, as in `add`.
            counter.fetch_add(1, Ordering::Relaxed);
            if shared.is_upgraded() {
                self.upgraded.fetch_add(1, Ordering::Relaxed);
            }
        }
        for waker in waiters {
            waker.wake();
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
        let inner = lock(&self.inner);
        let mut live: Vec<_> = inner.live.iter().collect();
        live.sort_by_key(|(id, _)| **id);
        names.extend(live.into_iter().map(|(_, shared)| shared.describe()));
    }

    pub(crate) fn cut_count(&self) -> u64 {
        self.cut.load(Ordering::Relaxed)
    }
}
