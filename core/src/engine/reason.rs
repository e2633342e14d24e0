//! Why a shutdown was triggered.

use alloc::borrow::Cow;
use alloc::string::ToString;
use core::fmt;

/// Why a shutdown was triggered.
///
/// The first trigger's reason is kept (see [`Shutdown::reason`](crate::Shutdown::reason));
/// later triggers change nothing.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::Reason;
///
/// assert_eq!(Reason::Signal(15).to_string(), "signal 15");
/// assert_eq!(Reason::requested().to_string(), "requested");
/// assert_eq!(Reason::requested_because("deploy").to_string(), "requested: deploy");
/// assert_eq!(Reason::error("disk full").to_string(), "error: disk full");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// An OS signal arrived; the value is the signal number (15 for SIGTERM).
    Signal(i32),
    /// Somebody asked for it (an API call, an admin command), with an optional message.
    Requested(Option<Cow<'static, str>>),
    /// A fatal error in the service.
    Error(Cow<'static, str>),
    /// The parent scope was triggered (see [`Shutdown::child`](crate::Shutdown::child)).
    Parent,
    /// A deadline passed.
    Deadline,
}

impl Reason {
    /// `Reason::Requested` without a message.
    pub const fn requested() -> Self {
        Reason::Requested(None)
    }

    /// `Reason::Requested` with a message, borrowed when it is `&'static str`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Reason;
    /// let reason = Reason::requested_because(format!("admin {}", 7));
    /// assert_eq!(reason.to_string(), "requested: admin 7");
    /// ```
    pub fn requested_because(message: impl Into<Cow<'static, str>>) -> Self {
        Reason::Requested(Some(message.into()))
    }

    /// `Reason::Error` holding the error's `Display` text.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Reason;
    /// let err = core::fmt::Error;
    /// assert_eq!(Reason::error(err).to_string(), "error: an error occurred when formatting an argument");
    /// ```
    pub fn error(error: impl fmt::Display) -> Self {
        Reason::Error(Cow::Owned(error.to_string()))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Signal(number) => write!(f, "signal {number}"),
            Reason::Requested(None) => f.write_str("requested"),
            Reason::Requested(Some(message)) => write!(f, "requested: {message}"),
            Reason::Error(message) => write!(f, "error: {message}"),
            Reason::Parent => f.write_str("parent scope"),
            Reason::Deadline => f.write_str("deadline"),
        }
    }
}
