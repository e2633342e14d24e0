//! P4: the last guard dropped until a parked `drained()` waiter has resumed.
//!
//! Each measured step drops the one guard that holds a closed shutdown back, and then runs the
//! waiter that was parked on `drained()` until it returns `Ready`. The floor does the same with
//! the least a waiter of a one-shot event needs: a flag set, a bare `event_listener::Event`
//! notified, its listener resumed ([`FlagEvent`]). `report.sh` divides each result by the floor
//! of the same harness from the same run.
//!
//! Two harnesses, in one criterion group:
//!
//! - `poll`: the waiter is polled by hand (a counting waker), no executor: the wake-up itself,
//!   the re-poll, and nothing else.
//! - `tokio`: the waiter is a task on a tokio current-thread runtime; the step is "drop the guard
//!   (or set the flag), then await the task's `JoinHandle`", so it includes scheduling the task,
//!   polling it and joining it: what an application sees.
//!
//! Setup is outside the timed window: shutdowns (or flags) are made, their waiters parked, in
//! batches of [`BATCH`]; only the drop-and-resume steps are timed (criterion's `iter_custom`).
//! Peers that wait for their guards (swansong's `ShutdownCompletion`, tokio-util's
//! `TaskTracker::wait`) are measured in the `poll` harness beside them.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Context;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use winddown_benches::{closed_with_guard, poll_once, FlagEvent, Parked, WakeCounter};
use winddown_core::Shutdown;

/// Waiters parked per timed batch.
const BATCH: u64 = 64;

/// Times `iters` drop-and-resume steps in the `poll` harness.
///
/// `park(i)` makes one waiting source and its waiter; `release` lets it finish (drops the last
/// guard, or sets the flag). Setup and teardown of each batch are outside the timed window.
fn poll_steps<S, W>(iters: u64, park: impl Fn() -> (S, W), release: impl Fn(&mut S)) -> Duration
where
    W: Future + Unpin,
{
    let (counter, waker) = WakeCounter::waker();
    let mut cx = Context::from_waker(&waker);
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        left -= n;
        let mut parked: Vec<(S, W)> = (0..n).map(|_| park()).collect();
        for (_, waiter) in &mut parked {
            assert!(!poll_once(waiter, &mut cx), "parked before the release");
        }
        let woken = counter.count();
        let start = Instant::now();
        for (source, waiter) in &mut parked {
            release(black_box(source));
            assert!(poll_once(black_box(waiter), &mut cx), "resumed after it");
        }
        total += start.elapsed();
        assert_eq!(
            counter.count() - woken,
            n as usize,
            "one wake-up per waiter"
        );
        drop(parked);
    }
    total
}

/// Times `iters` drop-and-resume steps in the `tokio` harness: each waiter is a spawned task,
/// the step releases it and awaits its `JoinHandle`.
fn tokio_steps<S, W>(
    runtime: &tokio::runtime::Runtime,
    iters: u64,
    park: impl Fn() -> (S, W),
    release: impl Fn(&mut S),
) -> Duration
where
    W: Future<Output = ()> + Send + Unpin + 'static,
{
    runtime.block_on(async {
        let mut total = Duration::ZERO;
        let mut left = iters;
        let count = Arc::new(AtomicUsize::new(0));
        while left > 0 {
            let n = left.min(BATCH);
            left -= n;
            count.store(0, Ordering::Relaxed);
            let mut parked: Vec<(S, tokio::task::JoinHandle<()>)> = (0..n)
                .map(|_| {
                    let (source, waiter) = park();
                    let waiter = Parked::new(waiter, Arc::clone(&count));
                    (source, tokio::spawn(waiter))
                })
                .collect();
            // Let every task run once and park.
            while count.load(Ordering::Acquire) < n as usize {
                tokio::task::yield_now().await;
            }
            let start = Instant::now();
            for (source, join) in &mut parked {
                release(black_box(source));
                join.await.expect("waiter task");
            }
            total += start.elapsed();
            drop(parked);
        }
        total
    })
}

/// The least a counted drain can do: one guard's decrement of a count, and when it reaches
/// zero, the floor's flag set and `Event` notified. No closed bit, no stripes, no take-once.
struct CountedFlag {
    count: AtomicUsize,
    flag: Arc<FlagEvent>,
}

impl CountedFlag {
    fn new() -> Self {
        Self {
            count: AtomicUsize::new(1),
            flag: Arc::new(FlagEvent::new()),
        }
    }

    fn release(&self) {
        // memory ordering: AcqRel, so the one that reaches zero sees every other's work.
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.flag.set();
        }
    }
}

fn p4(c: &mut Criterion) {
    let stripes = winddown_core::tuning::stripes(&Shutdown::new());
    let mut group = c.benchmark_group("p4");

    // ----- poll harness -----
    group.bench_function("poll: floor: flag + Event notify", |b| {
        b.iter_custom(|iters| {
            poll_steps(
                iters,
                || {
                    let flag = Arc::new(FlagEvent::new());
                    let waiter = flag.wait_owned();
                    (flag, waiter)
                },
                |flag| flag.set(),
            )
        });
    });
    group.bench_function(
        "poll: bound: counter fetch_sub + flag + Event notify",
        |b| {
            b.iter_custom(|iters| {
                poll_steps(
                    iters,
                    || {
                        let counted = CountedFlag::new();
                        let waiter = counted.flag.wait_owned();
                        (counted, waiter)
                    },
                    |counted| counted.release(),
                )
            });
        },
    );
    for (name, stripes) in [
        ("poll: winddown drained (1 stripe)", 1),
        ("poll: winddown drained (default stripes)", stripes),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                poll_steps(
                    iters,
                    || {
                        let (shutdown, guard) = closed_with_guard(stripes);
                        let waiter = shutdown.drained();
                        // The handle stays with the source, as the floor's `Arc` does, so the waiter's
                        // end never frees the shutdown inside the timed window.
                        ((shutdown, Some(guard)), waiter)
                    },
                    |(_, guard)| drop(guard.take()),
                )
            });
        });
    }
    group.bench_function("poll: swansong ShutdownCompletion", |b| {
        b.iter_custom(|iters| {
            poll_steps(
                iters,
                || {
                    let swansong = swansong::Swansong::new();
                    let guard = swansong.guard();
                    let waiter = swansong.shut_down();
                    ((swansong, Some(guard)), waiter)
                },
                |(_, guard)| drop(guard.take()),
            )
        });
    });
    group.bench_function("poll: tokio-util TaskTracker::wait", |b| {
        b.iter_custom(|iters| {
            poll_steps(
                iters,
                || {
                    let tracker = tokio_util::task::TaskTracker::new();
                    let token = tracker.token();
                    tracker.close();
                    let waiter = Box::pin({
                        let tracker = tracker.clone();
                        async move { tracker.wait().await }
                    });
                    ((tracker, Some(token)), waiter)
                },
                |(_, token)| drop(token.take()),
            )
        });
    });

    // ----- tokio current-thread harness -----
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    group.bench_function("tokio: floor: flag + Event notify", |b| {
        b.iter_custom(|iters| {
            tokio_steps(
                &runtime,
                iters,
                || {
                    let flag = Arc::new(FlagEvent::new());
                    let waiter = flag.wait_owned();
                    (flag, waiter)
                },
                |flag| flag.set(),
            )
        });
    });
    for (name, stripes) in [
        ("tokio: winddown drained (1 stripe)", 1),
        ("tokio: winddown drained (default stripes)", stripes),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                tokio_steps(
                    &runtime,
                    iters,
                    || {
                        let (shutdown, guard) = closed_with_guard(stripes);
                        let waiter = shutdown.drained();
                        // The handle stays with the source, as the floor's `Arc` does, so the waiter's
                        // end never frees the shutdown inside the timed window.
                        ((shutdown, Some(guard)), waiter)
                    },
                    |(_, guard)| drop(guard.take()),
                )
            });
        });
    }
    group.finish();
    drop(runtime);
}

criterion_group! {
    name = benches;
    // Short runs, as in `guard`: the whole suite must finish in under five minutes.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(400))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30);
    targets = p4
}
criterion_main!(benches);
