//! Named futures for waiting on a shutdown: triggered, a phase reached, drained.
//!
//! Each comes in a borrowed form (returned by [`Shutdown::triggered`] and friends) and an owned,
//! `'static` form (`*_owned`) that holds a handle clone, for spawning.
//!
//! All of them are cancel-safe, `Send`, `Unpin`, and executor-free: they park on the scope's own
//! waiter lists (`waiters.rs`), so any executor, or a plain `block_on`, can poll them.
//!
//! [`Shutdown::triggered`]: crate::Shutdown::triggered

use core::borrow::Borrow;
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
    /// Triggered at least twice, or forced.
    Escalated,
}

impl Until {
    /// The phase if the condition holds.
    pub(crate) fn check(self, shared: &Header) -> Option<Phase> {
        let phase = shared.phase();
        match self {
            Until::Phase(wanted) => (phase >= wanted).then_some(phase),
            Until::Drained => shared.is_drained().then_some(phase),
            Until::Escalated => {
                (phase == Phase::Forced || shared.trigger_count() >= 2).then_some(phase)
            }
        }
    }

    /// The list woken when the condition may have become true.
    pub(crate) fn list(self, shared: &Header) -> &WaitList {
        match self {
            Until::Phase(_) | Until::Escalated => shared.phase_waiters(),
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

/// The state machine shared by every future here: a waiter and the handle it waits on
/// (borrowed, or an owned clone).
struct Wait<S: Borrow<RawHandle>> {
    shutdown: S,
    waiter: Waiter,
}

impl<S: Borrow<RawHandle>> Wait<S> {
    fn new(shutdown: S, until: Until) -> Self {
        Self {
            shutdown,
            waiter: Waiter::new(until),
        }
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<Phase> {
        self.waiter.poll(self.shutdown.borrow().header(), cx)
    }
}

impl<S: Borrow<RawHandle>> Drop for Wait<S> {
    fn drop(&mut self) {
        // Cancel safety: leave the list (a no-op once resumed or never parked). Runs before the
        // owned forms drop their handle, so the list is still alive.
        self.waiter.cancel(self.shutdown.borrow().header());
    }
}

impl<S: Borrow<RawHandle>> fmt::Debug for Wait<S> {
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
        $name:ident $(<$lt:lifetime>)?, $shutdown:ty, $output:ty, |$phase:ident| $map:expr
    ) => {
        $(#[$meta])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $name $(<$lt>)? {
            wait: Wait<$shutdown>,
        }

        impl $(<$lt>)? $name $(<$lt>)? {
            pub(crate) fn new(shutdown: $shutdown, until: Until) -> Self {
                Self { wait: Wait::new(shutdown, until) }
            }
        }

        // The borrowed futures name their lifetime once per impl; `'_` cannot be spliced here.
        #[allow(single_use_lifetimes)]
        impl $(<$lt>)? Future for $name $(<$lt>)? {
            type Output = $output;

            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<$output> {
                match self.get_mut().wait.poll_wait(cx) {
                    Poll::Ready($phase) => Poll::Ready($map),
                    Poll::Pending => Poll::Pending,
                }
            }
        }

        #[allow(single_use_lifetimes)]
        impl $(<$lt>)? fmt::Debug for $name $(<$lt>)? {
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
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing, since the trigger is a state, not a message.
    Triggered<'a>, &'a RawHandle, (), |_phase| ()
}

wait_future! {
    /// The owned form of [`Triggered`]. Returned by
    /// [`Shutdown::triggered_owned`](crate::Shutdown::triggered_owned).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`Triggered`].
    TriggeredOwned, RawHandle, (), |_phase| ()
}

wait_future! {
    /// Completes with the current phase once the shutdown has reached a phase. Returned by
    /// [`Shutdown::reached`](crate::Shutdown::reached).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing.
    Reached<'a>, &'a RawHandle, Phase, |phase| phase
}

wait_future! {
    /// The owned form of [`Reached`]. Returned by
    /// [`Shutdown::reached_owned`](crate::Shutdown::reached_owned).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`Reached`].
    ReachedOwned, RawHandle, Phase, |phase| phase
}

wait_future! {
    /// Completes with the current phase once the shutdown is triggered a second time or
    /// forced. Returned by [`Shutdown::escalated`](crate::Shutdown::escalated).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing.
    Escalated<'a>, &'a RawHandle, Phase, |phase| phase
}

wait_future! {
    /// Completes once admissions are closed and every guard has been dropped. Returned by
    /// [`Shutdown::drained`](crate::Shutdown::drained).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing; the drain is a state that stays reached.
    Drained<'a>, &'a RawHandle, (), |_phase| ()
}

wait_future! {
    /// The owned form of [`Drained`]. Returned by
    /// [`Shutdown::drained_owned`](crate::Shutdown::drained_owned).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`Drained`].
    DrainedOwned, RawHandle, (), |_phase| ()
}

/// Blocks the current thread until `until` holds or `deadline` passes; `None` on timeout.
///
/// Parks on the same list as the futures, with a waker that unparks this thread.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) fn block_until(
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
