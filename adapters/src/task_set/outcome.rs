//! What a task returns ([`TaskResult`]), what a failure does ([`OnFailure`]), and how a task
//! ended ([`TaskExit`]).

use std::convert::Infallible;
use std::fmt;

mod sealed {
    pub trait Sealed {}
    impl Sealed for () {}
    impl Sealed for super::Never {}
    impl<E> Sealed for Result<(), E> {}
}

/// The output type of a function type.
pub trait ReturnOf {
    /// What the function returns.
    type Output;
}

impl<T> ReturnOf for fn() -> T {
    type Output = T;
}

/// The never type, `!`, which stable Rust lets a program name only as a function's return
/// type: here through the return type of `fn() -> !`.
///
/// A task whose body never returns (`loop { .. }`) or ends in `panic!` has the output `!`
/// (edition 2024; earlier editions fall back to `()` but warn that the fallback changes).
/// Implementing [`TaskResult`] for it is what lets such a body spawn without an annotation,
/// as with `tokio::spawn`.
pub(crate) type Never = <fn() -> ! as ReturnOf>::Output;

/// What a [`TaskSet`](crate::TaskSet) task's future may return: `()`, or `Result<(), E>` with
/// an error that can be displayed (any `std::error::Error`, `Box<dyn Error + Send + Sync>`,
/// `anyhow::Error`, a `String`); or nothing at all: a body that never returns (a worker's
/// `loop`) or ends in a `panic!` spawns as it would with `tokio::spawn`.
///
/// An `Err` is a failed task: recorded with its text in the report's
/// [`task_failures`](winddown_core::Report::task_failures), handled by the set's
/// [`OnFailure`] policy, and handed to whoever awaits the task's
/// [`TaskHandle`](crate::task_set::TaskHandle) as [`TaskExit::Failed`]. The trait is sealed.
///
/// # Examples
///
#[cfg_attr(feature = "tokio", doc = "```")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// use winddown::task_set::{OnFailure, TaskExit};
/// use winddown::{tokio::TokioRuntime, TaskSet};
/// use winddown::Shutdown;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), winddown::Closed> {
/// let shutdown = Shutdown::new();
/// let tasks = TaskSet::with_shutdown(&shutdown, TokioRuntime::new()).on_failure(OnFailure::Record);
/// let plain = tasks.spawn("plain", |_| async {})?;
/// let fallible = tasks.spawn("fallible", |_| async { Err("disk full") })?;
/// assert_eq!(plain.await, TaskExit::Finished);
/// assert_eq!(fallible.await, TaskExit::Failed("disk full"));
/// # Ok(())
/// # }
/// ```
///
/// A body that never returns, or ends in a panic, needs no annotation, in edition 2024 too
/// (where its output is `!`):
///
#[cfg_attr(feature = "tokio", doc = "```edition2024")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// use std::time::Duration;
/// use winddown::task_set::TaskExit;
/// use winddown::{tokio::TokioRuntime, Shutdown, TaskSet};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), winddown::Closed> {
/// let tasks = TaskSet::with_shutdown(&Shutdown::new(), TokioRuntime::new());
/// let ticker = tasks.spawn("ticker", |_| async {
///     loop {
///         tokio::time::sleep(Duration::from_secs(1)).await;
///     }
/// })?;
/// let unfinished = tasks.spawn("unfinished", |_| async { todo!() })?;
/// ticker.abort();
/// unfinished.abort();
/// assert_eq!(ticker.await, TaskExit::Cancelled);
/// assert_eq!(unfinished.await, TaskExit::Cancelled);
/// # Ok(())
/// # }
/// ```
pub trait TaskResult: sealed::Sealed + Send + 'static {
    /// The error a failed task hands to its [`TaskHandle`](crate::task_set::TaskHandle);
    /// [`Infallible`] for `()` and `!`.
    type Error: Send + 'static;

    /// `Err` if the task failed.
    #[doc(hidden)]
    fn into_result(self) -> Result<(), Self::Error>;

    /// The error's text, for the report.
    #[doc(hidden)]
    fn describe(error: &Self::Error) -> String;
}

impl TaskResult for () {
    type Error = Infallible;

    fn into_result(self) -> Result<(), Infallible> {
        Ok(())
    }

    fn describe(error: &Infallible) -> String {
        match *error {}
    }
}

/// A body that never returns: it can only end by being cancelled or by panicking.
impl TaskResult for Never {
    type Error = Infallible;

    fn into_result(self) -> Result<(), Infallible> {
        self
    }

    fn describe(error: &Infallible) -> String {
        match *error {}
    }
}

impl<E: fmt::Display + Send + 'static> TaskResult for Result<(), E> {
    type Error = E;

    fn into_result(self) -> Result<(), E> {
        self
    }

    fn describe(error: &E) -> String {
        error.to_string()
    }
}

/// What a task that fails (returns `Err`) or panics does to the shutdown. Either way it is
/// recorded: in [`TaskSet::failures`](crate::TaskSet::failures), in the report of a plan the
/// set reports to, and so in a non-zero [`exit_code`](winddown_core::Report::exit_code).
///
/// The default is [`Trigger`](Self::Trigger): a task that died leaves the service less than
/// whole (a queue no one consumes, a cache no one refreshes), and a service that keeps running
/// that way fails quietly until someone notices. Stopping it, with the task named in the
/// reason and exit code 1, hands recovery to the supervisor (systemd's `Restart=on-failure`, a
/// Kubernetes restart), which is what tokio-graceful-shutdown does by default too. Choose
/// [`Record`](Self::Record) for tasks whose failure the service survives (a best-effort
/// refresher), or that you retry yourself.
///
/// # Examples
///
#[cfg_attr(feature = "tokio", doc = "```")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// use winddown::{tokio::TokioRuntime, TaskSet};
/// use winddown::{Reason, Shutdown};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), winddown::Closed> {
/// let shutdown = Shutdown::new();
/// let tasks = TaskSet::with_shutdown(&shutdown, TokioRuntime::new()); // OnFailure::Trigger
/// tasks.spawn("indexer", |_| async { Err("disk full") })?.await;
/// assert_eq!(
///     shutdown.reason(),
///     Some(&Reason::error("task indexer failed: disk full"))
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnFailure {
    /// Trigger the set's shutdown (if nothing has yet) with
    /// [`Reason::Error`](winddown_core::Reason::Error) naming the task and its error or panic
    /// message. A trigger that already happened is left alone (a trigger is idempotent), so a
    /// failure never forces the shutdown. For a set on a child scope
    /// ([`TaskSet::with_shutdown`](crate::TaskSet::with_shutdown)), that is the scope, not
    /// the service: a library's failed task stops the library.
    #[default]
    Trigger,
    /// Only record it.
    Record,
}

/// How a task ended: what awaiting its [`TaskHandle`](crate::task_set::TaskHandle) gives.
/// `E` is the task's error type ([`Infallible`] for a task that returns `()`).
///
/// # Examples
///
/// ```
/// use winddown::task_set::TaskExit;
///
/// let exit: TaskExit<String> = TaskExit::Panicked(Some("boom".into()));
/// assert!(exit.is_failure());
/// assert_eq!(exit.to_string(), "panicked: boom");
/// assert!(!TaskExit::<String>::Cancelled.is_failure());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskExit<E> {
    /// Its future completed (with `()` or `Ok(())`).
    Finished,
    /// Its future completed with this error.
    Failed(E),
    /// It panicked; the panic message when it was a string.
    Panicked(Option<String>),
    /// It was stopped before it finished: [`TaskHandle::abort`](crate::task_set::TaskHandle::abort),
    /// or the set was dropped, or its runtime shut down.
    Cancelled,
}

impl<E> TaskExit<E> {
    /// Whether the task failed or panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::task_set::TaskExit;
    ///
    /// assert!(TaskExit::Failed("disk full").is_failure());
    /// assert!(!TaskExit::<&str>::Finished.is_failure());
    /// ```
    pub fn is_failure(&self) -> bool {
        matches!(self, TaskExit::Failed(_) | TaskExit::Panicked(_))
    }
}

impl<E: fmt::Display> fmt::Display for TaskExit<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskExit::Finished => f.write_str("finished"),
            TaskExit::Failed(error) => write!(f, "failed: {error}"),
            TaskExit::Panicked(Some(message)) => write!(f, "panicked: {message}"),
            TaskExit::Panicked(None) => f.write_str("panicked"),
            TaskExit::Cancelled => f.write_str("cancelled"),
        }
    }
}
