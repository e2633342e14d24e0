//! The listener task on tokio's I/O driver.

use std::fmt;
use std::future::Future;
use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::net::UnixStream;
use tokio::time::{Instant, Sleep};
use winddown_core::Shutdown;

use super::{Builder, Core, Deadline};
use crate::hook::HOOK_WAIT;
use crate::listener::Runner;
use crate::signal::Signal;

impl Builder {
    /// Registers the signals like [`listen`](Self::listen), but starts no thread: returns the
    /// listener as a task that tokio's I/O driver wakes, as `tokio::signal` is woken. Spawn it
    /// (`tokio::spawn(listener)`); the first and second signals are acted on when the runtime
    /// runs it.
    ///
    /// Everything the [crate docs](crate) say holds, with the differences listed under
    /// [`TokioListener`]: in short, the third signal still ends the process from the signal
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
    pub fn listen_tokio(self, shutdown: &Shutdown) -> io::Result<TokioListener> {
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
        Ok(TokioListener {
            // With a hook, the timer is made here, so that a runtime without one panics now,
            // not at the first signal.
            core: Core::new(listener, worker, || Box::pin(tokio::time::sleep(HOOK_WAIT))),
            wake,
        })
    }
}

/// A signal listener run as a task on a tokio runtime, from [`Builder::listen_tokio`]: no
/// thread of its own.
///
/// A future that delivers the listener's signals to its [`Shutdown`] each time tokio's I/O
/// driver reports a delivery, and does not end (but see the last point below). Spawn it; aborting or dropping the
/// task drops the listener, with the same effect as dropping a [`Listener`](crate::Listener):
/// its signals do again what they did before.
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
///   its I/O driver, where the thread would wake the listener thread, which would then wake
///   the runtime. (A hook's hand-off, above, adds the hook thread and its two wake-ups.)
/// - If the driver ever failed to wait for the socket, the task would drop the listener and
///   end: the signals would get their old behaviour back (SIGTERM ends the process), never be
///   silently lost.
#[must_use = "a listener task delivers signals only while it is polled: spawn it"]
pub struct TokioListener {
    core: Core<Pin<Box<Sleep>>>,
    /// The wake socket, on tokio's I/O driver.
    wake: UnixStream,
}

impl TokioListener {
    /// The signals this listener handles, in the order they were added; empty once the
    /// listener was dropped after a failure (see the type docs).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use winddown::Shutdown;
    /// use winddown::signals::{Builder, Signal};
    ///
    /// let listener = Builder::new().listen_tokio(&Shutdown::new())?;
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

impl Future for TokioListener {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let TokioListener { core, wake } = self.get_mut();
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

impl fmt::Debug for TokioListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioListener")
            .field("signals", &self.signals())
            .finish_non_exhaustive()
    }
}
