//! [`TaskSet`]: background tasks that each hold a guard, see the trigger, and are named in the
//! report when they outlast the drain.
//!
//! # Invariants
//!
//! 1. A task's name is in `Tasks::running` from before it is spawned until its [`TaskEnd`]
//!    drops (it finished, panicked, or was cancelled), and its guard is released only after the
//!    name is gone: a name in the report's `still_in_flight` is a task that still held its guard
//!    when the namer ran (or was just releasing it).
//! 2. Every spawned task's join handle is either in `Joins::live` until the task has ended and
//!    a later `spawn` reaps it, or dropped in `spawn` right away when the task ended before its
//!    handle was stored (`Joins::ended_early`). So finished tasks do not pile up, and the
//!    handles of running tasks live exactly as long as the set.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use winddown_core::runtime::Runtime;
use winddown_core::{Closed, Guard, Plan, Shutdown};

use crate::panic::CatchUnwind;

/// A set of background tasks tied to a shutdown: each holds a [`Guard`] while it runs, so the
/// drain waits for it; each gets a [`Shutdown`] handle to see the trigger; and the ones still
/// running when the drain deadline passes are named in the [`Report`]'s
/// [`still_in_flight`](winddown_core::DrainRecord::still_in_flight).
///
/// The set is generic over the core's [`Runtime`] trait, so it works the same on tokio, smol
/// and async-std (the `TokioRuntime`, `SmolRuntime` and `AsyncStdRuntime` types of this
/// crate), or on a runtime of your own.
///
/// A task is done when its future completes, panics, or is cancelled. The drain needs nothing
/// else from the set: the task's guard is released as its future ends, and the last release
/// completes the drain. A task that panics is recorded (see [`panicked`](Self::panicked)),
/// and its guard is released like any other; the panic does not reach the executor.
///
/// # Dropping the set cancels its tasks
///
/// Like tokio's `JoinSet`, the set owns its tasks: when the last clone of a `TaskSet` is
/// dropped, the tasks still running are cancelled (on runtimes that can cancel: all three of
/// this crate's). Keep the set alive until [`Plan::run`] has returned; tasks that outlasted the
/// drain deadline are then cancelled when you drop it.
///
/// # Comparison to tokio-util's `TaskTracker`
///
/// A `TaskTracker` counts tasks and can be waited on; it does not refuse work once closed, and
/// does not know their names. A `TaskSet` refuses to spawn once admissions are closed
/// ([`Closed`]), counts its tasks in the same drain as every other guard, names the stuck ones
/// in the report, and cancels what is left when dropped.
///
/// [`Report`]: winddown_core::Report
///
/// # Examples
///
#[cfg_attr(feature = "tokio", doc = "```")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// use std::time::Duration;
/// use winddown_adapters::tokio::TokioRuntime;
/// use winddown_adapters::{ShutdownExt, TaskSet};
/// use winddown_core::{Config, Plan, Reason, Shutdown, Status};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let shutdown = Shutdown::new();
/// let config = Config::builder().drain(Duration::from_secs(1)).build()?;
/// let plan = Plan::new(shutdown.clone(), config);
/// let tasks = TaskSet::new(&plan, TokioRuntime::new());
///
/// // A worker that ticks until the trigger, then finishes its tick and stops.
/// tasks.spawn("ticker", |shutdown| async move {
///     let mut tick = tokio::time::interval(Duration::from_millis(100));
///     while shutdown.until_shutdown(tick.tick()).await.is_some() {}
/// })?;
/// // A worker that ignores the trigger.
/// tasks.spawn("stuck upload", |_| std::future::pending())?;
///
/// shutdown.trigger(Reason::requested());
/// let report = plan.run(TokioRuntime::new()).await;
/// assert_eq!(report.status, Status::TimedOut);
/// assert_eq!(report.drain.still_in_flight, ["stuck upload"]);
/// drop(tasks); // cancels the stuck upload
/// # Ok(())
/// # }
/// ```
pub struct TaskSet<R: Runtime> {
    inner: Arc<Inner<R>>,
}

struct Inner<R: Runtime> {
    runtime: R,
    shutdown: Shutdown,
    registry: Arc<Registry>,
    /// The handles of the tasks, keyed by task id (invariant 2). Dropped with the set, which
    /// cancels the tasks still running.
    joins: Mutex<Joins<R::Join>>,
}

struct Joins<J> {
    live: BTreeMap<u64, J>,
    /// Tasks that ended before `spawn` stored their handle.
    ended_early: BTreeSet<u64>,
}

/// What the tasks themselves touch: names, ends, panics. Not generic, and holds no join
/// handle, so a task holding it makes no reference cycle with its own handle.
#[derive(Default)]
struct Registry {
    tasks: Mutex<Tasks>,
}

#[derive(Default)]
struct Tasks {
    next_id: u64,
    running: BTreeMap<u64, Cow<'static, str>>,
    ended: Vec<u64>,
    panicked: Vec<(String, Option<String>)>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent under every lock in this module (no user code runs while one
    // is held), so a poisoned lock is still good to use.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registry {
    fn start(&self, name: Cow<'static, str>) -> u64 {
        let mut tasks = lock(&self.tasks);
        let id = tasks.next_id;
        tasks.next_id += 1;
        tasks.running.insert(id, name);
        id
    }

    fn panicked(&self, id: u64, message: Option<String>) {
        let mut tasks = lock(&self.tasks);
        let name = tasks
            .running
            .get(&id)
            .map(|name| name.to_string())
            .unwrap_or_default();
        tasks.panicked.push((name, message));
    }

    fn end(&self, id: u64) {
        let mut tasks = lock(&self.tasks);
        tasks.running.remove(&id);
        tasks.ended.push(id);
    }

    fn names(&self) -> Vec<String> {
        lock(&self.tasks)
            .running
            .values()
            .map(|name| name.to_string())
            .collect()
    }
}

/// Owned by a task's future: dropping it (the future completed, panicked or was cancelled)
/// ends the task, in the order invariant 1 needs.
struct TaskEnd {
    registry: Arc<Registry>,
    id: u64,
    guard: Option<Guard>,
}

impl Drop for TaskEnd {
    fn drop(&mut self) {
        self.registry.end(self.id);
        // After the name is gone (invariant 1).
        drop(self.guard.take());
    }
}

// ===== impl TaskSet =====

impl<R: Runtime + 'static> TaskSet<R> {
    /// An empty set for `plan`'s shutdown, spawning on `runtime`. It registers itself with
    /// [`Plan::name_in_flight`], so its tasks still running at the drain deadline are named in
    /// the report.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use winddown_adapters::tokio::TokioRuntime;
    /// use winddown_adapters::TaskSet;
    /// use winddown_core::{Config, Plan, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let tasks = TaskSet::new(&plan, TokioRuntime::new());
    /// assert!(tasks.is_empty());
    /// # }
    /// ```
    pub fn new(plan: &Plan, runtime: R) -> Self {
        let registry = Arc::new(Registry::default());
        plan.name_in_flight({
            let registry = registry.clone();
            move |names| names.extend(registry.names())
        });
        TaskSet {
            inner: Arc::new(Inner {
                runtime,
                shutdown: plan.shutdown().clone(),
                registry,
                joins: Mutex::new(Joins {
                    live: BTreeMap::new(),
                    ended_early: BTreeSet::new(),
                }),
            }),
        }
    }

    /// Spawns a task named `name`: admits it (one guard, held until it ends), calls `task`
    /// with a [`Shutdown`] handle for it to watch the trigger, and spawns the future it returns.
    ///
    /// A task should stop soon after the trigger: use the handle with
    /// [`ShutdownExt::until_shutdown`](crate::ShutdownExt::until_shutdown),
    /// [`Shutdown::triggered`] or [`Shutdown::is_triggered`].
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use winddown_adapters::tokio::TokioRuntime;
    /// use winddown_adapters::TaskSet;
    /// use winddown_core::{Config, Plan, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown_core::Closed> {
    /// let shutdown = Shutdown::new();
    /// let plan = Plan::new(shutdown.clone(), Config::default());
    /// let tasks = TaskSet::new(&plan, TokioRuntime::new());
    ///
    /// tasks.spawn("cache refresher", |shutdown| async move {
    ///     shutdown.triggered().await;
    ///     // ... write the cache out ...
    /// })?;
    /// assert_eq!(tasks.names(), ["cache refresher"]);
    /// assert_eq!(shutdown.in_flight(), 1);
    ///
    /// shutdown.close();
    /// assert!(tasks.spawn("too late", |_| async {}).is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Closed`] once admissions are closed; `task` is then not called.
    ///
    /// # Panics
    ///
    /// If the runtime's `spawn` panics: tokio's does outside a tokio runtime unless the
    /// [`TokioRuntime`](crate::tokio::TokioRuntime) was made inside one.
    #[cfg_attr(feature = "track", track_caller)]
    pub fn spawn<F, Fut>(&self, name: impl Into<Cow<'static, str>>, task: F) -> Result<(), Closed>
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let inner = &*self.inner;
        let guard = inner.shutdown.enter()?;
        let registry = inner.registry.clone();
        let id = registry.start(name.into());
        let end = TaskEnd {
            registry,
            id,
            guard: Some(guard),
        };
        let future = task(inner.shutdown.clone());
        let join = inner.runtime.spawn(Box::pin(async move {
            if let Err(message) = CatchUnwind::new(future).await {
                end.registry.panicked(end.id, message);
            }
            drop(end);
        }));
        self.store(id, join);
        Ok(())
    }

    /// Keeps `join` while task `id` runs, and drops the handles of tasks that have ended
    /// (invariant 2).
    fn store(&self, id: u64, join: R::Join) {
        let inner = &*self.inner;
        let mut dead = Vec::new();
        {
            let mut joins = lock(&inner.joins);
            if joins.ended_early.remove(&id) {
                dead.push(join);
            } else {
                joins.live.insert(id, join);
            }
            let ended = std::mem::take(&mut lock(&inner.registry.tasks).ended);
            for ended in ended {
                match joins.live.remove(&ended) {
                    Some(join) => dead.push(join),
                    None => {
                        joins.ended_early.insert(ended);
                    }
                }
            }
        }
        // Outside the lock: dropping a handle may call into the executor.
        drop(dead);
    }
}

impl<R: Runtime> TaskSet<R> {
    /// The shutdown the tasks are admitted to.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown_adapters::{tokio::TokioRuntime, TaskSet};
    /// # use winddown_core::{Config, Plan, Shutdown};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::new();
    /// let tasks = TaskSet::new(&Plan::new(shutdown.clone(), Config::default()), TokioRuntime::new());
    /// assert!(tasks.shutdown().same_as(&shutdown));
    /// # }
    /// ```
    pub fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// How many tasks are running now.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown_adapters::{tokio::TokioRuntime, TaskSet};
    /// # use winddown_core::{Config, Plan, Shutdown};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown_core::Closed> {
    /// # let tasks = TaskSet::new(&Plan::new(Shutdown::new(), Config::default()), TokioRuntime::new());
    /// tasks.spawn("idle", |shutdown| async move { shutdown.triggered().await })?;
    /// assert_eq!(tasks.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.inner.registry.tasks).running.len()
    }

    /// Whether no task is running.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown_adapters::{tokio::TokioRuntime, TaskSet};
    /// # use winddown_core::{Config, Plan, Shutdown};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tasks = TaskSet::new(&Plan::new(Shutdown::new(), Config::default()), TokioRuntime::new());
    /// assert!(tasks.is_empty());
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The names of the tasks running now, in the order they were spawned.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown_adapters::{tokio::TokioRuntime, TaskSet};
    /// # use winddown_core::{Config, Plan, Shutdown};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown_core::Closed> {
    /// # let tasks = TaskSet::new(&Plan::new(Shutdown::new(), Config::default()), TokioRuntime::new());
    /// tasks.spawn("a", |shutdown| async move { shutdown.triggered().await })?;
    /// tasks.spawn(format!("b{}", 2), |shutdown| async move { shutdown.triggered().await })?;
    /// assert_eq!(tasks.names(), ["a", "b2"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn names(&self) -> Vec<String> {
        self.inner.registry.names()
    }

    /// The tasks that panicked so far: each one's name and panic message (when the panic
    /// carried a string), in the order they panicked.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown_adapters::{tokio::TokioRuntime, TaskSet};
    /// # use winddown_core::{Config, Plan, Shutdown};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown_core::Closed> {
    /// let shutdown = Shutdown::new();
    /// let tasks = TaskSet::new(&Plan::new(shutdown.clone(), Config::default()), TokioRuntime::new());
    /// tasks.spawn("parser", |_| async { panic!("bad input") })?;
    ///
    /// shutdown.close();
    /// shutdown.drained().await; // the panic released the task's guard
    /// assert_eq!(tasks.panicked(), [("parser".to_string(), Some("bad input".to_string()))]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn panicked(&self) -> Vec<(String, Option<String>)> {
        lock(&self.inner.registry.tasks).panicked.clone()
    }
}

impl<R: Runtime> Clone for TaskSet<R> {
    /// Another handle to the same set; the tasks are cancelled when the last one is dropped.
    fn clone(&self) -> Self {
        TaskSet {
            inner: self.inner.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for TaskSet<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet")
            .field("running", &self.names())
            .field("shutdown", &self.inner.shutdown)
            .finish_non_exhaustive()
    }
}
