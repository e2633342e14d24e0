//! Listener tasks: the listener's rounds run by the application's runtime, woken by its reactor,
//! with no thread of their own ([`Builder::listen_async_io`], [`Builder::listen_tokio`]).
//!
//! # Why
//!
//! A listener thread costs a thread (its stack pages, the alternate signal stack std maps for
//! every thread, a kernel task: BENCHMARKS.md, "Footprint") and one more hand-off between the
//! signal and the stop: the handler wakes the thread, the thread triggers the shutdown, and the
//! trigger wakes the runtime, two wake-ups of two threads that may each wait for a CPU. A
//! program with an async runtime already has a thread that sleeps on a reactor (epoll on Linux).
//! A listener task registers the listener's wake socket with that reactor, as `tokio::signal` and
//! `async-signal` register theirs: the handler's byte wakes the runtime itself, and the task
//! triggers the shutdown on the thread that then runs the stop.
//!
//! # What stays the same
//!
//! The registration is the listener's own ([`Builder::register`]): the same actions in the
//! handler, in the same order, the same sockets, the same claim on the dispositions, the same
//! mask while registering, and the same hook thread. So every invariant of [`crate::listener`] holds, the thread's part
//! aside, and the third signal ends the process from inside the handler whatever the runtime's
//! threads are doing ([`crate::exit`]).
//!
//! # What differs
//!
//! The first two signals are acted on when the runtime polls the task. If every thread of the
//! runtime is blocked (a closer that never yields, a write to a full pipe), they wait in their
//! sockets, counted, until one is free; a listener thread would trigger and force meanwhile,
//! though nothing in a blocked runtime could act on it.
//!
//! The [`on_event`](Builder::on_event) hook runs on the hook thread ([`crate::hook`]), as
//! with the listener thread, never on the runtime's: a hook that blocks must not hold the
//! runtime that runs the stop. The task hands each event over just before its action, and
//! waits for the hook to return as a future, bounded by the runtime's own timer
//! ([`HOOK_WAIT`](crate::hook::HOOK_WAIT)), so that the hook's line still comes before what the stop writes in
//! response, and a hook that never returns delays the action by that half second once, as with
//! the thread (hook invariant 2), while the runtime goes on running everything else.
//!
//! # Invariants
//!
//! 1. A round empties the wake socket (to `WouldBlock`, or a read that does not fill the
//!    buffer: it took every byte there was), *then* counts the deliveries
//!    ([`Worker::count`]), then acts on them in order: the order of listener invariant 3. The
//!    first poll runs a round before it waits, so a signal delivered between `listen_*` and the
//!    first poll is acted on then; every later round follows the reactor's report that the
//!    socket is readable (a poll woken by the hook or the timer, or for nothing, asks the
//!    reactor first), so a wake-up costs one round, not a round and then a second one for the
//!    readiness the first left behind.
//! 2. Waiting on the reactor after a round loses nothing, so the task waits right after
//!    acting on a round's deliveries, and a later poll asks the reactor before it runs a
//!    round. A delivery a round did not count wrote its count byte after the round read that
//!    count socket, so its wake byte (the handler writes it after the count byte) came after
//!    the wake socket was emptied: it is there, and makes the reactor report the socket
//!    readable (async-io re-arms its one-shot registration on each wait, and epoll reports an
//!    already readable socket at once; tokio clears a readiness only up to the event it saw,
//!    so a later event is not lost). A delivery counted early (its count byte before the
//!    round's read, its wake byte after the emptying) costs one more round that counts
//!    nothing.
//! 3. The task owns the listener: dropping the task is dropping the listener (crate docs,
//!    "Dropping a listener"), and the task never drops it while it runs.
//! 4. A reactor that fails a wait (it cannot, short of the kernel refusing an `epoll_ctl` on a
//!    registered socket) ends the task and drops the listener: its signals do again what they
//!    did before (SIGTERM's default action ends the process), so no signal is silently lost.
//! 5. Deliveries are acted on one at a time, in the order counted. With a hook, each event is
//!    handed over before its action ([`Worker::event`], then [`Worker::act`]); while the hook
//!    has it (hook invariant 2 says when the task waits at all), the task waits for the hook
//!    to return or the deadline to pass, whichever is first, and acts on nothing after it
//!    meanwhile. The deadline is started when the event is handed over.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::hook::Hand;
use crate::listener::{Event, Listener, Worker};
use crate::signal::Signal;
use crate::Builder;

#[cfg(feature = "async-io")]
mod async_io;
#[cfg(feature = "tokio")]
mod tokio;

/// A signal listener run as a task on the application's runtime, from
/// [`Builder::listen_tokio`] or [`Builder::listen_async_io`]: no thread of its own.
///
/// A future that delivers the listener's signals to its
/// [`Shutdown`](winddown_core::Shutdown) each time the runtime's reactor (tokio's I/O driver,
/// or async-io's for smol and async-std) reports a delivery, and does not end (but see the
/// last point below). Spawn it on that runtime; aborting, cancelling or dropping the task
/// drops the listener, with the same effect as dropping a [`Listener`]: its signals do again
/// what they did before.
///
/// # Compared with the listener thread
///
/// - **The third signal** ends the process from inside the signal handler, as with the thread:
///   a runtime whose every thread is blocked (a closer that never yields, a write to a full
///   pipe) cannot delay it.
/// - **The first and second signals** are acted on when the runtime polls this task. While
///   every runtime thread is blocked, they wait, counted, in their sockets; the thread would
///   have triggered and forced the shutdown (and called the hook) meanwhile, with nothing in a
///   blocked runtime to act on it.
/// - **The [`on_event`](Builder::on_event) hook** runs on the hook thread, as with the
///   listener thread. The task hands it each event just before the action and waits for it
///   to return without blocking the runtime's thread, for at most half a second (on the
///   runtime's timer): a hook that blocks delays the action that once, and holds nothing else.
/// - **No thread, one wake-up fewer**: the handler's byte wakes the runtime's thread through
///   its reactor, where the thread would wake the listener thread, which would then wake the
///   runtime. (A hook's hand-off, above, adds the hook thread and its two wake-ups.)
/// - If the reactor ever failed to wait for the socket, the task would drop the listener and
///   end: the signals would get their old behaviour back (SIGTERM ends the process), never be
///   silently lost.
///
// Links to the other feature's method: to docs.rs, which documents every feature.
#[cfg_attr(
    not(feature = "tokio"),
    doc = "[`Builder::listen_tokio`]: https://docs.rs/winddown-signals/0.1/winddown_signals/struct.Builder.html#method.listen_tokio"
)]
#[cfg_attr(
    not(feature = "async-io"),
    doc = "[`Builder::listen_async_io`]: https://docs.rs/winddown-signals/0.1/winddown_signals/struct.Builder.html#method.listen_async_io"
)]
#[must_use = "a listener task delivers signals only while it is polled: spawn it"]
pub struct ListenerTask(Reactor);

/// A listener task's runtime-specific half: its wake socket on that runtime's reactor, and
/// [`Core`] with that runtime's timer.
enum Reactor {
    #[cfg(feature = "async-io")]
    AsyncIo(async_io::Task),
    #[cfg(feature = "tokio")]
    Tokio(tokio::Task),
}

impl ListenerTask {
    /// The signals this listener handles, in the order they were added; empty once the
    /// listener was dropped after a failure (see the type docs).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(all(unix, feature = "async-io"))]
    /// # fn main() -> std::io::Result<()> {
    /// use winddown::Shutdown;
    /// use winddown::signals::{Builder, Signal};
    ///
    /// let listener = Builder::new().listen_async_io(&Shutdown::new())?;
    /// assert_eq!(listener.signals(), [Signal::Term, Signal::Int]);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(all(unix, feature = "async-io")))]
    /// # fn main() {}
    /// ```
    pub fn signals(&self) -> &[Signal] {
        match &self.0 {
            #[cfg(feature = "async-io")]
            Reactor::AsyncIo(task) => task.core.signals(),
            #[cfg(feature = "tokio")]
            Reactor::Tokio(task) => task.core.signals(),
        }
    }
}

impl Future for ListenerTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.get_mut().0 {
            #[cfg(feature = "async-io")]
            Reactor::AsyncIo(task) => task.poll(cx),
            #[cfg(feature = "tokio")]
            Reactor::Tokio(task) => task.poll(cx),
        }
    }
}

impl fmt::Debug for ListenerTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reactor = match &self.0 {
            #[cfg(feature = "async-io")]
            Reactor::AsyncIo(_) => "async-io",
            #[cfg(feature = "tokio")]
            Reactor::Tokio(_) => "tokio",
        };
        f.debug_struct("ListenerTask")
            .field("signals", &self.signals())
            .field("reactor", &reactor)
            .finish_non_exhaustive()
    }
}

/// A runtime's timer, for the wait for the hook (invariant 5).
trait Deadline {
    /// Starts it over: it passes [`HOOK_WAIT`](crate::hook::HOOK_WAIT) from now.
    fn start(&mut self);

    /// Whether it has passed; if not, `cx` is woken when it does.
    fn poll_passed(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// The hook's side of a listener task: where its events go, and the timer that bounds the wait
/// for each.
struct Hooked<D> {
    hand: Hand,
    deadline: D,
}

/// What every listener task holds, whatever its reactor: the listener, its worker, and the
/// deliveries counted and not yet acted on.
struct Core<D> {
    /// The task's own (invariant 3); `None` once dropped by invariant 4.
    listener: Option<Listener>,
    worker: Worker,
    /// `Some` with an [`on_event`](Builder::on_event) hook.
    hooked: Option<Hooked<D>>,
    /// Deliveries counted, in order (invariant 5): those from `next` on are not acted on yet.
    /// Emptied once every one was acted on (a `Vec` and an index: no ring buffer linked for a
    /// handful of signals).
    counted: Vec<Signal>,
    next: usize,
    /// The event the hook has and the task waits for, with its number (hook invariant 3): its
    /// action is carried out once the hook returns or the deadline passes.
    waiting: Option<(Event, u64)>,
    /// Whether the task was polled before: only the first poll runs a round without the
    /// reactor's report (invariant 1).
    polled: bool,
}

impl<D: Deadline> Core<D> {
    /// `deadline` makes the timer, called only when the listener has a hook: a program without
    /// one needs no timer of its runtime.
    fn new(listener: Listener, worker: Worker, deadline: impl FnOnce() -> D) -> Self {
        let hooked = worker.hand().cloned().map(|hand| Hooked {
            hand,
            deadline: deadline(),
        });
        Core {
            listener: Some(listener),
            worker,
            hooked,
            counted: Vec::new(),
            next: 0,
            waiting: None,
            polled: false,
        }
    }

    /// Invariant 1, second half: counts the deliveries since the wake socket was drained.
    /// Returns whether there were any.
    fn count(&mut self) -> bool {
        let before = self.counted.len();
        let counted = &mut self.counted;
        self.worker.count(|signal| counted.push(signal));
        self.counted.len() > before
    }

    /// Invariant 5: acts on every delivery counted so far, in order. `Pending` while the hook
    /// has an event and neither returned nor ran out of time: `cx` is woken by either.
    fn act(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some((event, number)) = self.waiting {
                if let Some(hooked) = &mut self.hooked {
                    if hooked.hand.poll_returned(number, cx).is_pending()
                        && hooked.deadline.poll_passed(cx).is_pending()
                    {
                        return Poll::Pending;
                    }
                }
                self.waiting = None;
                self.worker.act(event);
            }
            let Some(&signal) = self.counted.get(self.next) else {
                self.counted.clear();
                self.next = 0;
                return Poll::Ready(());
            };
            self.next += 1;
            let event = self.worker.event(signal);
            match &mut self.hooked {
                Some(hooked) => match hooked.hand.hand_over(event) {
                    Some(number) => {
                        hooked.deadline.start();
                        self.waiting = Some((event, number));
                    }
                    // The hook still has an earlier event (hook invariant 2), or it runs
                    // inline and has returned already: act without waiting.
                    None => self.worker.act(event),
                },
                None => self.worker.act(event),
            }
        }
    }

    /// The task's poll, whatever its reactor: `empty` empties the wake socket, `readable` waits
    /// on the reactor until the socket is readable. Ends only by invariant 4.
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        mut empty: impl FnMut(),
        mut readable: impl FnMut(&mut Context<'_>) -> Poll<io::Result<()>>,
    ) -> Poll<()> {
        if self.listener.is_none() {
            return Poll::Ready(());
        }
        // Invariant 1: the first poll starts with a round; every other round follows the
        // reactor's report.
        let mut round = !self.polled;
        self.polled = true;
        loop {
            // Invariant 5: what was counted is acted on first, in order; the hook may hold the
            // rest back for a moment (this task is woken when it returns, or by the timer).
            if self.act(cx).is_pending() {
                return Poll::Pending;
            }
            // Invariants 1 and 2: a round (the wake socket drained, then the counts), its
            // deliveries acted on (above), then the wait.
            if round {
                round = false;
                empty();
                if self.count() {
                    continue;
                }
            }
            match readable(cx) {
                Poll::Ready(Ok(())) => round = true,
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => break,
            }
        }
        // Invariant 4: the reactor failed; the listener goes.
        self.listener = None;
        Poll::Ready(())
    }

    fn signals(&self) -> &[Signal] {
        self.listener.as_ref().map_or(&[], Listener::signals)
    }
}
