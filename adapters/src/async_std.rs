//! The async-std runtime: [`AsyncStdRuntime`].
//!
//! **async-std is discontinued upstream**: its maintainers point to [smol](https://docs.rs/smol)
//! as its successor (see this crate's `smol` feature). This module keeps existing async-std
//! services working; prefer smol for new code.
//!
//! ```
//! use std::time::Duration;
//! use winddown::async_std::AsyncStdRuntime;
//! use winddown::{run_until_shutdown, ShutdownExt, TaskSet};
//! use winddown::{Config, Plan, Resource, Shutdown, Status};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let shutdown = Shutdown::new();
//! let plan = Plan::new(shutdown.clone(), Config::default());
//! plan.register(Resource::new("db", || async { Ok(()) }))?;
//!
//! let tasks = TaskSet::new(&plan, AsyncStdRuntime::new());
//! tasks.spawn("ticker", |ctx| async move {
//!     let tick = || async_std::task::sleep(Duration::from_millis(5));
//!     while ctx.shutdown().until_shutdown(tick()).await.is_some() {}
//! })?;
//!
//! // The application: here it stops by itself after a while (a signal would do the same).
//! let app = async_std::task::sleep(Duration::from_millis(20));
//! let report = async_std::task::block_on(run_until_shutdown(&plan, AsyncStdRuntime::new(), app));
//! assert_eq!(report.status, Status::Completed);
//! # Ok(())
//! # }
//! ```
//!
//! # Cancelling
//!
//! async-std's `JoinHandle` detaches its task when dropped, and cancels only through an
//! `async fn`. So each task is wrapped with an abort flag: dropping the future
//! [`AsyncStdRuntime::spawn`](Runtime::spawn) returns sets the flag and wakes the task, and the
//! task's future is dropped at that wake-up (or at once, if it was idle). As with the other
//! runtimes, a task blocked in synchronous code is only dropped when it next yields. A panic in
//! a task is caught around the task's future and reported as [`TaskOutcome::Panicked`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_std::task::JoinHandle;
use winddown_core::runtime::{BoxFuture, Runtime, TaskOutcome};

use crate::panic::CatchUnwind;

/// The core's [`Runtime`] on async-std: its timers, a monotonic [`Instant`] clock, and
/// `async_std::task::spawn` with a panic catch and an abort flag (see the
/// [module docs](self)). Cheap to clone.
///
/// async-std is discontinued upstream; smol is its successor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use winddown::async_std::AsyncStdRuntime;
/// use winddown::runtime::{Runtime, TaskOutcome};
///
/// let runtime = AsyncStdRuntime::new();
/// async_std::task::block_on(async {
///     runtime.sleep(Duration::from_millis(1)).await;
///     assert!(runtime.now() >= Duration::from_millis(1));
///
///     let outcome = runtime.spawn(Box::pin(async { panic!("boom") })).await;
///     assert_eq!(outcome, TaskOutcome::Panicked(Some("boom".into())));
/// });
/// ```
#[derive(Debug, Clone)]
pub struct AsyncStdRuntime {
    origin: Instant,
}

impl AsyncStdRuntime {
    /// A runtime with its clock at zero now.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::async_std::AsyncStdRuntime;
    /// use winddown::runtime::{Runtime, TaskOutcome};
    ///
    /// let join = AsyncStdRuntime::new().spawn(Box::pin(async {}));
    /// assert_eq!(async_std::task::block_on(join), TaskOutcome::Finished);
    /// ```
    pub fn new() -> Self {
        AsyncStdRuntime {
            origin: Instant::now(),
        }
    }
}

impl Default for AsyncStdRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime for AsyncStdRuntime {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        Box::pin(async_std::task::sleep(duration))
    }

    fn spawn(&self, task: BoxFuture<()>) -> BoxFuture<TaskOutcome> {
        let abort = Arc::new(Abort::default());
        let handle = async_std::task::spawn(Abortable {
            future: CatchUnwind::new(task),
            abort: abort.clone(),
        });
        Box::pin(AsyncStdJoin {
            handle: Some(handle),
            abort,
        })
    }

    fn spawn_detached(&self, task: BoxFuture<()>) {
        // Dropping a `JoinHandle` detaches the task.
        drop(async_std::task::spawn(task));
    }
}

/// The future [`AsyncStdRuntime::spawn`](Runtime::spawn) returns (boxed): how the task
/// ended. Dropping it before the task ended cancels the task.
struct AsyncStdJoin {
    /// `None` once the task's outcome was taken.
    handle: Option<JoinHandle<TaskEnd>>,
    abort: Arc<Abort>,
}

impl Future for AsyncStdJoin {
    type Output = TaskOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
        let handle = self
            .handle
            .as_mut()
            .expect("`AsyncStdJoin` polled after it completed");
        let output = std::task::ready!(Pin::new(handle).poll(cx));
        self.handle = None;
        Poll::Ready(match output {
            Some(Ok(())) => TaskOutcome::Finished,
            Some(Err(message)) => TaskOutcome::Panicked(message),
            None => TaskOutcome::Cancelled,
        })
    }
}

impl Drop for AsyncStdJoin {
    fn drop(&mut self) {
        // Dropping the handle detaches the task; the flag stops it. Harmless once it ended.
        self.abort.abort();
    }
}

impl fmt::Debug for AsyncStdJoin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncStdJoin")
            .field("completed", &self.handle.is_none())
            .finish()
    }
}

/// What an async-std task yields: `None` when aborted, else whether it panicked (and the
/// panic's message).
type TaskEnd = Option<Result<(), Option<String>>>;

/// The abort flag shared by a task and its [`AsyncStdJoin`].
#[derive(Default)]
struct Abort {
    /// Whether the task was aborted, and the waker of its last poll. One lock, so an abort
    /// either happens before a poll (which then sees it) or wakes the waker that poll stored.
    state: Mutex<(bool, Option<Waker>)>,
}

impl Abort {
    fn lock(&self) -> MutexGuard<'_, (bool, Option<Waker>)> {
        // Only a bool and a waker are under this lock: never inconsistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn abort(&self) {
        let waker = {
            let mut state = self.lock();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

pin_project_lite::pin_project! {
    /// A task's future with its abort flag: `None` once aborted.
    struct Abortable<F> {
        #[pin]
        future: F,
        abort: Arc<Abort>,
    }
}

impl<F: Future> Future for Abortable<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        {
            let mut state = this.abort.lock();
            if state.0 {
                return Poll::Ready(None);
            }
            match &mut state.1 {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
        }
        this.future.poll(cx).map(Some)
    }
}
