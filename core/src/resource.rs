//! Resources to close (and buffers to flush) during the shutdown sequence.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use core::fmt;
use core::future::Future;
use core::time::Duration;

use crate::config::MAX_DEADLINE;
use crate::runtime::BoxFuture;

/// The closer a [`Resource`] runs: called once, yields `Ok` or an error's text.
pub(crate) type Closer = Box<dyn FnOnce() -> BoxFuture<Result<(), String>> + Send>;

/// What kind of thing a resource is: shown in the report, nothing else depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
/// run in reverse registration order (last opened, first closed). Each runs as its own task on
/// the runtime, within its deadline; an error, a panic or an overrun is recorded in the report
/// and the rest still run.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use winddown_core::{Resource, ResourceKind};
///
/// let pool = Resource::new("postgres", || async {
///     // pool.close().await
///     Ok::<(), std::io::Error>(())
/// })
/// .priority(10)
/// .deadline(Duration::from_secs(3))
/// .kind(ResourceKind::Database);
/// assert_eq!(pool.name(), "postgres");
///
/// let log = Resource::blocking("audit log", || -> Result<(), std::io::Error> {
///     // file.sync_all()
///     Ok(())
/// });
/// # let _ = log;
/// ```
pub struct Resource {
    pub(crate) name: Cow<'static, str>,
    pub(crate) priority: i32,
    pub(crate) deadline: Option<Duration>,
    pub(crate) kind: Option<ResourceKind>,
    pub(crate) closer: Closer,
}

impl Resource {
    /// A resource closed by an async closure returning `Result<(), E>`. Priority 0, the
    /// config's close deadline, no kind.
    pub fn new<F, Fut, E>(name: impl Into<Cow<'static, str>>, closer: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        Self::with_closer(
            name.into(),
            Box::new(move || {
                let future = closer();
                Box::pin(async move { future.await.map_err(|err| err.to_string()) })
            }),
        )
    }

    /// A resource closed by a plain closure returning `Result<(), E>`. It runs inside a task on
    /// the runtime, so it should be quick (flushing a file, not a network round trip): a
    /// blocking closure cannot be cancelled at its deadline, only abandoned.
    pub fn blocking<F, E>(name: impl Into<Cow<'static, str>>, closer: F) -> Self
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
        E: fmt::Display + 'static,
    {
        Self::with_closer(
            name.into(),
            Box::new(move || Box::pin(async move { closer().map_err(|err| err.to_string()) })),
        )
    }

    fn with_closer(name: Cow<'static, str>, closer: Closer) -> Self {
        Resource {
            name,
            priority: 0,
            deadline: None,
            kind: None,
            closer,
        }
    }

    /// The order among resources: higher closes first (default 0).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Its own close deadline, instead of the config's. Checked at registration: zero, or more
    /// than [`MAX_DEADLINE`], is refused.
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

    /// Checks what registration checks.
    pub(crate) fn validate(&self) -> Result<(), crate::RegisterError> {
        match self.deadline {
            Some(deadline) if deadline.is_zero() => Err(crate::RegisterError::ZeroDeadline {
                name: self.name.to_string(),
            }),
            Some(deadline) if deadline > MAX_DEADLINE => {
                Err(crate::RegisterError::DeadlineTooLarge {
                    name: self.name.to_string(),
                })
            }
            _ => Ok(()),
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
