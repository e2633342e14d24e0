//! The arms of H4 (`benches/benches/http_layer.rs`) as a plain loop, for callgrind:
//! `layer_instructions ARM N` runs `N` requests on the arm named `ARM` (one of
//! `winddown_benches::h4::ARMS`). `benches/http.sh` runs it under callgrind with two counts
//! and divides the difference of the totals by the difference of the counts: the
//! instructions of one request, start-up and first-touch costs left out.

use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use winddown_benches::h4::{Services, ARMS};

/// Nothing is ever pending here: the waker is never used.
struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(arm), Some(Ok(count))) = (args.first(), args.get(1).map(|n| n.parse::<u64>())) else {
        eprintln!("usage: layer_instructions ARM N  (ARM one of {ARMS:?})");
        return ExitCode::from(2);
    };
    if !ARMS.contains(&arm.as_str()) {
        eprintln!("layer_instructions: unknown arm {arm:?} (one of {ARMS:?})");
        return ExitCode::from(2);
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let services = Services::new();
    for _ in 0..count {
        services.one(arm, &mut cx);
    }
    ExitCode::SUCCESS
}
