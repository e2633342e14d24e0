//! Resources to close (and buffers to flush) during the shutdown sequence.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use core::error::Error;
use core::fmt;
use core::future::Future;
use core::time::Duration;

use crate::raw::Exclusive;
use crate::runtime::blocking::BlockingTask;
use crate::runtime::{Blocking, BoxFuture};

/// An async closer: makes the future that closes the resource.
pub(crate) type AsyncCloser = Box<dyn FnOnce() -> BoxFuture<Result<(), String>> + Send>;

/// The closer a [`Resource`] runs, once: `Ok` or an error's text.
pub(crate) enum Closer {
    /// An async closer: polled on the sequence's own task (its panic caught, with `std`), and
    /// cancelled (dropped) at its deadline.
    Async(AsyncCloser),
    /// A blocking closer: runs where the runtime's
    /// [`spawn_blocking`](crate::runtime::Runtime::spawn_blocking) puts it, and is abandoned at
    /// its deadline. With the default `spawn_blocking`, the sequence starts it with the function
    /// beside it ([`Blocking::start_unstarted`](crate::runtime::Blocking::start_unstarted)):
    /// stored here by [`Resource::blocking`], so that a program with no blocking closer does
    /// not link the thread that runs one.
    Blocking(
        Box<dyn FnOnce() -> Result<(), String> + Send>,
        fn(BlockingTask) -> Blocking,
    ),
}

/// What a closer returns: `()` for one that cannot fail, or
/// `Result<(), Box<dyn Error + Send + Sync>>`, into which `?` converts any error type
/// (`std::io::Error`, your own, a `String`, `anyhow::Error`). So neither needs an annotation:
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::Resource;
/// # struct Pool;
/// # impl Pool { async fn close(&self) {} }
/// # struct File;
/// # impl File { fn sync_all(&self) -> std::io::Result<()> { Ok(()) } }
/// # let (pool, file) = (Pool, File);
///
/// let cache = Resource::new("cache", || async { Ok(()) });
/// let pool = Resource::new("pool", move || async move { pool.close().await }); // infallible
/// let log = Resource::blocking("log", move || {
///     file.sync_all()?; // an io::Error is reported as the closer's error
///     Ok(())
/// });
/// # let _ = (cache, pool, log);
/// ```
///
/// A closer whose last expression is a `Result` with another error type (say
/// `file.sync_all()`, an `io::Result<()>`) ends with `?` and `Ok(())` instead, or maps its
/// error with `.map_err(Into::into)`. An error is recorded in the report by its `Display` text.
///
/// Sealed: implemented for those two types only, so that `Ok(())` alone says which.
#[diagnostic::on_unimplemented(
    message = "a closer returns `()` or `Result<(), Box<dyn Error + Send + Sync>>`, not `{Self}`",
    label = "this closer's output",
    note = "end the closer with `?` and `Ok(())`, or add `.map_err(Into::into)`: `?` converts \
            any error type"
)]
pub trait CloserOutput: sealed::Sealed {}

impl CloserOutput for () {}
impl CloserOutput for Result<(), Box<dyn Error + Send + Sync>> {}

mod sealed {
    use alloc::boxed::Box;
    use alloc::string::{String, ToString};
    use core::error::Error;

    /// What a closer's output is recorded as: `Ok`, or the error's text.
    pub trait Sealed {
        fn into_text(self) -> Result<(), String>;
    }

    impl Sealed for () {
        fn into_text(self) -> Result<(), String> {
            Ok(())
        }
    }

    impl Sealed for Result<(), Box<dyn Error + Send + Sync>> {
        fn into_text(self) -> Result<(), String> {
            self.map_err(|err| err.to_string())
        }
    }
}

/// What kind of thing a resource is: shown in the report, nothing else depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResourceKind {
    /// A database connection or pool.
    Database,
    /// A cache client.
    Cache,
    /// An HTTP client.
    HttpClient,
    /// A message queue producer or consumer.
    Queue,
    /// A file or buffered writer.
    File,
    /// Anything else, named.
    Custom(Cow<'static, str>),
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            ResourceKind::Database => "database",
            ResourceKind::Cache => "cache",
            ResourceKind::HttpClient => "http client",
            ResourceKind::Queue => "queue",
            ResourceKind::File => "file",
            ResourceKind::Custom(name) => name,
        })
    }
}

/// A named thing to close during the shutdown (a pool, a client, a file), or a buffer to flush.
///
/// Register it with [`Plan::register`](crate::Plan::register) (closed in the
/// `ClosingResources` phase) or [`Plan::flush`](crate::Plan::flush) (run in the
/// `FlushingBuffers` phase). Higher [`priority`](Self::priority) runs first; equal priorities
/// run in reverse registration order (last opened, first closed). Each runs within its
/// deadline; an error, a panic or an overrun is recorded in the report and the rest still run.
///
/// An async closer runs on the sequence's own task, polled in the runtime's context
/// ([`Runtime::in_context`](crate::runtime::Runtime::in_context)) with its panic caught (with
/// `std`): one that finishes in its first poll (most do: nothing to wait for) costs no timer; one
/// that waits is cancelled (dropped) at its deadline. So synchronous work in a closer's poll
/// holds up the sequence until it returns, as it would hold a single-threaded runtime: no
/// deadline can act in the middle of a poll, and a closer that overran its deadline there is
/// reported [late](crate::Outcome::Late). Put blocking work in [`Resource::blocking`].
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use std::time::Duration;
/// use winddown::{Resource, ResourceKind};
///
/// let pool = Resource::new("postgres", || async {
///     // pool.close().await?;
///     Ok(())
/// })
/// .priority(10)
/// .deadline(Duration::from_secs(3))
/// .kind(ResourceKind::Database);
/// assert_eq!(pool.name(), "postgres");
///
/// let log = Resource::blocking("audit log", || {
///     // file.sync_all()?;
///     Ok(())
/// });
/// # let _ = log;
/// ```
pub struct Resource {
    pub(crate) name: Cow<'static, str>,
    pub(crate) priority: i32,
    pub(crate) deadline: Option<Duration>,
    pub(crate) kind: Option<ResourceKind>,
    pub(crate) closer: Exclusive<Closer>,
}

impl Resource {
    /// A resource closed by an async closure, returning `()` or a `Result` whose error `?`
    /// made (see [`CloserOutput`]). Priority 0, the config's close deadline, no kind.
    pub fn new<F, Fut>(name: impl Into<Cow<'static, str>>, closer: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: CloserOutput,
    {
        Self::with_closer(
            name.into(),
            Closer::Async(Box::new(move || {
                let future = closer();
                Box::pin(async move { sealed::Sealed::into_text(future.await) })
            })),
        )
    }

    /// A resource closed by a plain, blocking closure (flushing or syncing a file, a
    /// synchronous client's `close`), returning `()` or a `Result` whose error `?` made (see
    /// [`CloserOutput`]).
    ///
    /// A blocking closure cannot be cancelled, only abandoned. With `std` it runs on a thread
    /// of its own (see [`Runtime::spawn_blocking`](crate::runtime::Runtime::spawn_blocking)), so
    /// one that hangs holds up no runtime: its deadline fires on every runtime, the report
    /// records it as timed out, the sequence goes on, and the process can exit while the
    /// abandoned thread still runs. Without `std` it runs inline, in the sequence's own poll,
    /// and should be quick.
    pub fn blocking<F, O>(name: impl Into<Cow<'static, str>>, closer: F) -> Self
    where
        F: FnOnce() -> O + Send + 'static,
        O: CloserOutput,
    {
        Self::with_closer(
            name.into(),
            Closer::Blocking(
                Box::new(move || sealed::Sealed::into_text(closer())),
                Blocking::default_for,
            ),
        )
    }

    fn with_closer(name: Cow<'static, str>, closer: Closer) -> Self {
        Resource {
            name,
            priority: 0,
            deadline: None,
            kind: None,
            closer: Exclusive::new(closer),
        }
    }

    /// The order among resources: higher closes first (default 0).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Its own close deadline, instead of the config's. Checked at registration: zero, or more
    /// than [`Config::MAX_DEADLINE`](crate::Config::MAX_DEADLINE), is refused.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// What kind of resource it is, for the report.
    pub fn kind(mut self, kind: ResourceKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs its closer now, without a plan: for a resource that a plan refused and handed back
    /// ([`Refused::into_resource`](crate::Refused::into_resource)). No deadline applies; a
    /// blocking closer runs inline, in the future's first poll.
    ///
    /// # Errors
    ///
    /// The closer's error, as text.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::Resource;
    ///
    /// let db = Resource::blocking("db", || Err("already closed".into()));
    /// let result = futures_lite::future::block_on(db.close());
    /// assert_eq!(result, Err("already closed".to_string()));
    /// ```
    pub fn close(self) -> BoxFuture<Result<(), String>> {
        match self.closer.into_inner() {
            Closer::Async(closer) => closer(),
            Closer::Blocking(closer, _) => Box::pin(async move { closer() }),
        }
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.name)
            .field("priority", &self.priority)
            .field("deadline", &self.deadline)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
