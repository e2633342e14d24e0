//! The futures a step of the sequence waits for (`run.rs`, `close.rs`): named futures rather
//! than `async` blocks, each with no state machine of its own; how a bounded step ends; and
//! what the steps use of the runtime.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use core::time::Duration;

use super::resource::AsyncCloser;
use super::runtime::{Blocking, BoxFuture, Runtime, TaskOutcome};
use crate::raw::Lock;
use crate::Phase;

/// What closing (`close.rs`) needs of the sequence (`run.rs` implements it): its clock, the
/// force and the graceful deadline before each closer, and its bounded step. The records and
/// deadlines of each closer are `close.rs`'s own, so that a plan with none links none of them.
pub(super) trait CloseHost: Send {
    /// Reads the runtime's clock (and keeps the reading).
    fn read_clock(&mut self) -> Duration;

    /// The clock's last reading.
    fn last_clock(&self) -> Duration;

    /// `now` as an offset from the moment the sequence saw the trigger.
    fn since_start(&self, now: Duration) -> Duration;

    /// A closer of `phase` is about to begin at `now`: acts on a force or a graceful deadline
    /// that came meanwhile, and says what is left of the forced flush budget once forced
    /// (`None` while not forced).
    fn before_closer(&mut self, phase: Phase, now: Duration) -> Option<Duration>;

    /// Runs `step` as a bounded step of `phase` until `own_end` (its deadline is recorded with
    /// the closer).
    fn wait<'s>(
        &'s mut self,
        step: Step<'s>,
        own_end: Duration,
        phase: Phase,
    ) -> Pin<Box<dyn Future<Output = StepEnd> + Send + 's>>;

    /// A step of `phase` that was not waited for (it finished in its first poll) ended now:
    /// whether past `own_end`, the graceful deadline's passing recorded (and acted on) as a
    /// waited step's end would.
    fn ended(&mut self, own_end: Duration, phase: Phase) -> bool;
}

/// What a closer's step uses of the [`Runtime`] (`close.rs` reaches it through this trait's
/// vtable): its context and where it runs blocking work. Not `spawn`, which a `dyn Runtime`'s
/// vtable would link into a program whose only task is the sequence's.
pub(super) trait StepRuntime: Send + Sync {
    /// [`Runtime::in_context`].
    fn in_context(&self, poll: &mut dyn FnMut());
    /// [`Runtime::spawn_blocking`].
    fn spawn_blocking(&self, task: Box<dyn FnOnce() + Send + 'static>) -> Blocking;
}

impl<R: Runtime> StepRuntime for R {
    fn in_context(&self, poll: &mut dyn FnMut()) {
        Runtime::in_context(self, poll);
    }

    fn spawn_blocking(&self, task: Box<dyn FnOnce() + Send + 'static>) -> Blocking {
        Runtime::spawn_blocking(self, task)
    }
}

/// What a bounded step waits for: a closer (how it ended), or a wait that ends with
/// `Finished` (the drain; the pre-stop delay never ends). One type for every step, so that the
/// step's state machine is compiled once.
pub(super) type Step<'s> = Pin<&'s mut (dyn Future<Output = TaskOutcome> + Send + 's)>;

/// How a bounded step ended.
pub(super) enum StepEnd {
    /// It finished; `true` if only after its own deadline had passed.
    Done(TaskOutcome, bool),
    /// Its own deadline passed.
    OwnDeadline,
    /// The graceful deadline passed and forcing is on.
    Graceful,
    /// The shutdown was forced (from outside, or by the graceful deadline).
    Forced,
}

/// What a closer's step waits for: an async closer polled on the sequence's own task, or a
/// blocking closer's task.
pub(super) enum Join<'r> {
    /// An async closer, polled here.
    Async(Local<'r>),
    /// A blocking closer's task, and where it leaves what the closer returned.
    Blocking(crate::runtime::Blocking, Slot),
}

/// Where a blocking closer's task leaves what the closer returned: one per closer.
pub(super) type Slot = Arc<Lock<Option<Result<(), String>>>>;

impl Future for Join<'_> {
    type Output = TaskOutcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
        // Both are `Unpin`: boxes and references, and `Blocking`.
        match self.get_mut() {
            Join::Async(local) => local.poll(cx),
            Join::Blocking(blocking, _) => Pin::new(blocking).poll(cx),
        }
    }
}

/// An async closer run on the sequence's own task: its future is made at the first poll and
/// each poll runs in the runtime's context ([`Runtime::in_context`]), its panic caught (with
/// `std`) as a task's would be. Ends with `Finished` once the closer returned, its result in
/// [`result`](Self::result).
pub(super) struct Local<'r> {
    runtime: &'r dyn StepRuntime,
    closer: Option<AsyncCloser>,
    future: Option<BoxFuture<Result<(), String>>>,
    /// What the closer returned, once it did.
    pub(super) result: Option<Result<(), String>>,
}

impl<'r> Local<'r> {
    pub(super) fn new(runtime: &'r dyn StepRuntime, closer: AsyncCloser) -> Self {
        Local {
            runtime,
            closer: Some(closer),
            future: None,
            result: None,
        }
    }

    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
        let (closer, future) = (&mut self.closer, &mut self.future);
        let mut polled = None;
        self.runtime.in_context(&mut || {
            polled = Some(catch(|| {
                let future = match (future.as_mut(), closer.take()) {
                    (Some(future), _) => future,
                    (None, Some(closer)) => future.insert(closer()),
                    // Polled again after `Ready`, which `await` never does.
                    (None, None) => return Poll::Pending,
                };
                future.as_mut().poll(cx)
            }));
        });
        match polled {
            Some(Ok(Poll::Ready(result))) => {
                self.future = None;
                self.result = Some(result);
                Poll::Ready(TaskOutcome::Finished)
            }
            Some(Ok(Poll::Pending)) => Poll::Pending,
            Some(Err(message)) => {
                self.future = None;
                Poll::Ready(TaskOutcome::Panicked(message))
            }
            // The runtime did not call `poll`: the closer cannot run.
            None => Poll::Ready(TaskOutcome::Cancelled),
        }
    }
}

/// Calls `f`, catching its panic where unwinding can be caught: `Err` with the panic message.
pub(super) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Option<String>> {
    #[cfg(all(feature = "std", not(loom)))]
    {
        std::panic::catch_unwind(core::panic::AssertUnwindSafe(f))
            .map_err(|payload| crate::panic::message(&*payload))
    }
    #[cfg(not(all(feature = "std", not(loom))))]
    {
        Ok(f())
    }
}

/// The drain as a bounded step: ends with `Finished` once drained. A named future rather than
/// an `async` block: no state machine of its own.
pub(super) struct DrainStep(pub(super) crate::futures::Drained);

impl Future for DrainStep {
    type Output = TaskOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
        // `Drained` is `Unpin`.
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|()| TaskOutcome::Finished)
    }
}
