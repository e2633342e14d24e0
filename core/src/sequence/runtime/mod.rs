//! The small trait the orchestration needs from an executor: a clock, a timer, and a way to run
//! a task and learn how it ended.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::time::Duration;

pub(crate) mod blocking;
mod outcome;

pub use blocking::Blocking;
pub use outcome::TaskOutcome;

/// A boxed, `Send`, `'static` future: what an integration hands to [`Runtime::spawn`], and
/// what [`Runtime::sleep`] and [`Runtime::spawn`] return (`Box::pin(future)` makes one).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What the shutdown sequence needs from an executor.
///
/// Three things: a monotonic clock, a timer, and spawning a task with a way to learn whether it
/// finished, panicked or was cancelled (or with no way at all: [`spawn_detached`], for an
/// integration's own tasks). The sequence is written once against this trait, so every
/// executor runs the same logic; `winddown-adapters` implements it for tokio, smol and
/// async-std, and the `test-util` feature adds a virtual-clock runtime for tests.
///
/// Its futures are boxed ([`BoxFuture`]), so an implementation names no future types of its
/// own, and the trait is dyn-compatible: `&dyn Runtime`, `Box<dyn Runtime>` and
/// `Arc<dyn Runtime>` are runtimes too.
///
/// # Implementing it
///
/// A complete implementation for a runtime that can only run futures to completion on the
/// current thread, without timers (useful only to show the shape: real runtimes have timers):
///
/// ```
/// # use winddown_core as winddown;
/// use std::time::{Duration, Instant};
/// use winddown::runtime::{BoxFuture, Runtime, TaskOutcome};
///
/// struct Immediate {
///     origin: Instant,
/// }
///
/// impl Runtime for Immediate {
///     fn now(&self) -> Duration {
///         self.origin.elapsed()
///     }
///
///     fn sleep(&self, _duration: Duration) -> BoxFuture<()> {
///         // A timer that is always already expired.
///         Box::pin(async {})
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
/// # let runtime: Box<dyn Runtime> = Box::new(Immediate { origin: Instant::now() });
/// # let _ = runtime.now();
/// ```
///
/// [`spawn_detached`]: Runtime::spawn_detached
pub trait Runtime: Send + Sync {
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
    fn sleep(&self, duration: Duration) -> BoxFuture<()>;

    /// Starts `task` as a separate task and returns a future that completes with how it ended.
    ///
    /// Dropping the returned future should cancel the task where the runtime can (a task set
    /// drops it for a task left when the set is dropped); runtimes that cannot cancel detach it
    /// instead, and must say so. The sequence itself spawns nothing: its closers run on its own
    /// task.
    ///
    /// # Panics
    ///
    /// As [`sleep`](Runtime::sleep): may panic outside the runtime's context.
    fn spawn(&self, task: BoxFuture<()>) -> BoxFuture<TaskOutcome>;

    /// Starts `task` as a separate task that nobody joins: it runs to its end (or until the
    /// runtime itself stops), and how it ended is not reported. For integrations that start
    /// work of their own and need no outcome: an HTTP server's connections (each holds its
    /// own guard, so the drain still waits for it).
    ///
    /// # Panics
    ///
    /// As [`sleep`](Runtime::sleep): may panic outside the runtime's context.
    fn spawn_detached(&self, task: BoxFuture<()>);

    /// Calls `poll` in the runtime's context, on the thread the sequence runs on. The sequence
    /// polls each async closer this way, on its own task: a closer needs no task and no join,
    /// and one that finishes in its first poll (most do) no deadline timer either.
    ///
    /// The default calls `poll` as it is. A runtime whose futures need its context to be
    /// entered (tokio's timers and I/O, when the sequence runs on a runtime handle from a
    /// thread outside the runtime) enters it around the call.
    fn in_context(&self, poll: &mut dyn FnMut()) {
        poll();
    }

    /// Starts a blocking `task` (a [`Resource::blocking`](crate::Resource::blocking) closer)
    /// where it cannot hold up the runtime, and returns a future that completes with how it
    /// ended. The sequence drops that future when the task overruns its deadline or the shutdown
    /// is forced: a blocking task cannot be cancelled, only abandoned.
    ///
    /// With the default, the sequence runs it, with `std`, on a thread of its own
    /// ([`Blocking::thread`]), so a closer that hangs delays no timer and no runtime shutdown:
    /// every deadline fires, and the runtime can be dropped while the abandoned thread still
    /// runs. Without `std` it runs inline ([`Blocking::inline`]), as a quick synchronous call in
    /// the sequence's own poll. The default itself starts nothing: it returns the task
    /// unstarted, and the sequence starts it with [`Blocking::start_unstarted`] and the
    /// function [`Resource::blocking`](crate::Resource::blocking) stored beside the closer, so
    /// that a program without a blocking closer does not link that thread (polled as it is,
    /// an unstarted task runs inline). Override it only to run such tasks elsewhere (a
    /// dedicated pool), never on a runtime whose drop waits for its blocking tasks.
    ///
    #[cfg_attr(
        all(feature = "std", not(loom)),
        doc = "[`Blocking::thread`]: Blocking::thread"
    )]
    #[cfg_attr(
        not(all(feature = "std", not(loom))),
        doc = "[`Blocking::thread`]: https://docs.rs/winddown-core/0.1/winddown_core/runtime/struct.Blocking.html#method.thread"
    )]
    fn spawn_blocking(&self, task: Box<dyn FnOnce() + Send + 'static>) -> Blocking {
        Blocking::unstarted(task)
    }
}

/// Forwards `Runtime` through a pointer type.
macro_rules! forward_runtime {
    ($($pointer:ty),*) => {$(
        impl<R: Runtime + ?Sized> Runtime for $pointer {
            fn now(&self) -> Duration {
                (**self).now()
            }

            fn sleep(&self, duration: Duration) -> BoxFuture<()> {
                (**self).sleep(duration)
            }

            fn spawn(&self, task: BoxFuture<()>) -> BoxFuture<TaskOutcome> {
                (**self).spawn(task)
            }

            fn spawn_detached(&self, task: BoxFuture<()>) {
                (**self).spawn_detached(task)
            }

            fn in_context(&self, poll: &mut dyn FnMut()) {
                (**self).in_context(poll)
            }

            fn spawn_blocking(&self, task: Box<dyn FnOnce() + Send + 'static>) -> Blocking {
                (**self).spawn_blocking(task)
            }
        }
    )*};
}

forward_runtime!(&R, Box<R>, Arc<R>);
