//! hyper's executor and timer, once, over winddown's [`Runtime`] trait: every runtime the
//! adapters implement (tokio, smol, async-std) and any other serves HTTP the same way.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use winddown_core::runtime::{BoxFuture, Runtime};

/// hyper's [`Executor`](hyper::rt::Executor) and [`Timer`](hyper::rt::Timer) over a winddown
/// [`Runtime`]: spawns with [`Runtime::spawn_detached`] (connections, HTTP/2 streams) and
/// sleeps with [`Runtime::sleep`]. Cheap to clone (one `Arc`). The server's own: its settings
/// are the server's methods, so hyper-util's builder types stay out of the API.
pub(crate) struct HyperRuntime<R> {
    runtime: Arc<R>,
}

impl<R> HyperRuntime<R> {
    /// hyper's glue over `runtime`.
    pub(crate) fn new(runtime: R) -> Self {
        HyperRuntime {
            runtime: Arc::new(runtime),
        }
    }

    /// The runtime.
    pub(crate) fn runtime(&self) -> &R {
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
    R: Runtime + 'static,
{
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let now = Instant::now();
        self.sleep_until(now.checked_add(duration).unwrap_or(now + FAR))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            runtime: self.runtime.clone(),
            deadline,
            started: Mutex::new(None),
        })
    }
}

/// Far enough to never come, for a deadline that overflows `Instant`.
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A runtime's sleep as hyper's [`Sleep`](hyper::rt::Sleep), started at its first poll: hyper
/// makes one for each request head it reads (the header read timeout) and drops it unpolled
/// when the head is there at once, so most never need a timer of the runtime at all.
///
/// hyper's `Sleep` must be `Sync`: the mutex makes it so without asking the runtime's sleep to
/// be (async-std's is not). It is never locked: polling goes through `&mut`
/// ([`Mutex::get_mut`]).
struct HyperSleep<R: Runtime> {
    runtime: Arc<R>,
    deadline: Instant,
    started: Mutex<Option<BoxFuture<()>>>,
}

impl<R: Runtime> Future for HyperSleep<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let started = this
            .started
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let sleep = match started {
            Some(sleep) => sleep,
            None => {
                let left = this.deadline.saturating_duration_since(Instant::now());
                started.insert(this.runtime.sleep(left))
            }
        };
        sleep.as_mut().poll(cx)
    }
}

impl<R> hyper::rt::Sleep for HyperSleep<R> where R: Runtime + 'static {}
