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
//! handler, in the same order, the same sockets, the same claim on the dispositions and the same
//! mask while registering. So every invariant of [`crate::listener`] holds, the thread's part
//! aside, and the third signal ends the process from inside the handler whatever the runtime's
//! threads are doing ([`crate::exit`]).
//!
//! # What differs
//!
//! The first two signals are acted on when the runtime polls the task. If every thread of the
//! runtime is blocked (a closer that never yields, a hook that blocks), they wait in their
//! sockets, counted, until one is free; a listener thread would trigger and force meanwhile,
//! though nothing in a blocked runtime could act on it. The hook runs on a runtime thread.
//!
//! # Invariants
//!
//! 1. A round drains the wake socket to `WouldBlock`, *then* runs [`Worker::round`] (the counts,
//!    then the actions): the order of listener invariant 3. The first poll runs a round before
//!    it waits, so a signal delivered between `listen_*` and the first poll is acted on then.
//! 2. The task waits on the reactor only after a round: a byte written once the wake socket was
//!    drained makes the reactor report it readable (async-io re-arms its one-shot registration
//!    on each wait, and epoll reports an already readable socket at once; tokio clears a
//!    readiness only up to the event it saw, so a later event is not lost).
//! 3. The task owns the listener: dropping the task is dropping the listener (crate docs,
//!    "Dropping a listener"), and the task never drops it while it runs.
//! 4. A reactor that fails a wait (it cannot, short of the kernel refusing an `epoll_ctl` on a
//!    registered socket) ends the task and drops the listener: its signals do again what they
//!    did before (SIGTERM's default action ends the process), so no signal is silently lost.

use crate::listener::{Listener, Worker};
use crate::Builder;

#[cfg(feature = "async-io")]
mod async_io;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "async-io")]
pub use self::async_io::AsyncIoListener;
#[cfg(feature = "tokio")]
pub use self::tokio::TokioListener;

/// What every listener task holds, whatever its reactor: the listener and its worker.
struct Core {
    /// The task's own (invariant 3); `None` once dropped by invariant 4.
    listener: Option<Listener>,
    worker: Worker,
}

impl Core {
    fn new(listener: Listener, worker: Worker) -> Self {
        Core {
            listener: Some(listener),
            worker,
        }
    }

    /// Whether the listener is still there: `false` once invariant 4 dropped it.
    fn listening(&self) -> bool {
        self.listener.is_some()
    }

    /// Invariant 1, second half: acts on every delivery counted so far. Call it after the
    /// wake socket was drained.
    fn act(&mut self) {
        // `false` only once the listener is dropped, which this task never does while it runs
        // (invariant 3): there is nothing else to stop.
        let _ = self.worker.round(true);
    }

    /// Invariant 4: the reactor failed; the listener goes.
    fn give_up(&mut self) {
        self.listener = None;
    }

    fn signals(&self) -> &[i32] {
        self.listener.as_ref().map_or(&[], Listener::signals)
    }
}
