//! The tower layer: every request enters through the shutdown handle, and is refused with a
//! `503` once admissions close.

mod body;
mod future;
pub(crate) mod handoff;

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Request};
use tower_layer::Layer;
use tower_service::Service;
use winddown_core::{Plan, Shutdown};

use crate::in_flight::Table;

pub(crate) use body::Admission;
pub use body::GuardedBody;
pub use future::ResponseFuture;

/// Slots of the request record of [`ShutdownLayer::name_requests`] (its docs say why 1024).
const DEFAULT_NAMED_SLOTS: usize = 1024;

/// A [tower `Layer`](tower_layer::Layer) that admits each request through a [`Shutdown`] handle,
/// and refuses requests once admissions close.
///
/// - **Admitted** (before admissions close, including during the plan's `pre_stop` delay): the
///   request holds a [`Guard`](winddown_core::Guard) until its response has been sent (see
///   below for what "sent" can mean), or dropped (the client went away, the connection was
///   cut). The drain waits for it. A response produced after admissions closed carries
///   `Connection: close` on HTTP/1, so the client does not reuse a connection that is about
///   to go.
/// - **Refused** (once admissions close): `503 Service Unavailable` with `Connection: close`
///   (HTTP/1; HTTP/2 has no such header), `Retry-After` (5 seconds unless set with
///   [`retry_after`](Self::retry_after)) and an empty body. The inner service is not called.
///
/// With [`name_requests`](Self::name_requests), the layer also records the method, path and
/// admission time of each request, and a drain that runs past its deadline names them in the
/// report (`GET /export  12.3s`), next to the task names it already lists.
///
/// # What the layer knows, and what it cannot
///
/// A tower layer sees its response leave for the server, and its response body's frames; it
/// never sees the socket. So:
///
/// - **Alone** (behind hyper-util's server, axum's, any other), the guard rides in the
///   response body (a [`GuardedBody`]) and leaves when the body has yielded its last frame to
///   the server. The bytes may still be in the server's buffer or the socket's: a client that
///   reads slowly, a response larger than the socket's buffers, an HTTP/2 stream waiting for
///   flow control. The drain can then end (and the process exit) with a response half sent,
///   and the report does not name it.
/// - **Behind [`Server`](crate::Server)**, the layer hands its guard and its record to the server
///   as the server calls it (or, called elsewhere, as the server first polls the layer's response
///   future; the server says `Connection: close` for the layer then), and the server keeps them
///   until the response is written out: for HTTP/1, until a flush of the socket completes after the
///   last frame (hyper flushes only once its own buffer is empty, so every byte is in the kernel);
///   for HTTP/2, until flow control has let all but the last 64 KiB go (the server hands hyper the
///   data in pieces of that size, and hyper asks for the next piece only when the stream's window
///   has room). A response stuck behind a client that does not read is then in flight, named
///   (`GET /export  12.3s`, with `http connection from …: 1 response being written`), and cut at
///   the drain deadline. (A service that polls the layer's future on a task of its own, as tower's
///   `Buffer` does, leaves the guard in the body; the server takes it there, as the body ends.)
///
/// Neither can know whether the client has read the bytes: the kernel's buffers are beyond
/// any server.
///
/// # Behind winddown's server: `for_server`
///
/// Behind [`Server`](crate::Server) the response body carries nothing (the server has the
/// guard), yet its type is still [`GuardedBody`]: moving every response into it costs time,
/// and axum boxes a body of any type but its own once more (`Router::layer`).
/// [`for_server`](Self::for_server) makes a layer whose responses keep the inner service's
/// body type (the `503`'s empty body is its `Default`): the same guard, the same record, the
/// same guarantees behind the server, for less per request (no response moved into another
/// type; with `Router::layer`, no second box). Behind another server such a layer has no
/// body to ride in: the guard rides in the response's extensions and leaves when that server
/// drops them (hyper does as it writes the response head), before a streaming body has
/// ended. Keep the default layer for other servers.
///
/// # Examples
///
/// With axum, behind winddown's server:
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use axum::{routing::get, Router};
/// use winddown::{Config, Plan, Shutdown};
/// use winddown::http::ShutdownLayer;
///
/// let shutdown = Shutdown::new();
/// let plan = Plan::new(shutdown.clone(), Config::default());
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(ShutdownLayer::new(&shutdown).name_requests(&plan).for_server());
/// ```
///
/// # What it costs per request
///
/// Admission is one atomic add on the shutdown's admission word (one of its stripes), and the
/// release one atomic subtract. The service clone hyper makes per request clones one `Arc`.
/// The response future is inline, and so is the body wrapper of the default layer; behind
/// [`Server`](crate::Server) the guard goes to the server through a thread-local (one
/// pointer to the request's slot in the server; no allocation) as the server calls the
/// layer, and the response future only polls the inner one; an HTTP/1 connection keeps
/// it until the flush in a slot taken and given back by compare-and-swap, without a lock. With
/// [`name_requests`](Self::name_requests) on, a request also claims a slot of a fixed table by
/// compare-and-swap (no lock, no allocation), writes its method (up to 8 bytes, every
/// standard one, in a word of its own) and its path (up to 96 bytes) straight into it with
/// plain atomic stores, reads the coarse monotonic clock once (on Linux and Android
/// `CLOCK_MONOTONIC_COARSE`: the ages in the report are off by at most one timer tick, 1 to
/// 10 ms, and shown to a tenth of a second; elsewhere `Instant`), and clones the table's
/// `Arc`; leaving is one store. The table is allocated once per layer: 128 bytes a slot. The
/// layer allocates nothing per request (but a [`for_server`](Self::for_server) layer behind
/// another server, to put the guard in the response's extensions). Measured in
/// BENCHMARKS.md: H4
/// (a trivial service on one thread, in nanoseconds), and H1 (the axum example's throughput
/// and CPU time per request, and the instructions per request of the layer alone, behind the
/// server, and of the server without it).
///
/// ## With axum
///
/// axum's `Router::layer` wraps each route on its own, and for every request boxes the
/// layered route's service and future once more, whatever the layer does: measured with the
/// axum example, about 930 instructions per request for a layer that does nothing (tower's
/// `Identity`), as much as this layer's own work behind the server, names included. Wrapping
/// the whole router once costs none of that:
/// `ShutdownLayer::new(..).for_server().layer(router.with_state(()))`, with the paths that
/// must stay outside the layer [`exempt`](Self::exempt) (`examples/axum.rs` does this).
///
/// # Comparison to axum's `with_graceful_shutdown`
///
/// axum stops accepting at the signal and waits for connections, without a deadline, without
/// refusing requests that arrive on open connections, and without telling a load balancer.
/// This layer is the admission half; [`Server`](crate::Server) is the connection half (it
/// closes idle connections, cuts what is left at the drain deadline, and names it).
pub struct ShutdownLayer<K = InBody> {
    settings: Arc<Settings>,
    keep: PhantomData<fn() -> K>,
}

/// Where a [`ShutdownLayer`] keeps a request's guard once the response has left it: in the
/// response body, a [`GuardedBody`] (the default; behind any server). See
/// [`ShutdownLayer::for_server`] for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InBody {}

/// Where a [`ShutdownLayer::for_server`] layer keeps a request's guard once the response has
/// left it: with [`Server`](crate::Server), which takes it from the layer; the response body
/// keeps its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForServer {}

#[derive(Debug)]
struct Settings {
    shutdown: Shutdown,
    retry_after: HeaderValue,
    /// Paths let through without admission (see [`ShutdownLayer::exempt`]).
    exempt: Vec<Box<str>>,
    /// Their lengths, one bit each (63 for 63 bytes and longer): most paths are told apart
    /// from every exempt one by a length alone.
    exempt_lengths: u64,
    table: Option<Arc<Table>>,
    /// Requests answered `503` (shared by every layer built from this one's settings).
    refused: Arc<AtomicU64>,
}

impl Settings {
    /// The length's bit where the request is (most paths are told apart by it), the
    /// comparison out of line.
    #[inline]
    fn is_exempt(&self, path: &str) -> bool {
        self.exempt_lengths & length_bit(path) != 0 && self.is_exempt_path(path)
    }

    #[inline(never)]
    fn is_exempt_path(&self, path: &str) -> bool {
        self.exempt.iter().any(|exempt| **exempt == *path)
    }
}

#[inline]
fn length_bit(path: &str) -> u64 {
    1 << path.len().min(63)
}

impl ShutdownLayer {
    /// A layer that admits requests through `shutdown`.
    pub fn new(shutdown: &Shutdown) -> Self {
        ShutdownLayer {
            settings: Arc::new(Settings {
                shutdown: shutdown.clone(),
                retry_after: HeaderValue::from_static("5"),
                exempt: Vec::new(),
                exempt_lengths: 0,
                table: None,
                refused: Arc::new(AtomicU64::new(0)),
            }),
            keep: PhantomData,
        }
    }
}

impl<K> ShutdownLayer<K> {
    /// The `Retry-After` of the `503` answers, in whole seconds (rounded up).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use std::time::Duration;
    /// # let shutdown = winddown::Shutdown::new();
    /// let layer = winddown::http::ShutdownLayer::new(&shutdown).retry_after(Duration::from_secs(2));
    /// ```
    pub fn retry_after(self, after: Duration) -> Self {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        self.with(|settings| settings.retry_after = HeaderValue::from(secs))
    }

    /// Lets requests for `path` (the whole path, query aside) through without admission: the
    /// inner service answers them whatever the phase, they hold no guard and are not named.
    /// For health checks and status pages on a router the layer wraps whole, which must
    /// answer through the whole stop (as they do outside a layer that `Router::layer` puts on
    /// the routes before them). A request's path is compared with these only when one of
    /// them has its length.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use axum::body::Body;
    /// use axum::{routing::get, Router};
    /// use tower_layer::Layer;
    /// use tower_service::Service;
    /// use winddown::http::{Liveness, ShutdownLayer};
    /// use winddown::{Reason, Shutdown};
    ///
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let app: Router = Router::new()
    ///     .route("/", get(|| async { "hello" }))
    ///     .route_service("/livez", Liveness::new())
    ///     .with_state(());
    /// let mut app = ShutdownLayer::new(&shutdown).exempt("/livez").for_server().layer(app);
    /// shutdown.trigger(Reason::requested());
    /// shutdown.close();
    /// let get = |path| http::Request::get(path).body(Body::empty()).unwrap();
    /// assert_eq!(app.call(get("/")).await.unwrap().status(), 503);
    /// assert_eq!(app.call(get("/livez")).await.unwrap().status(), 200);
    /// # });
    /// ```
    pub fn exempt(self, path: impl Into<Cow<'static, str>>) -> Self {
        let path = path.into().into_owned().into_boxed_str();
        self.with(|settings| {
            settings.exempt_lengths |= length_bit(&path);
            settings.exempt.push(path);
        })
    }

    /// Records the method, path and admission time of each request, with room for 1024 at
    /// once, and registers them with `plan` ([`Plan::name_in_flight`]) so that a drain that
    /// ends with requests in flight names them in the report. It also adds a note to the
    /// report: how many requests the layer answered `503` (`http requests: 17 answered 503
    /// after the close`). See the type's docs for the cost.
    ///
    /// Why 1024: a report that names more requests than that is not read one by one (the
    /// requests beyond it are counted, and the report says how many), and the table is
    /// 128 KiB (128 bytes a slot), allocated once per layer.
    /// [`name_requests_with`](Self::name_requests_with) sets another size.
    pub fn name_requests(self, plan: &Plan) -> Self {
        self.name_requests_with(plan, DEFAULT_NAMED_SLOTS)
    }

    /// [`name_requests`](Self::name_requests) with room for `slots` requests at once (at least
    /// one). Requests beyond that are counted, and the report says how many.
    pub fn name_requests_with(self, plan: &Plan, slots: usize) -> Self {
        let table = Arc::new(Table::new(slots));
        let for_plan = table.clone();
        plan.name_in_flight(move |names| for_plan.name_into(names));
        let refused = self.settings.refused.clone();
        plan.note(move |notes| {
            // Relaxed: a count read once for the report.
            let refused = refused.load(Ordering::Relaxed);
            notes.push(format!(
                "http requests: {refused} answered 503 after the close"
            ));
        });
        self.with(|settings| settings.table = Some(table))
    }

    /// The same layer for [`Server`](crate::Server): the response keeps the inner service's
    /// body type, and the server keeps the request's guard (see
    /// [the type's docs](Self#behind-winddowns-server-for_server)). Its service needs the
    /// body type to have a `Default`, the `503`'s empty body. Settings, record and counts are
    /// shared with `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use axum::body::Body;
    /// use axum::{routing::get, Router};
    /// use tower_layer::Layer;
    /// use tower_service::Service;
    /// use winddown::http::ShutdownLayer;
    /// use winddown::Shutdown;
    ///
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let app: Router = Router::new().route("/", get(|| async { "hello" }));
    /// let mut service = ShutdownLayer::new(&shutdown).for_server().layer(app);
    /// // The response's body is axum's own `Body`, no wrapper.
    /// let response: http::Response<Body> =
    ///     service.call(http::Request::new(Body::empty())).await.unwrap();
    /// # });
    /// ```
    pub fn for_server(self) -> ShutdownLayer<ForServer> {
        ShutdownLayer {
            settings: self.settings,
            keep: PhantomData,
        }
    }

    /// Requests admitted and not yet finished, as the request record counts them (`None`
    /// without [`name_requests`](Self::name_requests)).
    pub fn requests_in_flight(&self) -> Option<usize> {
        self.settings.table.as_ref().map(|table| table.len())
    }

    /// Requests the layer has answered `503` (refused because admissions had closed), by this
    /// layer and every clone of it. [`Shutdown::refused`] counts these and every other
    /// refused admission (a connection, a task).
    pub fn refused(&self) -> u64 {
        // Relaxed: a count for status pages and reports; nothing else hangs on it.
        self.settings.refused.load(Ordering::Relaxed)
    }

    /// The shutdown the layer admits through.
    pub fn shutdown(&self) -> &Shutdown {
        &self.settings.shutdown
    }

    /// The same settings, as the default layer (for what only reads its counts).
    pub(crate) fn counts(&self) -> ShutdownLayer {
        ShutdownLayer {
            settings: self.settings.clone(),
            keep: PhantomData,
        }
    }

    fn with(self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Arc::try_unwrap(self.settings).unwrap_or_else(|shared| Settings {
            shutdown: shared.shutdown.clone(),
            retry_after: shared.retry_after.clone(),
            exempt: shared.exempt.clone(),
            exempt_lengths: shared.exempt_lengths,
            table: shared.table.clone(),
            refused: shared.refused.clone(),
        });
        change(&mut settings);
        ShutdownLayer {
            settings: Arc::new(settings),
            keep: PhantomData,
        }
    }
}

impl<K> Clone for ShutdownLayer<K> {
    fn clone(&self) -> Self {
        ShutdownLayer {
            settings: self.settings.clone(),
            keep: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for ShutdownLayer<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownLayer")
            .field("keep", &std::any::type_name::<K>())
            .field("settings", &self.settings)
            .finish()
    }
}

impl<S, K> Layer<S> for ShutdownLayer<K> {
    type Service = ShutdownService<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        ShutdownService {
            inner,
            settings: self.settings.clone(),
            pending: None,
            keep: PhantomData,
        }
    }
}

/// The service [`ShutdownLayer`] makes: see there.
pub struct ShutdownService<S, K = InBody> {
    inner: S,
    settings: Arc<Settings>,
    /// The admission of the request being called, across the inner call (see `admit`); `None`
    /// outside it.
    pending: Option<Admission>,
    keep: PhantomData<fn() -> K>,
}

impl<S, K> ShutdownService<S, K> {
    /// Wraps `inner`, as [`ShutdownLayer::layer`] does.
    pub fn new(inner: S, layer: &ShutdownLayer<K>) -> Self {
        layer.layer(inner)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Admits `request` and calls the inner service with it, or refuses it.
    #[inline]
    fn admit<ReqBody>(&mut self, request: Request<ReqBody>) -> ResponseFuture<S::Future, K>
    where
        S: Service<Request<ReqBody>>,
    {
        let settings = &self.settings;
        let path = request.uri().path();
        if settings.is_exempt(path) {
            return ResponseFuture::exempt(self.inner.call(request));
        }
        let http1 = request.version() <= http::Version::HTTP_11;
        match settings.shutdown.enter() {
            Ok(guard) => {
                let entry = settings.table.as_ref().map(|table| {
                    // Nothing the record keeps points into the request (see `record`), which
                    // the inner call can then take where it is instead of from a copy.
                    table.record(request.method(), path)
                });
                // Behind the server, which collects around its call: straight into the
                // request's slot there (see `handoff`), no move into the response future and
                // none out of it at its first poll. Otherwise kept in `self` across the inner
                // call, not on this frame: a value this frame would drop if the call unwound
                // gives the call a landing pad, and the compiler then makes the inner future
                // aside and copies it into the response future (an axum router's 320 bytes:
                // 64 instructions a request, callgrind). Were the call to unwind, the
                // admission would go with the service (or stay with the server).
                handoff::hand_or_keep(guard, entry, &mut self.pending);
                let future = self.inner.call(request);
                // (`pending` read back even when handed over: a choice here made the compiler
                // build the response future aside and copy it, 360 bytes with axum.)
                ResponseFuture::admitted(future, self.pending.take(), http1)
            }
            Err(_) => {
                // Relaxed: a count, as in `refused`.
                settings.refused.fetch_add(1, Ordering::Relaxed);
                let_go(request);
                ResponseFuture::refused(settings.retry_after.clone(), http1)
            }
        }
    }
}

/// Drops a refused request, given by value to a call of its own rather than dropped where it
/// lies: a drop in place hands the request's address to its destructor, and the compiler,
/// which then no longer knows who may write the request (in the server's loop, the next
/// iteration is reachable from here), copies it once more before an admitted request's inner
/// call (264 bytes with hyper's body: 52 instructions a request behind the server, callgrind).
#[inline(never)]
fn let_go<B>(request: Request<B>) {
    drop(request);
}

impl<S: Clone, K> Clone for ShutdownService<S, K> {
    fn clone(&self) -> Self {
        ShutdownService {
            inner: self.inner.clone(),
            settings: self.settings.clone(),
            pending: None,
            keep: PhantomData,
        }
    }
}

impl<S: std::fmt::Debug, K> std::fmt::Debug for ShutdownService<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownService")
            .field("inner", &self.inner)
            .field("keep", &std::any::type_name::<K>())
            .field("settings", &self.settings)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ShutdownService<S, InBody>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<GuardedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, InBody>;

    /// The inner service's readiness. A refused request does not use the readiness it
    /// reserved; services that ration it (tower's `ConcurrencyLimit`, `Buffer`) should sit
    /// outside this layer, not inside.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        self.admit(request)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ShutdownService<S, ForServer>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ForServer>;

    /// As for the default layer: see there.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        self.admit(request)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::{ready, Ready};

    use bytes::Bytes;
    use http::{Request, Response, StatusCode, Version};
    use http_body_util::{BodyExt, Full};
    use winddown_core::{Reason, Shutdown};

    use super::*;

    #[derive(Clone)]
    struct Hello;

    impl Service<Request<()>> for Hello {
        type Response = Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: Request<()>) -> Self::Future {
            ready(Ok(Response::new(Full::new(Bytes::from_static(b"hello")))))
        }
    }

    fn request(version: Version) -> Request<()> {
        Request::get("/x").version(version).body(()).unwrap()
    }

    #[test]
    fn the_guard_rides_the_body_until_its_end() {
        futures_lite::future::block_on(async {
            let shutdown = Shutdown::new();
            let mut service = ShutdownLayer::new(&shutdown).layer(Hello);
            let response = service.call(request(Version::HTTP_11)).await.unwrap();
            assert_eq!(shutdown.in_flight(), 1);
            assert!(response.body().is_admitted());
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, "hello");
            assert_eq!(shutdown.in_flight(), 0);
        });
    }

    #[test]
    fn dropping_the_body_releases_the_guard() {
        futures_lite::future::block_on(async {
            let shutdown = Shutdown::new();
            let mut service = ShutdownLayer::new(&shutdown).layer(Hello);
            let response = service.call(request(Version::HTTP_11)).await.unwrap();
            assert_eq!(shutdown.in_flight(), 1);
            drop(response);
            assert_eq!(shutdown.in_flight(), 0);
        });
    }

    #[test]
    fn after_the_close_requests_are_refused_with_503() {
        futures_lite::future::block_on(async {
            let shutdown = Shutdown::new();
            let mut service = ShutdownLayer::new(&shutdown)
                .retry_after(Duration::from_millis(1500))
                .layer(Hello);
            shutdown.trigger(Reason::requested());
            shutdown.close();
            let response = service.call(request(Version::HTTP_11)).await.unwrap();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()["connection"], "close");
            assert_eq!(response.headers()["retry-after"], "2");
            assert!(!response.body().is_admitted());
            assert_eq!(shutdown.refused(), 1);
            assert_eq!(
                ShutdownLayer::new(&shutdown).refused(),
                0,
                "a layer of its own"
            );
            let h2 = service.call(request(Version::HTTP_2)).await.unwrap();
            assert_eq!(h2.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(!h2.headers().contains_key("connection"));
        });
    }

    #[test]
    fn admitted_before_the_close_answered_after_it_says_connection_close() {
        futures_lite::future::block_on(async {
            let shutdown = Shutdown::new();
            let mut service = ShutdownLayer::new(&shutdown).layer(Hello);
            let future = service.call(request(Version::HTTP_11));
            shutdown.trigger(Reason::requested());
            shutdown.close();
            let response = future.await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()["connection"], "close");
            assert!(!shutdown.is_drained());
            drop(response);
            assert!(shutdown.is_drained());
        });
    }

    fn get(path: &str) -> Request<()> {
        Request::get(path).body(()).unwrap()
    }

    /// Polls `future` once, inside a server's collecting scope: what it answered, and the
    /// admission it handed over.
    #[cfg(feature = "hyper")]
    fn answer_collected<F: std::future::Future>(future: F) -> (F::Output, Option<Admission>) {
        let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        let mut handed = None;
        let Poll::Ready(output) = handoff::collect(&mut handed, || future.as_mut().poll(&mut cx))
        else {
            panic!("the service answers at once")
        };
        (output, handed)
    }

    #[cfg(feature = "hyper")]
    struct Noop;

    #[cfg(feature = "hyper")]
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    #[cfg(feature = "hyper")]
    #[test]
    fn behind_a_server_the_admission_leaves_with_the_response() {
        let shutdown = Shutdown::new();
        let mut service = ShutdownLayer::new(&shutdown).layer(Hello);
        let (response, handed) = answer_collected(service.call(request(Version::HTTP_11)));
        let response = response.unwrap();
        // The server has the guard; the body carries none.
        assert!(!response.body().is_admitted());
        let handed = handed.expect("the admission, handed over with the response");
        drop(response);
        assert_eq!(
            shutdown.in_flight(),
            1,
            "the server keeps it until the bytes are out"
        );
        drop(handed);
        assert_eq!(shutdown.in_flight(), 0);
    }

    #[cfg(feature = "hyper")]
    #[test]
    fn for_server_the_body_keeps_its_type_and_the_server_takes_the_admission() {
        let shutdown = Shutdown::new();
        let plan = Plan::new(shutdown.clone(), winddown_core::Config::default());
        let layer = ShutdownLayer::new(&shutdown).name_requests(&plan);
        let mut service = layer.clone().for_server().layer(Hello);
        let (response, handed) = answer_collected(service.call(get("/export")));
        let response: Response<Full<Bytes>> = response.unwrap();
        let handed = handed.expect("the admission, handed over with the response");
        // Nothing rides in the response: it holds no guard, and names nothing.
        drop(response);
        assert_eq!(shutdown.in_flight(), 1);
        assert_eq!(layer.requests_in_flight(), Some(1));
        drop(handed);
        assert_eq!(shutdown.in_flight(), 0);
        assert_eq!(layer.requests_in_flight(), Some(0));
    }

    #[cfg(feature = "hyper")]
    #[test]
    fn called_inside_a_servers_scope_the_admission_goes_over_at_once() {
        let shutdown = Shutdown::new();
        let mut service = ShutdownLayer::new(&shutdown).for_server().layer(Hello);
        let mut handed = None;
        let future = handoff::collect(&mut handed, || service.call(get("/")));
        let handed = handed.expect("handed over as the layer was called");
        // Polled outside any server's scope: the future carries nothing (alone, it would
        // put its admission in the response's extensions).
        let response = futures_lite::future::block_on(future).unwrap();
        assert!(response.extensions().is_empty());
        drop(response);
        assert_eq!(shutdown.in_flight(), 1, "the server keeps it");
        drop(handed);
        assert_eq!(shutdown.in_flight(), 0);
    }

    /// Answers `hello` at its second poll.
    #[cfg(feature = "hyper")]
    #[derive(Clone)]
    struct Later;

    #[cfg(feature = "hyper")]
    impl Service<Request<()>> for Later {
        type Response = Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = futures_lite::future::Boxed<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: Request<()>) -> Self::Future {
            Box::pin(async {
                futures_lite::future::yield_now().await;
                Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
            })
        }
    }

    /// Polls `future` inside a server's collecting scope, pending at first, then once more
    /// after `shutdown` closed: whether the admission had gone over at the first poll, the
    /// answer, and the admission the server holds.
    #[cfg(feature = "hyper")]
    fn answer_across_the_close<F, B>(
        future: F,
        shutdown: &Shutdown,
    ) -> (bool, Response<B>, Option<Admission>)
    where
        F: std::future::Future<Output = Result<Response<B>, Infallible>>,
    {
        let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        let mut handed = None;
        let first = handoff::collect(&mut handed, || future.as_mut().poll(&mut cx));
        assert!(first.is_pending());
        let early = handed.is_some();
        shutdown.trigger(Reason::requested());
        shutdown.close();
        let Poll::Ready(response) = handoff::collect(&mut handed, || future.as_mut().poll(&mut cx))
        else {
            panic!("answered at the second poll")
        };
        (early, response.unwrap(), handed)
    }

    #[cfg(feature = "hyper")]
    #[test]
    fn behind_a_server_the_admission_goes_over_at_the_first_poll_and_the_server_says_close() {
        for for_server in [false, true] {
            let shutdown = Shutdown::new();
            let layer = ShutdownLayer::new(&shutdown);
            let (early, response, handed) = if for_server {
                let future = layer.for_server().layer(Later).call(get("/"));
                answer_across_the_close(future, &shutdown)
            } else {
                let future = layer.layer(Later).call(get("/"));
                let (early, response, handed) = answer_across_the_close(future, &shutdown);
                assert!(!response.body().is_admitted(), "the server has it");
                (early, response.map(|_| Full::default()), handed)
            };
            assert!(
                early,
                "handed over at the first poll (for_server: {for_server})"
            );
            // Answered after the close: the layer leaves `Connection: close` to the server,
            // which holds the admission.
            let mut response = response;
            assert!(!response.headers().contains_key("connection"));
            handoff::answered(&mut response, &handed, true);
            assert_eq!(response.headers()["connection"], "close");
            assert_eq!(shutdown.in_flight(), 1, "the server keeps it");
            drop(handed);
            assert!(shutdown.is_drained());
        }
    }

    #[cfg(feature = "hyper")]
    #[test]
    fn two_layers_stacked_hand_both_admissions_over() {
        let (outer, inner) = (Shutdown::new(), Shutdown::new());
        let mut service = ShutdownLayer::new(&outer)
            .for_server()
            .layer(ShutdownLayer::new(&inner).for_server().layer(Hello));
        let (response, handed) = answer_collected(service.call(get("/")));
        drop(response.unwrap());
        assert_eq!((outer.in_flight(), inner.in_flight()), (1, 1));
        drop(handed.expect("both admissions, together"));
        assert_eq!((outer.in_flight(), inner.in_flight()), (0, 0));
    }

    #[test]
    fn for_server_alone_keeps_the_admission_in_the_extensions() {
        futures_lite::future::block_on(async {
            let shutdown = Shutdown::new();
            let mut service = ShutdownLayer::new(&shutdown).for_server().layer(Hello);
            let response = service.call(get("/")).await.unwrap();
            // No server took it: it lives as long as the response's extensions do.
            assert_eq!(shutdown.in_flight(), 1);
            let (mut parts, body) = response.into_parts();
            drop(body);
            assert_eq!(shutdown.in_flight(), 1);
            let extensions = std::mem::take(&mut parts.extensions);
            let copy = extensions.clone();
            drop(extensions);
            assert_eq!(
                shutdown.in_flight(),
                1,
                "a clone of the extensions keeps it"
            );
            drop(copy);
            assert_eq!(shutdown.in_flight(), 0);
        });
    }

    #[test]
    fn for_server_refuses_with_an_empty_body_of_the_inner_type() {
        futures_lite::future::block_on(async {
            let shutdown = Shutdown::new();
            let mut service = ShutdownLayer::new(&shutdown).for_server().layer(Hello);
            shutdown.trigger(Reason::requested());
            shutdown.close();
            let response: Response<Full<Bytes>> = service.call(get("/")).await.unwrap();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()["connection"], "close");
            assert_eq!(response.headers()["retry-after"], "5");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert!(body.is_empty());
            assert_eq!(shutdown.refused(), 1);
        });
    }

    #[test]
    fn exempt_paths_are_served_without_admission_and_after_the_close() {
        futures_lite::future::block_on(async {
            let shutdown = Shutdown::new();
            let plan = Plan::new(shutdown.clone(), winddown_core::Config::default());
            let layer = ShutdownLayer::new(&shutdown)
                .name_requests(&plan)
                .exempt("/livez")
                .exempt(String::from("/status"));
            let mut service = layer.layer(Hello);
            let response = service.call(get("/livez")).await.unwrap();
            assert!(!response.body().is_admitted());
            assert_eq!(shutdown.in_flight(), 0, "no guard");
            assert_eq!(layer.requests_in_flight(), Some(0), "no name");
            drop(response);
            // Only the whole path: a longer one, a prefix, one of the same length, is admitted.
            for path in ["/livez/x", "/live", "/livey", "/"] {
                let response = service.call(get(path)).await.unwrap();
                assert!(response.body().is_admitted(), "{path}");
            }
            shutdown.trigger(Reason::requested());
            shutdown.close();
            let status = service.call(get("/status?verbose")).await.unwrap();
            assert_eq!(
                status.status(),
                StatusCode::OK,
                "still served after the close"
            );
            let refused = service.call(get("/")).await.unwrap();
            assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(layer.refused(), 1);
        });
    }
}
