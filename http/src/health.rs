//! Readiness and liveness probes as tower services.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use tower_service::Service;
use winddown_core::Shutdown;

/// A readiness probe: `200 ready` while the shutdown is running, `503 not ready` from the
/// trigger on.
///
/// The trigger comes first, then the plan's `pre_stop` delay, then the close of admissions: so
/// during `pre_stop` this probe already says `503` while [`ShutdownLayer`](crate::ShutdownLayer)
/// still admits and serves every request. That is the window in which a load balancer (or
/// Kubernetes' endpoint controller) notices and stops routing here; set `pre_stop` longer than
/// its check interval times its failure threshold.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use axum::Router;
/// use winddown::Shutdown;
/// use winddown::http::{Liveness, Readiness};
///
/// let shutdown = Shutdown::new();
/// let app: Router = Router::new()
///     .route_service("/readyz", Readiness::new(&shutdown))
///     .route_service("/livez", Liveness::new());
/// ```
#[derive(Debug, Clone)]
pub struct Readiness {
    shutdown: Shutdown,
}

impl Readiness {
    /// The readiness of `shutdown`.
    pub fn new(shutdown: &Shutdown) -> Self {
        Readiness {
            shutdown: shutdown.clone(),
        }
    }
}

impl<B> Service<Request<B>> for Readiness {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        let response = if !self.shutdown.is_triggered() {
            text(StatusCode::OK, "ready\n")
        } else {
            text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
        };
        ready(Ok(response))
    }
}

/// A liveness probe: `200 alive` for as long as the process answers, the shutdown included
/// (a probe that failed during the drain would get the process killed before it finished).
///
/// # Examples
///
/// See [`Readiness`].
#[derive(Debug, Clone, Default)]
pub struct Liveness {
    _private: (),
}

impl Liveness {
    /// The liveness probe.
    pub fn new() -> Self {
        Liveness { _private: () }
    }
}

impl<B> Service<Request<B>> for Liveness {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        ready(Ok(text(StatusCode::OK, "alive\n")))
    }
}

pub(crate) fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
