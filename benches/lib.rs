//! Benchmarks for winddown, side by side with its peers. Not published.
//!
//! The bench targets live in `benches/benches/`:
//!
//! - `guard` (criterion): P1, one owned guard entered and left on one thread, for winddown, the
//!   atomic floor and every peer that has an equivalent, in one criterion group.
//! - `scaling`: P2, two threads each with its own handle clone entering and leaving in a loop,
//!   throughput of two threads ÷ throughput of one, with a private per-thread atomic as the
//!   control that says whether the two cores really ran in parallel.
//! - `sizes`: P5, `size_of` of each guard and handle, allocations per enter+leave, and heap bytes
//!   per parked waiter, counted with [`CountingAlloc`] as the global allocator.
//! - `wake` (criterion): P4, the last guard dropped until a parked `drained()` waiter has
//!   resumed, beside a bare [`FlagEvent`] (an `event_listener::Event` and a flag) in the same
//!   harness: polled by hand, and as tasks on a tokio current-thread runtime.
//! - `sequence` (criterion): P8, the whole shutdown sequence with ten no-op resources, on the
//!   virtual clock and on tokio, beside signal-mod's `run_hooks`.
//! - `wakeall`: P3, trigger until N parked tasks have all finished, on tokio's current-thread and
//!   two-worker runtimes, for winddown, the [`FlagEvent`] floor and the peers; each arm runs in a
//!   process of its own (the binary starts itself once per arm and round).
//! - `stop`: P6, the demo daemon (`examples/demo/daemon.rs`, release build) idle, from SIGTERM sent
//!   until the process has exited, beside `bare_daemon` (`benches/bin/bare_daemon.rs`, a bare
//!   tokio daemon built as a binary of this package), child processes run interleaved.
//!
//! `benches/report.sh` runs them all and writes `BENCHMARKS.md` from what they print. The
//! helpers here are shared by those targets.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use event_listener::{Event, EventListener};

// ===== impl CountingAlloc =====

/// A global allocator that forwards to [`System`] and counts allocations and bytes.
///
/// Install it with `#[global_allocator]` in a bench binary, then read [`CountingAlloc::snapshot`]
/// before and after the code under test. Counts are process-wide: measure on one thread while
/// no other thread allocates.
#[derive(Debug)]
pub struct CountingAlloc {
    allocs: AtomicU64,
    bytes: AtomicU64,
    /// Bytes held now: added on allocation, taken off on deallocation (wrapping).
    live: AtomicU64,
}

/// What a [`CountingAlloc`] has counted so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocCount {
    /// Calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub allocs: u64,
    /// Bytes requested by those calls.
    pub bytes: u64,
}

impl AllocCount {
    /// The counts between `earlier` and `self`.
    #[must_use]
    pub fn since(self, earlier: Self) -> Self {
        Self {
            allocs: self.allocs - earlier.allocs,
            bytes: self.bytes - earlier.bytes,
        }
    }
}

impl CountingAlloc {
    /// A counter at zero.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            allocs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            live: AtomicU64::new(0),
        }
    }

    /// Heap bytes held now, through this allocator: compare two readings with
    /// `wrapping_sub` (as `i64`) for what was kept in between.
    pub fn live_bytes(&self) -> u64 {
        self.live.load(Ordering::SeqCst)
    }

    /// The counts so far.
    pub fn snapshot(&self) -> AllocCount {
        AllocCount {
            allocs: self.allocs.load(Ordering::SeqCst),
            bytes: self.bytes.load(Ordering::SeqCst),
        }
    }

    fn count(&self, size: usize) {
        self.allocs.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(size as u64, Ordering::Relaxed);
        self.live.fetch_add(size as u64, Ordering::Relaxed);
    }
}

impl Default for CountingAlloc {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; the counters are plain atomics.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count(layout.size());
        // SAFETY: forwarded with the caller's layout, which the caller guarantees is valid.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.live.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count(new_size);
        self.live.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` through this allocator with `layout`; the caller
        // guarantees `new_size` is valid for it.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

// ===== impl CachePadded =====

/// A value on its own cache line pair (128 bytes, as crossbeam pads on x86-64), so that two
/// threads each owning one never share a line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct CachePadded<T>(pub T);

// ===== impl FlagEvent =====

/// The floor for waiting on a one-shot trigger: a flag and a bare `event_listener::Event`,
/// notified with `notify(usize::MAX)` after the flag is set.
///
/// Its waiter ([`FlagEvent::wait`]) is the same check, listen, check again loop that winddown's
/// waiters run, so the two differ only in what winddown adds around the event.
#[derive(Debug, Default)]
pub struct FlagEvent {
    flag: AtomicBool,
    event: Event,
}

impl FlagEvent {
    /// An unset flag.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        // memory ordering: Release publishes what preceded the set; `notify` emits a SeqCst
        // fence before it reads the listener list, pairing with the one `listen` emits.
        self.flag.store(true, Ordering::Release);
        self.event.notify(usize::MAX);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// A future that completes once the flag is set.
    pub fn wait(&self) -> FlagWait<&Self> {
        FlagWait::new(self)
    }

    /// The owned form of [`wait`](Self::wait).
    pub fn wait_owned(self: &Arc<Self>) -> FlagWait<Arc<Self>> {
        FlagWait::new(Arc::clone(self))
    }
}

/// The future of [`FlagEvent::wait`]: cancel-safe (dropping it unregisters its listener).
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct FlagWait<S> {
    source: S,
    listener: Option<EventListener>,
}

impl<S> FlagWait<S> {
    fn new(source: S) -> Self {
        Self {
            source,
            listener: None,
        }
    }
}

impl<S: Deref<Target = FlagEvent> + Unpin> Future for FlagWait<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            if this.source.is_set() {
                this.listener = None;
                return Poll::Ready(());
            }
            match &mut this.listener {
                None => this.listener = Some(this.source.event.listen()),
                Some(listener) => match Pin::new(listener).poll(cx) {
                    Poll::Ready(()) => this.listener = None,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}

// ===== impl Parked =====

/// Wraps a future and counts, in a shared counter, the first time it returns `Pending`: a way to
/// know that N spawned waiters have all parked before the trigger.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Parked<F> {
    inner: F,
    parked: Option<Arc<AtomicUsize>>,
}

impl<F> Parked<F> {
    /// Counts `inner`'s first `Pending` in `parked`.
    pub fn new(inner: F, parked: Arc<AtomicUsize>) -> Self {
        Self {
            inner,
            parked: Some(parked),
        }
    }
}

impl<F: Future + Unpin> Future for Parked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll(cx);
        if poll.is_pending() {
            if let Some(parked) = this.parked.take() {
                parked.fetch_add(1, Ordering::Release);
            }
        }
        poll
    }
}

// ===== wakers =====

/// A waker that only counts its wake-ups: for polling futures by hand.
#[derive(Debug, Default)]
pub struct WakeCounter(AtomicUsize);

impl WakeCounter {
    /// A counter at zero and a waker that increments it.
    #[must_use]
    pub fn waker() -> (Arc<Self>, Waker) {
        let counter = Arc::new(Self::default());
        let waker = Waker::from(Arc::clone(&counter));
        (counter, waker)
    }

    /// Wake-ups so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Wake for WakeCounter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Polls `future` once with `cx`; whether it completed.
pub fn poll_once<F: Future + Unpin>(future: &mut F, cx: &mut Context<'_>) -> bool {
    Pin::new(future).poll(cx).is_ready()
}

// ===== parallel loops =====

/// Runs `op` `ops` times on each handle, one thread per handle, all released together by a
/// barrier, and returns the wall time from the first thread's start to the last one's end.
///
/// Thread creation is outside the timed window. Each handle is moved to its thread, so a handle
/// type that keeps per-clone state (a stripe) keeps it on that thread.
pub fn run_parallel<H, F>(handles: Vec<H>, ops: u64, op: F) -> Duration
where
    H: Send,
    F: Fn(&H) + Sync,
{
    let barrier = Barrier::new(handles.len());
    let (barrier, op) = (&barrier, &op);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
        let workers: Vec<_> = handles
            .into_iter()
            .map(|handle| {
                scope.spawn(move || {
                    // Moved onto this thread's stack, far from the other threads' handles.
                    let handle = handle;
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..ops {
                        op(black_box(&handle));
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("bench thread panicked"))
            .collect()
    });
    let start = spans
        .iter()
        .map(|s| s.0)
        .min()
        .expect("at least one thread");
    let end = spans
        .iter()
        .map(|s| s.1)
        .max()
        .expect("at least one thread");
    end - start
}

// ===== machine-readable output =====

/// The prefix of every machine-readable line the custom bench targets print; `report.sh`
/// parses the lines that start with it.
pub const RECORD_PREFIX: &str = "winddown-bench-record ";

/// A value in a [`record`] line.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// A string.
    Str(&'a str),
    /// A number.
    Num(f64),
}

/// Prints one machine-readable result: [`RECORD_PREFIX`] and a flat JSON object.
pub fn record(fields: &[(&str, Value<'_>)]) {
    let mut line = String::from(RECORD_PREFIX);
    line.push('{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            line.push_str(", ");
        }
        json_str(&mut line, key);
        line.push_str(": ");
        match value {
            Value::Str(s) => json_str(&mut line, s),
            Value::Num(n) if n.is_finite() => write!(line, "{n}").expect("write to String"),
            Value::Num(_) => line.push_str("null"),
        }
    }
    line.push('}');
    println!("{line}");
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).expect("write to String"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether this bench binary was started by `cargo bench` (criterion's convention: `--bench` in
/// the arguments). Without it (as under `cargo test --benches`), a target runs a quick smoke
/// pass instead of timing.
#[must_use]
pub fn timing_requested() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The median of `values` (the mean of the two middle ones for an even count); `NaN` if empty.
#[must_use]
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The value at fraction `p` (0 to 1) of `values` sorted, nearest rank; `NaN` if empty.
#[must_use]
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A shutdown with `stripes` stripes whose admissions are closed while one guard keeps it from
/// draining.
pub fn closed_with_guard(stripes: usize) -> (winddown_core::Shutdown, winddown_core::Guard) {
    let shutdown = winddown_core::tuning::with_stripes(stripes).expect("valid stripe count");
    let guard = shutdown.enter().expect("admissions open");
    shutdown.close();
    (shutdown, guard)
}

/// A tokio-graceful shutdown that never triggers, with the runtime it needs: it spawns its
/// signal watcher on construction, so it must be made in a runtime context; the watcher waits
/// on a future that never completes, and the runtime is never driven. Keep the runtime alive
/// as long as the shutdown.
#[must_use]
pub fn idle_tokio_graceful() -> (tokio::runtime::Runtime, tokio_graceful::Shutdown) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let graceful = {
        let _entered = runtime.enter();
        tokio_graceful::Shutdown::new(std::future::pending::<()>())
    };
    (runtime, graceful)
}

// ===== P8: the whole sequence =====

/// P8's step and its runtime, shared by the `sequence` bench (criterion's times) and the
/// `sequence_runs` binary (the same step, for an instruction count under callgrind).
pub mod p8 {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    use winddown_core::runtime::{BoxFuture, Runtime, TaskOutcome};
    use winddown_core::{Config, Plan, Reason, Report, Resource, Shutdown, Status};

    /// Names of the no-op resources (and of signal-mod's hooks).
    pub const NAMES: [&str; 10] = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"];

    /// The step: makes a shutdown with `resources` no-op resources, triggers it, and runs the
    /// sequence.
    pub async fn full_run<R: Runtime>(runtime: R, resources: usize) -> Report {
        let shutdown = Shutdown::new();
        let plan = Plan::new(shutdown.clone(), Config::default());
        for name in &NAMES[..resources] {
            plan.register(Resource::new(*name, || async { Ok(()) }))
                .expect("registered before the trigger");
        }
        shutdown.trigger(Reason::requested());
        plan.run(runtime).await
    }

    /// Checks that the step did what it should: a completed stop that closed every resource.
    ///
    /// # Panics
    ///
    /// If it did not.
    pub fn check(report: &Report, resources: usize) {
        assert_eq!(report.status, Status::Completed);
        assert_eq!(report.resources.len(), resources);
    }

    /// A tokio current-thread runtime with its timer, for [`Tokio`].
    ///
    /// # Panics
    ///
    /// If tokio cannot build one.
    #[must_use]
    pub fn tokio_current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("tokio runtime")
    }

    /// The least `Runtime` for tokio: its clock, its timer, `tokio::spawn` (the real adapter
    /// lives in `winddown-adapters`; the benches do not depend on it).
    #[derive(Debug, Clone, Copy)]
    pub struct Tokio {
        origin: Instant,
    }

    impl Tokio {
        /// A clock starting now.
        #[must_use]
        pub fn new() -> Self {
            Tokio {
                origin: Instant::now(),
            }
        }
    }

    impl Default for Tokio {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Runtime for Tokio {
        fn now(&self) -> Duration {
            self.origin.elapsed()
        }

        fn sleep(&self, duration: Duration) -> BoxFuture<()> {
            Box::pin(tokio::time::sleep(duration))
        }

        fn spawn(&self, task: BoxFuture<()>) -> BoxFuture<TaskOutcome> {
            Box::pin(TokioJoin(tokio::spawn(task)))
        }

        fn spawn_detached(&self, task: BoxFuture<()>) {
            drop(tokio::spawn(task));
        }
    }

    /// A tokio `JoinHandle` that reports how its task ended, and aborts the task if dropped
    /// first.
    #[derive(Debug)]
    struct TokioJoin(tokio::task::JoinHandle<()>);

    impl Future for TokioJoin {
        type Output = TaskOutcome;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
            Pin::new(&mut self.0).poll(cx).map(|result| match result {
                Ok(()) => TaskOutcome::Finished,
                Err(error) if error.is_panic() => TaskOutcome::Panicked(None),
                Err(_) => TaskOutcome::Cancelled,
            })
        }
    }

    impl Drop for TokioJoin {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
}

// ===== the HTTP layer's requests (H4) =====

/// One request through the HTTP layer without the network, shared by the `http_layer` bench
/// (H4, criterion) and the `layer_instructions` binary (the same arms counted by callgrind).
pub mod h4 {
    use std::convert::Infallible;
    use std::future::{ready, Future, Ready};
    use std::hint::black_box;
    use std::pin::pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use http::{Request, Response};
    use http_body::Body;
    use http_body_util::Full;
    use tower_layer::Layer;
    use tower_service::Service;
    use winddown_core::{Config, Plan, Shutdown};
    use winddown_http::ShutdownLayer;

    /// A trivial service answering `hello`.
    #[derive(Debug, Clone)]
    pub struct Hello;

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

    /// The arms, by the names the bench and the report use.
    pub const ARMS: [&str; 3] = [
        "bare service",
        "with the layer",
        "with the layer, naming requests",
    ];

    /// The services of the arms (a plan kept alive for the naming one).
    #[derive(Debug)]
    pub struct Services {
        /// The layer, admission only.
        pub layered: <ShutdownLayer as Layer<Hello>>::Service,
        /// The layer naming requests.
        pub named: <ShutdownLayer as Layer<Hello>>::Service,
        _plan: Plan,
    }

    impl Services {
        /// The services, on a shutdown of their own.
        pub fn new() -> Self {
            let shutdown = Shutdown::new();
            let plan = Plan::new(shutdown.clone(), Config::default());
            Services {
                layered: ShutdownLayer::new(&shutdown).layer(Hello),
                named: ShutdownLayer::new(&shutdown)
                    .name_requests(&plan)
                    .layer(Hello),
                _plan: plan,
            }
        }

        /// One request on the arm named `arm` (one of [`ARMS`]).
        pub fn one(&self, arm: &str, cx: &mut Context<'_>) {
            match arm {
                "bare service" => one(&Hello, cx),
                "with the layer" => one(&self.layered, cx),
                _ => one(&self.named, cx),
            }
        }
    }

    impl Default for Services {
        fn default() -> Self {
            Self::new()
        }
    }

    /// One request through `service`: call (on a clone, as hyper does), then the body to its
    /// end.
    pub fn one<S, B>(service: &S, cx: &mut Context<'_>)
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
}
