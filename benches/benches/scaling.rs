//! P2: does enter+leave scale from one thread to two?
//!
//! Each arm gives every thread its own handle clone (for winddown, that is its own stripe) and
//! times `ops` enter+leave pairs per thread: once on one thread, then on two threads released
//! together by a barrier. The scaling ratio is the two-thread throughput ÷ the one-thread
//! throughput: 2.0 is perfect, 1.0 means two cores do no more than one, below 1.0 they hinder
//! each other (a shared cache line bouncing between them).
//!
//! The two cores of a shared machine do not always run in parallel, so a control (a private,
//! cache-padded atomic per thread: nothing shared, it must scale) is measured right before every
//! arm. A round of an arm counts as valid only when its control reached
//! [`VALID_CONTROL`]; the ratio reported is the median over the valid rounds. Arms are
//! interleaved round by round, so a slow spell of the machine hits all of them alike.
//!
//! Output: a human table on stderr, and one machine-readable line per arm (see
//! `winddown_benches::record`) for `report.sh`. Not a criterion target: criterion cannot pair
//! the control with each arm. `WINDDOWN_BENCH_ROUNDS` sets the round count (default 9).

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use winddown_benches::{median, record, run_parallel, timing_requested, CachePadded, Value};

/// A control ratio at least this high means the two threads really ran in parallel.
const VALID_CONTROL: f64 = 1.8;

/// How long one single-thread run of an arm should take; `ops` is calibrated to it.
const TARGET_RUN: Duration = Duration::from_millis(25);

/// One measured arm: runs `ops` enter+leave pairs on each of `threads` threads, fresh state each
/// time, and returns the wall time.
type Arm = Box<dyn Fn(usize, u64) -> Duration>;

/// Builds an [`Arm`] from a state factory (`make(threads)` returns one handle per thread) and the
/// operation; the loop is monomorphized per arm, so no dynamic call sits inside it.
fn arm<H, M, F>(make: M, op: F) -> Arm
where
    H: Send,
    M: Fn(usize) -> Vec<H> + 'static,
    F: Fn(&H) + Sync + Copy + 'static,
{
    Box::new(move |threads, ops| run_parallel(make(threads), ops, op))
}

fn control() -> Arm {
    arm(
        |n| (0..n).map(|_| CachePadded(AtomicUsize::new(0))).collect(),
        |c: &CachePadded<AtomicUsize>| {
            black_box(c.0.fetch_add(1, Ordering::Acquire));
            black_box(c.0.fetch_sub(1, Ordering::Release));
        },
    )
}

fn arms() -> Vec<(&'static str, Arm)> {
    vec![
        (
            "floor: shared AtomicUsize add+sub",
            arm(
                |n| {
                    let shared = Arc::new(AtomicUsize::new(0));
                    (0..n).map(|_| Arc::clone(&shared)).collect()
                },
                |c: &Arc<AtomicUsize>| {
                    black_box(c.fetch_add(1, Ordering::Acquire));
                    black_box(c.fetch_sub(1, Ordering::Release));
                },
            ),
        ),
        (
            "winddown (default stripes)",
            arm(
                |n| {
                    let s = winddown_core::Shutdown::new();
                    (0..n).map(|_| s.clone()).collect()
                },
                |s: &winddown_core::Shutdown| drop(black_box(s.enter().expect("open"))),
            ),
        ),
        (
            "winddown (1 stripe)",
            arm(
                |n| {
                    let s = winddown_core::tuning::with_stripes(1).expect("valid");
                    (0..n).map(|_| s.clone()).collect()
                },
                |s: &winddown_core::Shutdown| drop(black_box(s.enter().expect("open"))),
            ),
        ),
        (
            "tokio-util TaskTracker::token",
            arm(
                |n| {
                    let t = tokio_util::task::TaskTracker::new();
                    (0..n).map(|_| t.clone()).collect()
                },
                |t: &tokio_util::task::TaskTracker| drop(black_box(t.token())),
            ),
        ),
        (
            "signal-mod subsystem_guard (another held)",
            arm(
                |n| {
                    let token = signal_mod::Coordinator::builder().build().token();
                    // Each thread also holds a guard of its own, so no drop reaches zero.
                    (0..n)
                        .map(|_| (token.clone(), token.subsystem_guard()))
                        .collect()
                },
                |h: &(signal_mod::ShutdownToken, signal_mod::SubsystemGuard)| {
                    drop(black_box(h.0.subsystem_guard()));
                },
            ),
        ),
        (
            "swansong guard",
            arm(
                |n| {
                    let s = swansong::Swansong::new();
                    (0..n).map(|_| s.clone()).collect()
                },
                |s: &swansong::Swansong| drop(black_box(s.guard())),
            ),
        ),
    ]
}

/// Picks `ops` so that one single-thread run of `arm` takes about [`TARGET_RUN`].
fn calibrate(arm: &Arm) -> u64 {
    let mut ops = 10_000;
    loop {
        let took = arm(1, ops);
        if took >= TARGET_RUN / 4 || ops >= 1 << 30 {
            let scaled = ops as f64 * TARGET_RUN.as_secs_f64() / took.as_secs_f64().max(1e-9);
            return scaled.clamp(10_000.0, (1u64 << 30) as f64) as u64;
        }
        ops *= 4;
    }
}

/// One round's measurement of an arm: ns per op on 1 thread, ns per op per thread on 2, and the
/// scaling ratio (2-thread throughput ÷ 1-thread throughput).
fn measure(arm: &Arm, ops: u64) -> (f64, f64, f64) {
    let one = arm(1, ops).as_secs_f64();
    let two = arm(2, ops).as_secs_f64();
    let per_op = 1e9 / ops as f64;
    (one * per_op, two * per_op, 2.0 * one / two)
}

#[derive(Default)]
struct Samples {
    ns_1t: Vec<f64>,
    ns_2t: Vec<f64>,
    ratio: Vec<f64>,
    control: Vec<f64>,
}

fn main() {
    let timing = timing_requested();
    let rounds: usize = if timing {
        std::env::var("WINDDOWN_BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(9)
    } else {
        1
    };
    let control = control();
    let arms = arms();
    let (control_ops, ops): (u64, Vec<u64>) = if timing {
        (
            calibrate(&control),
            arms.iter().map(|(_, a)| calibrate(a)).collect(),
        )
    } else {
        (1_000, vec![1_000; arms.len()])
    };

    let started = Instant::now();
    let mut samples: Vec<Samples> = arms.iter().map(|_| Samples::default()).collect();
    for round in 0..rounds {
        // Each round starts at the next arm, so no arm always follows the same neighbour.
        for i in (0..arms.len()).map(|i| (i + round) % arms.len()) {
            let (_, _, control_ratio) = measure(&control, control_ops);
            let (ns_1t, ns_2t, ratio) = measure(&arms[i].1, ops[i]);
            let s = &mut samples[i];
            s.control.push(control_ratio);
            s.ns_1t.push(ns_1t);
            s.ns_2t.push(ns_2t);
            s.ratio.push(ratio);
        }
    }
    if !timing {
        eprintln!("scaling: smoke pass done (run with `cargo bench` to time)");
        return;
    }

    eprintln!(
        "P2 scaling, {rounds} rounds in {:.1?}, valid = control ratio >= {VALID_CONTROL}",
        started.elapsed()
    );
    eprintln!(
        "{:<45} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "arm", "ns 1t", "ns 2t", "ratio", "control", "valid"
    );
    for ((name, _), s) in arms.iter().zip(&samples) {
        let valid: Vec<f64> = s
            .ratio
            .iter()
            .zip(&s.control)
            .filter(|(_, c)| **c >= VALID_CONTROL)
            .map(|(r, _)| *r)
            .collect();
        let ratio_valid = median(&valid);
        eprintln!(
            "{name:<45} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>3}/{rounds}",
            median(&s.ns_1t),
            median(&s.ns_2t),
            ratio_valid,
            median(&s.control),
            valid.len()
        );
        record(&[
            ("measure", Value::Str("p2")),
            ("arm", Value::Str(name)),
            ("ns_1t", Value::Num(median(&s.ns_1t))),
            ("ns_2t", Value::Num(median(&s.ns_2t))),
            ("ratio_valid", Value::Num(ratio_valid)),
            ("ratio_all", Value::Num(median(&s.ratio))),
            (
                "ratio_min",
                Value::Num(valid.iter().copied().fold(f64::NAN, f64::min)),
            ),
            (
                "ratio_max",
                Value::Num(valid.iter().copied().fold(f64::NAN, f64::max)),
            ),
            ("control_median", Value::Num(median(&s.control))),
            ("valid_rounds", Value::Num(valid.len() as f64)),
            ("rounds", Value::Num(rounds as f64)),
            ("valid_control", Value::Num(VALID_CONTROL)),
        ]);
    }
}
