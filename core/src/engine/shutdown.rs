//! The `Shutdown` handle.

use core::fmt;
use core::num::NonZeroUsize;

use super::error::MAX_STRIPES;
use crate::futures::{
    Drained, DrainedOwned, Escalated, Reached, ReachedOwned, Triggered, TriggeredOwned, Until,
};
use crate::raw::{Header, RawHandle};
#[cfg(feature = "track")]
use crate::GuardSite;
use crate::{Closed, Guard, Phase, Reason, StripeCountError, TransitionError};

/// A handle to one shutdown: its phase, its admissions, its waiters.
///
/// Every clone is a handle to the same shutdown. A handle is one machine word, `Send + Sync`,
/// and cheap to clone (one relaxed increment). Handles keep the shutdown's state alive; so do
/// the [`Guard`]s it admitted, so guards may outlive every handle.
///
/// The life of a shutdown: it starts [`Running`](Phase::Running) and admits work with
/// [`enter`](Self::enter). Something [`trigger`](Self::trigger)s it (a signal, a request, an
/// error); admissions stay open for a pre-stop window, then [`close`](Self::close) (or the
/// orchestration, advancing to [`StoppingNewRequests`](Phase::StoppingNewRequests)) refuses
/// new work. The shutdown is [drained](Self::drained) once admissions are closed and every
/// guard is gone.
///
/// # Stripes
///
/// The in-flight count is spread over one or more cache-padded *stripes*; each handle clone is
/// assigned the next stripe, round robin, and its `enter` touches only that stripe. So two
/// threads that each keep their own clone do not contend on one cache line, while a single
/// thread pays exactly one atomic operation per enter and one per leave, whatever the stripe
/// count. [`Shutdown::new`] picks one stripe per available CPU (at most 16) with `std`, and one
/// stripe without it; [`Shutdown::with_stripes`] sets the count.
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
/// shutdown.wait_drained();
/// let done = worker.join().unwrap();
/// assert_eq!(shutdown.refused(), 1); // the worker's last try
/// println!("the worker did {done} units");
/// assert_eq!(shutdown.reason(), Some(&Reason::Signal(15)));
/// ```
pub struct Shutdown {
    /// One counted handle on the scope (its stripe pointer); it keeps the scope alive.
    raw: RawHandle,
}

/// The result of [`Shutdown::trigger`]: which trigger this was.
///
/// Escalation is counted here; what a second or third trigger means is for the caller to decide
/// (the signal listener forces on the second and exits on the third).
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{Reason, Shutdown};
///
/// let shutdown = Shutdown::new();
/// assert!(shutdown.trigger(Reason::Signal(2)).is_first());
/// let second = shutdown.trigger(Reason::Signal(2));
/// assert_eq!(second.get(), 2);
/// // The first reason is kept.
/// assert_eq!(shutdown.reason(), Some(&Reason::Signal(2)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TriggerCount(NonZeroUsize);

impl TriggerCount {
    /// 1 for the first trigger, 2 for the second, and so on.
    pub const fn get(self) -> usize {
        self.0.get()
    }

    /// Whether this was the trigger that started the shutdown.
    pub const fn is_first(self) -> bool {
        self.0.get() == 1
    }
}

impl fmt::Display for TriggerCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
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

    /// A running shutdown with `stripes` stripes. One stripe is the smallest configuration (one
    /// cache line of count); more stripes let more threads enter without contending.
    ///
    /// # Errors
    ///
    /// [`StripeCountError`] unless `1 <= stripes <= MAX_STRIPES`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Shutdown;
    ///
    /// let shutdown = Shutdown::with_stripes(1)?;
    /// assert_eq!(shutdown.stripes(), 1);
    /// assert!(Shutdown::with_stripes(0).is_err());
    /// # Ok::<(), winddown::StripeCountError>(())
    /// ```
    pub fn with_stripes(stripes: usize) -> Result<Self, StripeCountError> {
        if !(1..=MAX_STRIPES).contains(&stripes) {
            return Err(StripeCountError::new(stripes));
        }
        Ok(Self {
            raw: RawHandle::new(stripes),
        })
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
/// usually single-core. Use [`Shutdown::with_stripes`] to choose.
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
    /// [`guard_sites`](Self::guard_sites) and the report group the live guards by call site
    /// *and* label (`src/db.rs:40:9 [db-write] (x2, oldest 12.300s)`). Without `track` the label
    /// is dropped at compile time: this is exactly `enter`, so a library can label its guards
    /// unconditionally at no cost.
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
    /// assert_eq!(shutdown.guard_sites()[0].label(), Some("db-write"));
    /// # drop(write);
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    #[inline]
    #[cfg_attr(feature = "track", track_caller)]
    pub fn enter_labeled(&self, label: &'static str) -> Result<Guard, Closed> {
        Ok(Guard::new(self.raw.enter()?, Some(label)))
    }

    /// Sets the clock the leak finder (feature `track`) stamps this scope's guards with, so
    /// [`guard_sites`](Self::guard_sites) can tell how old the oldest guard of each site is.
    /// By default, with `std`, it is a monotonic clock; without `std` there is none (ages are
    /// `None`) until one is set: an embedded target's tick counter, say. A test on a virtual
    /// clock sets that clock. Child scopes made afterwards inherit it. Without `track` this
    /// does nothing (the clock is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use std::time::Duration;
    /// use winddown::runtime::Runtime;
    /// use winddown::testing::VirtualRuntime;
    /// use winddown::Shutdown;
    ///
    /// let runtime = VirtualRuntime::new();
    /// let shutdown = Shutdown::new();
    /// shutdown.set_guard_clock({
    ///     let runtime = runtime.clone();
    ///     move || runtime.now()
    /// });
    /// let request = shutdown.enter()?;
    /// runtime.advance(Duration::from_secs(12));
    /// # #[cfg(feature = "track")]
    /// assert_eq!(shutdown.guard_sites()[0].oldest(), Some(Duration::from_secs(12)));
    /// # drop(request);
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    pub fn set_guard_clock(
        &self,
        clock: impl Fn() -> core::time::Duration + Send + Sync + 'static,
    ) {
        #[cfg(feature = "track")]
        self.shared()
            .set_guard_clock(Some(alloc::sync::Arc::new(clock)));
        #[cfg(not(feature = "track"))]
        drop(clock);
    }

    /// Where the guards in flight now were entered (feature `track`, the leak finder): one
    /// [`GuardSite`] per call site of [`enter`](Self::enter), with how many live guards came
    /// from there, the most first (then by file, line and column). A snapshot.
    ///
    /// With `track`, `enter` is `#[track_caller]`, so the site is the caller's; so are the
    /// adapters that enter for you (`ShutdownExt::guarded`, `TaskSet::spawn`, with their own
    /// `track` feature, which the facade's turns on). Each guard then records its site under a
    /// lock of its stripe when it is entered and forgets it when it drops, and is two words
    /// instead of one: a debugging aid, off by default. Without the feature none of it is
    /// compiled. When the drain of a [`Plan`](crate::Plan) ends with guards still in flight, the
    /// report lists these sites in [`DrainRecord::guard_sites`](crate::DrainRecord::guard_sites).
    ///
    /// The guards of child scopes (and theirs) are included, even those of a child whose
    /// handles are all gone: a guard leaked in a library's scope is still named. Each site
    /// also carries its label ([`enter_labeled`](Self::enter_labeled)) and the age of its oldest
    /// guard ([`set_guard_clock`](Self::set_guard_clock)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// let request = shutdown.enter()?;
    /// let batch: Vec<_> = (0..2).map(|_| shutdown.enter()).collect::<Result<_, _>>()?;
    ///
    /// let sites = shutdown.guard_sites();
    /// assert_eq!(sites.len(), 2);
    /// assert_eq!((sites[0].line(), sites[0].count()), (line!() - 4, 2)); // the batch
    /// assert_eq!((sites[1].line(), sites[1].count()), (line!() - 6, 1)); // the request
    /// println!("{}", sites[0]); // "src/main.rs:8:39 (x2)" or the like
    ///
    /// drop((request, batch));
    /// assert!(shutdown.guard_sites().is_empty());
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    #[cfg(feature = "track")]
    #[cfg_attr(docsrs, doc(cfg(feature = "track")))]
    pub fn guard_sites(&self) -> alloc::vec::Vec<GuardSite> {
        crate::engine::track::guard_sites(self.shared())
    }

    /// Guards in flight now, over all stripes: a snapshot, in which child scopes count as one
    /// each until they drain. Between the close and the end of the drain it may briefly include
    /// admissions that are being refused (each is counted, then undone); once drained it is 0.
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

    /// Guards in flight now in this scope and every scope below it, each guard counted once
    /// (where [`in_flight`](Self::in_flight) counts an undrained child as one). A snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// let parent = winddown::Shutdown::new();
    /// let library = parent.child();
    /// let jobs: Vec<_> = (0..3).map(|_| library.enter().unwrap()).collect();
    /// assert_eq!(parent.in_flight(), 1); // the child, as one
    /// assert_eq!(parent.in_flight_subtree(), 3); // its three jobs
    /// # drop(jobs);
    /// ```
    pub fn in_flight_subtree(&self) -> usize {
        self.shared().in_flight_subtree()
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

    /// The number of stripes the count is spread over.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// let shutdown = winddown::Shutdown::with_stripes(4)?;
    /// assert_eq!(shutdown.stripes(), 4);
    /// # Ok::<(), winddown::StripeCountError>(())
    /// ```
    pub fn stripes(&self) -> usize {
        self.shared().stripe_count()
    }

    /// Whether `self` and `other` are handles to the same shutdown.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Shutdown;
    /// let a = Shutdown::new();
    /// assert!(a.same_as(&a.clone()));
    /// assert!(!a.same_as(&Shutdown::new()));
    /// ```
    pub fn same_as(&self, other: &Shutdown) -> bool {
        core::ptr::eq(self.shared(), other.shared())
    }
}

// ===== impl Shutdown: phases =====

impl Shutdown {
    /// Triggers the shutdown: the first trigger moves [`Running`](Phase::Running) to
    /// [`Initiated`](Phase::Initiated) and its `reason` is kept; every later one is only
    /// counted. Admissions stay open until [`close`](Self::close) (or the orchestration's
    /// pre-stop delay ends).
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
    /// let first = shutdown.trigger(Reason::requested_because("deploy"));
    /// assert!(first.is_first());
    /// assert_eq!(shutdown.phase(), Phase::Initiated);
    /// assert!(shutdown.enter().is_ok()); // still admitting: pre-stop
    /// ```
    pub fn trigger(&self, reason: Reason) -> TriggerCount {
        let nth = self.shared().trigger(reason);
        // `trigger` returns the count including this call, so it is at least one.
        TriggerCount(NonZeroUsize::new(nth).unwrap_or(NonZeroUsize::MIN))
    }

    /// Triggers the shutdown with `reason` only if nothing has triggered it yet; returns whether
    /// this call did. Unlike [`trigger`](Self::trigger), a call that finds the shutdown already
    /// triggered does not count as a repeat, so it never escalates: use it where an event should
    /// start the shutdown but not force it (the application returning, a token cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// shutdown.trigger(Reason::Signal(15));
    /// assert!(!shutdown.trigger_if_untriggered(Reason::requested_because("app returned")));
    /// assert_eq!(shutdown.trigger_count(), 1); // not an escalation
    /// assert_eq!(shutdown.reason(), Some(&Reason::Signal(15)));
    /// ```
    pub fn trigger_if_untriggered(&self, reason: Reason) -> bool {
        self.shared().trigger_if_untriggered(reason)
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
    /// triggering first with `reason` if nothing has (that counts as the first trigger).
    /// Admissions close. Forcing a triggered shutdown is not a repeat trigger: a running
    /// [`Plan`](crate::Plan) reports it as [`ForcedBy::External`](crate::ForcedBy::External).
    /// To escalate, as a second signal does, [`trigger`](Self::trigger) again (a running plan
    /// then forces itself, [`ForcedBy::Escalation`](crate::ForcedBy::Escalation)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// shutdown.trigger(Reason::Signal(15));
    /// shutdown.force(Reason::requested_because("operator"));
    /// assert_eq!(shutdown.phase(), Phase::Forced);
    /// assert_eq!(shutdown.trigger_count(), 1); // forced, not escalated
    /// assert_eq!(shutdown.reason(), Some(&Reason::Signal(15)));
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
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    /// let shutdown = Shutdown::new();
    /// assert!(!shutdown.is_triggered());
    /// shutdown.trigger(Reason::requested());
    /// assert!(shutdown.is_triggered());
    /// ```
    #[inline]
    pub fn is_triggered(&self) -> bool {
        self.shared().phase() != Phase::Running
    }

    /// Whether the service should report itself ready: true until the shutdown is triggered.
    /// Health checks use it to tell load balancers to stop sending work during the pre-stop
    /// delay, while admissions are still open.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    /// let shutdown = Shutdown::new();
    /// assert!(shutdown.is_ready());
    /// shutdown.trigger(Reason::requested());
    /// assert!(!shutdown.is_ready());
    /// assert!(shutdown.enter().is_ok()); // not ready, but still admitting
    /// ```
    pub fn is_ready(&self) -> bool {
        !self.is_triggered()
    }

    /// Whether admissions are closed (the phase is
    /// [`StoppingNewRequests`](Phase::StoppingNewRequests) or later).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// let shutdown = winddown::Shutdown::new();
    /// assert!(!shutdown.is_closed());
    /// shutdown.close();
    /// assert!(shutdown.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared().phase().admissions_closed()
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

    /// How many times the shutdown has been triggered (a parent's trigger counts once, and only
    /// if the scope had not been triggered before).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    /// let shutdown = Shutdown::new();
    /// shutdown.trigger(Reason::Signal(2));
    /// shutdown.trigger(Reason::Signal(2));
    /// assert_eq!(shutdown.trigger_count(), 2);
    /// ```
    pub fn trigger_count(&self) -> usize {
        self.shared().trigger_count()
    }
}

// ===== impl Shutdown: waiting =====

impl Shutdown {
    /// Waits until the shutdown is triggered.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let waiter = shutdown.triggered_owned();
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
    pub fn triggered(&self) -> Triggered<'_> {
        Triggered::new(&self.raw, Until::Phase(Phase::Initiated))
    }

    /// The owned form of [`triggered`](Self::triggered), holding a handle clone.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub fn triggered_owned(&self) -> TriggeredOwned {
        TriggeredOwned::new(self.raw.clone(), Until::Phase(Phase::Initiated))
    }

    /// Waits until the phase is `phase` or later, and yields the phase it found. Since
    /// [`Forced`](Phase::Forced) orders after every phase, a forced shutdown wakes every
    /// waiter.
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
    pub fn reached(&self, phase: Phase) -> Reached<'_> {
        Reached::new(&self.raw, Until::Phase(phase))
    }

    /// The owned form of [`reached`](Self::reached), holding a handle clone.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub fn reached_owned(&self, phase: Phase) -> ReachedOwned {
        ReachedOwned::new(self.raw.clone(), Until::Phase(phase))
    }

    /// Waits until the shutdown escalates: a second [`trigger`](Self::trigger), or the move
    /// to [`Forced`](Phase::Forced). Yields the phase it found. The orchestration forces the
    /// sequence when this completes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// shutdown.trigger(Reason::Signal(15));
    /// shutdown.trigger(Reason::Signal(15)); // Ctrl-C pressed twice
    /// let phase = futures_lite::future::block_on(shutdown.escalated());
    /// assert_eq!(phase, Phase::Initiated); // escalated, but nobody forced it yet
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub fn escalated(&self) -> Escalated<'_> {
        Escalated::new(&self.raw, Until::Escalated)
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
    pub fn drained(&self) -> Drained<'_> {
        Drained::new(&self.raw, Until::Drained)
    }

    /// The owned form of [`drained`](Self::drained), holding a handle clone.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub fn drained_owned(&self) -> DrainedOwned {
        DrainedOwned::new(self.raw.clone(), Until::Drained)
    }
}

// ===== impl Shutdown: blocking waits (std) =====

#[cfg(all(feature = "std", not(loom)))]
impl Shutdown {
    /// Blocks the current thread until the shutdown is triggered.
    ///
    /// # Blocking
    ///
    /// Parks the thread; do not call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    /// let shutdown = Shutdown::new();
    /// std::thread::spawn({
    ///     let shutdown = shutdown.clone();
    ///     move || shutdown.trigger(Reason::requested())
    /// });
    /// shutdown.wait_triggered();
    /// assert!(shutdown.is_triggered());
    /// ```
    pub fn wait_triggered(&self) {
        crate::futures::block_until(self.shared(), Until::Phase(Phase::Initiated), None);
    }

    /// Blocks until the shutdown is triggered or `timeout` passes; whether it was triggered.
    ///
    /// # Blocking
    ///
    /// Parks the thread; do not call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use core::time::Duration;
    /// let shutdown = winddown::Shutdown::new();
    /// assert!(!shutdown.wait_triggered_timeout(Duration::ZERO));
    /// ```
    pub fn wait_triggered_timeout(&self, timeout: core::time::Duration) -> bool {
        self.block(Until::Phase(Phase::Initiated), timeout)
            .is_some()
    }

    /// Blocks until the phase is `phase` or later, and returns the phase it found.
    ///
    /// # Blocking
    ///
    /// Parks the thread; do not call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Shutdown};
    /// let shutdown = Shutdown::new();
    /// shutdown.close();
    /// assert_eq!(shutdown.wait_reached(Phase::Initiated), Phase::StoppingNewRequests);
    /// ```
    pub fn wait_reached(&self, phase: Phase) -> Phase {
        crate::futures::block_until(self.shared(), Until::Phase(phase), None)
            .unwrap_or_else(|| self.phase())
    }

    /// Blocks until the phase is `phase` or later or `timeout` passes; the phase found, or
    /// `None` on timeout.
    ///
    /// # Blocking
    ///
    /// Parks the thread; do not call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use core::time::Duration;
    /// use winddown::{Phase, Shutdown};
    /// let shutdown = Shutdown::new();
    /// assert_eq!(shutdown.wait_reached_timeout(Phase::Draining, Duration::ZERO), None);
    /// ```
    pub fn wait_reached_timeout(
        &self,
        phase: Phase,
        timeout: core::time::Duration,
    ) -> Option<Phase> {
        self.block(Until::Phase(phase), timeout)
    }

    /// Blocks until the drain completes.
    ///
    /// # Blocking
    ///
    /// Parks the thread; do not call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// let shutdown = winddown::Shutdown::new();
    /// let guard = shutdown.enter()?;
    /// std::thread::spawn(move || drop(guard));
    /// shutdown.close();
    /// shutdown.wait_drained();
    /// assert!(shutdown.is_drained());
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    pub fn wait_drained(&self) {
        crate::futures::block_until(self.shared(), Until::Drained, None);
    }

    /// Blocks until the drain completes or `timeout` passes; whether it drained.
    ///
    /// # Blocking
    ///
    /// Parks the thread; do not call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use core::time::Duration;
    /// let shutdown = winddown::Shutdown::new();
    /// let guard = shutdown.enter()?;
    /// shutdown.close();
    /// assert!(!shutdown.wait_drained_timeout(Duration::from_millis(1)));
    /// drop(guard);
    /// assert!(shutdown.wait_drained_timeout(Duration::ZERO));
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    pub fn wait_drained_timeout(&self, timeout: core::time::Duration) -> bool {
        self.block(Until::Drained, timeout).is_some()
    }

    fn block(&self, until: Until, timeout: core::time::Duration) -> Option<Phase> {
        // A timeout too large for `Instant` means "no deadline".
        let deadline = std::time::Instant::now().checked_add(timeout);
        match deadline {
            Some(deadline) => crate::futures::block_until(self.shared(), until, Some(deadline)),
            None => crate::futures::block_until(self.shared(), until, None),
        }
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

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("phase", &self.phase())
            .field("in_flight", &self.in_flight())
            .field("stripes", &self.stripes())
            .finish()
    }
}
