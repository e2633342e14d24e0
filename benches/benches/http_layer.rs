//! H4: what `ShutdownLayer` adds to one request, without the network: a trivial service called
//! through the layer, its response body polled to the end, on one thread.
//!
//! Arms: the bare service; the layer (admission only); the layer naming requests (the
//! lock-free record of method, path and start). Each iteration builds the same small request
//! and polls the future and the body once each (they are ready at once), so the differences
//! between arms are the layer's own work. The same arms, counted in instructions by callgrind:
//! `benches/bin/layer_instructions.rs` (H1's instruction counts in `benches/http.sh`).

use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use criterion::{criterion_group, criterion_main, Criterion};
use winddown_benches::h4::{Services, ARMS};

/// Nothing is ever pending here: the waker is never used.
struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn h4(c: &mut Criterion) {
    let mut group = c.benchmark_group("h4");
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let services = Services::new();
    for arm in ARMS {
        group.bench_function(arm, |b| b.iter(|| services.one(arm, &mut cx)));
    }
    group.finish();
}

criterion_group!(benches, h4);
criterion_main!(benches);
