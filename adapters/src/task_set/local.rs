//! [`LocalTaskSet`]: a task set for `!Send` tasks, on a runtime's single-threaded executor
//! (tokio's `LocalSet`, smol's `LocalExecutor`).

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex};

use winddown_core::{Closed, Plan, Reason, Shutdown, TaskFailure};

use super::handle::TaskHandle;
use super::outcome::{OnFailure, TaskResult};
use super::registry::{Idle, Registry};
use super::{drive, start, store, Joins};

/// A boxed future that need not be `Send`: what a [`LocalRuntime`] spawns.
pub type LocalBoxFuture = Pin<Box<dyn Future<Output = ()> + 'static>>;

/// What a [`LocalTaskSet`] needs from a single-threaded executor: spawn a `!Send` future on
/// it, and cancel it when the returned handle is dropped.
///
/// This crate implements it for tokio's `LocalSet` (`tokio::TokioLocal`) and smol's
/// `LocalExecutor` (`smol::SmolLocal`).
///
/// # Examples
///
/// A complete implementation for smol's `LocalExecutor` (the one this crate ships, minus its
/// docs):
///
/// ```
/// use std::rc::Rc;
/// use winddown::task_set::{LocalBoxFuture, LocalRuntime};
///
/// struct MyLocal(Rc<smol::LocalExecutor<'static>>);
///
/// impl LocalRuntime for MyLocal {
///     type Join = smol::Task<()>; // dropping it cancels the task
///
///     fn spawn_local(&self, task: LocalBoxFuture) -> smol::Task<()> {
///         self.0.spawn(task)
///     }
/// }
/// # let _ = MyLocal(Rc::new(smol::LocalExecutor::new())).spawn_local(Box::pin(async {}));
/// ```
pub trait LocalRuntime {
    /// The handle of a spawned task. Dropping it must cancel the task where the executor can
    /// (its future is dropped at its next await point), as a dropped [`LocalTaskSet`] relies on.
    type Join;

    /// Spawns `task` on the executor.
    ///
    /// # Panics
    ///
    /// May panic outside the executor's context (tokio's `spawn_local` outside a `LocalSet`).
    fn spawn_local(&self, task: LocalBoxFuture) -> Self::Join;
}

/// A [`TaskSet`](crate::TaskSet) for `!Send` tasks (ones that hold an `Rc`, a `RefCell`, a
/// `!Send` client), on a single-threaded executor: tokio's `LocalSet` with
/// `tokio::TokioLocal`, smol's `LocalExecutor` with `smol::SmolLocal`.
///
/// It behaves as a `TaskSet`: each task holds a guard, sees the trigger through its
/// [`LocalTaskContext`], is named in the report when it outlasts the drain, and its failures
/// and panics are recorded and handled by the [`OnFailure`] policy; [`spawn`](Self::spawn)
/// returns a [`TaskHandle`]; dropping the set cancels its tasks (nothing a task holds keeps
/// the set alive). The set itself is `!Send`: make it, and spawn, on the executor's thread.
///
/// # Caveats
///
/// - A task's error type must still be `Send` (the failure is reported across threads).
/// - tokio: tasks run only while the `LocalSet` is driven (`run_until`, or awaiting it), and
///   `TokioLocal::spawn_local` panics outside it. When the `LocalSet` is dropped, its tasks are
///   dropped with it: they end as cancelled, and release their guards.
/// - smol: the tasks run only while something runs the `LocalExecutor` (`executor.run(..)`).
///
/// # Examples
///
#[cfg_attr(feature = "tokio", doc = "```")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use winddown::task_set::{LocalTaskSet, TaskExit};
/// use winddown::tokio::TokioLocal;
/// use winddown::{Reason, Shutdown};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), winddown::Closed> {
/// let shutdown = Shutdown::new();
/// let local = tokio::task::LocalSet::new();
/// local.run_until(async {
///     let tasks = LocalTaskSet::with_shutdown(&shutdown, TokioLocal);
///     let ticks = Rc::new(Cell::new(0)); // !Send
///     let counter = tasks.spawn("counter", {
///         let ticks = ticks.clone();
///         move |ctx| async move {
///             while !ctx.is_triggered() {
///                 ticks.set(ticks.get() + 1);
///                 tokio::task::yield_now().await;
///             }
///         }
///     })?;
///     tokio::task::yield_now().await;
///     shutdown.trigger(Reason::requested());
///     assert_eq!(counter.await, TaskExit::Finished);
///     assert!(ticks.get() > 0);
///     Ok(())
/// })
/// .await
/// # }
/// ```
pub struct LocalTaskSet<S: LocalRuntime> {
    /// The only strong reference (invariant 3).
    inner: Rc<LocalInner<S>>,
}

struct LocalInner<S: LocalRuntime> {
    runtime: S,
    shutdown: Shutdown,
    registry: Arc<Registry>,
    joins: Mutex<Joins<S::Join>>,
}

impl<S: LocalRuntime + 'static> LocalTaskSet<S> {
    /// As [`TaskSet::new`](crate::TaskSet::new): a set for `plan`'s shutdown that reports to
    /// the plan.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use winddown::smol::SmolLocal;
    /// use winddown::task_set::LocalTaskSet;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// let executor = Rc::new(smol::LocalExecutor::new());
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let tasks = LocalTaskSet::new(&plan, SmolLocal::new(executor.clone()));
    /// assert!(tasks.is_empty());
    /// ```
    pub fn new(plan: &Plan, runtime: S) -> Self {
        let tasks = LocalTaskSet::with_shutdown(plan.shutdown(), runtime);
        tasks.report_to(plan);
        tasks
    }

    /// As [`TaskSet::with_shutdown`](crate::TaskSet::with_shutdown): a set on any scope,
    /// without a plan.
    ///
    /// # Examples
    ///
    /// See the [type docs](Self).
    pub fn with_shutdown(shutdown: &Shutdown, runtime: S) -> Self {
        LocalTaskSet {
            inner: Rc::new(LocalInner {
                runtime,
                shutdown: shutdown.clone(),
                registry: Arc::new(Registry::new(shutdown.clone())),
                joins: Joins::new(),
            }),
        }
    }

    /// As [`TaskSet::report_to`](crate::TaskSet::report_to).
    ///
    /// # Examples
    ///
    /// See [`TaskSet::report_to`](crate::TaskSet::report_to).
    pub fn report_to(&self, plan: &Plan) {
        self.inner.registry.report_to(plan);
    }

    /// As [`TaskSet::on_failure`](crate::TaskSet::on_failure).
    ///
    /// # Examples
    ///
    /// See [`TaskSet::on_failure`](crate::TaskSet::on_failure).
    pub fn on_failure(self, policy: OnFailure) -> Self {
        self.inner.registry.set_on_failure(policy);
        self
    }

    /// As [`TaskSet::spawn`](crate::TaskSet::spawn), for a future that need not be `Send`.
    ///
    /// # Examples
    ///
    /// See the [type docs](Self).
    ///
    /// # Errors
    ///
    /// [`Closed`] once admissions are closed; `task` is then not called.
    ///
    /// # Panics
    ///
    /// If the executor's spawn panics (tokio's `spawn_local` outside a `LocalSet`).
    #[cfg_attr(feature = "track", track_caller)]
    pub fn spawn<F, Fut>(
        &self,
        name: impl Into<Cow<'static, str>>,
        task: F,
    ) -> Result<TaskHandle<<Fut::Output as TaskResult>::Error>, Closed>
    where
        F: FnOnce(LocalTaskContext<S>) -> Fut,
        Fut: Future + 'static,
        Fut::Output: TaskResult,
    {
        let guard = self.inner.shutdown.enter()?;
        Ok(spawn_local_admitted(&self.inner, name.into(), guard, task))
    }

    /// A handle that spawns into this set without keeping it alive.
    ///
    /// # Examples
    ///
    /// See [`LocalSpawner`].
    pub fn spawner(&self) -> LocalSpawner<S> {
        LocalSpawner {
            inner: Rc::downgrade(&self.inner),
        }
    }
}

impl<S: LocalRuntime> LocalTaskSet<S> {
    /// The shutdown the tasks are admitted to.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::rc::Rc;
    /// # use winddown::{smol::SmolLocal, task_set::LocalTaskSet, Shutdown};
    /// let shutdown = Shutdown::new();
    /// let executor = Rc::new(smol::LocalExecutor::new());
    /// let tasks = LocalTaskSet::with_shutdown(&shutdown, SmolLocal::new(executor));
    /// assert!(tasks.shutdown().same_as(&shutdown));
    /// ```
    pub fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// How many tasks are running now.
    ///
    /// # Examples
    ///
    /// See [`TaskSet::len`](crate::TaskSet::len).
    pub fn len(&self) -> usize {
        self.inner.registry.len()
    }

    /// Whether no task is running.
    ///
    /// # Examples
    ///
    /// See [`TaskSet::is_empty`](crate::TaskSet::is_empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The names of the tasks running now, in the order they were spawned.
    ///
    /// # Examples
    ///
    /// See [`TaskSet::names`](crate::TaskSet::names).
    pub fn names(&self) -> Vec<String> {
        self.inner.registry.names()
    }

    /// The tasks that failed or panicked so far.
    ///
    /// # Examples
    ///
    /// See [`TaskSet::failures`](crate::TaskSet::failures).
    pub fn failures(&self) -> Vec<TaskFailure> {
        self.inner.registry.failures()
    }

    /// As [`TaskSet::idle`](crate::TaskSet::idle).
    ///
    /// # Examples
    ///
    /// See [`TaskSet::idle`](crate::TaskSet::idle).
    pub fn idle(&self) -> Idle {
        Idle {
            registry: self.inner.registry.clone(),
        }
    }

    /// As [`TaskSet::trigger_when_idle`](crate::TaskSet::trigger_when_idle).
    ///
    /// # Examples
    ///
    /// See [`TaskSet::trigger_when_idle`](crate::TaskSet::trigger_when_idle).
    pub fn trigger_when_idle(&self, reason: Reason) {
        self.inner.registry.trigger_when_idle(reason);
    }
}

impl<S: LocalRuntime> fmt::Debug for LocalTaskSet<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalTaskSet")
            .field("running", &self.names())
            .field("shutdown", &self.inner.shutdown)
            .finish_non_exhaustive()
    }
}

#[cfg_attr(feature = "track", track_caller)]
fn spawn_local_admitted<S, F, Fut>(
    inner: &Rc<LocalInner<S>>,
    name: Cow<'static, str>,
    guard: winddown_core::Guard,
    task: F,
) -> TaskHandle<<Fut::Output as TaskResult>::Error>
where
    S: LocalRuntime + 'static,
    F: FnOnce(LocalTaskContext<S>) -> Fut,
    Fut: Future + 'static,
    Fut::Output: TaskResult,
{
    let (end, handle) = start(&inner.registry, name.clone(), guard);
    let id = end.id;
    let context = LocalTaskContext {
        name: name.clone(),
        shutdown: inner.shutdown.clone(),
        spawner: LocalSpawner {
            inner: Rc::downgrade(inner),
        },
    };
    let future = task(context);
    let join = inner
        .runtime
        .spawn_local(Box::pin(drive(future, end, name)));
    store(&inner.joins, &inner.registry, id, join);
    handle
}

/// What a [`LocalTaskSet`] task's closure is called with: as [`TaskContext`](super::TaskContext),
/// with a [`LocalSpawner`].
pub struct LocalTaskContext<S: LocalRuntime> {
    name: Cow<'static, str>,
    shutdown: Shutdown,
    spawner: LocalSpawner<S>,
}

impl<S: LocalRuntime> LocalTaskContext<S> {
    /// The task's name.
    ///
    /// # Examples
    ///
    /// See [`TaskContext::name`](super::TaskContext::name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shutdown the task is admitted to (also reachable through `Deref`).
    ///
    /// # Examples
    ///
    /// See [`TaskContext::shutdown`](super::TaskContext::shutdown).
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// A handle to spawn more tasks in this task's set, which does not keep the set alive.
    ///
    /// # Examples
    ///
    /// See [`LocalSpawner`].
    pub fn spawner(&self) -> &LocalSpawner<S> {
        &self.spawner
    }
}

impl<S: LocalRuntime> Deref for LocalTaskContext<S> {
    type Target = Shutdown;

    fn deref(&self) -> &Shutdown {
        &self.shutdown
    }
}

impl<S: LocalRuntime> fmt::Debug for LocalTaskContext<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalTaskContext")
            .field("name", &self.name)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

/// Spawns tasks into a [`LocalTaskSet`] without keeping it alive: as
/// [`Spawner`](super::Spawner), on the set's thread.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use winddown::smol::SmolLocal;
/// use winddown::task_set::{LocalTaskSet, SpawnError};
/// use winddown::Shutdown;
///
/// let executor = Rc::new(smol::LocalExecutor::new());
/// let tasks = LocalTaskSet::with_shutdown(&Shutdown::new(), SmolLocal::new(executor.clone()));
/// let spawner = tasks.spawner();
/// assert!(spawner.spawn("one", |_| async {}).is_ok());
/// drop(tasks);
/// assert!(matches!(spawner.spawn("two", |_| async {}), Err(SpawnError::SetDropped)));
/// ```
pub struct LocalSpawner<S: LocalRuntime> {
    inner: Weak<LocalInner<S>>,
}

impl<S: LocalRuntime + 'static> LocalSpawner<S> {
    /// As [`LocalTaskSet::spawn`], while the set is alive.
    ///
    /// # Examples
    ///
    /// See the [type docs](Self).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Closed`](super::SpawnError::Closed) once admissions are closed,
    /// [`SpawnError::SetDropped`](super::SpawnError::SetDropped) once the set is dropped.
    #[cfg_attr(feature = "track", track_caller)]
    pub fn spawn<F, Fut>(
        &self,
        name: impl Into<Cow<'static, str>>,
        task: F,
    ) -> Result<TaskHandle<<Fut::Output as TaskResult>::Error>, super::SpawnError>
    where
        F: FnOnce(LocalTaskContext<S>) -> Fut,
        Fut: Future + 'static,
        Fut::Output: TaskResult,
    {
        let inner = self.inner.upgrade().ok_or(super::SpawnError::SetDropped)?;
        let guard = inner.shutdown.enter()?;
        Ok(spawn_local_admitted(&inner, name.into(), guard, task))
    }
}

impl<S: LocalRuntime> Clone for LocalSpawner<S> {
    fn clone(&self) -> Self {
        LocalSpawner {
            inner: self.inner.clone(),
        }
    }
}

impl<S: LocalRuntime> fmt::Debug for LocalSpawner<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSpawner")
            .field("set_alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}
