//! A body wrapper that ends a long response cleanly when admissions close.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use winddown_core::futures::Reached;
use winddown_core::{Phase, Shutdown};

pin_project! {
    /// A response body (SSE, a long download, a log tail) that ends, cleanly, when admissions
    /// close: it yields no more frames, so hyper sends the chunked body's last chunk (HTTP/1)
    /// or an empty DATA frame with END_STREAM (HTTP/2), and the client sees a complete
    /// response instead of a reset.
    ///
    /// Frames the inner body has ready are not cut in half: the check comes between frames.
    /// It ends at the close of admissions, not at the trigger, so during the plan's `pre_stop`
    /// delay streams go on as before (a client that reconnected at the trigger would only
    /// land on this instance again).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use bytes::Bytes;
    /// use http_body_util::{BodyExt, Full};
    /// use winddown::{Reason, Shutdown};
    /// use winddown::http::EndOnShutdown;
    ///
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let mut body = EndOnShutdown::new(Full::new(Bytes::from("event")), &shutdown);
    /// shutdown.trigger(Reason::requested());
    /// shutdown.close();
    /// // Closed before the first frame: the stream ends at once.
    /// assert!(body.frame().await.is_none());
    /// # });
    /// ```
    #[must_use = "a body does nothing unless polled"]
    pub struct EndOnShutdown<B> {
        #[pin]
        inner: B,
        closed: Reached,
        ended: bool,
    }
}

impl<B> EndOnShutdown<B> {
    /// `inner`, ended when `shutdown`'s admissions close.
    pub fn new(inner: B, shutdown: &Shutdown) -> Self {
        EndOnShutdown {
            inner,
            closed: shutdown.reached(Phase::StoppingNewRequests),
            ended: false,
        }
    }

    /// Whether it ended because admissions closed.
    pub fn ended_by_shutdown(&self) -> bool {
        self.ended
    }
}

impl<B: Body> Body for EndOnShutdown<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        // The close first: a stream that always has a frame ready must still end.
        if Pin::new(this.closed).poll(cx).is_ready() {
            *this.ended = true;
            return Poll::Ready(None);
        }
        this.inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // It may end early: only the upper bound still holds.
        let mut hint = SizeHint::new();
        if let Some(upper) = self.inner.size_hint().upper() {
            hint.set_upper(upper);
        }
        hint
    }
}

impl<B> std::fmt::Debug for EndOnShutdown<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndOnShutdown")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
