//! One connection: its IO wrapper, its service wrapper, and its task.
//!
//! The IO wrapper ([`ConnIo`]) holds the connection's guard, so a connection counts as in
//! flight for exactly as long as its socket is open (an upgraded socket included). While the
//! connection closes, it turns "no bytes to read now" into end-of-file once no request is in
//! flight and everything written has been flushed: that is how a connection holding half a
//! request head (never admitted) or nothing at all stops holding the drain, where hyper's own
//! graceful shutdown would wait for the rest of the head.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::server::conn::auto;
use pin_project_lite::pin_project;
use tower_service::Service;
use winddown_core::{Guard, Phase, Shutdown};

use super::connections::{ConnShared, Registry};

// ===== impl ConnIo =====

pin_project! {
    /// The socket of one connection, as hyper sees it.
    pub(crate) struct ConnIo<I> {
        #[pin]
        inner: I,
        shared: Arc<ConnShared>,
        registry: Arc<Registry>,
        id: u64,
        // Written since the last completed flush.
        dirty: bool,
        // The connection's admission: released when the socket closes.
        guard: Guard,
    }

    impl<I> PinnedDrop for ConnIo<I> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.shared.set_gone();
            this.registry.remove(*this.id);
        }
    }
}

impl<I> ConnIo<I> {
    pub(crate) fn new(
        inner: I,
        shared: Arc<ConnShared>,
        registry: Arc<Registry>,
        id: u64,
        guard: Guard,
    ) -> Self {
        ConnIo {
            inner,
            shared,
            registry,
            id,
            dirty: false,
            guard,
        }
    }
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection cut at the drain deadline",
    )
}

impl<I: Read> Read for ConnIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let shared = &**this.shared;
        if shared.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        let result = this.inner.poll_read(cx, buf);
        if result.is_ready() {
            return result;
        }
        if shared.is_upgraded() {
            // The upgrade's handler reads here: park it so the cut can wake it.
            shared.park_reader(cx.waker());
            return if shared.is_cut() {
                Poll::Ready(Err(cut_error()))
            } else {
                Poll::Pending
            };
        }
        if shared.is_closing() && !shared.is_http2() && !*this.dirty && shared.park_read(cx.waker())
        {
            // Closing, nothing in flight, everything flushed, and nothing to read now: end of
            // file. hyper closes an idle connection, and drops a partial request head (it was
            // never admitted) as an incomplete message. Not for HTTP/2: after its GOAWAY, h2
            // closes the connection itself once its streams are done, and a peer's frames
            // (window updates, ping acks) may still be on their way.
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }
}

impl<I: Write> Write for ConnIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if this.shared.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        *this.dirty = true;
        this.inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if this.shared.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        *this.dirty = true;
        this.inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let result = ready!(this.inner.poll_flush(cx));
        if result.is_ok() {
            *this.dirty = false;
        }
        Poll::Ready(result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

// ===== impl ConnService =====

/// The user's service, counting this connection's requests in flight.
#[derive(Debug, Clone)]
pub(crate) struct ConnService<S> {
    inner: S,
    shared: Arc<ConnShared>,
}

impl<S> ConnService<S> {
    pub(crate) fn new(inner: S, shared: Arc<ConnShared>) -> Self {
        ConnService { inner, shared }
    }
}

/// One request in flight on a connection; leaves the count on drop.
struct InFlight(Arc<ConnShared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

impl<S, B> hyper::service::Service<Request<Incoming>> for ConnService<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone,
{
    type Response = Response<CountedBody<B>>;
    type Error = S::Error;
    type Future = RequestFuture<S, Request<Incoming>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.shared
            .request_started(request.version() == http::Version::HTTP_2);
        RequestFuture {
            state: CallState::Ready {
                service: self.inner.clone(),
                request: Some(request),
            },
            in_flight: Some(InFlight(self.shared.clone())),
        }
    }
}

pin_project! {
    /// The future of one request on a [`Server`](crate::Server) connection: `poll_ready`,
    /// then `call`, on a clone of the service (what tower's `Oneshot` does), counting the
    /// request on its connection.
    #[must_use = "futures do nothing unless polled"]
    pub struct RequestFuture<S: Service<R>, R> {
        #[pin]
        state: CallState<S, R>,
        in_flight: Option<InFlight>,
    }
}

pin_project! {
    #[project = CallStateProj]
    enum CallState<S: Service<R>, R> {
        Ready { service: S, request: Option<R> },
        Called { #[pin] future: S::Future },
    }
}

impl<S, B> Future for RequestFuture<S, Request<Incoming>>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
{
    type Output = Result<Response<CountedBody<B>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                CallStateProj::Ready { service, request } => {
                    ready!(service.poll_ready(cx))?;
                    let request = request
                        .take()
                        .expect("RequestFuture polled after completion");
                    let future = service.call(request);
                    this.state.set(CallState::Called { future });
                }
                CallStateProj::Called { future } => {
                    let response = ready!(future.poll(cx))?;
                    let in_flight = this.in_flight.take();
                    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                        if let Some(in_flight) = &in_flight {
                            in_flight.0.set_upgraded();
                        }
                    }
                    return Poll::Ready(Ok(response.map(|inner| CountedBody { inner, in_flight })));
                }
            }
        }
    }
}

pin_project! {
    /// A response body on a [`Server`](crate::Server) connection, counted on its connection
    /// until it ends or drops (a connection closing after the close waits for it).
    pub struct CountedBody<B> {
        #[pin]
        inner: B,
        in_flight: Option<InFlight>,
    }
}

impl<B: Body> Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let done = match &frame {
            Some(Ok(_)) => this.inner.is_end_stream(),
            None | Some(Err(_)) => true,
        };
        if done {
            this.in_flight.take();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<S: Service<R>, R> std::fmt::Debug for RequestFuture<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestFuture").finish_non_exhaustive()
    }
}

impl<B> std::fmt::Debug for CountedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountedBody")
            .field("counted", &self.in_flight.is_some())
            .finish_non_exhaustive()
    }
}

// ===== the connection's task =====

/// Serves one connection until it ends, or until it is cut at the drain deadline.
pub(crate) async fn run<I, S, B, E>(
    builder: Arc<auto::Builder<E>>,
    io: ConnIo<I>,
    service: ConnService<S>,
    shutdown: Shutdown,
    shared: Arc<ConnShared>,
) where
    I: Read + Write + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<RequestFuture<S, Request<Incoming>>, CountedBody<B>>
        + Clone
        + Send
        + Sync
        + 'static,
{
    let mut conn = pin!(builder.serve_connection_with_upgrades(io, service));
    let mut close = shutdown.reached(Phase::StoppingNewRequests);
    let mut cut = shutdown.reached(Phase::ClosingResources);
    let mut closing = false;
    let ended = poll_fn(|cx| {
        if !closing && Pin::new(&mut close).poll(cx).is_ready() {
            closing = true;
            shared.start_closing();
            if shared.requests() > 0 || shared.is_http2() {
                // Requests in flight finish: HTTP/1 without keep-alive (`Connection: close`),
                // HTTP/2 after GOAWAY.
                conn.as_mut().graceful_shutdown();
            }
            // A connection with nothing in flight (idle keep-alive, never a byte, half a head)
            // is not closed by hyper here but by its reads (see `ConnIo`): bytes already in
            // the socket are still read and answered (a `503` from the layer) rather than
            // thrown away with a reset, and the first read that would wait ends the connection.
        }
        if let Poll::Ready(result) = conn.as_mut().poll(cx) {
            return Poll::Ready(Some(result));
        }
        if Pin::new(&mut cut).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await;
    match ended {
        // The drain deadline passed (or the shutdown was forced): mark it, then drop it.
        None => shared.cut(),
        // Upgraded: the socket now belongs to the upgrade's handler. Stay until it drops the
        // socket, or cut it at the drain deadline (its reads and writes fail from then on).
        Some(_) if shared.is_upgraded() => {
            poll_fn(|cx| {
                if shared.park_task(cx.waker()) {
                    return Poll::Ready(());
                }
                if Pin::new(&mut cut).poll(cx).is_ready() {
                    shared.cut();
                    return Poll::Ready(());
                }
                Poll::Pending
            })
            .await;
        }
        Some(_) => {}
    }
}
