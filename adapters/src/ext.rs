//! [`ShutdownExt`]: executor-free combinators on a [`Shutdown`] handle.

use std::future::Future;

use winddown_core::Shutdown;

use crate::futures::{Guarded, UntilShutdown};

mod sealed {
    pub trait Sealed {}
    impl Sealed for winddown_core::Shutdown {}
}

/// Combinators that tie a future to a [`Shutdown`]: run it as admitted work
/// ([`guarded`](Self::guarded)), or only until the trigger ([`until_shutdown`](Self::until_shutdown)).
///
/// Both work on any executor, or with a plain `block_on`: they only use the core's wait futures.
/// The trait is sealed; it is implemented for [`Shutdown`] only.
///
/// # Examples
///
/// A worker loop that takes jobs until the shutdown is triggered, each job admitted as work in
/// flight, so the drain waits for the job that is running:
///
/// ```
/// use winddown::ShutdownExt;
/// use winddown::{Reason, Shutdown};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let shutdown = Shutdown::new();
/// let mut jobs = vec![3, 2, 1];
/// let next_job = |jobs: &mut Vec<u32>| std::future::ready(jobs.pop());
///
/// let mut done = Vec::new();
/// while let Some(Some(job)) = shutdown.until_shutdown(next_job(&mut jobs)).await {
///     let Ok(result) = shutdown.guarded(async move { job * 10 }).await else {
///         break; // admissions closed
///     };
///     done.push(result);
///     if done.len() == 2 {
///         shutdown.trigger(Reason::requested());
///     }
/// }
/// assert_eq!(done, [10, 20]);
/// # });
/// ```
pub trait ShutdownExt: sealed::Sealed {
    /// Runs `future` as one unit of admitted work: enters now, holds the [`Guard`] while
    /// `future` runs, releases it when `future` completes (or the returned future is dropped).
    ///
    /// The Rust form of a "refuse work during shutdown" decorator: wrap a request handler in it,
    /// and once admissions close, new calls complete with `Err(Closed)` without running, while
    /// the drain waits for the calls already admitted.
    ///
    /// Admission happens here, when the future is made, not at its first poll: a guarded future
    /// handed to a spawner counts as in flight from the moment it was made, so the drain cannot
    /// finish between the spawn and the task's first poll.
    ///
    /// [`Guard`]: winddown_core::Guard
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::ShutdownExt;
    /// use winddown::{Phase, Shutdown};
    ///
    /// async fn handle(request: u32) -> u32 {
    ///     request + 1
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let shutdown = Shutdown::new();
    /// assert_eq!(shutdown.guarded(handle(1)).await, Ok(2));
    ///
    /// shutdown.close();
    /// let refused = shutdown.guarded(handle(2)).await.unwrap_err();
    /// assert_eq!(refused.phase(), Phase::StoppingNewRequests);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// The future completes with [`Closed`](winddown_core::Closed) if admissions were closed
    /// when it was made; `future` is then never polled.
    fn guarded<F: Future>(&self, future: F) -> Guarded<F>;

    /// Runs `future` until the shutdown is triggered: `Some(output)` if it completes first,
    /// `None` once triggered. The trigger wins a tie (see [`UntilShutdown`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use winddown::ShutdownExt;
    /// use winddown::{Reason, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let shutdown = Shutdown::new();
    /// tokio::spawn({
    ///     let shutdown = shutdown.clone();
    ///     async move {
    ///         tokio::time::sleep(Duration::from_secs(1)).await;
    ///         shutdown.trigger(Reason::requested());
    ///     }
    /// });
    /// // A long wait, cut short by the trigger.
    /// let slept = shutdown.until_shutdown(tokio::time::sleep(Duration::from_secs(60))).await;
    /// assert_eq!(slept, None);
    /// # }
    /// ```
    ///
    /// # Streams
    ///
    /// Given a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html) (futures-core's, which tokio-stream, futures
    /// and smol use), the result is a stream of its items that ends at the trigger: the trigger
    /// is checked before each item, so even an always-ready stream ends there.
    /// [`into_inner`](UntilShutdown::into_inner) gives the inner stream back, to drain what is
    /// left by hand.
    ///
    /// ```
    /// use winddown::ShutdownExt;
    /// use winddown::{Reason, Shutdown};
    ///
    /// # async fn next<S: futures_core::Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    /// #     std::future::poll_fn(|cx| std::pin::Pin::new(&mut *s).poll_next(cx)).await
    /// # }
    /// # struct Counter(u32);
    /// # impl futures_core::Stream for Counter {
    /// #     type Item = u32;
    /// #     fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<u32>> {
    /// #         self.0 += 1;
    /// #         std::task::Poll::Ready(Some(self.0))
    /// #     }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let shutdown = Shutdown::new();
    /// let mut jobs = shutdown.until_shutdown(Counter(0)); // an endless stream of jobs
    /// assert_eq!(next(&mut jobs).await, Some(1));
    /// assert_eq!(next(&mut jobs).await, Some(2));
    /// shutdown.trigger(Reason::requested());
    /// assert_eq!(next(&mut jobs).await, None); // ended at the trigger
    /// assert_eq!(next(&mut jobs).await, None); // and stays ended
    /// assert_eq!(next(&mut jobs.into_inner()).await, Some(3)); // nothing lost
    /// # });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `future`.
    fn until_shutdown<F>(&self, future: F) -> UntilShutdown<F>;
}

impl ShutdownExt for Shutdown {
    #[cfg_attr(feature = "track", track_caller)]
    fn guarded<F: Future>(&self, future: F) -> Guarded<F> {
        Guarded::new(self, future)
    }

    fn until_shutdown<F>(&self, future: F) -> UntilShutdown<F> {
        UntilShutdown::new(self, future)
    }
}
