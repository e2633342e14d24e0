//! The tokio runtime: [`TokioRuntime`], and `CancellationToken` interop.
//!
//! ```
//! use std::time::Duration;
//! use winddown::tokio::TokioRuntime;
//! use winddown::{run_until_shutdown, ShutdownExt, TaskSet};
//! use winddown::{Config, Plan, Resource, Shutdown, Status};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let shutdown = Shutdown::new();
//! let plan = Plan::new(shutdown.clone(), Config::default());
//! plan.register(Resource::new("db", || async { Ok(()) }))?;
//!
//! let tasks = TaskSet::new(&plan, TokioRuntime::new());
//! tasks.spawn("ticker", |ctx| async move {
//!     let mut tick = tokio::time::interval(Duration::from_secs(1));
//!     while ctx.shutdown().until_shutdown(tick.tick()).await.is_some() {}
//! })?;
//!
//! // The application: here it stops by itself after a while (a signal would do the same).
//! let app = async { tokio::time::sleep(Duration::from_secs(3)).await };
//! let report = run_until_shutdown(&plan, TokioRuntime::new(), app).await;
//! assert_eq!(report.status, Status::Completed);
//! assert_eq!(report.drain.in_flight_at_start, 1); // the ticker, which stopped
//! # Ok(())
//! # }
//! ```
//!
//! # Cancelling
//!
//! Dropping the future [`TokioRuntime::spawn`](Runtime::spawn) returns aborts its task
//! (`JoinHandle::abort`): the task's future is dropped at its next await point, or at once if
//! it is idle. So a closer that overruns its deadline, and the tasks left in a dropped
//! [`TaskSet`](crate::TaskSet), stop for real. A task blocked in synchronous code is only
//! dropped when it next yields.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use winddown_core::runtime::{BoxFuture, Runtime, TaskOutcome};
use winddown_core::{Reason, Shutdown};

use crate::task_set::LocalBoxFuture;

// ===== TokioRuntime =====

/// The core's [`Runtime`] on tokio: `tokio::time` for the clock and timers, `spawn` for tasks
/// (panics are detected with `JoinError::is_panic`), abort on drop.
///
/// It remembers the tokio runtime it was made in ([`Handle::try_current`]), and then spawns
/// and sets timers on that runtime from any thread; made outside a tokio runtime, it uses the
/// one current when it is used. Its clock is tokio's, so a paused clock (`start_paused`,
/// `tokio::time::pause`) moves it too. Cheap to clone.
///
/// [`Handle::try_current`]: https://docs.rs/tokio/1/tokio/runtime/struct.Handle.html#method.try_current
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use winddown::tokio::TokioRuntime;
/// use winddown::runtime::{Runtime, TaskOutcome};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let runtime = TokioRuntime::new();
/// runtime.sleep(Duration::from_secs(5)).await;
/// assert!(runtime.now() >= Duration::from_secs(5));
///
/// let outcome = runtime.spawn(Box::pin(async { panic!("boom") })).await;
/// assert_eq!(outcome, TaskOutcome::Panicked(Some("boom".into())));
/// # }
/// ```
#[derive(Clone)]
pub struct TokioRuntime {
    origin: Instant,
    handle: Option<Handle>,
}

impl TokioRuntime {
    /// A runtime on the current tokio runtime if there is one (see the type docs), with its
    /// clock at zero now.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let runtime = winddown::tokio::TokioRuntime::new();
    /// # let _ = runtime;
    /// # }
    /// ```
    pub fn new() -> Self {
        TokioRuntime {
            origin: Instant::now(),
            handle: Handle::try_current().ok(),
        }
    }

    /// A runtime that spawns and sets timers on the tokio runtime of `handle`, from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::tokio::TokioRuntime;
    /// use winddown::runtime::{Runtime, TaskOutcome};
    ///
    /// let tokio = tokio::runtime::Builder::new_multi_thread().enable_time().build()?;
    /// let runtime = TokioRuntime::with_handle(tokio.handle().clone());
    /// // Spawned from outside the runtime, run on it.
    /// let join = runtime.spawn(Box::pin(async {}));
    /// assert_eq!(tokio.block_on(join), TaskOutcome::Finished);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_handle(handle: Handle) -> Self {
        let _context = handle.enter();
        TokioRuntime {
            origin: Instant::now(),
            handle: Some(handle),
        }
    }
}

impl Default for TokioRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TokioRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioRuntime")
            .field("origin", &self.origin)
            .field("has_handle", &self.handle.is_some())
            .finish()
    }
}

impl Runtime for TokioRuntime {
    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.origin)
    }

    /// # Panics
    ///
    /// Outside a tokio runtime with its time driver enabled, when the `TokioRuntime` was made
    /// outside one too.
    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        let _context = self.handle.as_ref().map(Handle::enter);
        Box::pin(tokio::time::sleep(duration))
    }

    /// # Panics
    ///
    /// Outside a tokio runtime, when the `TokioRuntime` was made outside one too.
    fn spawn(&self, task: BoxFuture<()>) -> BoxFuture<TaskOutcome> {
        let handle = match &self.handle {
            Some(handle) => handle.spawn(task),
            None => tokio::spawn(task),
        };
        Box::pin(TokioJoin { handle })
    }

    /// # Panics
    ///
    /// As [`spawn`](Runtime::spawn).
    fn spawn_detached(&self, task: BoxFuture<()>) {
        // Dropping a `JoinHandle` detaches the task.
        drop(match &self.handle {
            Some(handle) => handle.spawn(task),
            None => tokio::spawn(task),
        });
    }

    /// Enters the runtime of the handle it was made with around `poll`, so that a closer
    /// polled on a sequence that runs outside the runtime ([`with_handle`](Self::with_handle))
    /// still finds tokio's timers and I/O.
    fn in_context(&self, poll: &mut dyn FnMut()) {
        let _context = self.handle.as_ref().map(Handle::enter);
        poll();
    }
}

/// The future [`TokioRuntime::spawn`](Runtime::spawn) returns (boxed): how the task ended.
/// Dropping it aborts the task.
struct TokioJoin {
    handle: JoinHandle<()>,
}

impl Future for TokioJoin {
    type Output = TaskOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
        Pin::new(&mut self.handle)
            .poll(cx)
            .map(|result| match result {
                Ok(()) => TaskOutcome::Finished,
                Err(error) if error.is_panic() => {
                    TaskOutcome::Panicked(crate::panic::message(&*error.into_panic()))
                }
                Err(_) => TaskOutcome::Cancelled,
            })
    }
}

impl Drop for TokioJoin {
    fn drop(&mut self) {
        // A no-op for a task that has finished.
        self.handle.abort();
    }
}

impl fmt::Debug for TokioJoin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioJoin")
            .field("id", &self.handle.id())
            .field("finished", &self.handle.is_finished())
            .finish()
    }
}

// ===== CancellationToken interop =====

/// A [`CancellationToken`] that is cancelled when `shutdown` is triggered: hand it to code that
/// already stops on a token.
///
/// The token is cancelled by the trigger itself ([`Shutdown::on_trigger`]), on the thread that
/// triggers, before [`trigger`](Shutdown::trigger) returns and before any waiter of the trigger
/// wakes: code that has seen the trigger ([`triggered`](Shutdown::triggered),
/// [`is_triggered`](Shutdown::is_triggered)) sees the token cancelled too, on any thread. If the
/// shutdown is already triggered, the token comes back cancelled. No task is spawned, so it
/// works outside a tokio runtime too. Cancelling the token does not trigger the shutdown; see
/// [`trigger_on_cancel`] for that direction.
///
/// # Examples
///
/// ```
/// use winddown::tokio::cancellation_token;
/// use winddown::{Reason, Shutdown};
///
/// let shutdown = Shutdown::new();
/// let token = cancellation_token(&shutdown);
/// assert!(!token.is_cancelled());
///
/// shutdown.trigger(Reason::Signal(15));
/// assert!(token.is_cancelled()); // already, on the line after the trigger
/// ```
///
/// # Caveats
///
/// Until the trigger, the shutdown keeps a clone of the token (in its trigger hook), so the
/// token's memory lives as long as the shutdown's handles do.
///
/// [`CancellationToken`]: https://docs.rs/tokio-util/0.7/tokio_util/sync/struct.CancellationToken.html
pub fn cancellation_token(shutdown: &Shutdown) -> CancellationToken {
    let token = CancellationToken::new();
    shutdown.on_trigger({
        let token = token.clone();
        move |_| token.cancel()
    });
    token
}

/// Triggers `shutdown` with `reason` when `token` is cancelled, unless it was triggered
/// already: for a service whose existing code stops by cancelling a token.
///
/// A small task on the current tokio runtime waits for either; it ends at whichever comes
/// first, so a trigger from elsewhere does not cancel the token.
///
/// # Examples
///
/// ```
/// use tokio_util::sync::CancellationToken;
/// use winddown::tokio::trigger_on_cancel;
/// use winddown::{Reason, Shutdown};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let shutdown = Shutdown::new();
/// let token = CancellationToken::new();
/// trigger_on_cancel(&shutdown, token.clone(), Reason::requested_because("token"));
///
/// token.cancel();
/// shutdown.triggered().await;
/// assert_eq!(shutdown.reason(), Some(&Reason::requested_because("token")));
/// # }
/// ```
///
/// # Caveats
///
/// The cancel triggers the shutdown if nothing did before, and otherwise changes nothing (a
/// trigger is idempotent): it never forces it.
///
/// # Panics
///
/// Outside a tokio runtime (it spawns the waiting task).
pub fn trigger_on_cancel(shutdown: &Shutdown, token: CancellationToken, reason: Reason) {
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        let triggered = shutdown.triggered();
        if first(token.cancelled_owned(), triggered).await == Which::First {
            shutdown.trigger(reason);
        }
    });
}

#[derive(PartialEq, Eq)]
enum Which {
    First,
    Second,
}

/// Which of two futures completes first (`a` wins a tie).
async fn first(a: impl Future, b: impl Future) -> Which {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() {
            Poll::Ready(Which::First)
        } else if b.as_mut().poll(cx).is_ready() {
            Poll::Ready(Which::Second)
        } else {
            Poll::Pending
        }
    })
    .await
}

// ===== local tasks =====

/// The same runtime for `!Send` tasks, on tokio's `LocalSet` (`tokio::task::spawn_local`): a
/// [`TaskSet`](crate::TaskSet) on `Local(TokioRuntime::new())` runs `!Send` tasks. Dropping a
/// task's handle aborts it.
///
/// # Examples
///
/// See [`Local`](crate::task_set::Local).
///
/// # Panics
///
/// Spawning panics outside a `LocalSet` (`LocalSet::run_until`, or a task of one).
impl crate::task_set::LocalRuntime for TokioRuntime {
    fn spawn_local(&self, task: LocalBoxFuture) -> LocalBoxFuture<TaskOutcome> {
        Box::pin(TokioJoin {
            handle: tokio::task::spawn_local(task),
        })
    }
}
