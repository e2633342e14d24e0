//! The owned admission guard.

use core::fmt;
use core::ptr::NonNull;

use crate::shared::{self, Shared, Stripe};
use crate::Phase;

/// One unit of work in flight, admitted by [`Shutdown::enter`](crate::Shutdown::enter).
///
/// While a guard lives, the shutdown cannot finish draining; dropping it is how work says it is
/// done. A guard is owned and `'static`, so it can move into a spawned task or another thread,
/// and it is one machine word: a pointer to the admission stripe it was counted on. Entering and
/// leaving are one atomic read-modify-write each, and neither allocates. (With the `track`
/// feature, the leak finder, it is two words and both also record or forget the caller's
/// location under a lock: see [`Shutdown::guard_sites`](crate::Shutdown::guard_sites).)
///
/// A guard keeps the shutdown's shared state alive by itself (through the count it holds), so it
/// may outlive every [`Shutdown`](crate::Shutdown) handle.
///
/// # Comparison to `tokio_util::task::TaskTrackerToken`
///
/// Both are one word and are released by drop. A `TaskTrackerToken` is always admitted, even
/// after its tracker is closed; a `Guard` is refused once admissions close, so "admit" and
/// "closed" cannot race. A guard also needs no reference count of its own: the tracker's token
/// clones an `Arc` on top of its counter, while a guard's count is the only thing it touches.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::Shutdown;
///
/// let shutdown = Shutdown::new();
/// let guard = shutdown.enter().expect("admissions are open");
/// let worker = std::thread::spawn(move || {
///     // ... the work ...
///     drop(guard); // done
/// });
/// worker.join().unwrap();
/// shutdown.close();
/// assert!(shutdown.is_drained());
/// ```
#[must_use = "dropping the guard at once ends the unit of work it stands for"]
#[clippy::has_significant_drop]
pub struct Guard {
    /// The stripe this guard's unit is counted on.
    ///
    /// WARNING: this is not a reference-counted pointer. It stays valid because the count on the
    /// stripe is at least one while this guard lives (invariant 2 in `state.rs`), and it came from
    /// a live handle's stripe in `Shutdown::enter`.
    stripe: NonNull<Stripe>,
    /// This guard's slot in its stripe's registry of call sites (feature `track`).
    #[cfg(feature = "track")]
    slot: usize,
}

// SAFETY: a guard only performs atomic operations on a `Sync` stripe and header (and, with
// `track`, takes the stripe's lock, which is `Sync`), and owns its unit of the count: moving it
// to another thread and dropping it there is what it is for.
unsafe impl Send for Guard {}
// SAFETY: `&Guard` only reads the phase, an atomic load.
unsafe impl Sync for Guard {}

impl Guard {
    /// Builds a guard from a unit the caller has just been admitted on `stripe`.
    ///
    /// # Safety
    ///
    /// The caller owns one unit of `stripe`'s count and hands it to the guard.
    ///
    /// With `track`, records the caller's location in the stripe's registry.
    #[cfg_attr(feature = "track", track_caller)]
    pub(crate) unsafe fn from_admitted(stripe: NonNull<Stripe>) -> Self {
        // SAFETY: the caller's contract.
        unsafe { Self::from_admitted_labeled(stripe, None) }
    }

    /// As [`from_admitted`](Self::from_admitted), with a label for the leak finder (ignored
    /// without `track`).
    ///
    /// # Safety
    ///
    /// As [`from_admitted`](Self::from_admitted).
    #[cfg_attr(feature = "track", track_caller)]
    #[inline]
    pub(crate) unsafe fn from_admitted_labeled(
        stripe: NonNull<Stripe>,
        label: Option<&'static str>,
    ) -> Self {
        #[cfg(not(feature = "track"))]
        let _ = label;
        Self {
            stripe,
            // SAFETY: the unit the caller hands us pins the stripe.
            #[cfg(feature = "track")]
            slot: unsafe { crate::track::record(stripe, label) },
        }
    }

    /// Another guard for the same work, admitted even after admissions have closed: for work in
    /// flight that fans out (a request that starts sub-tasks during the drain), each sub-task
    /// holds its own fork, and the drain waits for every one of them.
    ///
    /// It cannot be refused: the guard it forks from is still in flight, so the drain cannot
    /// have completed. New work is still refused by [`Shutdown::enter`](crate::Shutdown::enter);
    /// only work that is already admitted can fork. Costs one atomic operation (and, once
    /// admissions are closed, a second one on the shared header).
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// let request = shutdown.enter()?;
    /// shutdown.close(); // SIGTERM: admissions close while the request runs
    /// assert!(shutdown.enter().is_err());
    ///
    /// // The request hands a sub-task a guard of its own, then finishes.
    /// let subtask = request.fork();
    /// drop(request);
    /// assert!(!shutdown.is_drained()); // the sub-task is still in flight
    /// std::thread::spawn(move || drop(subtask)).join().unwrap();
    /// assert!(shutdown.is_drained());
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    #[cfg_attr(feature = "track", track_caller)]
    pub fn fork(&self) -> Guard {
        // SAFETY: `self` is alive for the call, and its unit pins the stripe (invariant 2).
        unsafe { shared::fork(self.stripe) };
        // SAFETY: `fork` just added the unit we hand to the new guard.
        unsafe { Guard::from_admitted(self.stripe) }
    }

    /// The shutdown's current phase.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Phase, Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let guard = shutdown.enter()?;
    /// shutdown.trigger(Reason::requested());
    /// assert_eq!(guard.phase(), Phase::Initiated);
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    pub fn phase(&self) -> Phase {
        self.shared().phase()
    }

    /// Whether the shutdown has been triggered: one atomic load, cheap enough for a worker loop
    /// that holds a guard to check between items.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let guard = shutdown.enter()?;
    /// let mut items = 0;
    /// while !guard.is_triggered() {
    ///     items += 1; // one item of work
    ///     if items == 3 {
    ///         shutdown.trigger(Reason::requested());
    ///     }
    /// }
    /// assert_eq!(items, 3);
    /// # Ok::<(), winddown::Closed>(())
    /// ```
    pub fn is_triggered(&self) -> bool {
        self.shared().phase() != Phase::Running
    }

    fn shared(&self) -> &Shared {
        // SAFETY: invariant 2: our unit pins the stripe, so the header is alive while `self` is
        // borrowed.
        unsafe { Shared::of(self.stripe) }
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: our unit still pins the stripe: it is given back only below.
        #[cfg(feature = "track")]
        unsafe {
            crate::track::forget(self.stripe, self.slot)
        };
        // SAFETY: the guard owns one unit of the stripe's count (made by `from_admitted`) and
        // gives it up here, once; `self.stripe` is not used afterwards.
        unsafe { shared::release(self.stripe) };
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("phase", &self.phase())
            .finish()
    }
}
