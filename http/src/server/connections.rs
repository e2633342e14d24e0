//! One live connection's shared state: what its task, its socket and its responses share, and
//! the listener's. The registry of all of them is in `registry`, the counts in `counts`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use winddown_core::{Guard, Shutdown};

use super::held::Held;
use crate::layer::Admission;

/// [`ConnShared::websocket`]: not a WebSocket.
const WS_NONE: u8 = 0;
/// A request for a WebSocket awaits its response.
const WS_REQUESTED: u8 = 1;
/// Answered `101`: a WebSocket.
const WS_OPEN: u8 = 2;

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
    /// When the listener accepted it: the first-byte grace counts from here.
    pub(crate) accepted_at: Instant,
    /// Whether to note when its last response went out (for the keep-alive grace).
    track_activity: bool,
    /// When its last response went out, in nanoseconds after `accepted_at` (0: none yet).
    last_active: AtomicU64,
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
    /// a connection served without the layer never looks at them).
    held: Held,
    /// Set when admissions have closed and the listener is closed, and the connection's task
    /// saw both.
    closing: AtomicBool,
    /// Whether a request or response was busy when admissions closed: set by
    /// `start_closing`, or by a response that ends after the close but before the
    /// connection's task got to it. Only ever set.
    pub(super) busy_at_close: AtomicBool,
    /// Set when the connection's first bytes were the HTTP/2 preface.
    http2: AtomicBool,
    /// Set when its socket has given HTTP its first byte.
    got_bytes: AtomicBool,
    /// Set while the connection is in its first-byte grace at the close: a read that finds
    /// nothing waits rather than ending it.
    in_grace: AtomicBool,
    /// Whether it is a WebSocket: [`WS_NONE`], [`WS_REQUESTED`] (a request asked for one,
    /// the response has not said yet), [`WS_OPEN`] (answered `101`).
    websocket: AtomicU8,
    /// Set at the close, for a WebSocket: the server's Close 1001 is due.
    ws_due: AtomicBool,
    /// Set when a Close has gone out on the WebSocket (the server's, or the handler's).
    ws_sent: AtomicBool,
    /// Set while an HTTP/1 request with a body is in flight and its response has not
    /// started: bytes that arrive meanwhile are its body's.
    awaiting_body: AtomicBool,
    /// Set when the upload grace has ended at the close: a body still arriving ends the
    /// connection's reads (see `ConnIo`).
    uploads_over: AtomicBool,
    /// Set when its reads were ended that way.
    upload_cut: AtomicBool,
    /// Set when the HTTP connection ended with the socket still alive (an upgrade).
    pub(super) upgraded: AtomicBool,
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
    pub(super) task: Mutex<Option<Waker>>,
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

impl ConnShared {
    pub(crate) fn new(
        id: u64,
        peer: SocketAddr,
        shutdown: Shutdown,
        listener: Arc<ListenerState>,
        guard: Guard,
        track_activity: bool,
    ) -> Self {
        ConnShared {
            id,
            peer,
            accepted_at: Instant::now(),
            track_activity,
            last_active: AtomicU64::new(0),
            shutdown,
            listener,
            guard: Mutex::new(Some(guard)),
            traffic: AtomicU64::new(0),
            held: Held::default(),
            closing: AtomicBool::new(false),
            busy_at_close: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            got_bytes: AtomicBool::new(false),
            in_grace: AtomicBool::new(false),
            websocket: AtomicU8::new(WS_NONE),
            ws_due: AtomicBool::new(false),
            ws_sent: AtomicBool::new(false),
            awaiting_body: AtomicBool::new(false),
            uploads_over: AtomicBool::new(false),
            upload_cut: AtomicBool::new(false),
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

    /// Remembers the request hyper may upgrade the connection for, and whether it asks for a
    /// WebSocket.
    pub(crate) fn upgrade_requested(&self, name: String, websocket: bool) {
        *lock(&self.upgrade_request) = Some(name);
        let kind = if websocket { WS_REQUESTED } else { WS_NONE };
        self.websocket.store(kind, Ordering::SeqCst);
        self.may_upgrade.store(true, Ordering::SeqCst);
    }

    /// The response to that request does not switch protocols.
    pub(crate) fn upgrade_declined(&self) {
        self.websocket.store(WS_NONE, Ordering::SeqCst);
        self.may_upgrade.store(false, Ordering::SeqCst);
    }

    /// The response to that request switches protocols: if it asked for a WebSocket, the
    /// socket follows its frames from the end of this response on.
    pub(crate) fn upgrade_accepted(&self) {
        let _ = self.websocket.compare_exchange(
            WS_REQUESTED,
            WS_OPEN,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    #[inline]
    pub(crate) fn may_upgrade(&self) -> bool {
        self.may_upgrade.load(Ordering::SeqCst)
    }

    /// A response's body was dropped (at its end, or early): it is being written until the
    /// next completed flush, holding `admission` (the layer's, if it handed it over).
    pub(crate) fn response_ended(&self, admission: &mut Option<Admission>) {
        // A response that ends once admissions have closed was busy at the close, even if the
        // connection's task has not seen the close yet (a body ending at the close, an SSE
        // stream, may run first): the connection drained.
        if self.shutdown.phase().admissions_closed() {
            self.busy_at_close.store(true, Ordering::SeqCst);
        }
        // Counted as being written in the same step as it stops counting as a request:
        // whoever reads the counts (`may_end`) never sees the response in neither.
        let mut step = ONE_WRITING.wrapping_sub(ONE_REQUEST);
        if admission.is_some() {
            self.held.push(admission);
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
        if self.track_activity {
            let since = self.accepted_at.elapsed().as_nanos();
            // Relaxed: read by this connection's own task at the close, for a grace period
            // measured in milliseconds; nothing else hangs on it.
            self.last_active
                .store(u64::try_from(since).unwrap_or(u64::MAX), Ordering::Relaxed);
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
        if before.held() != 0 {
            self.held.take(before.held());
        }
    }

    #[inline]
    pub(crate) fn traffic(&self) -> Traffic {
        Traffic(self.traffic.load(Ordering::SeqCst))
    }

    // ----- the close -----

    pub(crate) fn start_closing(&self) {
        self.closing.store(true, Ordering::SeqCst);
        if !self.traffic().is_quiet() || self.is_upgraded() {
            self.busy_at_close.store(true, Ordering::SeqCst);
        }
    }

    #[inline]
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Whether a read that would wait may end the connection instead: closing, out of its
    /// first-byte grace, HTTP/1, not upgraded (nor about to be), and nothing in flight or
    /// being written.
    pub(crate) fn may_end(&self) -> bool {
        self.is_closing()
            && !self.in_grace()
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

    /// Answered `101` to a request for a WebSocket.
    pub(crate) fn is_websocket(&self) -> bool {
        self.websocket.load(Ordering::SeqCst) == WS_OPEN
    }

    // ----- the first byte -----

    /// Its socket has given HTTP a byte.
    pub(crate) fn got_first_byte(&self) {
        self.got_bytes.store(true, Ordering::SeqCst);
    }

    pub(crate) fn has_first_byte(&self) -> bool {
        self.got_bytes.load(Ordering::SeqCst)
    }

    /// When its last response went out, if it was noted.
    pub(crate) fn last_active(&self) -> Option<Instant> {
        // Relaxed: see `flushed`.
        let since = self.last_active.load(Ordering::Relaxed);
        if since == 0 {
            return None;
        }
        self.accepted_at
            .checked_add(std::time::Duration::from_nanos(since))
    }

    /// The first-byte grace starts (`true`) or ends (`false`); its end wakes the reader.
    pub(crate) fn set_grace(&self, on: bool) {
        self.in_grace.store(on, Ordering::SeqCst);
        if !on {
            wake(&self.reader);
        }
    }

    pub(crate) fn in_grace(&self) -> bool {
        self.in_grace.load(Ordering::SeqCst)
    }

    // ----- uploads -----

    /// An HTTP/1 request with a body is in flight.
    pub(crate) fn await_body(&self) {
        self.awaiting_body.store(true, Ordering::SeqCst);
    }

    /// Its response has started, or it ended. Every request passes here, twice, and most
    /// have no body: a load, and the store only when the flag is set (a `SeqCst` store is a
    /// locked exchange on x86). Only the connection's own HTTP/1 task sets and clears it, one
    /// request at a time, so no store of another's comes between the two.
    #[inline]
    pub(crate) fn body_done(&self) {
        if self.awaiting_body.load(Ordering::SeqCst) {
            self.awaiting_body.store(false, Ordering::SeqCst);
        }
    }

    /// The upload grace is over: a body still arriving from now on ends the reads.
    pub(crate) fn end_uploads(&self) {
        self.uploads_over.store(true, Ordering::SeqCst);
        wake(&self.reader);
    }

    /// Whether bytes that arrive now are an upload past its grace.
    pub(crate) fn upload_past_grace(&self) -> bool {
        // SeqCst, as every word here (see the type's orderings): `end_uploads` stores, then
        // wakes the reader, which loads this after it is woken; a response that starts
        // meanwhile clears `awaiting_body` before hyper's next read, on hyper's own task.
        self.uploads_over.load(Ordering::SeqCst) && self.awaiting_body()
    }

    pub(crate) fn awaiting_body(&self) -> bool {
        self.awaiting_body.load(Ordering::SeqCst)
    }

    /// Its reads were ended under an upload (counted so when it ends).
    pub(crate) fn cut_upload(&self) {
        self.upload_cut.store(true, Ordering::SeqCst);
    }

    pub(crate) fn upload_was_cut(&self) -> bool {
        self.upload_cut.load(Ordering::SeqCst)
    }

    // ----- WebSockets -----

    /// The close has come: the server's Close is due. Wakes whoever waits on the socket, to
    /// send it.
    pub(crate) fn websocket_close(&self) {
        self.ws_due.store(true, Ordering::SeqCst);
        wake(&self.reader);
        wake(&self.writer);
    }

    pub(crate) fn websocket_close_due(&self) -> bool {
        self.ws_due.load(Ordering::SeqCst)
    }

    /// A Close has gone out.
    pub(crate) fn websocket_sent(&self) {
        self.ws_sent.store(true, Ordering::SeqCst);
    }

    pub(crate) fn wake_reader(&self) {
        wake(&self.reader);
    }

    pub(crate) fn wake_writer(&self) {
        wake(&self.writer);
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
    pub(super) fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let guard = lock(&self.guard).take();
        drop(guard);
        self.release_held();
        wake(&self.reader);
        wake(&self.writer);
        wake(&self.task);
    }

    /// The socket went.
    pub(super) fn set_gone(&self) -> Option<Guard> {
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

    pub(crate) fn describe(&self) -> String {
        let state = if self.is_upgraded() {
            let kind = if self.is_websocket() {
                "WebSocket"
            } else {
                "upgraded"
            };
            let mut state = match &*lock(&self.upgrade_request) {
                Some(request) => format!("{kind} ({request})"),
                None => kind.to_owned(),
            };
            if self.websocket_close_due() {
                state.push_str(if self.ws_sent.load(Ordering::SeqCst) {
                    ", Close sent, no answer"
                } else {
                    ", Close 1001 not sent (its writes blocked, or its socket not polled)"
                });
            }
            state
        } else {
            let traffic = self.traffic();
            let (requests, writing) = (traffic.requests(), traffic.writing());
            let requests = match requests {
                0 => None,
                1 if self.awaiting_body() => {
                    Some("1 request in flight, its body still arriving".to_owned())
                }
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

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn store(slot: &Mutex<Option<Waker>>, waker: &Waker) {
    let mut slot = lock(slot);
    match &*slot {
        Some(old) if old.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

pub(super) fn wake(slot: &Mutex<Option<Waker>>) {
    let waker = lock(slot).take();
    if let Some(waker) = waker {
        waker.wake();
    }
}
