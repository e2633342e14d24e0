//! Tuning the admission count, for measured needs only: the defaults fit.
//!
//! A [`Shutdown`] spreads its in-flight count over cache-padded *stripes*, one per handle clone
//! (round robin), so that threads that each keep their own handle do not contend on one atomic
//! word (see [Stripes](Shutdown#stripes)). [`Shutdown::new`] picks one stripe per available CPU,
//! at most 16, with `std`, and one without it. [`with_stripes`] picks the number instead: one
//! stripe for the smallest footprint (one cache line of count), more for a machine with many
//! cores; 256 is the most it takes, and a number out of range is a [`StripeCountError`].
//! Child scopes take their parent's count.
//!
//! # Examples
//!
//! ```
//! # use winddown_core as winddown;
//! use winddown::tuning::{self, StripeCountError};
//!
//! let small = tuning::with_stripes(1)?;
//! assert_eq!(tuning::stripes(&small), 1);
//! assert_eq!(tuning::stripes(&small.child()), 1);
//! assert!(tuning::with_stripes(256).is_ok());
//! assert!(tuning::with_stripes(257).is_err());
//! # Ok::<(), StripeCountError>(())
//! ```

use core::fmt;

use crate::Shutdown;

/// A running shutdown with `stripes` stripes.
///
/// # Errors
///
/// [`StripeCountError`] unless `1 <= stripes <= 256`.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::tuning;
///
/// let shutdown = tuning::with_stripes(4)?;
/// assert_eq!(tuning::stripes(&shutdown), 4);
/// assert!(tuning::with_stripes(0).is_err());
/// # Ok::<(), tuning::StripeCountError>(())
/// ```
pub fn with_stripes(stripes: usize) -> Result<Shutdown, StripeCountError> {
    if !(1..=MAX_STRIPES).contains(&stripes) {
        return Err(StripeCountError::new(stripes));
    }
    Ok(Shutdown::with_stripe_count(stripes))
}

/// The number of stripes `shutdown`'s count is spread over.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{tuning, Shutdown};
///
/// let stripes = tuning::stripes(&Shutdown::new());
/// assert!((1..=16).contains(&stripes));
/// ```
pub fn stripes(shutdown: &Shutdown) -> usize {
    shutdown.shared().stripe_count()
}

// The most stripes a `Shutdown` may have: `with_stripes` and the error's message say 256.
pub(crate) const MAX_STRIPES: usize = 256;

/// A stripe count outside `1..=256`, from [`with_stripes`].
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::tuning;
///
/// let err = tuning::with_stripes(0).unwrap_err();
/// assert_eq!(err.requested(), 0);
/// assert_eq!(err.to_string(), "a shutdown needs between 1 and 256 stripes, not 0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripeCountError {
    requested: usize,
}

impl StripeCountError {
    pub(crate) const fn new(requested: usize) -> Self {
        Self { requested }
    }

    /// The stripe count that was asked for.
    pub const fn requested(&self) -> usize {
        self.requested
    }
}

impl fmt::Display for StripeCountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a shutdown needs between 1 and {} stripes, not {}",
            MAX_STRIPES, self.requested
        )
    }
}

impl core::error::Error for StripeCountError {}
