//! [`TaskSet`]: background tasks that each hold a guard, see the trigger, and are named in the
//! report when they outlast the drain; and what goes with it: the [`TaskContext`] a task is
//! called with, the weak [`Spawner`], per-task [`TaskHandle`]s and their [`TaskExit`], the
//! [`OnFailure`] policy, and the [`Idle`] future. A set runs on any core runtime (`Send`
//! tasks) or on a [`Local`] one (`!Send` tasks, on a single-threaded executor): the same type,
//! the same methods.
//!
//! # Invariants
//!
//! 1. A task's name is in `Tasks::running` from before it is spawned until its `TaskEnd`
//!    drops (it finished, failed, panicked, or was cancelled), and its guard is released only
//!    after the name is gone: a name in the report's `still_in_flight` is a task that still
//!    held its guard when the namer ran (or was just releasing it).
//! 2. Every spawned task's join handle is either in `Joins::live` until the task has ended and
//!    a later `spawn` reaps it, or dropped in `spawn` right away when the task ended before its
//!    handle was stored (`Joins::ended_early`). So finished tasks do not pile up, and the
//!    handles of running tasks live exactly as long as the set.
//! 3. Only the `TaskSet` holds the `Inner` (which holds the join handles) strongly; tasks,
//!    contexts and spawners hold a `Weak` (a spawn upgrades it for the call only). So dropping
//!    the set drops the join handles, which cancels the tasks, whatever the tasks hold.
//! 4. `Tasks::idle_waiters` and `Tasks::trigger_when_idle` are checked and registered under
//!    the lock that `end` takes to remove the last name, so the last end never slips between
//!    a check and a registration.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use winddown_core::{Closed, Guard, Plan, Reason, Shutdown, TaskFailure};

mod context;
mod drive;
mod handle;
mod outcome;
mod registry;
mod runtime;

pub use context::{SpawnError, Spawner, TaskContext};
pub use handle::TaskHandle;
pub(crate) use outcome::Never;
pub use outcome::{OnFailure, TaskExit, TaskResult};
pub use registry::Idle;
pub use runtime::{Local, LocalBoxFuture, LocalRuntime, SpawnTask, TaskRuntime};

use drive::Start;
use handle::Cell;
use registry::{Registry, TaskEnd};

/// A set of background tasks tied to a shutdown: each holds a [`Guard`] while it runs, so the
/// drain waits for it; each gets a [`Shutdown`] handle to see the trigger; and the ones still
/// running when the drain deadline passes are named in the [`Report`]'s
/// [`still_in_flight`](winddown_core::DrainRecord::still_in_flight).
///
/// The set is generic over the core's [`Runtime`](winddown_core::runtime::Runtime) trait, so
/// it works the same on tokio, smol and async-std (the `TokioRuntime`, `SmolRuntime` and
/// `AsyncStdRuntime` types of this crate), or on a runtime of your own; and on a [`Local`]
/// runtime (tokio's `LocalSet`, smol's `LocalExecutor`) its tasks need not be `Send`.
///
/// A task is done when its future completes, panics, or is cancelled. The drain needs nothing
/// else from the set: the task's guard is released as its future ends, and the last release
/// completes the drain. A task that panics is recorded (see [`panicked`](Self::panicked)),
/// and its guard is released like any other; the panic does not reach the executor.
///
/// # Dropping the set cancels its tasks
///
/// Like tokio's `JoinSet`, the set owns its tasks: when the `TaskSet` is dropped, the tasks
/// still running are cancelled (on runtimes that can cancel: all three of this crate's). Keep
/// the set alive until [`Plan::run`] has returned; tasks that outlasted the drain deadline are
/// then cancelled when you drop it. The set is not `Clone`, and nothing a task is given keeps
/// it alive: a task spawns siblings through its [`TaskContext::spawner`], a weak
/// [`Spawner`] (give one to other code with [`spawner`](Self::spawner) too). Only moving the
/// set itself into one of its own tasks (in an `Arc`, say) would keep it alive.
///
/// # Failures, panics and handles
///
/// A task may return `()` or `Result<(), E>` ([`TaskResult`]). A task that returns `Err` or
/// panics is recorded ([`failures`](Self::failures), and the report's
/// [`task_failures`](winddown_core::Report::task_failures), which make the exit code 1), and,
/// by default, triggers the shutdown with [`Reason::Error`]
/// naming it ([`OnFailure`] says why, and how to only record it). [`spawn`](Self::spawn)
/// returns a [`TaskHandle`] to abort the task or await how it ended.
///
/// # Stopping when the work is done
///
/// [`idle`](Self::idle) completes when no task is running, without closing anything; and
/// [`trigger_when_idle`](Self::trigger_when_idle) makes that the trigger, for a batch job
/// that stops by itself.
///
/// # Comparison to tokio-util's `TaskTracker`
///
/// A `TaskTracker` counts tasks and can be waited on; it does not refuse work once closed, and
/// does not know their names or their errors. A `TaskSet` refuses to spawn once admissions are closed
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
/// use winddown::tokio::TokioRuntime;
/// use winddown::{ShutdownExt, TaskSet};
/// use winddown::{Config, Plan, Reason, Shutdown, Status};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let shutdown = Shutdown::new();
/// let config = Config::builder().drain(Duration::from_secs(1)).build()?;
/// let plan = Plan::new(shutdown.clone(), config);
/// let tasks = TaskSet::new(&plan, TokioRuntime::new());
///
/// // A worker that ticks until the trigger, then finishes its tick and stops.
/// tasks.spawn("ticker", |ctx| async move {
///     let mut tick = tokio::time::interval(Duration::from_millis(100));
///     while ctx.shutdown().until_shutdown(tick.tick()).await.is_some() {}
/// })?;
/// // A worker that ignores the trigger.
/// tasks.spawn("stuck upload", |_| std::future::pending::<()>())?;
///
/// shutdown.trigger(Reason::requested());
/// let report = plan.run(TokioRuntime::new()).await;
/// assert_eq!(report.status, Status::TimedOut);
/// assert_eq!(report.drain.still_in_flight, ["stuck upload"]);
/// drop(tasks); // cancels the stuck upload
/// # Ok(())
/// # }
/// ```
pub struct TaskSet<R: TaskRuntime> {
    /// The only strong reference (invariant 3).
    inner: Arc<Inner<R>>,
}

pub(crate) struct Inner<R: TaskRuntime> {
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent under every lock in this module (no user code runs while one
    // is held), so a poisoned lock is still good to use.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<R: TaskRuntime> Inner<R> {
    /// Spawns `task` as `name`, admitted with `guard`, into this set.
    #[cfg_attr(feature = "track", track_caller)]
    fn spawn<F>(
        self: &Arc<Self>,
        name: Cow<'static, str>,
        guard: Guard,
        task: F,
    ) -> TaskHandle<R::Error>
    where
        R: SpawnTask<F>,
    {
        let id = self.registry.start(name.clone());
        let cell = Arc::new(Cell::new());
        let end = TaskEnd {
            registry: self.registry.clone(),
            id,
            guard: Some(guard),
            cell: cell.clone(),
            exit: None,
        };
        let handle = TaskHandle::new(cell, name.to_string());
        let spawner = Spawner {
            inner: Arc::downgrade(self),
        };
        let context = TaskContext::new(name.clone(), self.shutdown.clone(), spawner);
        let join = self.runtime.spawn_task(task, Start { context, end, name });
        self.store(id, join);
        handle
    }

    /// Keeps `join` while task `id` runs, and drops the handles of tasks that have ended
    /// (invariant 2).
    fn store(&self, id: u64, join: R::Join) {
        let mut dead = Vec::new();
        {
            let mut joins = lock(&self.joins);
            if joins.ended_early.remove(&id) {
                dead.push(join);
            } else {
                joins.live.insert(id, join);
            }
            let ended = std::mem::take(&mut lock(&self.registry.tasks).ended);
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

impl<J> Joins<J> {
    fn new() -> Mutex<Self> {
        Mutex::new(Joins {
            live: BTreeMap::new(),
            ended_early: BTreeSet::new(),
        })
    }
}

// ===== impl TaskSet =====

impl<R: TaskRuntime> TaskSet<R> {
    /// An empty set for `plan`'s shutdown, spawning on `runtime`, that
    /// [reports to](Self::report_to) the plan: its tasks still running at the drain deadline
    /// are named in the report, and its failed tasks are listed there.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use winddown::tokio::TokioRuntime;
    /// use winddown::TaskSet;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let tasks = TaskSet::new(&plan, TokioRuntime::new());
    /// assert!(tasks.is_empty());
    /// # }
    /// ```
    pub fn new(plan: &Plan, runtime: R) -> Self {
        let tasks = TaskSet::with_shutdown(plan.shutdown(), runtime);
        tasks.report_to(plan);
        tasks
    }

    /// An empty set whose tasks are admitted to `shutdown` (a service's, or a child scope's),
    /// without a [`Plan`]: for a library that has no plan of its own. A plan can still name
    /// its stuck tasks and list its failures: see [`report_to`](Self::report_to).
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
    /// // A library, handed a scope of the service's shutdown.
    /// let service = Shutdown::new();
    /// let library = service.child();
    /// let tasks = TaskSet::with_shutdown(&library, TokioRuntime::new());
    /// tasks.spawn("poller", |ctx| async move { ctx.shutdown().triggered().await })?;
    ///
    /// service.trigger(Reason::requested());
    /// service.close();
    /// service.drained().await; // waited for the library's scope, and so for its task
    /// assert!(tasks.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_shutdown(shutdown: &Shutdown, runtime: R) -> Self {
        TaskSet {
            inner: Arc::new(Inner {
                runtime,
                shutdown: shutdown.clone(),
                registry: Arc::new(Registry::new(shutdown.clone())),
                joins: Joins::new(),
            }),
        }
    }

    /// Reports this set's tasks to `plan`: the ones still running at the drain deadline are
    /// named in the report ([`Plan::name_in_flight`]), and the ones that failed or panicked
    /// are listed in it ([`Plan::collect_failures`]). [`new`](Self::new) does this for its
    /// plan; call it for a set made [`with_shutdown`](Self::with_shutdown) on a scope of the
    /// plan's shutdown.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use std::time::Duration;
    /// use winddown::{tokio::TokioRuntime, TaskSet};
    /// use winddown::{Config, Plan, Reason, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let plan = Plan::new(Shutdown::new(), Config::builder().drain(Duration::from_secs(1)).build()?);
    /// let library = plan.shutdown().child();
    /// let tasks = TaskSet::with_shutdown(&library, TokioRuntime::new());
    /// tasks.report_to(&plan);
    /// tasks.spawn("stuck", |_| std::future::pending::<()>())?;
    ///
    /// plan.shutdown().trigger(Reason::requested());
    /// let report = plan.run(TokioRuntime::new()).await;
    /// assert!(report.drain.still_in_flight.contains(&"stuck".to_string()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn report_to(&self, plan: &Plan) {
        self.inner.registry.report_to(plan);
    }

    /// What a task that fails or panics does: [`OnFailure::Trigger`] (the default) or
    /// [`OnFailure::Record`]. Applies to every task of the set, from its next failure on.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use winddown::task_set::OnFailure;
    /// use winddown::{tokio::TokioRuntime, TaskSet};
    /// use winddown::{Shutdown, TaskFailure};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// let shutdown = Shutdown::new();
    /// let tasks = TaskSet::with_shutdown(&shutdown, TokioRuntime::new()).on_failure(OnFailure::Record);
    /// tasks.spawn("refresher", |_| async {
    ///     let cached: Option<u32> = None;
    ///     cached.expect("stale");
    /// })?.await;
    /// assert!(!shutdown.is_triggered());
    /// assert_eq!(tasks.failures(), [TaskFailure::panic("refresher", Some("stale".into()))]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_failure(self, policy: OnFailure) -> Self {
        self.inner.registry.set_on_failure(policy);
        self
    }

    /// Spawns a task named `name`: admits it (one guard, held until it ends), calls `task`
    /// with a [`TaskContext`] (its name, its shutdown, a spawner for siblings), and spawns the
    /// future it returns. The future may return `()`, `Result<(), E>`, or never return
    /// ([`TaskResult`]); on a [`Runtime`](winddown_core::runtime::Runtime) it must be `Send`,
    /// on a [`Local`] runtime it need not be ([`SpawnTask`]).
    ///
    /// A task should stop soon after the trigger: watch `ctx.shutdown()` with
    /// [`ShutdownExt::until_shutdown`](crate::ShutdownExt::until_shutdown),
    /// [`Shutdown::triggered`] or [`Shutdown::is_triggered`].
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use winddown::tokio::TokioRuntime;
    /// use winddown::TaskSet;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// let shutdown = Shutdown::new();
    /// let plan = Plan::new(shutdown.clone(), Config::default());
    /// let tasks = TaskSet::new(&plan, TokioRuntime::new());
    ///
    /// tasks.spawn("cache refresher", |ctx| async move {
    ///     ctx.shutdown().triggered().await;
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
    /// `TokioRuntime` was made inside one; and a [`Local`] runtime's may outside its executor.
    #[cfg_attr(feature = "track", track_caller)]
    pub fn spawn<F, Fut>(
        &self,
        name: impl Into<Cow<'static, str>>,
        task: F,
    ) -> Result<TaskHandle<R::Error>, Closed>
    where
        F: FnOnce(TaskContext<R>) -> Fut,
        R: SpawnTask<F>,
    {
        let guard = self.inner.shutdown.enter()?;
        Ok(self.inner.spawn(name.into(), guard, task))
    }

    /// Spawns a task that holds `guard` instead of a new admission: for admitted work that
    /// fans out after admissions have closed (a request that starts sub-tasks during the
    /// drain), with a [`Guard::fork`] of its own guard. It cannot be refused, and the drain
    /// waits for the task as for any other. `guard` should belong to this set's shutdown (or a
    /// scope inside it), or the drain of this set's shutdown does not wait for the task.
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
    /// let request = shutdown.enter()?;
    /// shutdown.close(); // SIGTERM: admissions close while the request runs
    /// assert!(tasks.spawn("refused", |_| async {}).is_err());
    ///
    /// // The request fans out, then finishes; its sub-task keeps the drain waiting.
    /// let audit = tasks.spawn_with_guard("audit log", request.fork(), |_| async {});
    /// drop(request);
    /// assert!(!shutdown.is_drained());
    /// audit.await;
    /// assert!(shutdown.is_drained());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// As [`spawn`](Self::spawn).
    pub fn spawn_with_guard<F, Fut>(
        &self,
        name: impl Into<Cow<'static, str>>,
        guard: Guard,
        task: F,
    ) -> TaskHandle<R::Error>
    where
        F: FnOnce(TaskContext<R>) -> Fut,
        R: SpawnTask<F>,
    {
        self.inner.spawn(name.into(), guard, task)
    }

    /// A handle that spawns into this set without keeping it alive (see [`Spawner`]).
    ///
    /// # Examples
    ///
    /// See [`Spawner`].
    pub fn spawner(&self) -> Spawner<R> {
        Spawner {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// The shutdown the tasks are admitted to.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown::{tokio::TokioRuntime, TaskSet};
    /// # use winddown::{Config, Plan, Shutdown};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::new();
    /// let tasks = TaskSet::new(&Plan::new(shutdown.clone(), Config::default()), TokioRuntime::new());
    /// assert!(*tasks.shutdown() == shutdown);
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
    /// # use winddown::{tokio::TokioRuntime, TaskSet};
    /// # use winddown::{Config, Plan, Shutdown};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// # let tasks = TaskSet::new(&Plan::new(Shutdown::new(), Config::default()), TokioRuntime::new());
    /// tasks.spawn("idle", |ctx| async move { ctx.shutdown().triggered().await })?;
    /// assert_eq!(tasks.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.inner.registry.len()
    }

    /// Whether no task is running.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown::{tokio::TokioRuntime, TaskSet};
    /// # use winddown::{Config, Plan, Shutdown};
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
    /// # use winddown::{tokio::TokioRuntime, TaskSet};
    /// # use winddown::{Config, Plan, Shutdown};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// # let tasks = TaskSet::new(&Plan::new(Shutdown::new(), Config::default()), TokioRuntime::new());
    /// tasks.spawn("a", |ctx| async move { ctx.shutdown().triggered().await })?;
    /// tasks.spawn(format!("b{}", 2), |ctx| async move { ctx.shutdown().triggered().await })?;
    /// assert_eq!(tasks.names(), ["a", "b2"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn names(&self) -> Vec<String> {
        self.inner.registry.names()
    }

    /// The tasks that failed or panicked so far, in the order they ended, with their error or
    /// panic message: what a plan the set reports to lists in
    /// [`Report::task_failures`](winddown_core::Report::task_failures).
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown::{tokio::TokioRuntime, TaskSet};
    /// # use winddown::{Shutdown, TaskFailure};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// let tasks = TaskSet::with_shutdown(&Shutdown::new(), TokioRuntime::new());
    /// tasks.spawn("loader", |_| async { Err("no such file") })?.await;
    /// assert_eq!(tasks.failures(), [TaskFailure::error("loader", "no such file")]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn failures(&self) -> Vec<TaskFailure> {
        self.inner.registry.failures()
    }

    /// The tasks that panicked so far: each one's name and panic message (when the panic
    /// carried a string), in the order they panicked. (The panics among
    /// [`failures`](Self::failures).)
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown::{tokio::TokioRuntime, TaskSet};
    /// # use winddown::{Config, Plan, Shutdown};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// let shutdown = Shutdown::new();
    /// let tasks = TaskSet::new(&Plan::new(shutdown.clone(), Config::default()), TokioRuntime::new());
    /// tasks.spawn("parser", |_| async {
    ///     let input = "";
    ///     assert!(!input.is_empty(), "bad input");
    /// })?;
    ///
    /// shutdown.close();
    /// shutdown.drained().await; // the panic released the task's guard
    /// assert_eq!(tasks.panicked(), [("parser".to_string(), Some("bad input".to_string()))]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn panicked(&self) -> Vec<(String, Option<String>)> {
        self.inner.registry.panicked()
    }

    /// Completes when no task of the set is running, without closing anything: new tasks may
    /// still be spawned (the `TaskTracker::wait` of tokio-util before `close`).
    ///
    /// It completes at once if the set is empty now, so spawn the first tasks before awaiting
    /// it. A task that spawns a follow-up before it ends keeps the set busy (the follow-up is
    /// running before the first task ends), but a task spawned from outside after `idle`
    /// completed is not waited for: if the set emptied in between, it has already completed.
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
    /// for file in ["a.csv", "b.csv"] {
    ///     tasks.spawn(file, |_| async { /* import it */ })?;
    /// }
    /// tasks.idle().await;
    /// assert!(tasks.is_empty());
    /// assert!(!shutdown.is_triggered()); // nothing closed: more work may come
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub fn idle(&self) -> Idle {
        Idle {
            registry: self.inner.registry.clone(),
        }
    }

    /// Triggers the shutdown with `reason` when no task of the set is running, unless it was
    /// triggered already: a batch job, or a set of subsystems, that stops by itself when its
    /// work is done (tokio-graceful-shutdown's "shut down when all subsystems ended").
    ///
    /// The set is checked now, and then each time a task ends: if it is empty now, the trigger
    /// happens now, so spawn the first tasks before calling it. The trigger happens in the
    /// thread of the task that ended last, as that task ends; after it, admissions close as
    /// usual. The same race as [`idle`](Self::idle): a task spawned from outside the set after
    /// it emptied does not postpone the trigger. It fires once.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// use winddown::{run_until_shutdown, tokio::TokioRuntime, TaskSet};
    /// use winddown::{Config, Plan, Reason, Shutdown, Status};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let tasks = TaskSet::new(&plan, TokioRuntime::new());
    /// for part in 0..4 {
    ///     tasks.spawn(format!("part {part}"), |_| async { /* ... */ })?;
    /// }
    /// tasks.trigger_when_idle(Reason::requested_because("batch done"));
    ///
    /// // The service runs until the batch is done.
    /// let report = run_until_shutdown(&plan, TokioRuntime::new(), std::future::pending::<()>()).await;
    /// assert_eq!(report.status, Status::Completed);
    /// assert_eq!(report.reason, Some(Reason::requested_because("batch done")));
    /// # Ok(())
    /// # }
    /// ```
    pub fn trigger_when_idle(&self, reason: Reason) {
        self.inner.registry.trigger_when_idle(reason);
    }
}

impl<R: TaskRuntime> fmt::Debug for TaskSet<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet")
            .field("running", &self.names())
            .field("shutdown", &self.inner.shutdown)
            .finish_non_exhaustive()
    }
}
