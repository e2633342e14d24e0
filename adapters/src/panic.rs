//! Catching a panic out of a future, for executors that would otherwise let it unwind through
//! their worker threads (smol's and async-std's), and for the task set, which records it.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// Polls `future`, turning a panic into `Err` with the panic's message when it had one.
    /// After a panic the future is never polled again, only dropped.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> Self {
        CatchUnwind { future }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Option<String>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        // AssertUnwindSafe: a future that panicked is never polled again (we return `Ready`
        // below and the caller drops it), so nobody observes its broken state through us. State
        // it shares with other code (a `Mutex` it held, say) is that code's concern, exactly as
        // with a panic on a plain thread.
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(message(&*payload))),
        }
    }
}

/// The message of a panic payload, when it was a string (`panic!("...")` with or without
/// format arguments).
pub(crate) fn message(payload: &(dyn Any + Send)) -> Option<String> {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        Some((*message).to_owned())
    } else {
        payload.downcast_ref::<String>().cloned()
    }
}
