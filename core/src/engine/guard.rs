//! The owned admission guard.

use core::fmt;

use crate::raw::{Header, RawGuard};
use crate::Phase;

/// One unit of work in flight, admitted by [`Shutdown::enter`](crate::Shutdown::enter).
///
/// While a guard lives, the shutdown cannot finish draining; dropping it is how work says it is
/// done. A guard is owned and `'static`, so it can move into a spawned task or another thread,
/// and it is one machine word: a pointer to the admission stripe it was counted on. Entering and
/// leaving are one atomic read-modify-write each, and neither allocates. (With the `track`
/// feature, the leak finder, it is two words and both also record or forget the caller's
/// location under a lock: see the [`track`](crate::track) module.)
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
    /// This guard's unit of its stripe's count. With `track`, dropped after `Drop::drop` has
    /// emptied the registry slot (fields drop after it), so the stripe is still pinned then.
    raw: RawGuard,
    /// This guard's slot in its stripe's registry of call sites (feature `track`).
    #[cfg(feature = "track")]
    slot: usize,
}

impl Guard {
    /// Wraps a unit just admitted; with `track`, records the caller's location (and `label`)
    /// in the stripe's registry. Without `track` the label is ignored.
    #[cfg_attr(feature = "track", track_caller)]
    #[inline]
    pub(crate) fn new(raw: RawGuard, label: Option<&'static str>) -> Self {
        #[cfg(not(feature = "track"))]
        let _ = label;
        Self {
            #[cfg(feature = "track")]
            slot: crate::engine::track::registry::record(&raw, label),
            raw,
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
        Guard::new(self.raw.fork(), None)
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
    #[inline]
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

    #[inline]
    fn shared(&self) -> &Header {
        self.raw.header()
    }
}

#[cfg(feature = "track")]
impl Drop for Guard {
    fn drop(&mut self) {
        // Before the unit is given back (the `raw` field drops after this), so the stripe is
        // still pinned.
        crate::engine::track::registry::forget(&self.raw, self.slot);
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("phase", &self.phase())
            .finish()
    }
}
