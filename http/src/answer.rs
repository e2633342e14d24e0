//! The probes' and the status page's shared shape: a tower service that is always ready,
//! never fails, and answers at once with a small body it makes on the spot.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// The response of a service that answers at once.
pub(crate) type Answer = Response<Full<Bytes>>;

/// Implements `Service<Request<B>>` for `$service`, answering with `$answer` (an [`Answer`]),
/// made from `$this` (the service, `&mut`) and `$request` (the request).
macro_rules! answers_at_once {
    ($service:ty, |$this:ident, $request:ident| $answer:expr) => {
        impl<B> tower_service::Service<http::Request<B>> for $service {
            type Response = $crate::answer::Answer;
            type Error = std::convert::Infallible;
            type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

            fn poll_ready(
                &mut self,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Self::Error>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn call(&mut self, $request: http::Request<B>) -> Self::Future {
                let $this = self;
                std::future::ready(Ok($answer))
            }
        }
    };
}
pub(crate) use answers_at_once;

/// `status` with `body` as `content_type`, never cached (a probe's answer is of its moment).
pub(crate) fn answer(status: StatusCode, body: Bytes, content_type: &'static str) -> Answer {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `status` with a short text.
pub(crate) fn text(status: StatusCode, body: &'static str) -> Answer {
    answer(
        status,
        Bytes::from_static(body.as_bytes()),
        "text/plain; charset=utf-8",
    )
}
