//! The listener task on tokio's I/O driver.

use std::future::Future;
use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::net::UnixStream;
use tokio::time::{Instant, Sleep};
use winddown_core::Shutdown;

use super::{Builder, Core, Deadline, ListenerTask, Reactor};
use crate::hook::HOOK_WAIT;
use crate::listener::Runner;

impl Builder {
    /// Registers the signals like [`listen`](Self::listen), but starts no thread: returns the
    /// listener as a task that tokio's I/O driver wakes, as `tokio::signal` is woken. Spawn it
    /// (`tokio::spawn(listener)`); the first and second signals are acted on when the runtime
    /// runs it.
    ///
    /// Everything the [crate docs](crate) say holds, with the differences listed under
    /// [`ListenerTask`]: in short, the third signal still ends the process from the signal
    /// handler whatever the runtime is doing, and a stuck runtime delays the first two.
    ///
    /// Call it from inside the runtime (in `block_on`, in a task, or under
    /// [`Runtime::enter`](tokio::runtime::Runtime::enter)): the wake socket is registered with
    /// the runtime's I/O driver. The signals are registered when this returns: call it before
    /// the program starts threads of its own (a current-thread runtime starts none; a
    /// multi-thread runtime's workers are a limitation the [crate docs](crate#limitations)
    /// describe under "The first registration's window"). A signal that arrives before the
    /// task is first polled waits in its socket and is acted on at that first poll.
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
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// let shutdown = Shutdown::new();
    /// runtime.block_on(async {
    ///     let listener = Builder::empty().signal(Signal::Usr1).listen_tokio(&shutdown)?;
    ///     tokio::spawn(listener);
    ///
    ///     signal_hook::low_level::raise(Signal::Usr1.number())?; // stands in for `kill -USR1 <pid>`
    ///     shutdown.triggered().await;
    ///     std::io::Result::Ok(())
    /// })?;
    /// assert_eq!(shutdown.reason(), Some(&Reason::Signal(Signal::Usr1.number())));
    /// # Ok(())
    /// # }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    ///
    /// As [`listen`](Self::listen); [`ErrorKind::Other`] when called outside a tokio runtime;
    /// and the driver's error if it cannot register the wake socket. Nothing of the listener is
    /// left registered after an error.
    ///
    /// # Panics
    ///
    /// Like `tokio::signal` and `tokio::net`, if the runtime was built without its I/O driver
    /// (`enable_io` or `enable_all`); with an [`on_event`](Self::on_event) hook, like
    /// `tokio::time`, if it was built without its timer too (`enable_time` or `enable_all`):
    /// the wait for the hook is bounded by it.
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn listen_tokio(self, shutdown: &Shutdown) -> io::Result<ListenerTask> {
        // Before anything is registered: outside a runtime, `from_std` would panic.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "listen_tokio must be called from inside a tokio runtime",
            ));
        }
        let (listener, worker, wake) = self.register(shutdown, Runner::Task)?;
        wake.set_nonblocking(true)?;
        // On an error, `listener` is dropped here: its signals do what they did before.
        let wake = UnixStream::from_std(wake)?;
        Ok(ListenerTask(Reactor::Tokio(Task {
            // With a hook, the timer is made here, so that a runtime without one panics now,
            // not at the first signal.
            core: Core::new(listener, worker, || Box::pin(tokio::time::sleep(HOOK_WAIT))),
            wake,
        })))
    }
}

/// The listener task on tokio's I/O driver.
pub(super) struct Task {
    pub(super) core: Core<Pin<Box<Sleep>>>,
    /// The wake socket, on tokio's I/O driver.
    wake: UnixStream,
}

impl Task {
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Task { core, wake } = self;
        let empty = || {
            // `try_read` clears tokio's readiness when it finds the socket empty (task
            // invariant 2).
            let mut buf = [0_u8; 64];
            loop {
                match wake.try_read(&mut buf) {
                    Ok(0) => break, // cannot happen: the listener holds the other end
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    // WouldBlock: drained. Anything else cannot happen on our own socket.
                    Err(_) => break,
                }
            }
        };
        core.poll(cx, empty, |cx| wake.poll_read_ready(cx))
    }
}

impl Deadline for Pin<Box<Sleep>> {
    fn start(&mut self) {
        self.as_mut().reset(Instant::now() + HOOK_WAIT);
    }

    fn poll_passed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.as_mut().poll(cx)
    }
}
