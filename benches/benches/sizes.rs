//! P5: how big are the guard and the handle, does enter+leave allocate, and how much heap does a
//! parked waiter hold?
//!
//! For winddown and each peer: `size_of` the guard and of the handle it is taken from, and the
//! heap allocations (count and bytes) per enter+leave, counted by [`CountingAlloc`] installed as
//! this binary's global allocator, over many pairs after a warm-up (so one-time lazy setup,
//! such as a thread-local, does not count).
//!
//! Heap per parked waiter: [`WAITERS`] waiter futures are made, each boxed (as a task would hold
//! it) and polled once so that it registers, and the heap bytes still held afterwards are divided
//! by their number. That is the future's own size (`size_of`, what a task stores inline) plus
//! whatever registering allocated and kept (a listener node, a slot in a list). One waiter is
//! parked and dropped first, so the lazily allocated list of the event itself does not count.
//!
//! Output: a human table on stderr and one machine-readable line per row (see
//! `winddown_benches::record`) for `report.sh`.

use std::future::Future;
use std::hint::black_box;
use std::mem::size_of;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Context;

use winddown_benches::{
    closed_with_guard, record, timing_requested, CountingAlloc, FlagEvent, Value, WakeCounter,
};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

/// Pairs counted per row, after as many for warm-up.
const PAIRS: u64 = 10_000;

/// Measures and prints one row.
fn row<H, G>(lib: &str, guard: &str, handle_name: &str, handle: &H, enter: impl Fn(&H) -> G) {
    for _ in 0..PAIRS {
        drop(black_box(enter(black_box(handle))));
    }
    let before = ALLOC.snapshot();
    for _ in 0..PAIRS {
        drop(black_box(enter(black_box(handle))));
    }
    let counted = ALLOC.snapshot().since(before);
    emit(
        lib,
        guard,
        Some(size_of::<G>()),
        handle_name,
        size_of::<H>(),
        Some((
            counted.allocs as f64 / PAIRS as f64,
            counted.bytes as f64 / PAIRS as f64,
        )),
    );
}

fn emit(
    lib: &str,
    guard: &str,
    guard_size: Option<usize>,
    handle: &str,
    handle_size: usize,
    per_pair: Option<(f64, f64)>,
) {
    let num = |v: Option<f64>| Value::Num(v.unwrap_or(f64::NAN));
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v}"));
    let (allocs, bytes) = (per_pair.map(|p| p.0), per_pair.map(|p| p.1));
    eprintln!(
        "{lib:<22} {guard:<26} {:>5} {handle:<24} {handle_size:>5} {:>8} {:>8}",
        show(guard_size.map(|s| s as f64)),
        show(allocs),
        show(bytes),
    );
    record(&[
        ("measure", Value::Str("p5")),
        ("lib", Value::Str(lib)),
        ("guard", Value::Str(guard)),
        ("guard_size", num(guard_size.map(|s| s as f64))),
        ("handle", Value::Str(handle)),
        ("handle_size", Value::Num(handle_size as f64)),
        ("allocs_per_pair", num(allocs)),
        ("bytes_per_pair", num(bytes)),
    ]);
}

/// Waiters parked per row of the heap-per-waiter table.
const WAITERS: usize = 1_000;

/// Measures and prints one row of the heap-per-waiter table: `make` returns a fresh waiter future
/// on a source that is never triggered.
fn waiter_row<W: Future>(lib: &str, waiter: &str, mut make: impl FnMut() -> W) {
    let (_, waker) = WakeCounter::waker();
    let mut cx = Context::from_waker(&waker);
    // Warm-up: the first registration may allocate the event's own list, once per source.
    {
        let mut first = Box::pin(make());
        assert!(
            first.as_mut().poll(&mut cx).is_pending(),
            "{lib}: not parked"
        );
    }
    let mut parked: Vec<Pin<Box<W>>> = Vec::with_capacity(WAITERS);
    let (live, before) = (ALLOC.live_bytes(), ALLOC.snapshot());
    for _ in 0..WAITERS {
        let mut waiter = Box::pin(make());
        assert!(
            waiter.as_mut().poll(&mut cx).is_pending(),
            "{lib}: not parked"
        );
        parked.push(waiter);
    }
    let held = ALLOC.live_bytes().wrapping_sub(live) as i64 as f64 / WAITERS as f64;
    // One allocation per waiter is its box; the rest were made by registering.
    let allocs = ALLOC.snapshot().since(before).allocs as f64 / WAITERS as f64 - 1.0;
    let inline = size_of::<W>();
    drop(black_box(parked));
    eprintln!(
        "{lib:<22} {waiter:<38} {inline:>6} {:>8.1} {held:>8.1} {allocs:>7.3}",
        held - inline as f64
    );
    record(&[
        ("measure", Value::Str("p5w")),
        ("lib", Value::Str(lib)),
        ("waiter", Value::Str(waiter)),
        ("inline", Value::Num(inline as f64)),
        ("registered", Value::Num(held - inline as f64)),
        ("held", Value::Num(held)),
        ("allocs", Value::Num(allocs)),
    ]);
}

fn waiters() {
    eprintln!(
        "{:<22} {:<38} {:>6} {:>8} {:>8} {:>7}",
        "P5 waiter", "future", "inline", "+park B", "held B", "allocs"
    );
    let flag = FlagEvent::new();
    waiter_row("floor: flag + Event", "FlagWait (listen on poll)", || {
        flag.wait()
    });
    let event = event_listener::Event::new();
    waiter_row("event-listener", "EventListener (bare listen())", || {
        event.listen()
    });

    let shutdown = winddown_core::Shutdown::new();
    waiter_row("winddown", "Triggered (triggered())", || {
        shutdown.triggered()
    });
    // A fresh scope for the drain row: a list keeps its slots' capacity for the next
    // waiters, which would hide the row's cost.
    let stripes = winddown_core::tuning::stripes(&shutdown);
    let (shutdown, guard) = closed_with_guard(stripes);
    waiter_row("winddown", "Drained (drained())", || shutdown.drained());
    drop(guard);

    let notify = tokio::sync::Notify::new();
    waiter_row("tokio", "Notified (notified())", || notify.notified());
    let token = tokio_util::sync::CancellationToken::new();
    waiter_row("tokio-util", "CancellationToken::cancelled()", || {
        token.cancelled()
    });
    waiter_row("tokio-util", "CancellationToken::cancelled_owned()", || {
        token.clone().cancelled_owned()
    });
    let swansong = swansong::Swansong::new();
    waiter_row("swansong", "ShuttingDown (shutting_down())", || {
        swansong.shutting_down()
    });

    let (runtime, graceful) = winddown_benches::idle_tokio_graceful();
    let weak = graceful.guard_weak();
    waiter_row("tokio-graceful", "WeakShutdownGuard::cancelled()", || {
        weak.cancelled()
    });
    drop(weak);
    drop(graceful);
    drop(runtime);
}

/// The owned guard anyone would write first: a clone of the handle's `Arc`, next to a count.
struct NaiveGuard(Arc<AtomicUsize>);

impl Drop for NaiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

fn main() {
    // Sizes and counts do not depend on timing; the smoke pass under `cargo test` does it all.
    let _ = timing_requested();
    eprintln!(
        "{:<22} {:<26} {:>5} {:<24} {:>5} {:>8} {:>8}",
        "P5 library", "guard", "bytes", "handle", "bytes", "allocs", "heap B"
    );

    let shared = Arc::new(AtomicUsize::new(0));
    row(
        "floor",
        "NaiveGuard (Arc clone)",
        "Arc<AtomicUsize>",
        &shared,
        |s| {
            s.fetch_add(1, Ordering::Acquire);
            NaiveGuard(Arc::clone(s))
        },
    );

    let one = winddown_core::tuning::with_stripes(1).expect("1 stripe is valid");
    row("winddown (1 stripe)", "Guard", "Shutdown", &one, |s| {
        s.enter().expect("admissions open")
    });
    let default = winddown_core::Shutdown::new();
    row("winddown (default)", "Guard", "Shutdown", &default, |s| {
        s.enter().expect("admissions open")
    });

    let tracker = tokio_util::task::TaskTracker::new();
    row(
        "tokio-util",
        "TaskTrackerToken",
        "TaskTracker",
        &tracker,
        tokio_util::task::TaskTracker::token,
    );

    let token = signal_mod::Coordinator::builder().build().token();
    let held = token.subsystem_guard();
    row(
        "signal-mod",
        "SubsystemGuard",
        "ShutdownToken",
        &token,
        signal_mod::ShutdownToken::subsystem_guard,
    );
    drop(held);

    let swansong = swansong::Swansong::new();
    row(
        "swansong",
        "Guard",
        "Swansong",
        &swansong,
        swansong::Swansong::guard,
    );

    let manager = async_shutdown::ShutdownManager::<()>::new();
    row(
        "async-shutdown",
        "DelayShutdownToken<()>",
        "ShutdownManager<()>",
        &manager,
        |m| m.delay_shutdown_token().expect("shutdown not completed"),
    );

    let (runtime, graceful) = winddown_benches::idle_tokio_graceful();
    row(
        "tokio-graceful",
        "ShutdownGuard",
        "Shutdown",
        &graceful,
        tokio_graceful::Shutdown::guard,
    );

    let (_signal, watch) = drain::channel();
    row(
        "drain",
        "Watch (clone)",
        "Watch",
        &watch,
        drain::Watch::clone,
    );

    // No guard: in-flight work is tracked only as whole subsystems (spawned tasks).
    emit(
        "tokio-graceful-shutdown",
        "(none)",
        None,
        "SubsystemHandle",
        size_of::<tokio_graceful_shutdown::SubsystemHandle>(),
        None,
    );
    drop(graceful);
    drop(runtime);

    waiters();
}
