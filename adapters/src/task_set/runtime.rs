//! What a [`TaskSet`](crate::TaskSet) spawns on: any core [`Runtime`], for `Send` tasks, or a
//! [`Local`] runtime, for tasks that need not be `Send`. One set type serves both: the only
//! difference is which futures the runtime accepts, and that is [`SpawnTask`].

use std::future::Future;
use std::pin::Pin;

use winddown_core::runtime::{BoxFuture, Runtime, TaskOutcome};

use super::context::TaskContext;
use super::drive::{Drive, Start};
use super::outcome::TaskResult;

mod sealed {
    pub trait Sealed {}
    impl<R: winddown_core::runtime::Runtime> Sealed for R {}
    impl<S: super::LocalRuntime> Sealed for super::Local<S> {}
}

/// What a [`TaskSet`](crate::TaskSet) spawns its tasks on: any core [`Runtime`] (the
/// `TokioRuntime`, `SmolRuntime` and `AsyncStdRuntime` of this crate, or one of your own),
/// whose tasks must be `Send`; or a [`Local`] runtime, a single-threaded executor whose tasks
/// need not be.
///
/// The trait is sealed: it is implemented for every [`Runtime`] and every [`Local`], and says
/// nothing a user calls.
pub trait TaskRuntime: sealed::Sealed {
    /// What the runtime hands back for a spawned task ([`Runtime::spawn`]'s future, `Send`, or
    /// [`LocalRuntime::spawn_local`]'s); dropping it cancels the task.
    #[doc(hidden)]
    type Join;
}

impl<R: Runtime> TaskRuntime for R {
    type Join = BoxFuture<TaskOutcome>;
}

impl<S: LocalRuntime> TaskRuntime for Local<S> {
    type Join = LocalBoxFuture<TaskOutcome>;
}

/// Whether a [`TaskRuntime`] can run the task `F` makes: `F` is called with the task's
/// [`TaskContext`] and returns the task's future, which may return what [`TaskResult`] allows;
/// a [`Runtime`] runs `Send` futures, a [`Local`] runtime runs any. This is the one bound behind
/// the `spawn` methods of [`TaskSet`](crate::TaskSet) and [`Spawner`](super::Spawner). Sealed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot run this task",
    label = "a task for a `TaskSet<{Self}>`",
    note = "a task is a closure called with the task's context (`|ctx| async move {{ .. }}`) that \
            returns a future whose output is `()`, `Result<(), E>` (`E: Display`) or `!`",
    note = "a `TaskSet` on a `Runtime` runs `Send` futures; for a task that holds an `Rc`, a \
            `RefCell` or another `!Send` value, use a `TaskSet` on a `task_set::Local` runtime"
)]
pub trait SpawnTask<F>: TaskRuntime + Sized {
    /// What a failed task hands to its [`TaskHandle`](super::TaskHandle): `E` for a task whose
    /// future returns `Result<(), E>`, [`Infallible`](std::convert::Infallible) otherwise.
    type Error;

    /// Calls `task` with its context and spawns the future it returns, wrapped.
    #[doc(hidden)]
    fn spawn_task(&self, task: F, start: Start<Self, Self::Error>) -> Self::Join;
}

impl<R, F, Fut> SpawnTask<F> for R
where
    R: Runtime,
    F: FnOnce(TaskContext<R>) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: TaskResult,
{
    type Error = <Fut::Output as TaskResult>::Error;

    fn spawn_task(&self, task: F, start: Start<R, Self::Error>) -> BoxFuture<TaskOutcome> {
        let (context, end, name) = start.into_parts();
        self.spawn(Box::pin(Drive::new(task(context), end, name)))
    }
}

impl<S, F, Fut> SpawnTask<F> for Local<S>
where
    S: LocalRuntime,
    F: FnOnce(TaskContext<Local<S>>) -> Fut,
    Fut: Future + 'static,
    Fut::Output: TaskResult,
{
    type Error = <Fut::Output as TaskResult>::Error;

    fn spawn_task(&self, task: F, start: Start<Self, Self::Error>) -> LocalBoxFuture<TaskOutcome> {
        let (context, end, name) = start.into_parts();
        self.0
            .spawn_local(Box::pin(Drive::new(task(context), end, name)))
    }
}

/// A boxed future that need not be `Send`: what a [`LocalRuntime`] spawns (`T = ()`), and
/// what it returns for the spawned task (`T = TaskOutcome`). The local counterpart of the
/// core's [`BoxFuture`].
pub type LocalBoxFuture<T = ()> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// What a [`Local`] task set needs from a single-threaded executor: spawn a `!Send` future on
/// it, as [`Runtime::spawn`] does a `Send` one, and cancel it when the returned future is
/// dropped.
///
/// This crate implements it for tokio's `LocalSet` (`tokio::TokioRuntime`) and smol's
/// `LocalExecutor` (`smol::SmolLocal`).
///
/// # Examples
///
/// A complete implementation for smol's `LocalExecutor` (the one this crate ships, minus its
/// docs):
///
/// ```
/// use std::rc::Rc;
/// use winddown::runtime::TaskOutcome;
/// use winddown::task_set::{LocalBoxFuture, LocalRuntime};
///
/// struct MyLocal(Rc<smol::LocalExecutor<'static>>);
///
/// impl LocalRuntime for MyLocal {
///     fn spawn_local(&self, task: LocalBoxFuture) -> LocalBoxFuture<TaskOutcome> {
///         let task = self.0.spawn(task).fallible(); // dropping it cancels the task
///         Box::pin(async move {
///             match task.await {
///                 Some(()) => TaskOutcome::Finished,
///                 None => TaskOutcome::Cancelled, // the executor was dropped
///             }
///         })
///     }
/// }
/// # let _ = MyLocal(Rc::new(smol::LocalExecutor::new())).spawn_local(Box::pin(async {}));
/// ```
pub trait LocalRuntime {
    /// Spawns `task` on the executor and returns a future that completes with how it ended.
    /// Dropping that future must cancel the task where the executor can (its future is dropped
    /// at its next await point), as a dropped set relies on.
    ///
    /// # Panics
    ///
    /// May panic outside the executor's context (tokio's `spawn_local` outside a `LocalSet`).
    fn spawn_local(&self, task: LocalBoxFuture) -> LocalBoxFuture<TaskOutcome>;
}

/// A [`LocalRuntime`] as the runtime of a [`TaskSet`](crate::TaskSet): the set's tasks then
/// need not be `Send` (they may hold an `Rc`, a `RefCell`, a `!Send` client), and run on the
/// executor's thread: tokio's `LocalSet` with `Local(TokioRuntime::new())`, smol's `LocalExecutor`
/// with `Local(SmolLocal::new(executor))`.
///
/// The set behaves as on any runtime: each task holds a guard, sees the trigger through its
/// context, is named in the report when it outlasts the drain, and its failures and panics are
/// recorded and handled by the set's `OnFailure` policy. The set itself is then `!Send`
/// (unless the local runtime is `Send`): make it, and spawn, on the executor's thread.
///
/// # Caveats
///
/// - A task's error type must still be `Send` (the failure is reported across threads).
/// - tokio: tasks run only while the `LocalSet` is driven (`run_until`, or awaiting it), and
///   spawning panics outside it. When the `LocalSet` is dropped, its tasks are dropped with it:
///   they end as cancelled, and release their guards.
/// - smol: the tasks run only while something runs the `LocalExecutor` (`executor.run(..)`).
///
/// # Examples
///
#[cfg_attr(feature = "tokio", doc = "```")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use winddown::task_set::{Local, TaskExit};
/// use winddown::tokio::TokioRuntime;
/// use winddown::{Reason, Shutdown, TaskSet};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), winddown::Closed> {
/// let shutdown = Shutdown::new();
/// let local = tokio::task::LocalSet::new();
/// local.run_until(async {
///     let tasks = TaskSet::with_shutdown(&shutdown, Local(TokioRuntime::new()));
///     let ticks = Rc::new(Cell::new(0)); // !Send
///     let counter = tasks.spawn("counter", {
///         let ticks = ticks.clone();
///         move |ctx| async move {
///             while !ctx.shutdown().is_triggered() {
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
#[derive(Debug, Clone, Copy, Default)]
pub struct Local<S>(pub S);
