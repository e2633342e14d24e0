//! The futures a step of the sequence waits for (`run.rs`): named futures rather than `async`
//! blocks, each with no state machine of its own.

use alloc::string::String;
use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::resource::AsyncCloser;
use super::runtime::{BoxFuture, Runtime, TaskOutcome};
use crate::raw::Lock;

/// What a closer's step waits for: an async closer polled on the sequence's own task, or a
/// blocking closer's task.
pub(super) enum Join<'r, R> {
    /// An async closer, polled here.
    Async(Local<'r, R>),
    /// A blocking closer's task, and where it leaves what the closer returned.
    Blocking(crate::runtime::Blocking, Slot),
}

/// Where a blocking closer's task leaves what the closer returned: one per closer.
pub(super) type Slot = Arc<Lock<Option<Result<(), String>>>>;

impl<R: Runtime> Future for Join<'_, R> {
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
pub(super) struct Local<'r, R> {
    runtime: &'r R,
    closer: Option<AsyncCloser>,
    future: Option<BoxFuture<Result<(), String>>>,
    /// What the closer returned, once it did.
    pub(super) result: Option<Result<(), String>>,
}

impl<'r, R: Runtime> Local<'r, R> {
    pub(super) fn new(runtime: &'r R, closer: AsyncCloser) -> Self {
        Local {
            runtime,
            closer: Some(closer),
            future: None,
            result: None,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
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
