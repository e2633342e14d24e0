//! P1: one owned guard entered and left on one thread, side by side in one criterion group.
//!
//! Each function times one "enter, then leave" of a guard that keeps a shutdown from completing:
//! winddown's `Shutdown::enter` + drop, and each peer's nearest equivalent. The floor is the work
//! any such guard must do at least: an atomic increment and decrement of a shared counter,
//! reached through a bare reference and through an `Arc` handle, plus the naive owned guard (an
//! `Arc` clone next to the counter) for reference. `report.sh` divides every result by the bare
//! `&AtomicUsize` floor from the same run.
//!
//! The handle is passed through `black_box` each iteration, and so is the guard before it is
//! dropped, so the compiler can neither hoist the enter out of the loop nor fold the pair away.
//!
//! tokio-util's `CancellationToken` has no guard; its clone and `child_token` (each then dropped)
//! are in the group as handle-ish costs, and so is a bare `event_listener::Event` notify with no
//! listener, the floor of waking nobody.
//!
//! tokio-graceful-shutdown is absent: it has no guard, only whole subsystems (spawned tasks).

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Bencher, Criterion};

/// Times `enter` followed by dropping what it returned.
fn enter_leave<H, G>(b: &mut Bencher<'_>, handle: &H, enter: impl Fn(&H) -> G) {
    b.iter(|| {
        let guard = enter(black_box(handle));
        black_box(&guard);
        drop(guard);
    });
}

fn p1(c: &mut Criterion) {
    let mut group = c.benchmark_group("p1");

    // ----- the floor -----
    let counter = AtomicUsize::new(0);
    group.bench_function("floor: &AtomicUsize add+sub", |b| {
        b.iter(|| {
            let counter = black_box(&counter);
            black_box(counter.fetch_add(1, Ordering::Acquire));
            black_box(counter.fetch_sub(1, Ordering::Release));
        });
    });
    let shared = Arc::new(AtomicUsize::new(0));
    group.bench_function("floor: Arc<AtomicUsize> add+sub", |b| {
        b.iter(|| {
            let shared = black_box(&shared);
            black_box(shared.fetch_add(1, Ordering::Acquire));
            black_box(shared.fetch_sub(1, Ordering::Release));
        });
    });
    // What waking costs when nobody waits: a notify on an `Event` whose list exists (one
    // listener was made and dropped) but is empty. A drain or trigger with no waiter pays this.
    let event = event_listener::Event::new();
    drop(event.listen());
    group.bench_function("floor: event_listener::Event notify (no listener)", |b| {
        b.iter(|| black_box(black_box(&event).notify(usize::MAX)));
    });
    group.bench_function("naive owned guard: Arc clone + counter", |b| {
        enter_leave(b, &shared, |s| {
            s.fetch_add(1, Ordering::Acquire);
            NaiveGuard(Arc::clone(s))
        });
    });

    // ----- winddown -----
    let one = winddown_core::tuning::with_stripes(1).expect("1 stripe is valid");
    group.bench_function("winddown (1 stripe)", |b| {
        enter_leave(b, &one, |s| s.enter().expect("admissions open"));
    });
    let default = winddown_core::Shutdown::new();
    group.bench_function("winddown (default stripes)", |b| {
        enter_leave(b, &default, |s| s.enter().expect("admissions open"));
    });

    // ----- peers -----
    let tracker = tokio_util::task::TaskTracker::new();
    group.bench_function("tokio-util TaskTracker::token", |b| {
        enter_leave(b, &tracker, tokio_util::task::TaskTracker::token);
    });

    // Handle-ish costs: tokio apps often hand each task a token clone (or a child token) and
    // keep it for the task's life, where winddown hands out a guard.
    let token = tokio_util::sync::CancellationToken::new();
    group.bench_function("tokio-util CancellationToken clone", |b| {
        enter_leave(b, &token, tokio_util::sync::CancellationToken::clone);
    });
    group.bench_function("tokio-util CancellationToken child_token", |b| {
        enter_leave(b, &token, tokio_util::sync::CancellationToken::child_token);
    });

    let coordinator = signal_mod::Coordinator::builder().build();
    let token = coordinator.token();
    {
        let _held = token.subsystem_guard();
        group.bench_function("signal-mod subsystem_guard (another held)", |b| {
            enter_leave(b, &token, signal_mod::ShutdownToken::subsystem_guard);
        });
    }
    group.bench_function("signal-mod subsystem_guard (drop reaches zero)", |b| {
        enter_leave(b, &token, signal_mod::ShutdownToken::subsystem_guard);
    });

    let swansong = swansong::Swansong::new();
    group.bench_function("swansong guard", |b| {
        enter_leave(b, &swansong, swansong::Swansong::guard);
    });

    let manager = async_shutdown::ShutdownManager::<()>::new();
    group.bench_function("async-shutdown delay_shutdown_token", |b| {
        enter_leave(b, &manager, |m| {
            m.delay_shutdown_token().expect("shutdown not completed")
        });
    });

    let (runtime, graceful) = winddown_benches::idle_tokio_graceful();
    group.bench_function("tokio-graceful guard", |b| {
        enter_leave(b, &graceful, tokio_graceful::Shutdown::guard);
    });

    let (_signal, watch) = drain::channel();
    group.bench_function("drain Watch clone", |b| {
        enter_leave(b, &watch, drain::Watch::clone);
    });

    group.finish();
    drop(runtime);
}

/// The owned guard anyone would write first: a clone of the handle's `Arc`, next to a count.
struct NaiveGuard(Arc<AtomicUsize>);

impl Drop for NaiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

criterion_group! {
    name = benches;
    // Short runs: the whole suite must finish in under five minutes on two cores. Override on
    // the command line (`-- --measurement-time 5`) for a closer look.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30);
    targets = p1
}
criterion_main!(benches);
