//! Waiting on a shutdown: the named futures ([`Triggered`], [`Reached`], [`Drained`]) and, with
//! `std`, the blocking waits ([`BlockingWait`]).
//!
//! Each event has one future, owned and `'static` (it holds a handle clone), so it can be
//! stored in a struct, spawned, or selected on in a loop. All of them are cancel-safe, `Send`,
//! `Unpin`, and executor-free: they park on the scope's own waiter lists (`waiters.rs`), so any
//! executor, or a plain `block_on`, can poll them. The blocking waits park the thread on the
//! same lists.
//!
#![cfg_attr(
    all(feature = "std", not(loom)),
    doc = "[`BlockingWait`]: BlockingWait"
)]
#![cfg_attr(
    not(all(feature = "std", not(loom))),
    doc = "[`BlockingWait`]: https://docs.rs/winddown-core/0.1/winddown_core/futures/struct.BlockingWait.html"
)]

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::waiters::{Ticket, WaitList};
use crate::raw::{Header, RawHandle};
use crate::Phase;

/// What a waiter waits for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Until {
    /// The phase is at least this one.
    Phase(Phase),
    /// The drain has completed.
    Drained,
}

impl Until {
    /// The phase if the condition holds.
    pub(crate) fn check(self, shared: &Header) -> Option<Phase> {
        let phase = shared.phase();
        match self {
            Until::Phase(wanted) => (phase >= wanted).then_some(phase),
            Until::Drained => shared.is_drained().then_some(phase),
        }
    }

    /// The list woken when the condition may have become true.
    pub(crate) fn list(self, shared: &Header) -> &WaitList {
        match self {
            Until::Phase(_) => shared.phase_waiters(),
            Until::Drained => shared.drain_waiters(),
        }
    }
}

/// One waiter: what it waits for and its place in the list, if parked. Knows nothing of the
/// handle, so the futures (which hold one) and the blocking waits (which borrow one) share it;
/// its owner calls [`Waiter::cancel`] when it is dropped.
struct Waiter {
    until: Until,
    ticket: Option<Ticket>,
}

impl Waiter {
    fn new(until: Until) -> Self {
        Self {
            until,
            ticket: None,
        }
    }

    fn poll(&mut self, shared: &Header, cx: &mut Context<'_>) -> Poll<Phase> {
        let until = self.until;
        let list = until.list(shared);
        // The cheap path: already true. A waiter woken by the list finds its generation gone
        // and leaves without the lock (`cancel`).
        if let Some(phase) = until.check(shared) {
            list.cancel(&mut self.ticket);
            return Poll::Ready(phase);
        }
        // Checked again under the list's lock before parking: waiters invariant 3.
        match list.park(&mut self.ticket, cx.waker(), || until.check(shared)) {
            Some(phase) => Poll::Ready(phase),
            None => Poll::Pending,
        }
    }

    fn cancel(&mut self, shared: &Header) {
        self.until.list(shared).cancel(&mut self.ticket);
    }
}

/// The state machine shared by every future here: a waiter and the handle it waits on.
struct Wait {
    shutdown: RawHandle,
    waiter: Waiter,
}

impl Wait {
    fn new(shutdown: RawHandle, until: Until) -> Self {
        Self {
            shutdown,
            waiter: Waiter::new(until),
        }
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<Phase> {
        self.waiter.poll(self.shutdown.header(), cx)
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        // Cancel safety: leave the list (a no-op once resumed or never parked). Runs before the
        // handle is dropped (fields drop after this), so the list is still alive.
        self.waiter.cancel(self.shutdown.header());
    }
}

impl fmt::Debug for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("until", &self.waiter.until)
            .field("ticket", &self.waiter.ticket.is_some())
            .finish()
    }
}

/// Declares one named future over `Wait`.
macro_rules! wait_future {
    (
        $(#[$meta:meta])*
        $name:ident, $output:ty, |$phase:ident| $map:expr
    ) => {
        $(#[$meta])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $name {
            wait: Wait,
        }

        impl $name {
            pub(crate) fn new(shutdown: RawHandle, until: Until) -> Self {
                Self { wait: Wait::new(shutdown, until) }
            }
        }

        impl Future for $name {
            type Output = $output;

            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<$output> {
                match self.get_mut().wait.poll_wait(cx) {
                    Poll::Ready($phase) => Poll::Ready($map),
                    Poll::Pending => Poll::Pending,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("wait", &self.wait).finish()
            }
        }
    };
}

wait_future! {
    /// Completes once the shutdown is triggered. Returned by
    /// [`Shutdown::triggered`](crate::Shutdown::triggered).
    ///
    /// It holds a handle to the shutdown (so it is `'static`: store it, spawn it, select on it
    /// in a loop), which keeps the shutdown's state alive while it exists, as a handle does.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing, since the trigger is a state, not a message.
    Triggered, (), |_phase| ()
}

wait_future! {
    /// Completes with the current phase once the shutdown has reached a phase. Returned by
    /// [`Shutdown::reached`](crate::Shutdown::reached).
    ///
    /// It holds a handle to the shutdown, as [`Triggered`] does.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing.
    Reached, Phase, |phase| phase
}

wait_future! {
    /// Completes once admissions are closed and every guard has been dropped. Returned by
    /// [`Shutdown::drained`](crate::Shutdown::drained).
    ///
    /// It holds a handle to the shutdown, as [`Triggered`] does.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing; the drain is a state that stays reached.
    Drained, (), |_phase| ()
}

/// The blocking waits of a shutdown, for threads that are not async tasks. Returned by
/// [`Shutdown::blocking`](crate::Shutdown::blocking) (feature `std`).
///
/// One method per event, as the futures: [`triggered`](Self::triggered),
/// [`reached`](Self::reached) and [`drained`](Self::drained). Each takes an optional timeout:
/// `None` waits as long as it takes, `Some(timeout)` gives up after `timeout` and says so in its
/// result (`false` or `None`). A timeout too large to add to the clock waits as long as it takes.
///
/// # Blocking
///
/// Each wait parks the calling thread (on the same waiter lists as the futures, woken by the
/// event); do not call one from inside an async task, where it would block the executor's
/// thread: await [`Shutdown::triggered`](crate::Shutdown::triggered) and the other futures
/// there instead.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use std::time::Duration;
/// use winddown::Shutdown;
///
/// let shutdown = Shutdown::new();
/// let request = shutdown.enter()?;
/// shutdown.close();
/// // Give the request a second; it does not finish.
/// assert!(!shutdown.blocking().drained(Some(Duration::from_millis(10))));
/// std::thread::spawn(move || drop(request));
/// assert!(shutdown.blocking().drained(None)); // as long as it takes
/// # Ok::<(), winddown::Closed>(())
/// ```
#[cfg(all(feature = "std", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Clone, Copy)]
pub struct BlockingWait<'a> {
    shared: &'a Header,
}

#[cfg(all(feature = "std", not(loom)))]
impl<'a> BlockingWait<'a> {
    pub(crate) fn new(shared: &'a Header) -> Self {
        Self { shared }
    }

    /// Blocks until the shutdown is triggered, or `timeout` passes: whether it was triggered
    /// (always `true` without a timeout).
    ///
    /// # Blocking
    ///
    /// Parks the thread; see [Blocking](Self#blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use std::time::Duration;
    /// use winddown::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// assert!(!shutdown.blocking().triggered(Some(Duration::ZERO)));
    /// std::thread::spawn({
    ///     let shutdown = shutdown.clone();
    ///     move || shutdown.trigger(Reason::requested())
    /// });
    /// assert!(shutdown.blocking().triggered(None));
    /// ```
    pub fn triggered(&self, timeout: Option<core::time::Duration>) -> bool {
        self.wait(Until::Phase(Phase::Initiated), timeout).is_some()
    }

    /// Blocks until the phase is `phase` or later, or `timeout` passes: the phase found, or
    /// `None` if the timeout passed first (never `None` without a timeout). Since
    /// [`Forced`](Phase::Forced) orders after every phase, a forced shutdown ends every wait.
    ///
    /// # Blocking
    ///
    /// Parks the thread; see [Blocking](Self#blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use std::time::Duration;
    /// use winddown::{Phase, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// assert_eq!(shutdown.blocking().reached(Phase::Draining, Some(Duration::ZERO)), None);
    /// shutdown.close();
    /// assert_eq!(
    ///     shutdown.blocking().reached(Phase::Initiated, None),
    ///     Some(Phase::StoppingNewRequests)
    /// );
    /// ```
    pub fn reached(&self, phase: Phase, timeout: Option<core::time::Duration>) -> Option<Phase> {
        self.wait(Until::Phase(phase), timeout)
    }

    /// Blocks until the drain completes (admissions closed, every guard dropped), or `timeout`
    /// passes: whether it drained (always `true` without a timeout).
    ///
    /// # Blocking
    ///
    /// Parks the thread; see [Blocking](Self#blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// let shutdown = winddown::Shutdown::new();
    /// let guard = shutdown.enter()?;
    /// std::thread::spawn(move || drop(guard));
    /// shutdown.close();
    /// assert!(shutdown.blocking().drained(None));
    /// assert!(shutdown.is_drained());
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    pub fn drained(&self, timeout: Option<core::time::Duration>) -> bool {
        self.wait(Until::Drained, timeout).is_some()
    }

    fn wait(&self, until: Until, timeout: Option<core::time::Duration>) -> Option<Phase> {
        // A timeout too large for `Instant` means "no deadline".
        let deadline = timeout.and_then(|timeout| std::time::Instant::now().checked_add(timeout));
        block_until(self.shared, until, deadline)
    }
}

#[cfg(all(feature = "std", not(loom)))]
impl fmt::Debug for BlockingWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingWait")
            .field("phase", &self.shared.phase())
            .finish_non_exhaustive()
    }
}

/// Blocks the current thread until `until` holds or `deadline` passes; `None` on timeout.
///
/// Parks on the same list as the futures, with a waker that unparks this thread.
#[cfg(all(feature = "std", not(loom)))]
fn block_until(
    shared: &Header,
    until: Until,
    deadline: Option<std::time::Instant>,
) -> Option<Phase> {
    extern crate std;
    use alloc::sync::Arc;
    use alloc::task::Wake;
    use core::task::Waker;
    use std::thread::{self, Thread};
    use std::time::Instant;

    struct Unpark(Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut waiter = Waiter::new(until);
    let reached = loop {
        if let Poll::Ready(phase) = waiter.poll(shared, &mut cx) {
            break Some(phase);
        }
        // Unparks may be spurious (or left over from an earlier wait): the loop re-checks.
        match deadline {
            None => thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    break until.check(shared);
                }
                thread::park_timeout(deadline - now);
            }
        }
    };
    waiter.cancel(shared);
    reached
}
