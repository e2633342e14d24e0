//! The named futures of this crate: [`Guarded`] and [`UntilShutdown`], made by
//! [`ShutdownExt`](crate::ShutdownExt).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use winddown_core::futures::Triggered;
use winddown_core::{Closed, Guard, Shutdown};

pin_project_lite::pin_project! {
    /// Runs a future as one unit of admitted work: made by
    /// [`ShutdownExt::guarded`](crate::ShutdownExt::guarded).
    ///
    /// It is admitted (or refused) when it is made, holds its [`Guard`] while the inner future
    /// runs, and releases it the moment that future completes or the `Guarded` is dropped.
    /// It completes with `Ok(output)`, or with `Err(Closed)` at its first poll when admissions
    /// were already closed when it was made; the inner future is then never polled.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::ShutdownExt;
    /// use winddown::Shutdown;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let shutdown = Shutdown::new();
    /// let work = shutdown.guarded(async { 7 });
    /// assert_eq!(shutdown.in_flight(), 1); // admitted when made
    /// assert_eq!(work.await, Ok(7));
    /// assert_eq!(shutdown.in_flight(), 0);
    /// # });
    /// ```
    ///
    /// # Panics
    ///
    /// When polled again after it completed.
    #[must_use = "futures do nothing unless polled"]
    pub struct Guarded<F> {
        #[pin]
        future: F,
        // `Some(Ok)` while admitted and running, `Some(Err)` until the refusal is reported,
        // `None` once completed.
        admission: Option<Result<Guard, Closed>>,
    }
}

impl<F> Guarded<F> {
    #[cfg_attr(feature = "track", track_caller)]
    pub(crate) fn new(shutdown: &Shutdown, future: F) -> Self {
        Guarded {
            future,
            admission: Some(shutdown.enter()),
        }
    }

    /// Whether this future was admitted: `false` when admissions were closed when it was made
    /// (it will complete with `Err(Closed)`), or once it has completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::ShutdownExt;
    /// use winddown::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// assert!(shutdown.guarded(async {}).is_admitted());
    /// shutdown.close();
    /// assert!(!shutdown.guarded(async {}).is_admitted());
    /// ```
    pub fn is_admitted(&self) -> bool {
        matches!(self.admission, Some(Ok(_)))
    }
}

impl<F: Future> Future for Guarded<F> {
    type Output = Result<F::Output, Closed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.admission {
            Some(Ok(_)) => {}
            Some(Err(closed)) => {
                let closed = *closed;
                *this.admission = None;
                return Poll::Ready(Err(closed));
            }
            None => panic!("`Guarded` polled after it completed"),
        }
        let output = std::task::ready!(this.future.poll(cx));
        // Released here, not when the `Guarded` is dropped: the work is done.
        *this.admission = None;
        Poll::Ready(Ok(output))
    }
}

impl<F> fmt::Debug for Guarded<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("admission", &self.admission)
            .finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// Runs a future (or a [`Stream`]) until the shutdown is triggered: made by
    /// [`ShutdownExt::until_shutdown`](crate::ShutdownExt::until_shutdown). As a stream, it
    /// yields the inner stream's items until the trigger, then ends.
    ///
    /// Completes with `Some(output)` if the future completes first, and with `None` as soon as
    /// the shutdown is triggered (the inner future is then no longer polled; it is dropped with
    /// this one). The trigger is checked before the future at every poll, so a future that is
    /// always ready (a full channel, say) cannot keep a loop from seeing the trigger, and a
    /// shutdown that was triggered before the first poll yields `None` without polling the
    /// future at all.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::ShutdownExt;
    /// use winddown::{Reason, Shutdown};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let shutdown = Shutdown::new();
    /// assert_eq!(shutdown.until_shutdown(async { 1 }).await, Some(1));
    ///
    /// shutdown.trigger(Reason::requested());
    /// assert_eq!(shutdown.until_shutdown(async { 2 }).await, None);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as the inner future: dropping this drops it, and loses nothing else.
    ///
    /// [`Stream`]: https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html
    #[must_use = "futures do nothing unless polled"]
    pub struct UntilShutdown<F> {
        #[pin]
        future: F,
        #[pin]
        triggered: Triggered,
    }
}

impl<F> UntilShutdown<F> {
    pub(crate) fn new(shutdown: &Shutdown, future: F) -> Self {
        UntilShutdown {
            future,
            triggered: shutdown.triggered(),
        }
    }

    /// The inner future or stream, to keep using it after the trigger cut it short (a
    /// connection to close politely, a stream to drain by hand).
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::ShutdownExt;
    /// use winddown::{Reason, Shutdown};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let shutdown = Shutdown::new();
    /// shutdown.trigger(Reason::requested());
    /// let mut cut = shutdown.until_shutdown(Box::pin(async { "the work" }));
    /// assert_eq!((&mut cut).await, None);
    /// // The trigger won, but the work is not lost.
    /// assert_eq!(cut.into_inner().await, "the work");
    /// # });
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }

    /// The inner future or stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::ShutdownExt;
    /// use winddown::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// let work = shutdown.until_shutdown(std::future::ready(3));
    /// let _inner: &std::future::Ready<i32> = work.get_ref();
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The inner future or stream, mutably (for an `Unpin` one; see
    /// [`get_pin_mut`](Self::get_pin_mut) otherwise).
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::ShutdownExt;
    /// use winddown::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// let mut counter = shutdown.until_shutdown(std::future::ready(3));
    /// *counter.get_mut() = std::future::ready(4);
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert_eq!(counter.await, Some(4));
    /// # });
    /// ```
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// The inner future or stream, pinned.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::ShutdownExt;
    /// use winddown::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// let mut work = Box::pin(shutdown.until_shutdown(async { 5 }));
    /// let _inner: std::pin::Pin<&mut _> = work.as_mut().get_pin_mut();
    /// ```
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut F> {
        self.project().future
    }
}

impl<F: Future> Future for UntilShutdown<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The trigger first: see the type docs.
        if this.triggered.poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.future.poll(cx).map(Some)
    }
}

/// The stream form: the items of the inner stream until the trigger, then the end. The trigger
/// is checked before every item, so an always-ready stream ends at the trigger too; once ended,
/// it stays ended.
impl<S: Stream> Stream for UntilShutdown<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        // The trigger first, as in the future form. A triggered `Triggered` stays ready,
        // so every later poll ends here too.
        if this.triggered.poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.future.poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // It may end at any moment.
        (0, self.future.size_hint().1)
    }
}

impl<F> fmt::Debug for UntilShutdown<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntilShutdown")
            .field("triggered", &self.triggered)
            .finish_non_exhaustive()
    }
}
