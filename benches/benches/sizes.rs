//! P5: how big are the guard and the handle, and does enter+leave allocate?
//!
//! For winddown and each peer: `size_of` the guard and of the handle it is taken from, and the
//! heap allocations (count and bytes) per enter+leave, counted by [`CountingAlloc`] installed as
//! this binary's global allocator, over many pairs after a warm-up (so one-time lazy setup,
//! such as a thread-local, does not count).
//!
//! Output: a human table on stderr and one machine-readable line per row (see
//! `winddown_benches::record`) for `report.sh`.

use std::hint::black_box;
use std::mem::size_of;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use winddown_benches::{record, timing_requested, CountingAlloc, Value};

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

    let one = winddown_core::Shutdown::with_stripes(1).expect("1 stripe is valid");
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

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let graceful = {
        let _entered = runtime.enter();
        tokio_graceful::Shutdown::new(std::future::pending::<()>())
    };
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
}
