//! The listener task on async-io's reactor: smol, async-std, and anything else built on
//! async-io.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_io::{Async, Timer};
use winddown_core::Shutdown;

use super::{Builder, Core, Deadline};
use crate::hook::HOOK_WAIT;
use crate::listener::{drain, Runner};
use crate::signal::Signal;

impl Builder {
    /// Registers the signals like [`listen`](Self::listen), but starts no thread: returns the
    /// listener as a task that async-io's reactor wakes, for smol, async-std and other runtimes
    /// built on async-io. Spawn it on the executor (`executor.spawn(listener).detach()`); the
    /// first and second signals are acted on when the executor runs it.
    ///
    /// Everything the [crate docs](crate) say holds, with the differences listed under
    /// [`AsyncIoListener`]: in short, the third signal still ends the process from the signal
    /// handler whatever the executor is doing, and a stuck executor delays the first two.
    ///
    /// The signals are registered when this returns, as with [`listen`](Self::listen): call it
    /// at the start of `main`, before starting threads. A signal that arrives before the task
    /// is first polled waits in its socket and is acted on at that first poll.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)]
    /// # fn main() -> std::io::Result<()> {
    /// use winddown::{Reason, Shutdown};
    /// use winddown::signals::{Builder, Signal};
    ///
    /// let shutdown = Shutdown::new();
    /// let listener = Builder::empty().signal(Signal::Usr1).listen_async_io(&shutdown)?;
    /// let executor = smol::Executor::new();
    /// executor.spawn(listener).detach();
    ///
    /// signal_hook::low_level::raise(Signal::Usr1.number())?; // stands in for `kill -USR1 <pid>`
    /// smol::block_on(executor.run(shutdown.triggered()));
    /// assert_eq!(shutdown.reason(), Some(&Reason::Signal(Signal::Usr1.number())));
    /// # Ok(())
    /// # }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    ///
    /// As [`listen`](Self::listen), and the reactor's error if it cannot register the wake
    /// socket. Nothing of the listener is left registered after an error.
    #[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
    pub fn listen_async_io(self, shutdown: &Shutdown) -> io::Result<AsyncIoListener> {
        let (listener, worker, wake) = self.register(shutdown, Runner::Task)?;
        // On an error, `listener` is dropped here: its signals do what they did before.
        let wake = Async::new(wake)?;
        Ok(AsyncIoListener {
            core: Core::new(listener, worker, Timer::never),
            wake,
        })
    }
}

/// A signal listener run as a task on an async-io executor (smol, async-std), from
/// [`Builder::listen_async_io`]: no thread of its own.
///
/// A future that delivers the listener's signals to its [`Shutdown`] each time async-io's
/// reactor reports a delivery, and does not end (but see the last point below). Spawn it; cancelling or dropping the
/// task drops the listener, with the same effect as dropping a [`Listener`](crate::Listener):
/// its signals do again what they did before.
///
/// # Compared with the listener thread
///
/// - **The third signal** ends the process from inside the signal handler, as with the thread:
///   an executor whose every thread is blocked (a closer that never yields, a write to a full
///   pipe) cannot delay it.
/// - **The first and second signals** are acted on when the executor polls this task. While
///   every executor thread is blocked, they wait, counted, in their sockets; the thread would
///   have triggered and forced the shutdown (and called the hook) meanwhile, with nothing in a
///   blocked executor to act on it.
/// - **The [`on_event`](Builder::on_event) hook** runs on the hook thread, as with the
///   listener thread. The task hands it each event just before the action and waits for it
///   to return without blocking the executor's thread, for at most half a second (on
///   async-io's timer): a hook that blocks delays the action that once, and holds nothing else.
/// - **No thread, one wake-up fewer**: the handler's byte wakes the executor's thread through
///   the reactor, where the thread would wake the listener thread, which would then wake the
///   executor. (A hook's hand-off, above, adds the hook thread and its two wake-ups.)
/// - If the reactor ever failed to wait for the socket, the task would drop the listener and
///   end: the signals would get their old behaviour back (SIGTERM ends the process), never be
///   silently lost.
#[must_use = "a listener task delivers signals only while it is polled: spawn it"]
pub struct AsyncIoListener {
    core: Core<Timer>,
    /// The wake socket, on async-io's reactor.
    wake: Async<UnixStream>,
}

impl AsyncIoListener {
    /// The signals this listener handles, in the order they were added; empty once the
    /// listener was dropped after a failure (see the type docs).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)]
    /// # fn main() -> std::io::Result<()> {
    /// use winddown::Shutdown;
    /// use winddown::signals::{Builder, Signal};
    ///
    /// let listener = Builder::new().listen_async_io(&Shutdown::new())?;
    /// assert_eq!(listener.signals(), [Signal::Term, Signal::Int]);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    pub fn signals(&self) -> &[Signal] {
        self.core.signals()
    }
}

impl Future for AsyncIoListener {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let AsyncIoListener { core, wake } = self.get_mut();
        // Reading the socket directly is what async-io expects: its readiness is one-shot,
        // re-armed by the next `poll_readable` (task invariant 2).
        let empty = || {
            drain(wake.get_ref(), &mut [0_u8; 64]);
        };
        core.poll(cx, empty, |cx| wake.poll_readable(cx))
    }
}

impl Deadline for Timer {
    fn start(&mut self) {
        self.set_after(HOOK_WAIT);
    }

    fn poll_passed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(self).poll(cx).map(drop)
    }
}

impl fmt::Debug for AsyncIoListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncIoListener")
            .field("signals", &self.signals())
            .finish_non_exhaustive()
    }
}
