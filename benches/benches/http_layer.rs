//! H4: what `ShutdownLayer` adds to one request, without the network: a trivial service called
//! through the layer, its response body polled to the end, on one thread.
//!
//! Arms: the bare service; the layer (admission only); the layer naming requests (the
//! lock-free record of method, path and start). Each iteration builds the same small request
//! and polls the future and the body once each (they are ready at once), so the differences
//! between arms are the layer's own work: the guard, the record, the two wrappers.

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower_layer::Layer;
use tower_service::Service;
use winddown_core::{Config, Plan, Shutdown};
use winddown_http::ShutdownLayer;

/// Nothing is ever pending here: the waker is never used.
struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

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
        ready(Ok(Response::new(Full::new(Bytes::from_static(b"hello\n")))))
    }
}

/// One request through `service`: call (on a clone, as hyper does), then the body to its end.
fn one<S, B>(service: &S, cx: &mut Context<'_>)
where
    S: Service<Request<()>, Response = Response<B>> + Clone,
    B: Body,
{
    let request = Request::get("/export/report.csv").body(()).unwrap();
    let mut service = service.clone();
    let future = pin!(service.call(black_box(request)));
    let Poll::Ready(Ok(response)) = future.poll(cx) else {
        panic!("the service answers at once")
    };
    let mut body = pin!(response.into_body());
    while let Poll::Ready(Some(frame)) = body.as_mut().poll_frame(cx) {
        black_box(frame.is_ok());
    }
}

fn h4(c: &mut Criterion) {
    let mut group = c.benchmark_group("h4");
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    group.bench_function("bare service", |b| b.iter(|| one(&Hello, &mut cx)));

    let shutdown = Shutdown::new();
    let layered = ShutdownLayer::new(&shutdown).layer(Hello);
    group.bench_function("with the layer", |b| b.iter(|| one(&layered, &mut cx)));

    let plan = Plan::new(shutdown.clone(), Config::default());
    let named = ShutdownLayer::new(&shutdown)
        .name_requests(&plan)
        .layer(Hello);
    group.bench_function("with the layer, naming requests", |b| {
        b.iter(|| one(&named, &mut cx))
    });
    group.finish();
}

criterion_group!(benches, h4);
criterion_main!(benches);
