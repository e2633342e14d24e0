//! The response future of the layer.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::header::{CONNECTION, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use pin_project_lite::pin_project;

use super::body::{Admission, GuardedBody};

pin_project! {
    /// The response future of [`ShutdownService`](crate::ShutdownService): the inner service's
    /// future for an admitted request (holding its admission), or the `503` for a refused one.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Admitted {
            #[pin]
            future: F,
            admission: Option<Admission>,
        },
        Refused {
            retry_after: Option<HeaderValue>,
            http1: bool,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn admitted(future: F, admission: Admission) -> Self {
        ResponseFuture {
            kind: Kind::Admitted {
                future,
                admission: Some(admission),
            },
        }
    }

    pub(crate) fn refused(retry_after: HeaderValue, http1: bool) -> Self {
        ResponseFuture {
            kind: Kind::Refused {
                retry_after: Some(retry_after),
                http1,
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<GuardedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted { future, admission } => {
                let response = ready!(future.poll(cx))?;
                let Some(admission) = admission.take() else {
                    panic!("ResponseFuture polled after completion");
                };
                let close = admission.should_close();
                let mut response = response.map(|body| GuardedBody::admitted(body, admission));
                if close {
                    response
                        .headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                Poll::Ready(Ok(response))
            }
            KindProj::Refused { retry_after, http1 } => {
                let mut response = Response::new(GuardedBody::empty());
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                let headers = response.headers_mut();
                if *http1 {
                    // HTTP/2 has no `Connection` header (the server's GOAWAY does that job).
                    headers.insert(CONNECTION, HeaderValue::from_static("close"));
                }
                if let Some(retry_after) = retry_after.take() {
                    headers.insert(RETRY_AFTER, retry_after);
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.kind {
            Kind::Admitted { .. } => "admitted",
            Kind::Refused { .. } => "refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
