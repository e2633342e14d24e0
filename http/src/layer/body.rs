//! The response body that carries the request's admission until it has been sent.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use winddown_core::{Guard, Phase};

use super::handoff;
use crate::in_flight::Entry;

/// An admitted request: its guard and its record. Released when the response body ends (or,
/// behind [`Server`](crate::Server), once the server has written the response out).
pub(crate) struct Admission {
    /// Dropped with the record: the request leaves the record as it leaves the drain count.
    guard: Guard,
    _entry: Option<Entry>,
    /// The admission of another layer on the same request (two layers stacked), released
    /// with this one.
    carried: Option<Box<Admission>>,
}

impl Admission {
    pub(crate) fn new(guard: Guard, entry: Option<Entry>) -> Self {
        Admission {
            guard,
            _entry: entry,
            carried: None,
        }
    }

    /// Whether admissions have closed since this one was admitted, or since one it carries
    /// was (an HTTP/1 response then says `Connection: close`).
    #[inline]
    pub(crate) fn is_closing(&self) -> bool {
        self.guard.phase() >= Phase::StoppingNewRequests
            || self
                .carried
                .as_ref()
                .is_some_and(|carried| carried.is_closing())
    }

    /// Keeps `other` (the same request's admission by another layer) until this one goes.
    pub(crate) fn carry(&mut self, other: Admission) {
        match &mut self.carried {
            Some(carried) => carried.carry(other),
            None => self.carried = Some(Box::new(other)),
        }
    }

    /// Puts this admission in `extensions`, where it lives as long as they do: how a
    /// [`ForServer`](crate::ForServer) layer's response keeps it behind a server that does
    /// not take it.
    pub(crate) fn ride_in(self, extensions: &mut http::Extensions) {
        extensions.insert(Riding {
            _admission: Arc::new(self),
        });
    }
}

/// An admission in a response's extensions (which must be `Clone`: clones share it, and it
/// is released when the last one goes).
#[derive(Clone)]
struct Riding {
    _admission: Arc<Admission>,
}

pin_project! {
    /// The response body of [`ShutdownService`](crate::ShutdownService): the inner body, and
    /// the request's admission, released when the body has yielded its last frame, failed, or
    /// been dropped (the client went away, or the connection was cut). Behind
    /// [`Server`](crate::Server), the admission goes to the server instead, which releases it
    /// once the response's bytes are written. A refused request's body is empty.
    pub struct GuardedBody<B> {
        #[pin]
        inner: Option<B>,
        admission: Option<Admission>,
    }

    impl<B> PinnedDrop for GuardedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(admission) = this.project().admission.take() {
                handoff::release(admission);
            }
        }
    }
}

impl<B> GuardedBody<B> {
    /// The body of an admitted request, carrying its admission (`None` when the server that
    /// writes it has taken it, or the request was exempt).
    pub(crate) fn admitted(inner: B, admission: Option<Admission>) -> Self {
        GuardedBody {
            inner: Some(inner),
            admission,
        }
    }

    pub(crate) fn empty() -> Self {
        GuardedBody {
            inner: None,
            admission: None,
        }
    }

    /// Whether this body still holds its request's admission (the drain waits for it).
    pub fn is_admitted(&self) -> bool {
        self.admission.is_some()
    }

    /// The inner body; `None` for a refused request's empty body.
    pub fn get_ref(&self) -> Option<&B> {
        self.inner.as_ref()
    }
}

impl<B: Body> Body for GuardedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let Some(mut inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(None);
        };
        let frame = ready!(inner.as_mut().poll_frame(cx));
        let done = match &frame {
            Some(Ok(_)) => inner.is_end_stream(),
            None | Some(Err(_)) => true,
        };
        if done {
            // The response has been handed to the server to the end (or failed): the request
            // leaves the drain, or its admission goes to the server that writes it out.
            if let Some(admission) = this.admission.take() {
                handoff::release(admission);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().map_or(true, Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Some(inner) => inner.size_hint(),
            None => SizeHint::with_exact(0),
        }
    }
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("named", &self._entry.is_some())
            .finish_non_exhaustive()
    }
}

impl<B> std::fmt::Debug for GuardedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedBody")
            .field("refused", &self.inner.is_none())
            .field("admitted", &self.admission.is_some())
            .finish()
    }
}
