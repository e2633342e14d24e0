//! hyper's executor and timer, once, over winddown's [`Runtime`] trait: every runtime the
//! adapters implement (tokio, smol, async-std) and any other serves HTTP the same way.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use winddown_core::runtime::Runtime;

/// hyper's [`Executor`](hyper::rt::Executor) and [`Timer`](hyper::rt::Timer) over a winddown
/// [`Runtime`]: spawns with [`Runtime::spawn_detached`] (connections, HTTP/2 streams) and
/// sleeps with [`Runtime::sleep`]. Cheap to clone (one `Arc`).
///
/// # Examples
///
/// A hyper-util connection builder on any winddown runtime:
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use hyper_util::server::conn::auto;
/// use winddown::http::server::HyperRuntime;
/// use winddown::smol::SmolRuntime;
///
/// let runtime = HyperRuntime::new(SmolRuntime::new());
/// let mut builder = auto::Builder::new(runtime.clone());
/// builder.http1().timer(runtime.clone());
/// builder.http2().timer(runtime);
/// ```
pub struct HyperRuntime<R> {
    runtime: Arc<R>,
}

impl<R> HyperRuntime<R> {
    /// hyper's glue over `runtime`.
    pub fn new(runtime: R) -> Self {
        HyperRuntime {
            runtime: Arc::new(runtime),
        }
    }

    /// The runtime.
    pub fn runtime(&self) -> &R {
        &self.runtime
    }
}

impl<R> Clone for HyperRuntime<R> {
    fn clone(&self) -> Self {
        HyperRuntime {
            runtime: self.runtime.clone(),
        }
    }
}

impl<R> fmt::Debug for HyperRuntime<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperRuntime")
            .field("runtime", &std::any::type_name::<R>())
            .finish()
    }
}

impl<R, F> hyper::rt::Executor<F> for HyperRuntime<R>
where
    R: Runtime,
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, future: F) {
        self.runtime.spawn_detached(Box::pin(future));
    }
}

impl<R> hyper::rt::Timer for HyperRuntime<R>
where
    R: Runtime,
    R::Sleep: 'static,
{
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            inner: Mutex::new(Box::pin(self.runtime.sleep(duration))),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep(deadline.saturating_duration_since(Instant::now()))
    }
}

/// A runtime's sleep as hyper's [`Sleep`](hyper::rt::Sleep), which must be `Sync`: the mutex
/// makes it so without asking the runtime's sleep to be (async-std's is not). It is never
/// locked: polling goes through `&mut` ([`Mutex::get_mut`]).
struct HyperSleep<S> {
    inner: Mutex<Pin<Box<S>>>,
}

impl<S: Future<Output = ()>> Future for HyperSleep<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self
            .get_mut()
            .inner
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.as_mut().poll(cx)
    }
}

impl<S: Future<Output = ()> + Send + 'static> hyper::rt::Sleep for HyperSleep<S> {}
