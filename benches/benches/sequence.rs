//! P8: the whole shutdown sequence with ten no-op resources.
//!
//! One timed step is everything an application does at shutdown: make the shutdown and the plan,
//! register ten resources whose closers return `Ok(())` at once, trigger, run the sequence to its
//! report. It runs on winddown's virtual-clock runtime (`testing::VirtualRuntime`) and on a tokio
//! current-thread runtime, through a minimal `Runtime` implementation (`winddown_benches::p8`:
//! the real adapter lives in `winddown-adapters`; the benches do not depend on it). The same
//! step runs in `bin/sequence_runs.rs`, for an instruction count under callgrind. The sequence
//! with no resources is timed too, so the fixed cost and the cost per resource can be told apart.
//!
//! signal-mod's equivalent is `Coordinator::run_hooks` over ten no-op hooks (it runs each hook on
//! a worker thread under its deadlines): timed with the coordinator built inside the step, like
//! winddown's plan, and built outside it (`iter_batched`), so its hook runner alone is visible.
//!
//! `report.sh` reports microseconds per run and per resource.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use winddown_benches::p8::{check, full_run, tokio_current_thread, Tokio, NAMES};
use winddown_core::testing::VirtualRuntime;

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

    let tokio_rt = tokio_current_thread();
    let clock = Tokio::new();
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
