//! A gRPC service written the way tonic's code generator writes one, by hand (no `protoc`):
//! `winddown.example.Greeter`, with a unary call and a server-streaming one.
//!
//! ```text
//! service Greeter {
//!   rpc SayHello (HelloRequest) returns (HelloReply);       // after `delay_ms`
//!   rpc Ticks (TicksRequest) returns (stream Tick);          // one every `every_ms`, forever
//! }
//! ```
//!
//! The messages are prost structs derived by hand from that definition. Shared by
//! `examples/tonic.rs` and `tests/grpc.rs`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use tonic::server::{Grpc, NamedService, ServerStreamingService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// The service's full name.
pub(crate) const SERVICE: &str = "winddown.example.Greeter";
/// The unary call's path.
pub(crate) const SAY_HELLO: &str = "/winddown.example.Greeter/SayHello";
/// The server-streaming call's path.
pub(crate) const TICKS: &str = "/winddown.example.Greeter/Ticks";

/// `SayHello`'s request.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HelloRequest {
    /// Who to greet.
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    /// How long to take over it, in milliseconds.
    #[prost(uint64, tag = "2")]
    pub(crate) delay_ms: u64,
}

/// `SayHello`'s reply.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HelloReply {
    /// `hello NAME`.
    #[prost(string, tag = "1")]
    pub(crate) message: String,
}

/// `Ticks`'s request.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TicksRequest {
    /// Milliseconds between two ticks.
    #[prost(uint64, tag = "1")]
    pub(crate) every_ms: u64,
}

/// One tick of `Ticks`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Tick {
    /// Its number, from 1.
    #[prost(uint64, tag = "1")]
    pub(crate) n: u64,
}

/// A boxed future of the service's.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// How the service sleeps (its runtime's timer).
pub(crate) type Sleep = Arc<dyn Fn(Duration) -> BoxFuture<()> + Send + Sync>;

/// The Greeter: tonic's server side of it, as a tower service.
#[derive(Clone)]
pub(crate) struct Greeter {
    sleep: Sleep,
    /// `SayHello` calls that have started.
    pub(crate) hellos: Arc<AtomicUsize>,
}

impl Greeter {
    /// A Greeter that sleeps with `sleep`.
    pub(crate) fn new(sleep: Sleep) -> Self {
        Greeter {
            sleep,
            hellos: Arc::default(),
        }
    }
}

impl NamedService for Greeter {
    const NAME: &'static str = SERVICE;
}

struct SayHello(Greeter);

impl UnaryService<HelloRequest> for SayHello {
    type Response = HelloReply;
    type Future = BoxFuture<Result<Response<HelloReply>, Status>>;

    fn call(&mut self, request: Request<HelloRequest>) -> Self::Future {
        let greeter = self.0.clone();
        Box::pin(async move {
            greeter.hellos.fetch_add(1, Ordering::SeqCst);
            let request = request.into_inner();
            (greeter.sleep)(Duration::from_millis(request.delay_ms)).await;
            Ok(Response::new(HelloReply {
                message: format!("hello {}", request.name),
            }))
        })
    }
}

struct TicksCall(Greeter);

impl ServerStreamingService<TicksRequest> for TicksCall {
    type Response = Tick;
    type ResponseStream = TickStream;
    type Future = BoxFuture<Result<Response<TickStream>, Status>>;

    fn call(&mut self, request: Request<TicksRequest>) -> Self::Future {
        let every = Duration::from_millis(request.into_inner().every_ms.max(1));
        let stream = TickStream {
            sleep: self.0.sleep.clone(),
            every,
            next: Box::pin(async {}),
            n: 0,
        };
        Box::pin(async move { Ok(Response::new(stream)) })
    }
}

/// The ticks of one `Ticks` call: the first at once, then one every `every`, forever.
pub(crate) struct TickStream {
    sleep: Sleep,
    every: Duration,
    next: BoxFuture<()>,
    n: u64,
}

impl Stream for TickStream {
    type Item = Result<Tick, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.next.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.n += 1;
        this.next = (this.sleep)(this.every);
        Poll::Ready(Some(Ok(Tick { n: this.n })))
    }
}

impl<B> tower_service::Service<http::Request<B>> for Greeter
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let greeter = self.clone();
        match request.uri().path() {
            SAY_HELLO => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<HelloReply, HelloRequest>::default());
                Ok(grpc.unary(SayHello(greeter), request).await)
            }),
            TICKS => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<Tick, TicksRequest>::default());
                Ok(grpc.server_streaming(TicksCall(greeter), request).await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}
