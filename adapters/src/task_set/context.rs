//! What a task gets ([`TaskContext`]) and how it spawns siblings without keeping its set alive
//! ([`Spawner`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Weak};

use winddown_core::{Closed, Guard, Shutdown};

use super::handle::TaskHandle;
use super::runtime::{SpawnTask, TaskRuntime};
use super::Inner;

/// What a [`TaskSet`](crate::TaskSet) task's closure is called with: the task's
/// [`name`](Self::name), the [`shutdown`](Self::shutdown) it is admitted to (to watch the
/// trigger: `ctx.shutdown().triggered()`, `ctx.shutdown().until_shutdown(..)`), and a
/// [`spawner`](Self::spawner) to start more tasks in the same set.
///
/// The context holds no strong reference to the set: a task that keeps it (or its spawner)
/// still lets the set be dropped, and so be cancelled, like any other.
///
/// # Examples
///
#[cfg_attr(feature = "tokio", doc = "```")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// use winddown::{tokio::TokioRuntime, TaskSet};
/// use winddown::Shutdown;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), winddown::Closed> {
/// let shutdown = Shutdown::new();
/// let tasks = TaskSet::with_shutdown(&shutdown, TokioRuntime::new());
/// let crawler = tasks.spawn("crawler", |ctx| async move {
///     assert_eq!(ctx.name(), "crawler");
///     // A sibling for each page found, in the same set.
///     for page in 0..3 {
///         ctx.spawner().spawn(format!("page {page}"), |ctx| async move {
///             ctx.shutdown().triggered().await;
///         })?;
///     }
///     Ok::<(), winddown::task_set::SpawnError>(())
/// })?;
/// crawler.await; // the crawler ended; its pages run on
/// assert_eq!(tasks.names(), ["page 0", "page 1", "page 2"]);
/// # Ok(())
/// # }
/// ```
pub struct TaskContext<R: TaskRuntime> {
    name: Cow<'static, str>,
    shutdown: Shutdown,
    spawner: Spawner<R>,
}

impl<R: TaskRuntime> TaskContext<R> {
    pub(super) fn new(name: Cow<'static, str>, shutdown: Shutdown, spawner: Spawner<R>) -> Self {
        TaskContext {
            name,
            shutdown,
            spawner,
        }
    }

    /// The task's name, as given to `spawn`.
    ///
    /// # Examples
    ///
    /// See the [type docs](Self).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shutdown the task is admitted to: watch it to stop soon after the trigger.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown::{tokio::TokioRuntime, TaskSet};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// # let tasks = TaskSet::with_shutdown(&winddown::Shutdown::new(), TokioRuntime::new());
    /// tasks.spawn("watcher", |ctx| async move {
    ///     let shutdown = ctx.shutdown().clone(); // a plain handle, to hand on
    ///     shutdown.triggered().await;
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// A handle to spawn more tasks in this task's set, which does not keep the set alive.
    ///
    /// # Examples
    ///
    /// See the [type docs](Self).
    pub fn spawner(&self) -> &Spawner<R> {
        &self.spawner
    }
}

impl<R: TaskRuntime> fmt::Debug for TaskContext<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("name", &self.name)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

/// Spawns tasks into a [`TaskSet`](crate::TaskSet) without keeping it alive: what a task (or
/// any code that must not own the set) holds to start siblings. Made by
/// [`TaskSet::spawner`](crate::TaskSet::spawner) or [`TaskContext::spawner`]; cheap to clone.
///
/// Once the set is dropped, spawning fails with [`SpawnError::SetDropped`], so the set's
/// "dropping it cancels its tasks" holds whatever its tasks hold.
///
/// # Examples
///
#[cfg_attr(feature = "tokio", doc = "```")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// use winddown::task_set::SpawnError;
/// use winddown::{tokio::TokioRuntime, TaskSet};
/// use winddown::Shutdown;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tasks = TaskSet::with_shutdown(&Shutdown::new(), TokioRuntime::new());
/// let spawner = tasks.spawner();
/// assert!(spawner.spawn("one", |_| async {}).is_ok());
///
/// drop(tasks);
/// assert!(matches!(spawner.spawn("two", |_| async {}), Err(SpawnError::SetDropped)));
/// # }
/// ```
pub struct Spawner<R: TaskRuntime> {
    pub(super) inner: Weak<Inner<R>>,
}

impl<R: TaskRuntime> Spawner<R> {
    /// As [`TaskSet::spawn`](crate::TaskSet::spawn), while the set is alive.
    ///
    /// # Examples
    ///
    /// See the [type docs](Self).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Closed`] once admissions are closed, [`SpawnError::SetDropped`] once the
    /// set is dropped; `task` is then not called.
    #[cfg_attr(feature = "track", track_caller)]
    pub fn spawn<F, Fut>(
        &self,
        name: impl Into<Cow<'static, str>>,
        task: F,
    ) -> Result<TaskHandle<R::Error>, SpawnError>
    where
        F: FnOnce(TaskContext<R>) -> Fut,
        R: SpawnTask<F>,
    {
        let inner = self.set()?;
        let guard = inner.shutdown.enter()?;
        Ok(inner.spawn(name.into(), guard, task))
    }

    /// As [`TaskSet::spawn_with_guard`](crate::TaskSet::spawn_with_guard), while the set is
    /// alive.
    ///
    /// # Examples
    ///
    /// See [`TaskSet::spawn_with_guard`](crate::TaskSet::spawn_with_guard).
    ///
    /// # Errors
    ///
    /// [`SpawnError::SetDropped`] once the set is dropped; `task` is then not called, and
    /// `guard` is released.
    pub fn spawn_with_guard<F, Fut>(
        &self,
        name: impl Into<Cow<'static, str>>,
        guard: Guard,
        task: F,
    ) -> Result<TaskHandle<R::Error>, SpawnError>
    where
        F: FnOnce(TaskContext<R>) -> Fut,
        R: SpawnTask<F>,
    {
        Ok(self.set()?.spawn(name.into(), guard, task))
    }

    /// The set, while it is alive.
    fn set(&self) -> Result<Arc<Inner<R>>, SpawnError> {
        self.inner.upgrade().ok_or(SpawnError::SetDropped)
    }
}

impl<R: TaskRuntime> Clone for Spawner<R> {
    fn clone(&self) -> Self {
        Spawner {
            inner: self.inner.clone(),
        }
    }
}

impl<R: TaskRuntime> fmt::Debug for Spawner<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner")
            .field("set_alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

/// Why a [`Spawner`] could not spawn.
///
/// # Examples
///
/// ```
/// use winddown::task_set::SpawnError;
///
/// assert_eq!(SpawnError::SetDropped.to_string(), "the task set was dropped");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    /// Admissions are closed.
    Closed(Closed),
    /// The set was dropped (its tasks are cancelled).
    SetDropped,
}

impl From<Closed> for SpawnError {
    fn from(closed: Closed) -> Self {
        SpawnError::Closed(closed)
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Closed(closed) => closed.fmt(f),
            SpawnError::SetDropped => f.write_str("the task set was dropped"),
        }
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpawnError::Closed(closed) => Some(closed),
            SpawnError::SetDropped => None,
        }
    }
}
