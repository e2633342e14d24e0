//! What the server runs: the user's service (one cloned for every connection, or one made for
//! each), wrapped to count each connection's requests and responses.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tower_service::Service;

use super::connections::ConnShared;
use crate::layer::handoff;
use crate::layer::Admission;

/// The error type the server hands hyper.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

mod sealed {
    pub trait SealedMake<K> {}
}

/// A tower service the server can run for every request: a `Service<Request<Incoming>>`
/// answering `Response<B>`, cloned per request, whose future and body can move across
/// threads. Implemented for every such service; it only names the bounds once. Not nameable
/// outside the crate, so not implementable there either (no seal needed):
/// [`ConnectionService`]'s docs spell the bounds out.
pub trait HttpService: Clone + Send + 'static {
    /// The response body.
    type ResBody: Body<Data = Self::Data, Error = Self::BodyError> + Send + 'static;
    /// The response body's chunks.
    type Data: Buf + Send;
    /// The response body's error.
    type BodyError: Into<BoxError>;
    /// The service's error.
    type Error: Into<BoxError>;
    /// The service's future.
    type Future: Future<Output = Result<Response<Self::ResBody>, Self::Error>> + Send + 'static;

    /// As tower's [`Service::poll_ready`](tower_service::Service::poll_ready).
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>>;

    /// As tower's [`Service::call`](tower_service::Service::call).
    fn call(&mut self, request: Request<Incoming>) -> Self::Future;
}

impl<S, B> HttpService for S
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type ResBody = B;
    type Data = B::Data;
    type BodyError = B::Error;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Service::poll_ready(self, cx)
    }

    #[inline]
    fn call(&mut self, request: Request<Incoming>) -> S::Future {
        Service::call(self, request)
    }
}

/// `K` of [`ConnectionService`] for one service shared by every connection (each gets a
/// clone). Not nameable outside the crate: the compiler picks `K`.
#[derive(Debug)]
pub enum Shared {}

/// `K` of [`ConnectionService`] for a factory that makes a service for each connection from
/// its peer's address. Not nameable outside the crate: the compiler picks `K`.
#[derive(Debug)]
pub enum PerConnection {}

/// What [`Server::serve`](crate::Server::serve) accepts, as `axum::serve` does. Implemented
/// for:
///
/// - a service for every request, shared by every connection (each gets a clone): a
///   `Router`, any tower `Service<Request<hyper::body::Incoming>>` that is `Clone + Send +
///   'static`, answers `Response<B>` with a `B: http_body::Body + Send + 'static` (its data
///   `Send`, its error and the service's `Into<Box<dyn Error + Send + Sync>>`), and whose
///   future is `Send + 'static`;
/// - a factory that makes such a service for each connection from its peer's address: axum's
///   `into_make_service()`, `into_make_service_with_connect_info::<SocketAddr>()` (its
///   `ConnectInfo` extractor then finds the address), or any `Service<SocketAddr> + Send +
///   'static` whose future is `Send + 'static` and whose error converts as above.
///
/// `K` tells the two apart; the compiler picks it, nobody names it. Sealed: its methods are
/// the server's own. Name it to write a function that passes a service on to the server:
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use winddown::http::server::ConnectionService;
/// use winddown::Plan;
/// use winddown::smol::SmolRuntime;
///
/// async fn serve_on_8080<M: ConnectionService<K>, K>(plan: &Plan, app: M) -> std::io::Result<()> {
///     let listener = smol::net::TcpListener::bind("127.0.0.1:8080").await?;
///     winddown::http::Server::new(plan, SmolRuntime::new()).serve(listener, app).await
/// }
/// ```
pub trait ConnectionService<K>: sealed::SealedMake<K> + Send + 'static {
    /// The service each connection runs.
    #[doc(hidden)]
    type Service: HttpService;

    /// Whether a service can be made now.
    #[doc(hidden)]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>>;

    /// Makes the service of the connection from `peer`.
    #[doc(hidden)]
    fn make(&mut self, peer: SocketAddr) -> MakeFuture<Self::Service>;
}

/// Waits until `service` can make a connection's service, unless `end` comes first: `Ok(true)`
/// when it can, `Ok(false)` at `end`, its error otherwise. Both accept loops wait here before
/// each accept, so a service that is not ready holds connections in the backlog, not in memory.
pub(super) async fn ready_unless<M, K, E>(service: &mut M, end: &mut E) -> std::io::Result<bool>
where
    M: ConnectionService<K>,
    E: Future + Unpin,
{
    let ready = std::future::poll_fn(|cx| {
        if Pin::new(&mut *end).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        service.poll_ready(cx).map(Some)
    })
    .await;
    match ready {
        None => Ok(false),
        Some(Ok(())) => Ok(true),
        Some(Err(err)) => Err(std::io::Error::other(err)),
    }
}

/// A connection's service on its way (see [`ConnectionService::make`]).
pub(crate) type MakeFuture<S> = Pin<Box<dyn Future<Output = Result<S, BoxError>> + Send>>;

impl<S: HttpService> sealed::SealedMake<Shared> for S {}

impl<S: HttpService> ConnectionService<Shared> for S {
    type Service = S;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn make(&mut self, _peer: SocketAddr) -> MakeFuture<S> {
        Box::pin(std::future::ready(Ok(self.clone())))
    }
}

impl<M> sealed::SealedMake<PerConnection> for M
where
    M: Service<SocketAddr> + Send + 'static,
    M::Response: HttpService,
    M::Error: Into<BoxError>,
    M::Future: Send + 'static,
{
}

impl<M> ConnectionService<PerConnection> for M
where
    M: Service<SocketAddr> + Send + 'static,
    M::Response: HttpService,
    M::Error: Into<BoxError>,
    M::Future: Send + 'static,
{
    type Service = M::Response;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Service::poll_ready(self, cx).map_err(Into::into)
    }

    fn make(&mut self, peer: SocketAddr) -> MakeFuture<M::Response> {
        let future = Service::call(self, peer);
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

// ===== the per-connection wrapper =====

/// The user's service on one connection, counting its requests in flight (an admin
/// listener's connections count nothing: `shared` is `None`).
#[derive(Debug, Clone)]
pub(crate) struct ConnService<S> {
    inner: S,
    shared: Option<Arc<ConnShared>>,
}

impl<S> ConnService<S> {
    pub(crate) fn new(inner: S, shared: Option<Arc<ConnShared>>) -> Self {
        ConnService { inner, shared }
    }
}

/// One request on a connection: counted from the service call until its response body has
/// been written out (or the connection went); carries the layer's admission over the last
/// stretch.
#[derive(Debug)]
pub(crate) struct InFlight {
    shared: Arc<ConnShared>,
    admission: Option<Admission>,
}

impl InFlight {
    /// Runs `call` keeping what admission the layer hands over meanwhile (see
    /// [`handoff::collect`]).
    #[inline]
    fn collect<R>(&mut self, call: impl FnOnce() -> R) -> R {
        handoff::collect(&mut self.admission, call)
    }

    /// The answer to the request: says `Connection: close` on HTTP/1 if admissions have closed
    /// since the layer admitted it, when the layer handed its admission over (as it was
    /// called, or at its response future's first poll), and so left this to the server (see
    /// [`handoff::answered`]).
    #[inline]
    fn answered<B>(&self, response: &mut Response<B>) {
        if self.admission.is_some() {
            handoff::answered(response, &self.admission, !self.shared.is_http2());
        }
    }

    /// Whether a poll or drop of the response body must collect what the layer's body may
    /// hand over: not once the request holds the layer's admission (handed over with the
    /// response: the body carries none).
    #[inline]
    fn collects(&self) -> bool {
        self.admission.is_none()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.body_done();
        self.shared.response_ended(&mut self.admission);
    }
}

impl<S: HttpService> hyper::service::Service<Request<Incoming>> for ConnService<S> {
    type Response = Response<CountedBody<S::ResBody>>;
    type Error = S::Error;
    type Future = RequestFuture<S>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let connect = request.method() == http::Method::CONNECT;
        let in_flight = self.shared.as_ref().map(|shared| {
            shared.request_started();
            // An HTTP/1 request whose body may still be on its way: until its response
            // starts, the bytes that arrive are its body's (see `Server::upload_grace`).
            if !shared.is_http2() && !request.body().is_end_stream() {
                shared.await_body();
            }
            // hyper leaves a pending upgrade in the request when it may upgrade the
            // connection for it (an `Upgrade` header, a `CONNECT`): remember it, to name the
            // connection by.
            if request
                .extensions()
                .get::<hyper::upgrade::OnUpgrade>()
                .is_some()
            {
                let target = if connect {
                    request.uri().to_string()
                } else {
                    request.uri().path().to_owned()
                };
                shared.upgrade_requested(
                    format!("{} {target}", request.method()),
                    asks_for_websocket(&request),
                );
            }
            InFlight {
                shared: shared.clone(),
                admission: None,
            }
        });
        RequestFuture {
            state: CallState::Ready {
                service: self.inner.clone(),
                request: Some(request),
            },
            in_flight,
            connect,
        }
    }
}

/// Whether `request` asks to switch to a WebSocket (RFC 6455 4.1: `Upgrade: websocket`).
fn asks_for_websocket<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get_all(http::header::UPGRADE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

pin_project! {
    /// The future of one request on a connection: `poll_ready`, then `call`, on a clone of
    /// the service (what tower's `Oneshot` does), counting the request on its connection.
    #[must_use = "futures do nothing unless polled"]
    #[project = RequestFutureProj]
    pub(crate) struct RequestFuture<S: HttpService> {
        #[pin]
        state: CallState<S>,
        in_flight: Option<InFlight>,
        connect: bool,
    }
}

pin_project! {
    #[project = CallStateProj]
    enum CallState<S: HttpService> {
        Ready { service: S, request: Option<Request<Incoming>> },
        Called { #[pin] future: S::Future },
        // Answered after admissions closed, before the listener has: held until it has.
        Held { response: Option<Response<S::ResBody>> },
    }
}

impl<S: HttpService> Future for RequestFuture<S> {
    type Output = Result<Response<CountedBody<S::ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let CallStateProj::Held { response } = this.state.as_mut().project() {
                if let Some(in_flight) = this.in_flight.as_ref() {
                    ready!(in_flight.shared.listener.poll_closed(cx));
                }
                let response = response
                    .take()
                    .expect("RequestFuture polled after completion");
                return Poll::Ready(Ok(this.respond(response)));
            }
            let state = this.state.as_mut();
            let response = match this.in_flight.as_mut() {
                // The layer hands its admission over as it is called, or else at its future's
                // first poll (see `handoff`): one collecting scope for both, kept from then on
                // with the request.
                Some(in_flight) => in_flight.collect(|| call_and_poll(state, cx)),
                None => call_and_poll(state, cx),
            };
            let mut response = ready!(response)?;
            if let Some(in_flight) = this.in_flight.as_ref() {
                in_flight.answered(&mut response);
            }
            // A response once admissions have closed (a `503`, or one that says
            // `Connection: close`) tells its client to reconnect: not before the listener is
            // closed, so that the reconnect is refused rather than reset in the backlog of a
            // listener about to close.
            let hold = this.in_flight.as_ref().is_some_and(|f| {
                !f.shared.listener.is_closed() && f.shared.shutdown.phase().admissions_closed()
            });
            if !hold {
                return Poll::Ready(Ok(this.respond(response)));
            }
            this.state.set(CallState::Held {
                response: Some(response),
            });
        }
    }
}

/// Calls the service once it is ready, if it has not been yet, and polls its future: one step
/// of a request that is not held.
#[inline]
fn call_and_poll<S: HttpService>(
    mut state: Pin<&mut CallState<S>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Response<S::ResBody>, S::Error>> {
    if let CallStateProj::Ready { service, request } = state.as_mut().project() {
        ready!(service.poll_ready(cx))?;
        let request = request
            .take()
            .expect("RequestFuture polled after completion");
        let future = service.call(request);
        state.set(CallState::Called { future });
    }
    match state.project() {
        CallStateProj::Called { future } => future.poll(cx),
        _ => unreachable!("a held request is not called"),
    }
}

impl<S: HttpService> RequestFutureProj<'_, S> {
    /// The response with its body counted on the connection.
    fn respond(&mut self, response: Response<S::ResBody>) -> Response<CountedBody<S::ResBody>> {
        let in_flight = self.in_flight.take();
        if let Some(in_flight) = &in_flight {
            // Its response starts: ending the reads now would cut the response too.
            in_flight.shared.body_done();
            // hyper upgrades on `101 Switching Protocols` and on a `2xx` to `CONNECT`; any
            // other answer leaves the connection HTTP.
            let status = response.status();
            let switches = status == http::StatusCode::SWITCHING_PROTOCOLS
                || (*self.connect && status.is_success());
            if in_flight.shared.may_upgrade() {
                if switches {
                    in_flight.shared.upgrade_accepted();
                } else {
                    in_flight.shared.upgrade_declined();
                }
            }
        }
        let http2 = in_flight.as_ref().is_some_and(|f| f.shared.is_http2());
        response.map(|inner| CountedBody {
            inner: Some(inner),
            in_flight,
            http2,
            rest: None,
        })
    }
}

impl<S: HttpService> std::fmt::Debug for RequestFuture<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestFuture").finish_non_exhaustive()
    }
}

/// The largest piece an HTTP/2 response's data goes to hyper in. hyper polls a body for its
/// next frame only once the stream's flow-control window has room, so in pieces this size a
/// response whose peer stops reading stays in flight (and named) with at most one piece
/// beyond the window, instead of ending at once into hyper's send buffer. The default initial
/// window: a peer that reads goes no slower.
const HTTP2_PIECE: usize = 64 * 1024;

pin_project! {
    /// A response body on a connection: counted on its connection (and holding the layer's
    /// admission, when the layer's body hands it over) until the response is written out.
    pub(crate) struct CountedBody<B> {
        #[pin]
        inner: Option<B>,
        in_flight: Option<InFlight>,
        http2: bool,
        // HTTP/2: what is left of a frame larger than `HTTP2_PIECE`.
        rest: Option<Bytes>,
    }

    impl<B> PinnedDrop for CountedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // The layer's body may hand its admission over as it drops.
            if let Some(in_flight) = this.in_flight.as_mut().filter(|f| f.collects()) {
                in_flight.collect(|| this.inner.set(None));
            }
            // `in_flight` drops next (the body before it, if still there): the response counts
            // as being written until the next completed flush of its connection's socket.
        }
    }
}

impl<B: Body> Body for CountedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        if let Some(rest) = this.rest.as_mut() {
            let piece = if rest.len() > HTTP2_PIECE {
                rest.split_to(HTTP2_PIECE)
            } else {
                this.rest.take().unwrap_or_default()
            };
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        let frame = match this.in_flight.as_mut().filter(|f| f.collects()) {
            Some(in_flight) => in_flight.collect(|| inner.poll_frame(cx)),
            None => inner.poll_frame(cx),
        };
        let frame = ready!(frame);
        Poll::Ready(frame.map(|frame| {
            frame.map(|frame| {
                frame.map_data(|mut data| {
                    let mut bytes = data.copy_to_bytes(data.remaining());
                    if *this.http2 && bytes.len() > HTTP2_PIECE {
                        *this.rest = Some(bytes.split_off(HTTP2_PIECE));
                    }
                    bytes
                })
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_none() && self.inner.as_ref().map_or(true, Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let rest = self.rest.as_ref().map_or(0, |rest| rest.len() as u64);
        match &self.inner {
            Some(inner) => {
                let inner = inner.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower() + rest);
                if let Some(upper) = inner.upper() {
                    hint.set_upper(upper + rest);
                }
                hint
            }
            None => SizeHint::with_exact(rest),
        }
    }
}

impl<B> std::fmt::Debug for CountedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountedBody")
            .field("counted", &self.in_flight.is_some())
            .finish_non_exhaustive()
    }
}
