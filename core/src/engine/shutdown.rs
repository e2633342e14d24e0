//! The `Shutdown` handle.

use core::fmt;
use core::hash::{Hash, Hasher};

#[cfg(all(feature = "std", not(loom)))]
use crate::futures::BlockingWait;
use crate::futures::{Drained, Reached, Triggered, Until};
use crate::raw::{Header, RawHandle};
use crate::{Closed, Guard, Phase, Reason, TransitionError};

/// A handle to one shutdown: its phase, its admissions, its waiters.
///
/// Every clone is a handle to the same shutdown. A handle is one machine word, `Send + Sync`,
/// and cheap to clone (one relaxed increment). Handles keep the shutdown's state alive; so do
/// the [`Guard`]s it admitted, so guards may outlive every handle.
///
/// The life of a shutdown: it starts [`Running`](Phase::Running) and admits work with
/// [`enter`](Self::enter). Something [`trigger`](Self::trigger)s it (a signal, a request, an
/// error; any number of times, from anywhere: only the first counts); admissions stay open for
/// a pre-stop window, then [`close`](Self::close) (or the orchestration, advancing to
/// [`StoppingNewRequests`](Phase::StoppingNewRequests)) refuses new work. The shutdown is
/// [drained](Self::drained) once admissions are closed and every guard is gone. Only an
/// explicit [`force`](Self::force) cuts it short.
///
/// Two handles are equal (`==`) when they are handles to the same shutdown.
///
/// # Stripes
///
/// The in-flight count is spread over one or more cache-padded *stripes*; each handle clone is
/// assigned the next stripe, round robin, and its `enter` touches only that stripe. So two
/// threads that each keep their own clone do not contend on one cache line, while a single
/// thread pays exactly one atomic operation per enter and one per leave, whatever the stripe
/// count. [`Shutdown::new`] picks one stripe per available CPU (at most 16) with `std`, and one
/// stripe without it; [`tuning::with_stripes`](crate::tuning::with_stripes) sets the count.
///
/// # Comparison to `tokio_util::task::TaskTracker`
///
/// A `TaskTracker` counts tasks and can be closed and reopened; its tokens are admitted even
/// after it is closed, so a caller must check `is_closed` separately and can race with the close.
/// A `Shutdown` refuses admission atomically once closed, moves only forward through named
/// [`Phase`]s, keeps the reason it was triggered, scales its count across cores with stripes, and
/// needs no runtime: it works with any executor, or none.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{Reason, Shutdown};
///
/// let shutdown = Shutdown::new();
///
/// // A worker thread takes a guard per unit of work until admissions close.
/// let worker = {
///     let shutdown = shutdown.clone();
///     std::thread::spawn(move || {
///         let mut done = 0;
///         while let Ok(guard) = shutdown.enter() {
///             done += 1; // the unit of work
///             drop(guard);
///         }
///         done
///     })
/// };
///
/// shutdown.trigger(Reason::Signal(15));
/// shutdown.close();
/// shutdown.blocking().drained(None);
/// let done = worker.join().unwrap();
/// assert_eq!(shutdown.refused(), 1); // the worker's last try
/// println!("the worker did {done} units");
/// assert_eq!(shutdown.reason(), Some(&Reason::Signal(15)));
/// ```
pub struct Shutdown {
    /// One counted handle on the scope (its stripe pointer); it keeps the scope alive.
    raw: RawHandle,
}

// ===== impl Shutdown: construction =====

impl Shutdown {
    /// A running shutdown with the default stripe count (see [Stripes](Self#stripes)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// assert_eq!(shutdown.phase(), Phase::Running);
    /// assert_eq!(shutdown.in_flight(), 0);
    /// ```
    pub fn new() -> Self {
        Self {
            raw: RawHandle::new(default_stripes()),
        }
    }

    /// A running shutdown with `stripes` stripes, already checked: for
    /// [`tuning::with_stripes`](crate::tuning::with_stripes).
    pub(crate) fn with_stripe_count(stripes: usize) -> Self {
        Self {
            raw: RawHandle::new(stripes),
        }
    }

    /// A child scope: triggered when this one is triggered, with its admissions closed when
    /// this one closes, forced when this one is forced, and counted as one unit in flight here
    /// until it has drained.
    ///
    /// A child can also be triggered and closed on its own, without touching its parent, and it
    /// drains on its own: give one to a library, a subsystem or a connection so it can wind down
    /// its own work, while the parent's drain still waits for it. It has the parent's stripe
    /// count.
    ///
    /// If this scope has already closed its admissions, the child is made triggered (reason
    /// [`Reason::Parent`]) and closed, so it is drained at once and not counted here.
    ///
    /// # Dropping a child that never drained
    ///
    /// The parent is never wedged by a child nobody drains. When every handle of the child is
    /// dropped and none of its guards remain, the child gives back its unit in the parent at
    /// once, drained or not. If its guards are still in flight, they still count in the parent
    /// (they are work in flight) until they drop; the parent's trigger and close reach the
    /// child even after its last handle is gone, so its admissions close with the parent's.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    ///
    /// let parent = Shutdown::new();
    /// let child = parent.child();
    /// assert_eq!(parent.in_flight(), 1); // the child counts here
    ///
    /// let request = child.enter()?;
    /// parent.close(); // closes the child's admissions too
    /// assert_eq!(child.reason(), Some(&Reason::Parent));
    /// assert!(child.enter().is_err());
    /// assert!(!parent.is_drained()); // the child still has a request in flight
    ///
    /// drop(request); // the child drains, then gives back its unit in the parent
    /// assert!(child.is_drained());
    /// assert!(parent.is_drained());
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    pub fn child(&self) -> Shutdown {
        let (raw, parent_phase) = self.raw.child();
        #[cfg(feature = "track")]
        raw.header().set_guard_clock(self.shared().guard_clock());
        raw.header().follow_parent(parent_phase);
        Shutdown { raw }
    }

    pub(crate) fn shared(&self) -> &Header {
        self.raw.header()
    }
}

/// One stripe per available CPU, at most 16, found once per process.
#[cfg(all(feature = "std", not(loom)))]
fn default_stripes() -> usize {
    static STRIPES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *STRIPES.get_or_init(|| crate::raw::cpus::available().clamp(1, 16))
}

/// One stripe: without `std` there is no portable way to count CPUs, and small targets are
/// usually single-core. Use [`tuning::with_stripes`](crate::tuning::with_stripes) to choose.
#[cfg(not(all(feature = "std", not(loom))))]
fn default_stripes() -> usize {
    1
}

// ===== impl Shutdown: admission =====

impl Shutdown {
    /// Admits one unit of work: a [`Guard`] to hold while the work is in flight.
    ///
    /// One atomic increment on this handle's stripe; no allocation. Entering is allowed in
    /// [`Running`](Phase::Running) and [`Initiated`](Phase::Initiated) (the pre-stop window)
    /// and refused from [`StoppingNewRequests`](Phase::StoppingNewRequests) on. Admission and
    /// closing are ordered on the same atomic word, so an admission either happened before the
    /// close (and the drain waits for it) or is refused: never both, never neither.
    ///
    /// # Errors
    ///
    /// [`Closed`], naming the phase, once admissions are closed. A refusal is counted (see
    /// [`refused`](Self::refused)); only refusals pay for that count.
    ///
    /// # Panics
    ///
    /// Never. Like `Arc`, it aborts the process if more than `isize::MAX / 4` guards are alive at
    /// once, which takes leaking them on purpose.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// let guard = shutdown.enter()?;
    /// assert_eq!(shutdown.in_flight(), 1);
    /// drop(guard);
    /// assert_eq!(shutdown.in_flight(), 0);
    ///
    /// shutdown.close();
    /// assert!(shutdown.enter().is_err());
    /// assert_eq!(shutdown.refused(), 1);
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    #[inline]
    #[cfg_attr(feature = "track", track_caller)]
    pub fn enter(&self) -> Result<Guard, Closed> {
        Ok(Guard::new(self.raw.enter()?, None))
    }

    /// [`enter`](Self::enter), with a label for the leak finder: with the `track` feature,
    /// [`track::guard_sites`] and the report group the live guards by
    /// call site *and* label (`src/db.rs:40:9 [db-write] (x2, oldest 12.300s)`). Without
    /// `track` the label is dropped at compile time: this is exactly `enter`, so a library can
    /// label its guards unconditionally at no cost.
    ///
    /// # Errors
    ///
    /// As [`enter`](Self::enter): [`Closed`] once admissions are closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// let shutdown = winddown::Shutdown::new();
    /// let write = shutdown.enter_labeled("db-write")?;
    /// # #[cfg(feature = "track")]
    /// assert_eq!(winddown::track::guard_sites(&shutdown)[0].label(), Some("db-write"));
    /// # drop(write);
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    #[cfg_attr(
        feature = "track",
        doc = "[`track::guard_sites`]: crate::track::guard_sites"
    )]
    #[cfg_attr(
        not(feature = "track"),
        doc = "[`track::guard_sites`]: https://docs.rs/winddown-core/0.1/winddown_core/track/fn.guard_sites.html"
    )]
    #[inline]
    #[cfg_attr(feature = "track", track_caller)]
    pub fn enter_labeled(&self, label: &'static str) -> Result<Guard, Closed> {
        Ok(Guard::new(self.raw.enter()?, Some(label)))
    }

    /// Guards in flight now, over all stripes: a snapshot, in which child scopes count as one
    /// each until they drain ([`track::in_flight_subtree`](crate::track::in_flight_subtree)
    /// counts their guards instead). Between the close and the end of the drain it may briefly
    /// include admissions that are being refused (each is counted, then undone); once drained
    /// it is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// let shutdown = winddown::Shutdown::new();
    /// let guards: Vec<_> = (0..3).map(|_| shutdown.enter().unwrap()).collect();
    /// assert_eq!(shutdown.in_flight(), 3);
    /// # drop(guards);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.shared().in_flight()
    }

    /// Admissions refused so far.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// let shutdown = winddown::Shutdown::new();
    /// shutdown.close();
    /// let _ = shutdown.enter();
    /// assert_eq!(shutdown.refused(), 1);
    /// ```
    pub fn refused(&self) -> usize {
        self.shared().refused()
    }
}

// ===== impl Shutdown: phases =====

impl Shutdown {
    /// Triggers the shutdown, and says whether this call was the one that did. The first
    /// trigger moves [`Running`](Phase::Running) to [`Initiated`](Phase::Initiated) and its
    /// `reason` is kept; a later one changes nothing and returns `false`, so any number of
    /// parts of a program (a signal, an admin endpoint, a failing task) may each ask for the
    /// stop without knowing of the others. Only [`force`](Self::force) cuts a stop short.
    /// Admissions stay open until [`close`](Self::close) (or the orchestration's pre-stop delay
    /// ends).
    ///
    /// Child scopes are triggered too, with [`Reason::Parent`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// assert!(shutdown.trigger(Reason::requested_because("deploy")));
    /// assert_eq!(shutdown.phase(), Phase::Initiated);
    /// assert!(shutdown.enter().is_ok()); // still admitting: pre-stop
    ///
    /// // Another part of the program asks too: nothing changes, nothing is forced.
    /// assert!(!shutdown.trigger(Reason::error("disk full")));
    /// assert_eq!(shutdown.phase(), Phase::Initiated);
    /// assert_eq!(shutdown.reason(), Some(&Reason::requested_because("deploy")));
    /// ```
    pub fn trigger(&self, reason: Reason) -> bool {
        self.shared().trigger(reason)
    }

    /// Runs `hook` once, with the reason, when the shutdown is triggered: on the thread that
    /// triggers it, after the phase moves to [`Initiated`](Phase::Initiated) and before any
    /// waiter is woken or that [`trigger`](Self::trigger) returns. If the shutdown is already
    /// triggered, `hook` runs now, on this thread. A trigger from a parent scope runs the
    /// child's hooks too, inside the parent's `trigger`.
    ///
    /// For integrations that must see the trigger synchronously: a cancellation token that
    /// must be cancelled by the time `trigger` returns, a readiness flag, a systemd
    /// `STOPPING=1`. The hook runs outside every lock of the scope, so it may call back into
    /// it (close it, enter, register another hook); keep it quick, since it delays the trigger
    /// and the waking of every waiter. With `std`, a panic in the hook is caught and ignored
    /// (without `std` a panic is the target's panic).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use winddown::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let ready = Arc::new(AtomicBool::new(true));
    /// shutdown.on_trigger({
    ///     let ready = ready.clone();
    ///     move |reason| {
    ///         assert_eq!(reason, &Reason::Signal(15));
    ///         ready.store(false, Ordering::SeqCst);
    ///     }
    /// });
    /// shutdown.trigger(Reason::Signal(15));
    /// assert!(!ready.load(Ordering::SeqCst)); // already done when `trigger` returns
    /// ```
    pub fn on_trigger(&self, hook: impl FnOnce(&Reason) + Send + 'static) {
        self.shared().on_trigger(alloc::boxed::Box::new(hook));
    }

    /// Closes admissions: moves to [`StoppingNewRequests`](Phase::StoppingNewRequests) if the
    /// shutdown is not there yet, triggering it first with [`Reason::Requested`] if it was
    /// still running. When this returns, every later [`enter`](Self::enter) is refused.
    ///
    /// Idempotent. Child scopes close too.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// shutdown.close();
    /// assert_eq!(shutdown.phase(), Phase::StoppingNewRequests);
    /// assert_eq!(shutdown.reason(), Some(&Reason::requested()));
    /// assert!(shutdown.is_drained()); // nothing was in flight
    /// ```
    pub fn close(&self) {
        self.shared().close(Reason::requested());
    }

    /// Forces the shutdown: moves to [`Forced`](Phase::Forced) from any phase that is not final,
    /// triggering first with `reason` if nothing has (then `reason` is the trigger's). Admissions
    /// close, and every waiter wakes (`Forced` orders after every phase).
    ///
    /// This is the one way to cut a stop short: the signal listener calls it for the second
    /// signal, and a running [`Plan`](crate::Plan) answers it by cancelling the closer it is
    /// running, skipping the rest, and giving the flush hooks their short forced budget
    /// ([`Config::forced_flush`](crate::Config::forced_flush)); its report says
    /// [`ForcedBy::Requested`](crate::ForcedBy::Requested). Triggering again never forces.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// shutdown.trigger(Reason::Signal(15));
    /// shutdown.force(Reason::Signal(15)); // Ctrl-C pressed twice
    /// assert_eq!(shutdown.phase(), Phase::Forced);
    /// assert_eq!(shutdown.reason(), Some(&Reason::Signal(15))); // the trigger's
    /// ```
    pub fn force(&self, reason: Reason) {
        self.shared().force(reason);
    }

    /// Moves the shutdown forward to `to`, returning the phase it left. Moving to
    /// [`StoppingNewRequests`](Phase::StoppingNewRequests) or beyond closes admissions (before
    /// this returns), and every waiter for a phase at or below `to` wakes. Phases may be skipped.
    ///
    /// This is the orchestration's lever; applications usually [`trigger`](Self::trigger) and
    /// [`close`](Self::close) instead.
    ///
    /// # Errors
    ///
    /// [`TransitionError`] if the move is not forward, if the shutdown has not been triggered
    /// (only [`trigger`](Self::trigger) leaves [`Running`](Phase::Running)), or if it is over.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// assert!(shutdown.advance(Phase::Draining).is_err()); // not triggered
    /// shutdown.trigger(Reason::requested());
    /// assert_eq!(shutdown.advance(Phase::Draining), Ok(Phase::Initiated));
    /// assert!(shutdown.enter().is_err());
    /// ```
    pub fn advance(&self, to: Phase) -> Result<Phase, TransitionError> {
        self.shared().advance(to)
    }

    /// The current phase.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Shutdown};
    /// assert_eq!(Shutdown::new().phase(), Phase::Running);
    /// ```
    pub fn phase(&self) -> Phase {
        self.shared().phase()
    }

    /// Whether the shutdown has been triggered: one atomic load, for worker loops to poll.
    ///
    /// A service should stop reporting itself ready (its readiness probe, its load balancer's
    /// health check) from here on, while admissions stay open through the pre-stop delay.
    /// Whether admissions are closed is `self.phase().admissions_closed()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    /// let shutdown = Shutdown::new();
    /// assert!(!shutdown.is_triggered());
    /// shutdown.trigger(Reason::requested());
    /// assert!(shutdown.is_triggered()); // not ready any more
    /// assert!(shutdown.enter().is_ok()); // but still admitting
    /// assert!(!shutdown.phase().admissions_closed());
    /// ```
    #[inline]
    pub fn is_triggered(&self) -> bool {
        self.shared().phase() != Phase::Running
    }

    /// Whether the drain has completed: admissions closed and no guard left.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// let shutdown = winddown::Shutdown::new();
    /// let guard = shutdown.enter()?;
    /// shutdown.close();
    /// assert!(!shutdown.is_drained());
    /// drop(guard);
    /// assert!(shutdown.is_drained());
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    pub fn is_drained(&self) -> bool {
        self.shared().is_drained()
    }

    /// The first trigger's reason, once triggered.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    /// let shutdown = Shutdown::new();
    /// assert_eq!(shutdown.reason(), None);
    /// shutdown.trigger(Reason::error("disk full"));
    /// shutdown.trigger(Reason::Signal(15));
    /// assert_eq!(shutdown.reason(), Some(&Reason::error("disk full")));
    /// ```
    pub fn reason(&self) -> Option<&Reason> {
        self.shared().reason()
    }
}

// ===== impl Shutdown: waiting =====

impl Shutdown {
    /// Waits until the shutdown is triggered.
    ///
    /// The future holds a handle (it is `'static`): keep it in a struct, spawn it, or select on
    /// it in a loop.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let waiter = shutdown.triggered();
    /// std::thread::spawn({
    ///     let shutdown = shutdown.clone();
    ///     move || shutdown.trigger(Reason::requested())
    /// });
    /// futures_lite::future::block_on(waiter);
    /// assert!(shutdown.is_triggered());
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub fn triggered(&self) -> Triggered {
        Triggered::new(self.raw.clone(), Until::Phase(Phase::Initiated))
    }

    /// Waits until the phase is `phase` or later, and yields the phase it found. Since
    /// [`Forced`](Phase::Forced) orders after every phase, a forced shutdown wakes every
    /// waiter; `reached(Phase::Forced)` waits for a force.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// shutdown.trigger(Reason::requested());
    /// shutdown.force(Reason::requested());
    /// let phase = futures_lite::future::block_on(shutdown.reached(Phase::Draining));
    /// assert_eq!(phase, Phase::Forced);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub fn reached(&self, phase: Phase) -> Reached {
        Reached::new(self.raw.clone(), Until::Phase(phase))
    }

    /// Waits until the drain completes: admissions closed and every guard dropped. It completes
    /// in the wake-up that follows the last guard's drop; nothing polls.
    ///
    /// Nothing drains before admissions close: a shutdown that is only triggered (pre-stop)
    /// keeps this pending until [`close`](Self::close) or the orchestration closes them.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// let guard = shutdown.enter()?;
    /// std::thread::spawn(move || drop(guard));
    /// shutdown.close();
    /// futures_lite::future::block_on(shutdown.drained());
    /// assert_eq!(shutdown.in_flight(), 0);
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub fn drained(&self) -> Drained {
        Drained::new(self.raw.clone(), Until::Drained)
    }

    /// The same waits, blocking the calling thread, each with an optional timeout (feature
    /// `std`): `shutdown.blocking().drained(Some(timeout))`. See [`BlockingWait`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use std::time::Duration;
    /// use winddown::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// // Nothing triggers it: the wait gives up after the timeout.
    /// assert!(!shutdown.blocking().triggered(Some(Duration::from_millis(1))));
    /// shutdown.close();
    /// assert!(shutdown.blocking().drained(None));
    /// ```
    #[cfg(all(feature = "std", not(loom)))]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn blocking(&self) -> BlockingWait<'_> {
        BlockingWait::new(self.shared())
    }
}

// ===== impl Shutdown: traits =====

impl Clone for Shutdown {
    /// Another handle to the same shutdown, assigned the next stripe.
    fn clone(&self) -> Self {
        Self {
            raw: self.raw.clone(),
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl AsRef<Shutdown> for Shutdown {
    fn as_ref(&self) -> &Shutdown {
        self
    }
}

impl PartialEq for Shutdown {
    /// Whether both are handles to the same shutdown (a shutdown has no value to compare
    /// besides what it is).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Shutdown;
    /// let a = Shutdown::new();
    /// assert!(a == a.clone());
    /// assert!(a != Shutdown::new());
    /// assert!(a.child() != a);
    /// ```
    fn eq(&self, other: &Shutdown) -> bool {
        core::ptr::eq(self.shared(), other.shared())
    }
}

impl Eq for Shutdown {}

impl Hash for Shutdown {
    /// Hashes which shutdown this is a handle to, consistently with `==`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        core::ptr::hash(self.shared(), state);
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("phase", &self.phase())
            .field("in_flight", &self.in_flight())
            .field("stripes", &self.shared().stripe_count())
            .finish()
    }
}
