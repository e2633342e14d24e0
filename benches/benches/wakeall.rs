//! P3: trigger until N parked tasks have all finished.
//!
//! N tasks (1 000 and 100 000) each wait on the trigger of one shutdown; once all have parked, a
//! task triggers it, and the time runs from just before the trigger until the last waiter task
//! has finished. On tokio's current-thread runtime and on a two-worker multi-thread runtime.
//!
//! Arms: winddown (`triggered`), the floor (a flag and a bare `event_listener::Event`
//! notified with `notify(usize::MAX)`, [`FlagEvent`]), tokio's `Notify` (a flag and
//! `notify_waiters`), tokio-util's `CancellationToken`, swansong (`shutting_down`),
//! tokio-graceful (a weak guard's `cancelled`; its trigger goes through the signal task it
//! spawns, one task hop more), and as a lower bound a bare `Mutex<Vec<Waker>>` woken outside the
//! lock (not cancel-safe: a dropped waiter stays in the list).
//!
//! # One process per arm
//!
//! The heap an arm leaves behind (100 000 tasks and waiters freed) changes how fast the next arm
//! allocates, by about 15% either way. So each arm runs in a process of its own: without
//! `WINDDOWN_P3_ARM` this binary is the conductor, and starts itself once per arm per round, the
//! arms in a rotated order each round (`WINDDOWN_P3_ROUNDS` rounds, default 5). A child
//! (`WINDDOWN_P3_ARM=<arm>`) measures every configuration of its arm, a warm-up repetition first,
//! and prints one `p3-sample` line per repetition; the conductor gathers them.
//!
//! # Two workers on two shared cores
//!
//! Whether the two workers can run in parallel depends on what else the machine runs. So, as
//! in P2, a control (a private, cache-padded atomic per thread: nothing shared, it must scale)
//! is timed on one thread and on two right before every two-worker repetition, while the
//! workers are idle; a two-worker repetition counts only when its control reached
//! [`VALID_CONTROL`]. Current-thread repetitions always count.
//!
//! # What is reported
//!
//! Per arm and configuration, over the repetitions that count: the median over processes of
//! each process's median (the primary number, and the ratio to the floor's), and the min, median
//! and max over every repetition of every process. The 4x slow mode seen at 1 000 tasks on two
//! workers is counted: a repetition is slow when it takes more than twice the arm's 10th
//! percentile.
//!
//! Without `--bench` (as under `cargo test`), every arm runs once in this process with a few
//! tasks, as a smoke test.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::{pin, Pin};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use winddown_benches::{
    median, percentile, record, run_parallel, timing_requested, CachePadded, FlagEvent, Parked,
    Value,
};

/// The arms, as named on the command line and in the report, floor first.
const ARMS: [(&str, &str); 7] = [
    ("floor", "floor: flag + Event notify(MAX)"),
    ("winddown", "winddown triggered"),
    ("notify", "tokio Notify (flag + notify_waiters)"),
    ("cancellation-token", "tokio-util CancellationToken"),
    ("swansong", "swansong shutting_down"),
    ("tokio-graceful", "tokio-graceful weak guard cancelled"),
    ("mutex-vec", "bound: Mutex<Vec<Waker>> (not cancel-safe)"),
];

/// A slow repetition takes more than this many times the arm's 10th percentile.
const SLOW: f64 = 2.0;

/// A two-worker repetition counts only when the control scaled at least this well (as in P2).
const VALID_CONTROL: f64 = 1.8;

/// Pairs per thread in one run of the control (about half a millisecond).
const CONTROL_OPS: u64 = 40_000;

/// The control's scaling ratio now: two-thread throughput ÷ one-thread throughput of a private
/// per-thread atomic (2.0 when both threads really run in parallel).
fn control() -> f64 {
    let run = |threads: usize| {
        let handles = (0..threads)
            .map(|_| CachePadded(AtomicUsize::new(0)))
            .collect();
        run_parallel(handles, CONTROL_OPS, |c: &CachePadded<AtomicUsize>| {
            std::hint::black_box(c.0.fetch_add(1, Ordering::Acquire));
            std::hint::black_box(c.0.fetch_sub(1, Ordering::Release));
        })
        .as_secs_f64()
    };
    let one = run(1);
    let two = run(2);
    2.0 * one / two
}

/// One timed repetition: ns from the trigger to the last waiter's end, and the control ratio
/// measured right before (NaN on the current-thread runtime, where it does not apply).
#[derive(Debug, Clone, Copy)]
struct Sample {
    ns: f64,
    control: f64,
}

impl Sample {
    fn counts(self) -> bool {
        self.control.is_nan() || self.control >= VALID_CONTROL
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Flavor {
    CurrentThread,
    TwoWorkers,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "current_thread",
            Flavor::TwoWorkers => "2 workers",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "ct",
            Flavor::TwoWorkers => "mt2",
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "ct" => Some(Flavor::CurrentThread),
            "mt2" => Some(Flavor::TwoWorkers),
            _ => None,
        }
    }

    fn runtime(self) -> tokio::runtime::Runtime {
        match self {
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread().build(),
            Flavor::TwoWorkers => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build(),
        }
        .expect("tokio runtime")
    }
}

/// One configuration: runtime, task count, timed repetitions (after one warm-up).
#[derive(Debug, Clone, Copy)]
struct Setting {
    flavor: Flavor,
    tasks: usize,
    reps: usize,
}

const SETTINGS: [Setting; 4] = [
    Setting {
        flavor: Flavor::CurrentThread,
        tasks: 1_000,
        reps: 21,
    },
    Setting {
        flavor: Flavor::CurrentThread,
        tasks: 100_000,
        reps: 3,
    },
    Setting {
        flavor: Flavor::TwoWorkers,
        tasks: 1_000,
        reps: 21,
    },
    Setting {
        flavor: Flavor::TwoWorkers,
        tasks: 100_000,
        reps: 3,
    },
];

// ===== one repetition =====

/// What the waiter tasks of one repetition share.
struct Shared {
    parked: Arc<AtomicUsize>,
    remaining: AtomicUsize,
    origin: Instant,
    /// When the last waiter finished, in ns since `origin`.
    end: AtomicU64,
    done: tokio::sync::Notify,
}

/// Spawns `waiters` as tasks, waits until all have parked, triggers from a task, and returns the
/// time from the trigger until the last waiter finished. `trigger` returns what it must keep
/// alive; it is dropped after the measurement.
async fn one_rep<W, T, K>(flavor: Flavor, waiters: Vec<W>, trigger: T) -> Sample
where
    W: Future<Output = ()> + Send + 'static,
    T: FnOnce() -> K + Send + 'static,
    K: Send + 'static,
{
    let n = waiters.len();
    let shared = Arc::new(Shared {
        parked: Arc::new(AtomicUsize::new(0)),
        remaining: AtomicUsize::new(n),
        origin: Instant::now(),
        end: AtomicU64::new(0),
        done: tokio::sync::Notify::new(),
    });
    for waiter in waiters {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let waiter = pin!(waiter);
            Parked::new(waiter, Arc::clone(&shared.parked)).await;
            // memory ordering: AcqRel, so the last one sees every other's completion.
            if shared.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                let end = shared.origin.elapsed().as_nanos() as u64;
                shared.end.store(end, Ordering::Release);
                shared.done.notify_one();
            }
        });
    }
    while shared.parked.load(Ordering::Acquire) < n {
        match flavor {
            // The waiters run on this thread: let them.
            Flavor::CurrentThread => tokio::task::yield_now().await,
            // This thread is not a worker: sleeping here leaves both cores to the workers.
            Flavor::TwoWorkers => std::thread::sleep(Duration::from_micros(200)),
        }
    }
    let control = if flavor == Flavor::TwoWorkers {
        // Can two threads run in parallel right now? The workers are idle meanwhile.
        let control = control();
        // Let both workers go idle, so every repetition starts from the same state.
        std::thread::sleep(Duration::from_millis(1));
        control
    } else {
        f64::NAN
    };
    let trigger = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let start = shared.origin.elapsed().as_nanos() as u64;
            let keep = trigger();
            (start, keep)
        })
    };
    shared.done.notified().await;
    let (start, keep) = trigger.await.expect("trigger task");
    let end = shared.end.load(Ordering::Acquire);
    drop(keep);
    assert_eq!(shared.remaining.load(Ordering::Acquire), 0);
    Sample {
        ns: end.saturating_sub(start) as f64,
        control,
    }
}

/// Runs `setting` for one arm: a warm-up repetition, then `reps` timed ones.
fn run_setting<W, T, K>(
    runtime: &tokio::runtime::Runtime,
    flavor: Flavor,
    tasks: usize,
    reps: usize,
    make: impl Fn(usize) -> (Vec<W>, T),
) -> Vec<Sample>
where
    W: Future<Output = ()> + Send + 'static,
    T: FnOnce() -> K + Send + 'static,
    K: Send + 'static,
{
    (0..=reps)
        .map(|_| {
            runtime.block_on(async {
                // Made inside the runtime: tokio-graceful spawns its signal task when made.
                let (waiters, trigger) = make(tasks);
                one_rep(flavor, waiters, trigger).await
            })
        })
        .skip(1)
        .collect()
}

// ===== the arms =====

/// A flag and a plain list of wakers, woken outside the lock: the least a wake-all can do.
/// Not cancel-safe: a waiter dropped before the trigger leaves its waker in the list.
#[derive(Default)]
struct WakerList {
    flag: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl WakerList {
    fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.wakers.lock().expect("not poisoned"));
        for waker in wakers {
            waker.wake();
        }
    }
}

struct WakerListWait {
    list: Arc<WakerList>,
    registered: bool,
}

impl Future for WakerListWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.list.flag.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if !self.registered {
            let mut wakers = self.list.wakers.lock().expect("not poisoned");
            // Checked again under the lock: the trigger sets the flag before taking the list.
            if self.list.flag.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            wakers.push(cx.waker().clone());
            drop(wakers);
            self.registered = true;
        }
        Poll::Pending
    }
}

/// Runs every setting in `settings` for `arm`; calls `sample` with each repetition.
fn run_arm(arm: &str, settings: &[Setting], mut sample: impl FnMut(Setting, Sample)) {
    for flavor in [Flavor::CurrentThread, Flavor::TwoWorkers] {
        let runtime = flavor.runtime();
        for setting in settings.iter().filter(|s| s.flavor == flavor) {
            let (tasks, reps) = (setting.tasks, setting.reps);
            let samples = match arm {
                "floor" => run_setting(&runtime, flavor, tasks, reps, |n| {
                    let flag = Arc::new(FlagEvent::new());
                    let waiters = (0..n).map(|_| flag.wait_owned()).collect();
                    (waiters, move || {
                        flag.set();
                        flag
                    })
                }),
                "winddown" => run_setting(&runtime, flavor, tasks, reps, |n| {
                    let shutdown = winddown_core::Shutdown::new();
                    let waiters = (0..n).map(|_| shutdown.triggered()).collect();
                    (waiters, move || {
                        shutdown.trigger(winddown_core::Reason::requested());
                        shutdown
                    })
                }),
                "notify" => run_setting(&runtime, flavor, tasks, reps, |n| {
                    let state = Arc::new((AtomicBool::new(false), tokio::sync::Notify::new()));
                    let waiters = (0..n)
                        .map(|_| {
                            let state = Arc::clone(&state);
                            async move {
                                let mut notified = pin!(state.1.notified());
                                notified.as_mut().enable();
                                if !state.0.load(Ordering::Acquire) {
                                    notified.await;
                                }
                            }
                        })
                        .collect();
                    (waiters, move || {
                        state.0.store(true, Ordering::Release);
                        state.1.notify_waiters();
                        state
                    })
                }),
                "cancellation-token" => run_setting(&runtime, flavor, tasks, reps, |n| {
                    let token = tokio_util::sync::CancellationToken::new();
                    let waiters = (0..n).map(|_| token.clone().cancelled_owned()).collect();
                    (waiters, move || {
                        token.cancel();
                        token
                    })
                }),
                "swansong" => run_setting(&runtime, flavor, tasks, reps, |n| {
                    let swansong = swansong::Swansong::new();
                    let waiters = (0..n).map(|_| swansong.shutting_down()).collect();
                    (waiters, move || {
                        let completion = swansong.shut_down();
                        (swansong, completion)
                    })
                }),
                "tokio-graceful" => run_setting(&runtime, flavor, tasks, reps, |n| {
                    let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
                    let shutdown = tokio_graceful::Shutdown::new(async move {
                        let _ = signalled.await;
                    });
                    let waiters = (0..n)
                        .map(|_| {
                            let weak = shutdown.guard_weak();
                            async move { weak.cancelled().await }
                        })
                        .collect();
                    (waiters, move || {
                        let _ = signal.send(());
                        shutdown
                    })
                }),
                "mutex-vec" => run_setting(&runtime, flavor, tasks, reps, |n| {
                    let list = Arc::new(WakerList::default());
                    let waiters = (0..n)
                        .map(|_| WakerListWait {
                            list: Arc::clone(&list),
                            registered: false,
                        })
                        .collect();
                    (waiters, move || {
                        list.trigger();
                        list
                    })
                }),
                other => panic!("unknown P3 arm {other:?}"),
            };
            for s in samples {
                sample(*setting, s);
            }
        }
    }
}

// ===== the conductor =====

#[derive(Default)]
struct Gathered {
    /// Every repetition that counts, in ns.
    samples: Vec<f64>,
    /// Each process's median over its repetitions that count, in ns.
    process_medians: Vec<f64>,
    /// Every repetition's control ratio (two workers only).
    controls: Vec<f64>,
    /// Repetitions timed, counted or not.
    timed: usize,
}

fn conduct(rounds: usize) {
    let exe = std::env::current_exe().expect("own executable");
    let started = Instant::now();
    // (arm, flavor, tasks) -> gathered
    let mut gathered: BTreeMap<(usize, Flavor, usize), Gathered> = BTreeMap::new();
    for round in 0..rounds {
        for i in (0..ARMS.len()).map(|i| (i + round) % ARMS.len()) {
            let (arm, _) = ARMS[i];
            let output = Command::new(&exe)
                .arg("--bench")
                .env("WINDDOWN_P3_ARM", arm)
                .output()
                .expect("start a P3 child");
            assert!(
                output.status.success(),
                "P3 child {arm} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let mut per_setting: BTreeMap<(Flavor, usize), Vec<Sample>> = BTreeMap::new();
            for line in String::from_utf8_lossy(&output.stdout).lines() {
                let mut words = line.split_whitespace();
                if words.next() != Some("p3-sample") {
                    continue;
                }
                let parsed = (|| {
                    let flavor = Flavor::from_tag(words.next()?)?;
                    let tasks: usize = words.next()?.parse().ok()?;
                    let ns: f64 = words.next()?.parse().ok()?;
                    let control: f64 = words.next()?.parse().ok()?;
                    Some((flavor, tasks, Sample { ns, control }))
                })();
                let (flavor, tasks, sample) = parsed.expect("a well-formed p3-sample line");
                per_setting.entry((flavor, tasks)).or_default().push(sample);
            }
            for ((flavor, tasks), samples) in per_setting {
                let g = gathered.entry((i, flavor, tasks)).or_default();
                g.timed += samples.len();
                g.controls
                    .extend(samples.iter().map(|s| s.control).filter(|c| !c.is_nan()));
                let counted: Vec<f64> = samples
                    .iter()
                    .filter(|s| s.counts())
                    .map(|s| s.ns)
                    .collect();
                if !counted.is_empty() {
                    g.process_medians.push(median(&counted));
                }
                g.samples.extend(counted);
            }
        }
    }

    eprintln!(
        "P3 trigger -> all done, {rounds} rounds x {} arms, one process each, in {:.1?}",
        ARMS.len(),
        started.elapsed()
    );
    eprintln!(
        "{:<44} {:<15} {:>7} {:>10} {:>7} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "arm",
        "runtime",
        "tasks",
        "median us",
        "÷floor",
        "min us",
        "p50 us",
        "max us",
        "slow",
        "counted"
    );
    for setting in SETTINGS {
        let key = |i: usize| (i, setting.flavor, setting.tasks);
        let floor = gathered
            .get(&key(0))
            .map_or(f64::NAN, |g| median(&g.process_medians));
        for (i, (_, name)) in ARMS.iter().enumerate() {
            let Some(g) = gathered.get(&key(i)) else {
                continue;
            };
            let primary = median(&g.process_medians);
            let p10 = percentile(&g.samples, 0.1);
            let slow = g.samples.iter().filter(|s| **s > SLOW * p10).count();
            let slow_processes = g
                .process_medians
                .iter()
                .filter(|s| **s > SLOW * p10)
                .count();
            let min = g.samples.iter().copied().fold(f64::NAN, f64::min);
            let max = g.samples.iter().copied().fold(f64::NAN, f64::max);
            eprintln!(
                "{name:<44} {:<15} {:>7} {:>10.1} {:>7.2} {:>10.1} {:>10.1} {:>10.1} {:>4}/{:<3} {:>4}/{:<3}",
                setting.flavor.name(),
                setting.tasks,
                primary / 1e3,
                primary / floor,
                min / 1e3,
                median(&g.samples) / 1e3,
                max / 1e3,
                slow,
                g.samples.len(),
                g.samples.len(),
                g.timed
            );
            record(&[
                ("measure", Value::Str("p3")),
                ("arm", Value::Str(name)),
                ("runtime", Value::Str(setting.flavor.name())),
                ("tasks", Value::Num(setting.tasks as f64)),
                ("ns", Value::Num(primary)),
                ("ratio", Value::Num(primary / floor)),
                ("ns_min", Value::Num(min)),
                ("ns_p50", Value::Num(median(&g.samples))),
                ("ns_max", Value::Num(max)),
                ("slow", Value::Num(slow as f64)),
                ("slow_processes", Value::Num(slow_processes as f64)),
                ("samples", Value::Num(g.samples.len() as f64)),
                ("processes", Value::Num(g.process_medians.len() as f64)),
                ("timed", Value::Num(g.timed as f64)),
                ("control_median", Value::Num(median(&g.controls))),
                ("valid_control", Value::Num(VALID_CONTROL)),
                ("slow_factor", Value::Num(SLOW)),
            ]);
        }
    }
}

fn main() {
    if let Ok(arm) = std::env::var("WINDDOWN_P3_ARM") {
        // A child: one arm, every setting (or the one `WINDDOWN_P3_ONLY=ct:100000` names, for
        // profiling), one line per repetition.
        let only = std::env::var("WINDDOWN_P3_ONLY").ok();
        let settings: Vec<Setting> = SETTINGS
            .into_iter()
            .filter(|s| {
                only.as_deref().map_or(true, |only| {
                    only == format!("{}:{}", s.flavor.tag(), s.tasks)
                })
            })
            .collect();
        run_arm(&arm, &settings, |setting, sample| {
            println!(
                "p3-sample {} {} {} {}",
                setting.flavor.tag(),
                setting.tasks,
                sample.ns,
                sample.control
            );
        });
        return;
    }
    if !timing_requested() {
        let smoke: Vec<Setting> = [Flavor::CurrentThread, Flavor::TwoWorkers]
            .into_iter()
            .map(|flavor| Setting {
                flavor,
                tasks: 64,
                reps: 1,
            })
            .collect();
        for (arm, _) in ARMS {
            run_arm(arm, &smoke, |_, _| {});
        }
        eprintln!("wakeall: smoke pass done (run with `cargo bench` to time)");
        return;
    }
    let rounds = std::env::var("WINDDOWN_P3_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    conduct(rounds);
}
