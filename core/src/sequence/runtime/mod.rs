//! The small trait the orchestration needs from an executor: a clock, a timer, and a way to run
//! a task and learn how it ended.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::time::Duration;

pub(crate) mod blocking;
mod outcome;

pub use blocking::{Blocking, BlockingTask};
pub use outcome::TaskOutcome;

/// A boxed, `Send`, `'static` future: what the orchestration hands to [`Runtime::spawn`].
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What the shutdown sequence needs from an executor.
///
/// Three things: a monotonic clock, a timer, and spawning a task with a way to learn whether it
/// finished, panicked or was cancelled (or with no way at all: [`spawn_detached`], for an
/// integration's own tasks). The sequence is written once against this trait, so every
/// executor runs the same logic; `winddown-adapters` implements it for tokio, smol and
/// async-std, and the `test-util` feature adds a virtual-clock runtime for tests.
///
/// # Implementing it
///
/// A complete implementation for a runtime that can only run futures to completion on the
/// current thread, without timers (useful only to show the shape: real runtimes have timers):
///
/// ```
/// # use winddown_core as winddown;
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use std::time::{Duration, Instant};
/// use winddown::runtime::{BoxFuture, Runtime, TaskOutcome};
///
/// struct Immediate {
///     origin: Instant,
/// }
///
/// /// A timer that is always already expired.
/// struct Expired;
/// impl Future for Expired {
///     type Output = ();
///     fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
///         Poll::Ready(())
///     }
/// }
///
/// impl Runtime for Immediate {
///     type Sleep = Expired;
///     type Join = BoxFuture<TaskOutcome>;
///
///     fn now(&self) -> Duration {
///         self.origin.elapsed()
///     }
///
///     fn sleep(&self, _duration: Duration) -> Expired {
///         Expired
///     }
///
///     fn spawn(&self, task: BoxFuture<()>) -> BoxFuture<TaskOutcome> {
///         Box::pin(async move {
///             task.await;
///             TaskOutcome::Finished
///         })
///     }
///
///     fn spawn_detached(&self, _task: BoxFuture<()>) {
///         // Nothing would ever poll it: a runtime that cannot run tasks on their own cannot
///         // serve connections either.
///     }
/// }
/// # let _ = Immediate { origin: Instant::now() }.now();
/// ```
///
/// [`spawn_detached`]: Runtime::spawn_detached
pub trait Runtime: Send + Sync {
    /// The future [`sleep`](Runtime::sleep) returns.
    type Sleep: Future<Output = ()> + Send;
    /// The future [`spawn`](Runtime::spawn) returns.
    type Join: Future<Output = TaskOutcome> + Send;

    /// Monotonic time since an origin fixed by the runtime (for example, when it was created).
    /// Never goes backwards.
    fn now(&self) -> Duration;

    /// A future that completes once `duration` has passed on [`now`](Runtime::now)'s clock.
    /// `Duration::ZERO` completes at once (possibly after one yield).
    ///
    /// # Panics
    ///
    /// May panic if called outside the runtime's context (tokio's timers need one); the
    /// sequence only calls it from the future it runs on that runtime.
    fn sleep(&self, duration: Duration) -> Self::Sleep;

    /// Starts `task` as a separate task and returns a future that completes with how it ended.
    ///
    /// Dropping the returned future should cancel the task where the runtime can (the sequence
    /// drops it when a closer overruns its deadline or the shutdown is forced); runtimes that
    /// cannot cancel detach it instead, and must say so.
    ///
    /// # Panics
    ///
    /// As [`sleep`](Runtime::sleep): may panic outside the runtime's context.
    fn spawn(&self, task: BoxFuture<()>) -> Self::Join;

    /// Starts `task` as a separate task that nobody joins: it runs to its end (or until the
    /// runtime itself stops), and how it ended is not reported. For integrations that start
    /// work of their own and need no outcome: an HTTP server's connections (each holds its
    /// own guard, so the drain still waits for it).
    ///
    /// # Panics
    ///
    /// As [`sleep`](Runtime::sleep): may panic outside the runtime's context.
    fn spawn_detached(&self, task: BoxFuture<()>);

    /// Starts a blocking `task` (a [`Resource::blocking`](crate::Resource::blocking) closer)
    /// where it cannot hold up the runtime, and returns a future that completes with how it
    /// ended. The sequence drops that future when the task overruns its deadline or the shutdown
    /// is forced: a blocking task cannot be cancelled, only abandoned.
    ///
    /// The default, with `std`, runs it on a thread of its own ([`Blocking::thread`]), so a
    /// closer that hangs delays no timer and no runtime shutdown: every deadline fires, and the
    /// runtime can be dropped while the abandoned thread still runs. Without `std` it runs
    /// inline ([`Blocking::inline`]), as a quick synchronous call in the sequence's own poll.
    /// Override it only to run such tasks elsewhere (a dedicated pool), never on a runtime
    /// whose drop waits for its blocking tasks.
    ///
    #[cfg_attr(
        all(feature = "std", not(loom)),
        doc = "[`Blocking::thread`]: Blocking::thread"
    )]
    #[cfg_attr(
        not(all(feature = "std", not(loom))),
        doc = "[`Blocking::thread`]: https://docs.rs/winddown-core/0.1/winddown_core/runtime/struct.Blocking.html#method.thread"
    )]
    fn spawn_blocking(&self, task: BlockingTask) -> Blocking {
        Blocking::default_for(task)
    }
}

/// Forwards `Runtime` through a pointer type.
macro_rules! forward_runtime {
    ($($pointer:ty),*) => {$(
        impl<R: Runtime + ?Sized> Runtime for $pointer {
            type Sleep = R::Sleep;
            type Join = R::Join;

            fn now(&self) -> Duration {
                (**self).now()
            }

            fn sleep(&self, duration: Duration) -> Self::Sleep {
                (**self).sleep(duration)
            }

            fn spawn(&self, task: BoxFuture<()>) -> Self::Join {
                (**self).spawn(task)
            }

            fn spawn_detached(&self, task: BoxFuture<()>) {
                (**self).spawn_detached(task)
            }

            fn spawn_blocking(&self, task: BlockingTask) -> Blocking {
                (**self).spawn_blocking(task)
            }
        }
    )*};
}

forward_runtime!(&R, Box<R>, Arc<R>);
