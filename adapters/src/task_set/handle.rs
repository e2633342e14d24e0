//! [`TaskHandle`]: one task of a set, to abort it, ask whether it ended, or await how.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::lock;
use super::outcome::TaskExit;

/// What a task and its handle share.
pub(super) struct Cell<E> {
    state: Mutex<CellState<E>>,
}

struct CellState<E> {
    /// Set once, when the task has ended (after its guard is released).
    exit: Option<TaskExit<E>>,
    /// The handle took `exit`.
    taken: bool,
    /// `abort()` was called.
    aborted: bool,
    /// The task's waker, to wake it for an abort.
    task: Option<Waker>,
    /// The waker of the handle's await.
    waiter: Option<Waker>,
}

impl<E> Cell<E> {
    pub(super) fn new() -> Self {
        Cell {
            state: Mutex::new(CellState {
                exit: None,
                taken: false,
                aborted: false,
                task: None,
                waiter: None,
            }),
        }
    }

    /// Whether the task was aborted; if not, keeps `cx`'s waker to wake the task for one.
    pub(super) fn aborted(&self, cx: &Context<'_>) -> bool {
        let mut state = lock(&self.state);
        if !state.aborted {
            match &mut state.task {
                Some(waker) => waker.clone_from(cx.waker()),
                None => state.task = Some(cx.waker().clone()),
            }
        }
        state.aborted
    }

    /// Records how the task ended (the first call wins) and wakes the handle.
    pub(super) fn set(&self, exit: TaskExit<E>) {
        let waiter = {
            let mut state = lock(&self.state);
            if state.exit.is_some() || state.taken {
                return;
            }
            state.exit = Some(exit);
            state.task = None;
            state.waiter.take()
        };
        // Outside the lock: a waker may run code.
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

/// One task of a [`TaskSet`](crate::TaskSet), returned by
/// [`spawn`](crate::TaskSet::spawn): [`abort`](Self::abort) it, ask whether it
/// [`is_finished`](Self::is_finished), or await it for its [`TaskExit`] (finished, failed with
/// its error, panicked, cancelled).
///
/// Dropping the handle detaches it: the task runs on, owned by its set (unlike dropping the
/// set, which cancels the tasks). The task has ended, as far as the handle can tell, once its
/// guard is released and its name is gone from the set, so after `handle.await` the drain no
/// longer waits for it.
///
/// # Comparison to tokio's `JoinHandle`
///
/// Awaiting a `JoinHandle` gives `Result<T, JoinError>`; awaiting a `TaskHandle` gives a
/// [`TaskExit`] that tells a task's own error apart from a panic and a cancel, the same on
/// every runtime. A task's failure is also recorded by the set whether or not anyone awaits
/// the handle.
///
/// # Examples
///
#[cfg_attr(feature = "tokio", doc = "```")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// use winddown::task_set::TaskExit;
/// use winddown::{tokio::TokioRuntime, TaskSet};
/// use winddown::Shutdown;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), winddown::Closed> {
/// let shutdown = Shutdown::new();
/// let tasks = TaskSet::with_shutdown(&shutdown, TokioRuntime::new());
///
/// let forever = tasks.spawn("forever", |_| std::future::pending::<()>())?;
/// assert!(!forever.is_finished());
/// forever.abort();
/// assert_eq!(forever.await, TaskExit::Cancelled);
/// assert_eq!(shutdown.in_flight(), 0);
/// # Ok(())
/// # }
/// ```
pub struct TaskHandle<E> {
    cell: Arc<Cell<E>>,
    name: String,
}

impl<E> TaskHandle<E> {
    pub(super) fn new(cell: Arc<Cell<E>>, name: String) -> Self {
        TaskHandle { cell, name }
    }

    /// The task's name.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown::{tokio::TokioRuntime, TaskSet};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// # let tasks = TaskSet::with_shutdown(&winddown::Shutdown::new(), TokioRuntime::new());
    /// let handle = tasks.spawn("mailer", |_| async {})?;
    /// assert_eq!(handle.name(), "mailer");
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops the task: its future is dropped at its next wake-up (this wakes it), without
    /// being polled again, and it ends as [`TaskExit::Cancelled`]. No effect on a task that
    /// has ended. An aborted task is not a failure.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown::{tokio::TokioRuntime, TaskSet, task_set::TaskExit};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// # let tasks = TaskSet::with_shutdown(&winddown::Shutdown::new(), TokioRuntime::new());
    /// let handle = tasks.spawn("idle", |ctx| async move { ctx.shutdown().triggered().await })?;
    /// handle.abort();
    /// assert_eq!(handle.await, TaskExit::Cancelled);
    /// assert!(tasks.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Caveats
    ///
    /// A task blocked in synchronous code is only stopped when it next yields.
    pub fn abort(&self) {
        let task = {
            let mut state = lock(&self.cell.state);
            if state.exit.is_some() || state.taken {
                return;
            }
            state.aborted = true;
            state.task.take()
        };
        if let Some(task) = task {
            task.wake();
        }
    }

    /// Whether the task has ended (finished, failed, panicked or cancelled): awaiting the
    /// handle would complete at once.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "tokio", doc = "```")]
    #[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
    /// # use winddown::{tokio::TokioRuntime, TaskSet};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), winddown::Closed> {
    /// # let tasks = TaskSet::with_shutdown(&winddown::Shutdown::new(), TokioRuntime::new());
    /// let handle = tasks.spawn("quick", |_| async {})?;
    /// assert!(!handle.is_finished()); // not run yet
    /// tasks.idle().await;
    /// assert!(handle.is_finished());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        let state = lock(&self.cell.state);
        state.exit.is_some() || state.taken
    }
}

impl<E> Future for TaskHandle<E> {
    type Output = TaskExit<E>;

    /// # Panics
    ///
    /// When polled again after it completed.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskExit<E>> {
        let mut state = lock(&self.cell.state);
        if let Some(exit) = state.exit.take() {
            state.taken = true;
            return Poll::Ready(exit);
        }
        assert!(!state.taken, "`TaskHandle` polled after it completed");
        // Under the lock `set` takes: no wake-up can fall between this check and this store.
        match &mut state.waiter {
            Some(waker) => waker.clone_from(cx.waker()),
            None => state.waiter = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<E> fmt::Debug for TaskHandle<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("name", &self.name)
            .field("finished", &self.is_finished())
            .finish()
    }
}
