//! P8: the whole shutdown sequence with ten no-op resources.
//!
//! One timed step is everything an application does at shutdown: make the shutdown and the plan,
//! register ten resources whose closers return `Ok(())` at once, trigger, run the sequence to its
//! report. It runs on winddown's virtual-clock runtime (`testing::VirtualRuntime`) and on a tokio
//! current-thread runtime, through a minimal `Runtime` implementation written here (the real
//! adapter lives in `winddown-adapters`; this bench does not depend on it). The same sequence
//! with no resources is timed too, so the fixed cost and the cost per resource can be told apart.
//!
//! signal-mod's equivalent is `Coordinator::run_hooks` over ten no-op hooks (it runs each hook on
//! a worker thread under its deadlines): timed with the coordinator built inside the step, like
//! winddown's plan, and built outside it (`iter_batched`), so its hook runner alone is visible.
//!
//! `report.sh` reports microseconds per run and per resource.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use winddown_core::runtime::{BoxFuture, Runtime, TaskOutcome};
use winddown_core::testing::VirtualRuntime;
use winddown_core::{Config, Plan, Reason, Report, Resource, Shutdown, Status};

/// Names of the no-op resources and hooks.
const NAMES: [&str; 10] = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"];

/// Makes a shutdown with `resources` no-op resources, triggers it, and runs the sequence.
async fn full_run<R: Runtime>(runtime: R, resources: usize) -> Report {
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    for name in &NAMES[..resources] {
        plan.register(Resource::new(*name, || async { Ok(()) }))
            .expect("registered before the trigger");
    }
    shutdown.trigger(Reason::requested());
    plan.run(runtime).await
}

fn check(report: &Report, resources: usize) {
    assert_eq!(report.status, Status::Completed);
    assert_eq!(report.resources.len(), resources);
}

// ===== a minimal tokio runtime =====

/// The least `Runtime` for tokio: its clock, its timer, `tokio::spawn`.
#[derive(Debug, Clone, Copy)]
struct Tokio {
    origin: Instant,
}

impl Runtime for Tokio {
    type Sleep = tokio::time::Sleep;
    type Join = TokioJoin;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, duration: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(duration)
    }

    fn spawn(&self, task: BoxFuture<()>) -> TokioJoin {
        TokioJoin(tokio::spawn(task))
    }

    fn spawn_detached(&self, task: BoxFuture<()>) {
        drop(tokio::spawn(task));
    }
}

/// A tokio `JoinHandle` that reports how its task ended, and aborts the task if dropped first.
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

// ===== signal-mod =====

fn signal_mod_coordinator(hooks: usize) -> signal_mod::Coordinator {
    NAMES[..hooks]
        .iter()
        .fold(signal_mod::Coordinator::builder(), |builder, name| {
            builder.hook(signal_mod::hook_from_fn(*name, 0, |_| {}))
        })
        .build()
}

fn p8(c: &mut Criterion) {
    let mut group = c.benchmark_group("p8");

    let virtual_rt = VirtualRuntime::new();
    for resources in [10, 0] {
        let name = format!("winddown: virtual clock, {resources} resources");
        group.bench_function(name, |b| {
            b.iter(|| {
                let report = virtual_rt.block_on(full_run(&virtual_rt, black_box(resources)));
                check(&report, resources);
                report
            });
        });
    }

    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let clock = Tokio {
        origin: Instant::now(),
    };
    for resources in [10, 0] {
        let name = format!("winddown: tokio current_thread, {resources} resources");
        group.bench_function(name, |b| {
            b.iter(|| {
                let report = tokio_rt.block_on(full_run(clock, black_box(resources)));
                check(&report, resources);
                report
            });
        });
    }

    group.bench_function("signal-mod: build + run_hooks, 10 hooks", |b| {
        b.iter(|| {
            let coordinator = signal_mod_coordinator(10);
            let done = coordinator.run_hooks(signal_mod::ShutdownReason::Requested);
            assert_eq!(done, 10);
        });
    });
    group.bench_function("signal-mod: run_hooks only, 10 hooks", |b| {
        b.iter_batched(
            || signal_mod_coordinator(10),
            |coordinator| {
                let done = coordinator.run_hooks(signal_mod::ShutdownReason::Requested);
                assert_eq!(done, 10);
                coordinator
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
    drop(tokio_rt);
}

criterion_group! {
    name = benches;
    // Short runs, as in `guard`: the whole suite must finish in under five minutes.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(400))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20);
    targets = p8
}
criterion_main!(benches);
