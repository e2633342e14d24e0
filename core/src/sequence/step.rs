//! The futures a step of the sequence waits for (`run.rs`): named futures rather than `async`
//! blocks, each with no state machine of its own.

use alloc::string::String;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::results::Results;
use super::runtime::{BoxFuture, TaskOutcome};

/// What a closer's step waits for: its task, or its blocking task.
pub(super) enum Join {
    /// An async closer's task.
    Task(BoxFuture<TaskOutcome>),
    /// A blocking closer's task.
    Blocking(crate::runtime::Blocking),
}

impl Future for Join {
    type Output = TaskOutcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
        // Both are `Unpin`: a box and `Blocking`.
        match self.get_mut() {
            Join::Task(task) => task.as_mut().poll(cx),
            Join::Blocking(blocking) => Pin::new(blocking).poll(cx),
        }
    }
}

/// An async closer's task: runs the closer's future and leaves its result in `results` under
/// `ticket`. A named future rather than an `async` block: no state machine of its own.
pub(super) struct Put {
    pub(super) task: BoxFuture<Result<(), String>>,
    pub(super) results: Results,
    pub(super) ticket: u64,
}

impl Future for Put {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let result = core::task::ready!(self.task.as_mut().poll(cx));
        self.results.put(self.ticket, result);
        Poll::Ready(())
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
