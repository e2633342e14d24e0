//! The response future of the layer.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::header::{CONNECTION, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use pin_project_lite::pin_project;

use super::body::{Admission, GuardedBody};
use super::handoff;
use super::{ForServer, InBody};

pin_project! {
    /// The response future of [`ShutdownService`](crate::ShutdownService): the inner service's
    /// future for an admitted request (holding its admission), or the `503` for a refused one.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, K = InBody> {
        #[pin]
        kind: Kind<F>,
        // Beside the inner future, not in its variant: the future is then made where it
        // stays (the variant's other fields made the compiler build it elsewhere and copy
        // it twice, a few hundred bytes for an axum router's future).
        admission: Option<Admission>,
        http1: bool,
        keep: PhantomData<fn() -> K>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Admitted {
            #[pin]
            future: F,
        },
        Refused {
            retry_after: Option<HeaderValue>,
        },
        Exempt {
            #[pin]
            future: F,
        },
    }
}

impl<F, K> ResponseFuture<F, K> {
    /// An admitted request's future, with its admission (always `Some`: an `Option` as the
    /// service keeps it across the inner call).
    #[inline]
    pub(crate) fn admitted(future: F, admission: Option<Admission>, http1: bool) -> Self {
        ResponseFuture {
            kind: Kind::Admitted { future },
            admission,
            http1,
            keep: PhantomData,
        }
    }

    pub(crate) fn exempt(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Exempt { future },
            admission: None,
            http1: false,
            keep: PhantomData,
        }
    }

    pub(crate) fn refused(retry_after: HeaderValue, http1: bool) -> Self {
        ResponseFuture {
            kind: Kind::Refused {
                retry_after: Some(retry_after),
            },
            admission: None,
            http1,
            keep: PhantomData,
        }
    }
}

/// The `503` of a refused request, with `body`.
fn refusal<B>(body: B, retry_after: Option<HeaderValue>, http1: bool) -> Response<B> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    if http1 {
        // HTTP/2 has no `Connection` header (the server's GOAWAY does that job).
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some(retry_after) = retry_after {
        headers.insert(RETRY_AFTER, retry_after);
    }
    response
}

impl<F, K> ResponseFuture<F, K> {
    /// The poll both kinds share, finished by the kind's own three ends: an admitted request's
    /// response, answered (see [`handoff::answered`]), with the admission it is to carry
    /// (`None`: handed to the server, as the layer was called or at this future's first
    /// poll); a refused request's `Retry-After` and `http1`, for its `503`; an exempt
    /// request's response. Closures, each result wrapped where it is made: a returned enum of
    /// the three cost 36 instructions a request more (callgrind,
    /// `benches/bin/layer_instructions`), the response moved through one more value.
    #[inline]
    fn poll_answer<B, E, O>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        admitted: impl FnOnce(Response<B>, Option<Admission>) -> O,
        refused: impl FnOnce(Option<HeaderValue>, bool) -> O,
        exempt: impl FnOnce(Response<B>) -> O,
    ) -> Poll<Result<O, E>>
    where
        F: Future<Output = Result<Response<B>, E>>,
    {
        let this = self.project();
        let (admission, http1) = (this.admission, *this.http1);
        match this.kind.project() {
            KindProj::Admitted { future } => {
                handoff::hand_over_early(admission);
                let mut response = ready!(future.poll(cx))?;
                // Not behind the server (it would have taken the admission above).
                handoff::answered(&mut response, admission, http1);
                Poll::Ready(Ok(admitted(response, admission.take())))
            }
            KindProj::Refused { retry_after } => {
                Poll::Ready(Ok(refused(retry_after.take(), http1)))
            }
            KindProj::Exempt { future } => Poll::Ready(Ok(exempt(ready!(future.poll(cx))?))),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, InBody>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<GuardedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_answer(
            cx,
            // Alone, the body carries the admission to its end.
            |response, admission| response.map(|body| GuardedBody::admitted(body, admission)),
            |retry_after, http1| refusal(GuardedBody::empty(), retry_after, http1),
            |response| response.map(|body| GuardedBody::admitted(body, None)),
        )
    }
}

impl<F, B, E> Future for ResponseFuture<F, ForServer>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    // Always: behind the server, a hand-over and the inner future's poll, whose frame of its
    // own cost 14 instructions a request (callgrind), and which the compiler's estimate of
    // the server's large poll left out of line.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Not `poll_answer`: the output is the inner future's, so its poll is returned as it
        // is (unwrapped and wrapped again, the response cost 28 instructions a request more
        // behind the server, callgrind).
        let this = self.project();
        let (admission, http1) = (this.admission, *this.http1);
        match this.kind.project() {
            KindProj::Admitted { future } => {
                handoff::hand_over_early(admission);
                if admission.is_none() {
                    // Behind the server, which has the admission: the inner future's poll is
                    // this one's, its response left where the inner future put it (looked at
                    // here, it was made aside and copied into place, 128 bytes with axum,
                    // about 50 instructions a request with the frame it needed, callgrind).
                    return future.poll(cx);
                }
                poll_alone(future, cx, admission, http1)
            }
            KindProj::Refused { retry_after } => {
                Poll::Ready(Ok(refusal(B::default(), retry_after.take(), http1)))
            }
            KindProj::Exempt { future } => future.poll(cx),
        }
    }
}

/// A [`ForServer`] future's poll with no server collecting its admission: the response says
/// `Connection: close` if it must (HTTP/1), and the admission lives as long as its
/// extensions. Out of line: the poll behind the server is then small enough to inline.
#[inline(never)]
fn poll_alone<F, B, E>(
    future: Pin<&mut F>,
    cx: &mut Context<'_>,
    admission: &mut Option<Admission>,
    http1: bool,
) -> Poll<Result<Response<B>, E>>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    let mut poll = future.poll(cx);
    if let Poll::Ready(Ok(response)) = &mut poll {
        handoff::answered(response, admission, http1);
        if let Some(admission) = admission.take() {
            admission.ride_in(response.extensions_mut());
        }
    }
    poll
}

impl<F, K> std::fmt::Debug for ResponseFuture<F, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.kind {
            Kind::Admitted { .. } => "admitted",
            Kind::Refused { .. } => "refused",
            Kind::Exempt { .. } => "exempt",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
