//! The optional process-wide handle.

use std::sync::OnceLock;

use crate::Shutdown;

/// The process-wide shutdown, created on first use.
///
/// For applications that want one point of control: the signal listener, the HTTP layer and the
/// workers can all reach the same shutdown without passing a handle around. Libraries should not
/// use it: take a [`Shutdown`] (or a [child](Shutdown::child)) from the caller instead, so the
/// application decides what stops them.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::global;
///
/// let guard = global().enter()?;
/// assert_eq!(global().in_flight(), 1);
/// drop(guard);
/// assert_eq!(global(), global());
/// # Ok::<(), winddown::Closed>(())
/// ```
pub fn global() -> &'static Shutdown {
    static GLOBAL: OnceLock<Shutdown> = OnceLock::new();
    GLOBAL.get_or_init(Shutdown::new)
}
