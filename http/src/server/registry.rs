//! The registry of one server's live connections: what the report's namer reads, the cut at
//! the drain deadline, and the wait for the last connection to go.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::connections::{lock, wake, ConnShared};
use super::counts::{ConnectionCounts, Counters};

/// The live connections of one server, and its counts.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    /// The counts.
    pub(super) counts: Counters,
    /// Set when the plan's sequence runs with the server's phase observer: from then on the
    /// observer cuts (at `ClosingResources` or `Forced`), after the drain is recorded.
    sequenced: AtomicBool,
    /// The names of the WebSockets cut before the drain deadline (the first few).
    early_cuts: Mutex<Vec<String>>,
}

/// How many early cuts the resource record names.
const EARLY_CUTS_NAMED: usize = 8;

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
        self.counts.accepted.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner).live.insert(shared.id, shared);
    }

    /// The socket of `shared` went: counts how the connection ended (unless the cut, or the
    /// end of its WebSocket, counted it already) and lets its admission go.
    pub(crate) fn remove(&self, shared: &ConnShared) {
        self.end(shared, false);
    }

    /// A WebSocket's close handshake is done (the server's Close, or the handler's, then the
    /// peer's): it counts as ended now (drained), and as closed with 1001 if that was the
    /// code, whether or not its handler still holds the socket.
    pub(crate) fn close_websocket(&self, shared: &ConnShared, going_away: bool) {
        self.end(shared, going_away);
    }

    /// Counts how `shared` ended, once (and as a WebSocket closed with 1001 if
    /// `going_away`); lets its admission go. Every count is made before the admission goes
    /// and the waiters are woken: the drain that this release may end, and the report written
    /// after it, see them. Whether this call counted it.
    fn end(&self, shared: &ConnShared, going_away: bool) -> bool {
        let guard = shared.set_gone();
        let (found, waiters) = {
            let mut inner = lock(&self.inner);
            let found = inner.live.remove(&shared.id).is_some();
            (found, take_waiters_if_empty(&mut inner))
        };
        if found {
            let counter = if !shared.is_closing() {
                &self.counts.ended_before_close
            } else if shared.upload_was_cut() {
                &self.counts.uploads_cut
            } else if shared.busy_at_close.load(Ordering::SeqCst) {
                &self.counts.drained
            } else {
                &self.counts.closed_idle
            };
            // Relaxed: report counters, as in `add`; the guard's release below publishes
            // them to whoever sees the drain end.
            counter.fetch_add(1, Ordering::Relaxed);
            if going_away {
                self.counts
                    .websockets_closed
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        drop(guard);
        waiters.into_iter().for_each(Waker::wake);
        found
    }

    /// Cuts one connection now (its WebSocket's Close went unanswered for the close timeout),
    /// as [`cut_all`](Self::cut_all) cuts each. Whether it was still open.
    pub(crate) fn cut_one(&self, shared: &ConnShared) -> bool {
        let (found, waiters) = {
            let mut inner = lock(&self.inner);
            let found = inner.live.remove(&shared.id);
            (found, take_waiters_if_empty(&mut inner))
        };
        let Some(found) = found else { return false };
        self.count_cut(std::slice::from_ref(&found));
        found.cut();
        waiters.into_iter().for_each(Waker::wake);
        true
    }

    /// Cuts a WebSocket whose peer has not answered the server's Close `after` it was due,
    /// before the drain deadline: named in the server's resource record (the drain's own
    /// record names only what is left at its end).
    pub(crate) fn cut_early(&self, shared: &ConnShared, after: Duration) {
        let name = shared.describe();
        if self.cut_one(shared) {
            super::events::websocket_cut(shared.peer, &name, after);
            let mut early = lock(&self.early_cuts);
            if early.len() < EARLY_CUTS_NAMED {
                early.push(format!("{name} after {after:?}"));
            }
        }
    }

    /// What the server's resource says when connections were cut.
    pub(crate) fn cut_message(&self) -> Option<String> {
        let cut = self.cut_count();
        if cut == 0 {
            return None;
        }
        let early = lock(&self.early_cuts);
        let connections = if cut == 1 {
            "1 connection".to_owned()
        } else {
            format!("{cut} connections")
        };
        if early.is_empty() {
            return Some(format!("cut {connections} at the drain deadline"));
        }
        let at_deadline = cut.saturating_sub(early.len() as u64);
        Some(format!(
            "cut {connections}: {at_deadline} at the drain deadline, WebSockets whose Close \
             went unanswered: {}",
            early.join("; ")
        ))
    }

    fn count_cut(&self, cut: &[Arc<ConnShared>]) {
        // Relaxed: report counters, as in `add`.
        self.counts
            .cut
            .fetch_add(cut.len() as u64, Ordering::Relaxed);
        let websockets = cut.iter().filter(|shared| shared.is_websocket()).count();
        self.counts
            .websockets_cut
            .fetch_add(websockets as u64, Ordering::Relaxed);
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
        self.count_cut(&live);
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
            // Relaxed: report counters.
            self.counts.upgraded.fetch_add(1, Ordering::Relaxed);
            if shared.is_websocket() {
                self.counts.websockets.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn count_handshake(&self) {
        // Relaxed: a report counter.
        self.counts.handshakes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_closed_handshaking(&self) {
        // Relaxed: a report counter.
        self.counts
            .closed_handshaking
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_http2(&self) {
        // Relaxed: a report counter.
        self.counts.http2.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_error(&self) {
        // Relaxed: a report counter.
        self.counts.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_unread_at_close(&self) {
        // Relaxed: a report counter.
        self.counts.unread_at_close.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_accept_error(&self) {
        // Relaxed: a report counter.
        self.counts.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub(crate) fn counts(&self) -> ConnectionCounts {
        self.counts.snapshot(lock(&self.inner).live.len() as u64)
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
        self.counts.cut.load(Ordering::Relaxed)
    }
}

fn take_waiters_if_empty(inner: &mut Inner) -> Vec<Waker> {
    if inner.live.is_empty() {
        std::mem::take(&mut inner.waiters)
    } else {
        Vec::new()
    }
}
