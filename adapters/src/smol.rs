//! The smol runtime: [`SmolRuntime`].
//!
//! ```
//! use std::time::Duration;
//! use winddown::smol::SmolRuntime;
//! use winddown::{run_until_shutdown, ShutdownExt, TaskSet};
//! use winddown::{Config, Plan, Resource, Shutdown, Status};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let shutdown = Shutdown::new();
//! let plan = Plan::new(shutdown.clone(), Config::default());
//! plan.register(Resource::new("db", || async { Ok(()) }))?;
//!
//! let tasks = TaskSet::new(&plan, SmolRuntime::new());
//! tasks.spawn("ticker", |ctx| async move {
//!     let mut tick = smol::Timer::interval(Duration::from_millis(5));
//!     while ctx.shutdown().until_shutdown(smol::stream::StreamExt::next(&mut tick)).await.is_some() {}
//! })?;
//!
//! // The application: here it stops by itself after a while (a signal would do the same).
//! let app = async {
//!     smol::Timer::after(Duration::from_millis(20)).await;
//! };
//! let report = smol::block_on(run_until_shutdown(&plan, SmolRuntime::new(), app));
//! assert_eq!(report.status, Status::Completed);
//! # Ok(())
//! # }
//! ```
//!
//! # Executor
//!
//! [`SmolRuntime::new`] spawns on smol's global executor (`smol::spawn`), which runs on its own
//! threads (one by default; set `SMOL_THREADS` for more) and needs no setup.
//! [`SmolRuntime::with_executor`] spawns on an [`Executor`] of yours instead; you then run that
//! executor (`executor.run(..)`) on threads of your choice, or nothing spawned makes progress.
//! Timers are async-io's ([`smol::Timer`]), which run on their own thread.
//!
//! # Cancelling
//!
//! Dropping the future [`SmolRuntime::spawn`](Runtime::spawn) returns cancels its task (it
//! drops a [`smol::Task`]): the task's future is dropped at its next await point, or at once
//! if it is idle. A panic in a task is caught around the task's future (smol would otherwise
//! let it unwind through the executor's thread) and reported as [`TaskOutcome::Panicked`].
//!
//! [`Executor`]: https://docs.rs/smol/2/smol/struct.Executor.html
//! [`smol::Timer`]: https://docs.rs/smol/2/smol/struct.Timer.html
//! [`smol::Task`]: https://docs.rs/smol/2/smol/struct.Task.html

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_task::FallibleTask;
use smol::{Executor, Timer};
use winddown_core::runtime::{BoxFuture, Runtime, TaskOutcome};

use crate::panic::CatchUnwind;
use crate::task_set::LocalBoxFuture;

/// The core's [`Runtime`] on smol: async-io timers, a monotonic [`Instant`] clock, and
/// spawning on smol's global executor or on yours (see the [module docs](self)). Cheap to clone.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use winddown::smol::SmolRuntime;
/// use winddown::runtime::{Runtime, TaskOutcome};
///
/// let runtime = SmolRuntime::new();
/// smol::block_on(async {
///     runtime.sleep(Duration::from_millis(1)).await;
///     assert!(runtime.now() >= Duration::from_millis(1));
///
///     let outcome = runtime.spawn(Box::pin(async { panic!("boom") })).await;
///     assert_eq!(outcome, TaskOutcome::Panicked(Some("boom".into())));
/// });
/// ```
#[derive(Clone)]
pub struct SmolRuntime {
    origin: Instant,
    spawner: Spawner,
}

/// A task as [`SmolRuntime::spawn`] hands it to an executor, and what the executor gives back.
type Caught = CatchUnwind<BoxFuture<()>>;
type CaughtTask = smol::Task<Result<(), Option<String>>>;

/// Where [`SmolRuntime`] spawns.
#[derive(Clone)]
enum Spawner {
    /// smol's global executor, through a function pointer that only [`SmolRuntime::new`]
    /// takes: a program that never asks for the global executor does not link it, nor the
    /// threads and the child-process driver it starts (about 15 KiB of a static binary).
    Global(fn(Caught) -> CaughtTask),
    /// An executor of the caller's.
    Own(Arc<Executor<'static>>),
}

impl SmolRuntime {
    /// A runtime on smol's global executor, with its clock at zero now.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::smol::SmolRuntime;
    /// use winddown::runtime::{Runtime, TaskOutcome};
    ///
    /// let runtime = SmolRuntime::new();
    /// let join = runtime.spawn(Box::pin(async {}));
    /// assert_eq!(smol::block_on(join), TaskOutcome::Finished);
    /// ```
    pub fn new() -> Self {
        SmolRuntime {
            origin: Instant::now(),
            spawner: Spawner::Global(smol::spawn),
        }
    }

    /// A runtime that spawns on `executor`. Run the executor yourself: tasks make progress
    /// only while something runs it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use winddown::smol::SmolRuntime;
    /// use winddown::runtime::{Runtime, TaskOutcome};
    ///
    /// let executor = Arc::new(smol::Executor::new());
    /// let runtime = SmolRuntime::with_executor(executor.clone());
    /// let join = runtime.spawn(Box::pin(async {}));
    /// assert_eq!(smol::block_on(executor.run(join)), TaskOutcome::Finished);
    /// ```
    pub fn with_executor(executor: Arc<Executor<'static>>) -> Self {
        SmolRuntime {
            origin: Instant::now(),
            spawner: Spawner::Own(executor),
        }
    }
}

impl Default for SmolRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SmolRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolRuntime")
            .field("origin", &self.origin)
            .field("own_executor", &matches!(self.spawner, Spawner::Own(_)))
            .finish()
    }
}

impl Runtime for SmolRuntime {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        // A duration too large for `Instant` never fires: `Timer::never`.
        let timer = Instant::now()
            .checked_add(duration)
            .map_or_else(Timer::never, Timer::at);
        Box::pin(Sleep(timer))
    }

    fn spawn(&self, task: BoxFuture<()>) -> BoxFuture<TaskOutcome> {
        let task = CatchUnwind::new(task);
        let task = match &self.spawner {
            Spawner::Global(spawn) => spawn(task),
            Spawner::Own(executor) => executor.spawn(task),
        };
        Box::pin(SmolJoin {
            task: task.fallible(),
        })
    }

    fn spawn_detached(&self, task: BoxFuture<()>) {
        // Caught as in `spawn`: a panic ends the task (the panic hook has printed it), never
        // the thread that runs the executor, as tokio does with a detached task.
        let task = CatchUnwind::new(task);
        match &self.spawner {
            Spawner::Global(spawn) => spawn(task).detach(),
            Spawner::Own(executor) => executor.spawn(task).detach(),
        }
    }
}

/// [`SmolRuntime::sleep`]'s future: the timer, its `Instant` dropped (a named future rather
/// than an `async` block, whose state machine would be one more function and drop glue).
struct Sleep(Timer);

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // `Timer` is `Unpin`.
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

/// The future [`SmolRuntime::spawn`](Runtime::spawn) returns (boxed): how the task ended.
/// Dropping it cancels the task.
struct SmolJoin {
    task: FallibleTask<Result<(), Option<String>>>,
}

impl Future for SmolJoin {
    type Output = TaskOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
        Pin::new(&mut self.task)
            .poll(cx)
            .map(|output| match output {
                Some(Ok(())) => TaskOutcome::Finished,
                Some(Err(message)) => TaskOutcome::Panicked(message),
                // The executor was dropped with the task in it.
                None => TaskOutcome::Cancelled,
            })
    }
}

impl fmt::Debug for SmolJoin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolJoin")
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

// ===== local tasks =====

/// A [`LocalRuntime`](crate::task_set::LocalRuntime) on smol's `LocalExecutor`: a
/// [`TaskSet`](crate::TaskSet) on `Local(SmolLocal::new(executor))` runs `!Send` tasks. Tasks
/// run while something runs the executor; dropping a task's handle cancels it.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use winddown::smol::SmolLocal;
/// use winddown::task_set::{Local, TaskExit};
/// use winddown::{Shutdown, TaskSet};
///
/// let executor = Rc::new(smol::LocalExecutor::new());
/// let tasks = TaskSet::with_shutdown(&Shutdown::new(), Local(SmolLocal::new(executor.clone())));
/// let shared = Rc::new(std::cell::Cell::new(1)); // !Send
/// let double = tasks
///     .spawn("double", move |_| async move { shared.set(shared.get() * 2) })
///     .unwrap();
/// assert_eq!(smol::block_on(executor.run(double)), TaskExit::Finished);
/// ```
#[derive(Clone)]
pub struct SmolLocal {
    executor: std::rc::Rc<smol::LocalExecutor<'static>>,
}

impl SmolLocal {
    /// Spawns on `executor`.
    ///
    /// # Examples
    ///
    /// See the [type docs](Self).
    pub fn new(executor: std::rc::Rc<smol::LocalExecutor<'static>>) -> Self {
        SmolLocal { executor }
    }
}

impl crate::task_set::LocalRuntime for SmolLocal {
    fn spawn_local(&self, task: LocalBoxFuture) -> LocalBoxFuture<TaskOutcome> {
        let task = self.executor.spawn(task).fallible(); // dropping it cancels the task
        Box::pin(async move {
            match task.await {
                Some(()) => TaskOutcome::Finished,
                None => TaskOutcome::Cancelled, // the executor was dropped
            }
        })
    }
}

impl fmt::Debug for SmolLocal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolLocal").finish_non_exhaustive()
    }
}
