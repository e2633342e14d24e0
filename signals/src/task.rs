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
//! 1. A round drains the wake socket to `WouldBlock`, *then* counts the deliveries
//!    ([`Worker::count`]), then acts on them in order: the order of listener invariant 3. The
//!    first poll runs a round before it waits, so a signal delivered between `listen_*` and the
//!    first poll is acted on then.
//! 2. The task waits on the reactor only after a round that counted nothing new: a byte
//!    written once the wake socket was drained makes the reactor report it readable (async-io
//!    re-arms its one-shot registration on each wait, and epoll reports an already readable
//!    socket at once; tokio clears a readiness only up to the event it saw, so a later event
//!    is not lost).
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

use std::collections::VecDeque;
use std::io;
use std::task::{Context, Poll};

use crate::hook::Hand;
use crate::listener::{Event, Listener, Worker};
use crate::signal::Signal;
use crate::Builder;

#[cfg(feature = "async-io")]
mod async_io;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "async-io")]
pub use self::async_io::AsyncIoListener;
#[cfg(feature = "tokio")]
pub use self::tokio::TokioListener;

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
    /// Deliveries counted, not yet acted on, in order (invariant 5).
    counted: VecDeque<Signal>,
    /// The event the hook has and the task waits for, with its number (hook invariant 3): its
    /// action is carried out once the hook returns or the deadline passes.
    waiting: Option<(Event, u64)>,
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
            counted: VecDeque::new(),
            waiting: None,
        }
    }

    /// Invariant 1, second half: counts the deliveries since the wake socket was drained.
    /// Returns whether there were any.
    fn count(&mut self) -> bool {
        let before = self.counted.len();
        let counted = &mut self.counted;
        self.worker.count(|signal| counted.push_back(signal));
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
            let Some(signal) = self.counted.pop_front() else {
                return Poll::Ready(());
            };
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
        loop {
            // Invariant 5: what was counted is acted on first, in order; the hook may hold the
            // rest back for a moment (this task is woken when it returns, or by the timer).
            if self.act(cx).is_pending() {
                return Poll::Pending;
            }
            // Invariants 1 and 2: a round (the wake socket drained, then the counts), then the
            // wait once a round counted nothing new.
            empty();
            if self.count() {
                continue;
            }
            match readable(cx) {
                Poll::Ready(Ok(())) => continue,
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
