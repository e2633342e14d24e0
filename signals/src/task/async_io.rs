//! The listener task on async-io's reactor: smol, async-std, and anything else built on
//! async-io.

use std::future::Future;
use std::io;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_io::{Async, Timer};
use winddown_core::Shutdown;

use super::{Builder, Core, Deadline, ListenerTask, Reactor};
use crate::hook::HOOK_WAIT;
use crate::listener::{drain, Runner};

impl Builder {
    /// Registers the signals like [`listen`](Self::listen), but starts no thread: returns the
    /// listener as a task that async-io's reactor wakes, for smol, async-std and other runtimes
    /// built on async-io. Spawn it on the executor (`executor.spawn(listener).detach()`); the
    /// first and second signals are acted on when the executor runs it.
    ///
    /// Everything the [crate docs](crate) say holds, with the differences listed under
    /// [`ListenerTask`]: in short, the third signal still ends the process from the signal
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
    pub fn listen_async_io(self, shutdown: &Shutdown) -> io::Result<ListenerTask> {
        let (listener, worker, wake) = self.register(shutdown, Runner::Task)?;
        // On an error, `listener` is dropped here: its signals do what they did before.
        let wake = Async::new(wake)?;
        Ok(ListenerTask(Reactor::AsyncIo(Task {
            core: Core::new(listener, worker, Timer::never),
            wake,
        })))
    }
}

/// The listener task on async-io's reactor.
pub(super) struct Task {
    pub(super) core: Core<Timer>,
    /// The wake socket, on async-io's reactor.
    wake: Async<UnixStream>,
}

impl Task {
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Task { core, wake } = self;
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
