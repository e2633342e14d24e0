//! Named futures for waiting on a shutdown: triggered, a phase reached, drained.
//!
//! Each comes in a borrowed form (returned by [`Shutdown::triggered`] and friends) and an owned,
//! `'static` form (`*_owned`) that holds a handle clone, for spawning.
//!
//! All of them are cancel-safe, `Send`, `Unpin`, and executor-free: they are built on
//! [`event_listener`], so any executor, or a plain `block_on`, can poll them.
//!
//! [`Shutdown::triggered`]: crate::Shutdown::triggered

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::{Event, EventListener};

use crate::shared::Shared;
use crate::{Phase, Shutdown};

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
    pub(crate) fn check(self, shared: &Shared) -> Option<Phase> {
        let phase = shared.phase();
        match self {
            Until::Phase(wanted) => (phase >= wanted).then_some(phase),
            Until::Drained => shared.is_drained().then_some(phase),
            Until::Escalated => {
                (phase == Phase::Forced || shared.trigger_count() >= 2).then_some(phase)
            }
        }
    }

    /// The event notified when the condition may have become true.
    pub(crate) fn event(self, shared: &Shared) -> &Event {
        match self {
            Until::Phase(_) | Until::Escalated => shared.phase_event(),
            Until::Drained => shared.drain_event(),
        }
    }
}

/// The state machine shared by every future here.
struct Wait<S> {
    shutdown: S,
    until: Until,
    listener: Option<EventListener>,
}

impl<S: AsRef<Shutdown>> Wait<S> {
    fn new(shutdown: S, until: Until) -> Self {
        Self {
            shutdown,
            until,
            listener: None,
        }
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<Phase> {
        let shared = self.shutdown.as_ref().shared();
        loop {
            if let Some(phase) = self.until.check(shared) {
                self.listener = None;
                return Poll::Ready(phase);
            }
            match &mut self.listener {
                // No lost wake-up: we checked, now we register, and the loop checks again.
                // `listen` emits a SeqCst fence after registering and every phase change or
                // drain notifies with a SeqCst fence after its own store, so either the re-check
                // sees the change or the notification sees our listener.
                None => self.listener = Some(self.until.event(shared).listen()),
                Some(listener) => {
                    match Pin::new(listener).poll(cx) {
                        Poll::Ready(()) => self.listener = None,
                        Poll::Pending => return Poll::Pending,
                    }
                    // Notified: loop to re-check (notifications may be spurious).
                }
            }
        }
    }
}

impl<S> fmt::Debug for Wait<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("until", &self.until)
            .field("listening", &self.listener.is_some())
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
    Triggered<'a>, &'a Shutdown, (), |_phase| ()
}

wait_future! {
    /// The owned form of [`Triggered`]. Returned by
    /// [`Shutdown::triggered_owned`](crate::Shutdown::triggered_owned).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`Triggered`].
    TriggeredOwned, Shutdown, (), |_phase| ()
}

wait_future! {
    /// Completes with the current phase once the shutdown has reached a phase. Returned by
    /// [`Shutdown::reached`](crate::Shutdown::reached).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing.
    Reached<'a>, &'a Shutdown, Phase, |phase| phase
}

wait_future! {
    /// The owned form of [`Reached`]. Returned by
    /// [`Shutdown::reached_owned`](crate::Shutdown::reached_owned).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`Reached`].
    ReachedOwned, Shutdown, Phase, |phase| phase
}

wait_future! {
    /// Completes with the current phase once the shutdown is triggered a second time or
    /// forced. Returned by [`Shutdown::escalated`](crate::Shutdown::escalated).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing.
    Escalated<'a>, &'a Shutdown, Phase, |phase| phase
}

wait_future! {
    /// Completes once admissions are closed and every guard has been dropped. Returned by
    /// [`Shutdown::drained`](crate::Shutdown::drained).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing; the drain is a state that stays reached.
    Drained<'a>, &'a Shutdown, (), |_phase| ()
}

wait_future! {
    /// The owned form of [`Drained`]. Returned by
    /// [`Shutdown::drained_owned`](crate::Shutdown::drained_owned).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`Drained`].
    DrainedOwned, Shutdown, (), |_phase| ()
}

/// Blocks the current thread until `until` holds or `deadline` passes; `None` on timeout.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) fn block_until(
    shared: &Shared,
    until: Until,
    deadline: Option<std::time::Instant>,
) -> Option<Phase> {
    use event_listener::Listener as _;

    loop {
        if let Some(phase) = until.check(shared) {
            return Some(phase);
        }
        let listener = until.event(shared).listen();
        // Re-check after registering: see `Wait::poll_wait`.
        if let Some(phase) = until.check(shared) {
            return Some(phase);
        }
        match deadline {
            None => listener.wait(),
            Some(deadline) => {
                if listener.wait_deadline(deadline).is_none() {
                    return until.check(shared);
                }
            }
        }
    }
}
