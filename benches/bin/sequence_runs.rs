//! P8's step run a given number of times, for an instruction count: `sequence_runs RUNTIME
//! RESOURCES RUNS`, with `RUNTIME` one of `tokio` (a current-thread runtime, as the `sequence`
//! bench) and `virtual` (winddown's virtual clock).
//!
//! `benches/report.sh` runs it under `valgrind --tool=callgrind` twice, with two run counts,
//! and divides the difference by the difference in runs: instructions per run without the
//! start-up, and without the noise of a shared machine that criterion's times carry.

use std::process::ExitCode;

use winddown_benches::p8::{check, full_run, tokio_current_thread, Tokio};
use winddown_core::testing::VirtualRuntime;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [runtime, resources, runs] = args.as_slice() else {
        eprintln!("usage: sequence_runs tokio|virtual RESOURCES RUNS");
        return ExitCode::from(2);
    };
    let (Ok(resources), Ok(runs)) = (resources.parse::<usize>(), runs.parse::<usize>()) else {
        eprintln!("sequence_runs: RESOURCES and RUNS are counts");
        return ExitCode::from(2);
    };
    if resources > 10 {
        eprintln!("sequence_runs: at most 10 resources");
        return ExitCode::from(2);
    }
    match runtime.as_str() {
        "tokio" => {
            let tokio_rt = tokio_current_thread();
            let clock = Tokio::new();
            for _ in 0..runs {
                check(&tokio_rt.block_on(full_run(clock, resources)), resources);
            }
        }
        "virtual" => {
            let virtual_rt = VirtualRuntime::new();
            for _ in 0..runs {
                check(
                    &virtual_rt.block_on(full_run(&virtual_rt, resources)),
                    resources,
                );
            }
        }
        other => {
            eprintln!("sequence_runs: unknown runtime {other:?} (tokio or virtual)");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
