//! gRPC at the close: server streams end with `UNAVAILABLE`, a status a client acts on.
//!
//! A gRPC server-streaming call is one long HTTP/2 response: its messages are DATA frames,
//! its status the trailers at its end (`grpc-status`). Left alone at the close, such a stream
//! holds the drain until the deadline cuts it, and its client sees a reset stream
//! (`CANCELLED` or `INTERNAL`, depending on the library), not a status it can act on.
//! [`EndStreamsLayer`] ends it instead, between two messages, with the trailers
//! `grpc-status: 14` (`UNAVAILABLE`) and `grpc-message: the server is shutting down`: every
//! gRPC client library retries `UNAVAILABLE` or reconnects elsewhere, and the client knows
//! the stream did not complete.
//!
//! Unary calls are left to finish: their response is one message and its trailers, ready
//! together, so they go out whole. What the layer ends is a response that, after admissions
//! closed, waits for its next message (a stream that idles until its next event), or has
//! passed two more messages (a stream that always has one ready). Other responses (not
//! `application/grpc`) pass untouched.
//!
//! With winddown's [`Server`](crate::Server), the HTTP/2 connection gets GOAWAY at the close
//! too (new calls go elsewhere), and the [`ShutdownLayer`](crate::ShutdownLayer)'s `503`
//! for a call that races the close is `UNAVAILABLE` to a gRPC client (the HTTP-to-gRPC status
//! mapping every implementation follows).
//!
//! # Examples
//!
//! tonic's routes, served by winddown's server (see `examples/tonic.rs` in the repository
//! for the whole service, with a unary and a server-streaming call):
//!
//! ```ignore
//! let app = tonic::service::Routes::new(GreeterServer::new(greeter))
//! use winddown::tokio::TokioRuntime;
//!     .into_axum_router()
//!     .layer(EndStreamsLayer::new(plan.shutdown()))
//!     .layer(ShutdownLayer::new(plan.shutdown()).name_requests(&plan).for_server());
//! let server = winddown::http::Server::new(&plan, TokioRuntime::new()).serve(listener, app.into_make_service());
//! ```
//!
//! The body on its own:
//!
//! ```
//! # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, StreamBody};
//! use winddown::http::grpc::EndStreamsBody;
//! use winddown::{Reason, Shutdown};
//!
//! # futures_lite::future::block_on(async {
//! let shutdown = Shutdown::new();
//! // A stream that never sends a message.
//! let stream = StreamBody::new(futures_lite::stream::pending::<
//!     Result<http_body::Frame<Bytes>, std::convert::Infallible>,
//! >());
//! let mut body = EndStreamsBody::new(stream, &shutdown);
//! shutdown.trigger(Reason::requested());
//! shutdown.close();
//! let trailers = body.frame().await.unwrap().unwrap().into_trailers().unwrap();
//! assert_eq!(trailers["grpc-status"], "14");
//! assert!(body.frame().await.is_none());
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use winddown_core::futures::Reached;
use winddown_core::{Phase, Shutdown};

/// `UNAVAILABLE`'s code.
const UNAVAILABLE: &str = "14";

/// The message with it.
const SHUTTING_DOWN: &str = "the server is shutting down";

/// How many messages a stream may still pass after admissions closed, when it always has the
/// next one ready.
const MORE_AFTER_CLOSE: u8 = 2;

/// The trailers that end a stream at the close.
fn unavailable() -> HeaderMap {
    let mut trailers = HeaderMap::with_capacity(2);
    trailers.insert("grpc-status", HeaderValue::from_static(UNAVAILABLE));
    trailers.insert("grpc-message", HeaderValue::from_static(SHUTTING_DOWN));
    trailers
}

/// Whether `response` is a gRPC response (`content-type: application/grpc`, `+proto` and
/// the other `application/grpc+…` variants included).
fn is_grpc<B>(response: &Response<B>) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .get(..16)
                .is_some_and(|start| start.eq_ignore_ascii_case("application/grpc"))
        })
}

/// A [tower `Layer`](tower_layer::Layer) that ends gRPC responses at the close with `UNAVAILABLE`
/// (see the [module docs](self)): [`EndStreams`] around the service, [`EndStreamsBody`]
/// around each gRPC response body.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use axum::{routing::post, Router};
/// use winddown::http::grpc::EndStreamsLayer;
/// use winddown::Shutdown;
///
/// let shutdown = Shutdown::new();
/// let app: Router = Router::new()
///     .route("/pkg.Service/Method", post(|| async { "a gRPC route" }))
///     .layer(EndStreamsLayer::new(&shutdown));
/// ```
#[derive(Debug, Clone)]
pub struct EndStreamsLayer {
    shutdown: Shutdown,
}

impl EndStreamsLayer {
    /// Ends gRPC responses when `shutdown`'s admissions close.
    pub fn new(shutdown: &Shutdown) -> Self {
        EndStreamsLayer {
            shutdown: shutdown.clone(),
        }
    }
}

impl<S> Layer<S> for EndStreamsLayer {
    type Service = EndStreams<S>;

    fn layer(&self, inner: S) -> EndStreams<S> {
        EndStreams {
            inner,
            shutdown: self.shutdown.clone(),
        }
    }
}

/// The service of [`EndStreamsLayer`]: passes each request on, and wraps each gRPC
/// response's body in an [`EndStreamsBody`].
#[derive(Debug, Clone)]
pub struct EndStreams<S> {
    inner: S,
    shutdown: Shutdown,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for EndStreams<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<EndStreamsBody<ResBody>>;
    type Error = S::Error;
    type Future = EndStreamsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        EndStreamsFuture {
            inner: self.inner.call(request),
            shutdown: Some(self.shutdown.clone()),
        }
    }
}

pin_project! {
    /// The response future of [`EndStreams`].
    #[must_use = "futures do nothing unless polled"]
    pub struct EndStreamsFuture<F> {
        #[pin]
        inner: F,
        shutdown: Option<Shutdown>,
    }
}

impl<F, B, E> Future for EndStreamsFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<EndStreamsBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let shutdown = this
            .shutdown
            .take()
            .expect("EndStreamsFuture polled after completion");
        let closed = is_grpc(&response).then(|| shutdown.reached(Phase::StoppingNewRequests));
        Poll::Ready(Ok(response.map(|inner| EndStreamsBody {
            inner,
            closed,
            state: State::Open,
            ended: false,
        })))
    }
}

impl<F> std::fmt::Debug for EndStreamsFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndStreamsFuture").finish_non_exhaustive()
    }
}

/// Where a body is in its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the close.
    Open,
    /// After the close, with this many messages passed since.
    Closing(u8),
    /// The `UNAVAILABLE` trailers are next.
    Ending,
    /// Ended (by itself, or here).
    Done,
}

pin_project! {
    /// A gRPC response body that ends at the close with `UNAVAILABLE` trailers, between two
    /// messages (see the [module docs](self) for when). A body not made by
    /// [`EndStreamsLayer`] for a gRPC response passes untouched.
    #[must_use = "a body does nothing unless polled"]
    pub struct EndStreamsBody<B> {
        #[pin]
        inner: B,
        // `None`: not gRPC, passed untouched (or ended here).
        closed: Option<Reached>,
        state: State,
        // Ended here, with `UNAVAILABLE`.
        ended: bool,
    }
}

impl<B> EndStreamsBody<B> {
    /// `inner`, a gRPC response's body, ended when `shutdown`'s admissions close.
    pub fn new(inner: B, shutdown: &Shutdown) -> Self {
        EndStreamsBody {
            inner,
            closed: Some(shutdown.reached(Phase::StoppingNewRequests)),
            state: State::Open,
            ended: false,
        }
    }

    /// Whether it ended with `UNAVAILABLE` because admissions closed.
    pub fn ended_by_shutdown(&self) -> bool {
        self.ended
    }
}

impl<B: Body> Body for EndStreamsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let Some(closed) = this.closed.as_mut() else {
            // Not gRPC; or ended here (the `closed` wait is dropped with the trailers).
            return match this.state {
                State::Done => Poll::Ready(None),
                _ => this.inner.poll_frame(cx),
            };
        };
        match *this.state {
            State::Done => return Poll::Ready(None),
            State::Ending => {
                return Poll::Ready(Some(Ok(end(this.state, this.closed, this.ended))))
            }
            State::Open if Pin::new(closed).poll(cx).is_ready() => {
                *this.state = State::Closing(0);
            }
            _ => {}
        }
        match this.inner.poll_frame(cx) {
            Poll::Pending => match *this.state {
                // Waiting for its next message after the close: end it now.
                State::Closing(_) => {
                    Poll::Ready(Some(Ok(end(this.state, this.closed, this.ended))))
                }
                _ => Poll::Pending,
            },
            Poll::Ready(Some(Ok(frame))) => {
                if frame.is_trailers() {
                    // Its own end, with its own status.
                    *this.state = State::Done;
                } else if let State::Closing(passed) = *this.state {
                    *this.state = if passed + 1 >= MORE_AFTER_CLOSE {
                        State::Ending
                    } else {
                        State::Closing(passed + 1)
                    };
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                *this.state = State::Done;
                Poll::Ready(None)
            }
            error @ Poll::Ready(Some(Err(_))) => error,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state == State::Done || (self.state != State::Ending && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.closed.is_none() && self.state != State::Done {
            return self.inner.size_hint();
        }
        // It may end early: only the upper bound still holds.
        let mut hint = SizeHint::new();
        if let Some(upper) = self.inner.size_hint().upper() {
            hint.set_upper(upper);
        }
        hint
    }
}

/// The `UNAVAILABLE` trailers; the body is done after them.
fn end<D>(state: &mut State, closed: &mut Option<Reached>, ended: &mut bool) -> Frame<D> {
    *state = State::Done;
    *closed = None;
    *ended = true;
    Frame::trailers(unavailable())
}

impl<B> std::fmt::Debug for EndStreamsBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndStreamsBody")
            .field("grpc", &self.closed.is_some())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
