//! One run: the scenarios started, the signal sent at its time, the exit awaited within the
//! budget (or the target killed), and the escalation runs on fresh starts.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::http1::{self, Conn};
use crate::options::Options;
use crate::outcome::{Record, Recorder};
use crate::scenario::{self, Ctx};
use crate::target::{Exit, StartError, Target};

/// How long the clients may take to see the end of their connections once the target has
/// exited, before the run ends them.
const LINGER: Duration = Duration::from_secs(3);

/// How long after the kill the checker waits to see the process gone.
const AFTER_KILL: Duration = Duration::from_secs(5);

/// What a run saw: the records and the instants the checks are judged against.
#[derive(Clone, Debug)]
pub struct Stop {
    /// Every request and connection.
    pub records: Vec<Record>,
    /// When the target was ready.
    pub ready_at: Instant,
    /// When the signal was sent.
    pub signal_at: Instant,
    /// How it ended (none: it was still running after the kill).
    pub exit: Option<Exit>,
    /// Whether it was killed at the end of the budget.
    pub killed: bool,
    /// When it was killed, if it was.
    pub killed_at: Option<Instant>,
    /// Whether it has a ready path (its probe answered 200, not 404).
    pub has_ready: bool,
    /// Whether it speaks HTTP/2 over cleartext.
    pub http2: bool,
    /// Whether the exit code can be known (not in attach mode).
    pub knows_code: bool,
}

/// Starts (or restarts) a target for the escalation runs.
pub type Relaunch = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = Result<Target, StartError>>>>>;

/// The escalation run: when each signal went out and when the target ended.
#[derive(Clone, Debug)]
pub struct Escalation {
    /// When the first signal was sent.
    pub first_at: Instant,
    /// When the second signal was sent, if it was.
    pub second_at: Option<Instant>,
    /// When the third was sent, if it was.
    pub third_at: Option<Instant>,
    /// How it ended.
    pub exit: Option<Exit>,
    /// Whether it was still running after the third and was killed.
    pub killed: bool,
    /// Why the run could not be done, if it could not.
    pub error: Option<String>,
}

/// How long after the second signal the stop must have ended ("quickly").
pub const SECOND_WITHIN: Duration = Duration::from_secs(3);
/// How long after the third.
pub const THIRD_WITHIN: Duration = Duration::from_secs(1);

/// Runs every scenario against `target`, which is ready, and sends the signal.
///
/// # Errors
///
/// The target exited before the signal was due.
pub async fn stop(opts: &Options, target: &Target, has_ready: bool) -> Result<Stop, StartError> {
    let ready_at = Instant::now();
    let http2 = scenario::http2_supported(target.addr, &opts.load_path).await;
    let (over_tx, over) = watch::channel(false);
    let rec = Recorder::default();
    let mut opts = opts.clone();
    if !has_ready {
        opts.ready_path = None;
    }
    let ctx = Arc::new(Ctx {
        addr: target.addr,
        opts: opts.clone(),
        rec: rec.clone(),
        signal_at: Instant::now() + opts.warmup,
        exit: target.exit_watch(),
        over,
    });
    let mut tasks = JoinSet::new();
    tasks.spawn(scenario::readiness(ctx.clone()));
    for _ in 0..opts.http1_connections {
        tasks.spawn(scenario::http1_load(ctx.clone()));
    }
    tasks.spawn(scenario::in_flight(ctx.clone()));
    tasks.spawn(scenario::idle_keep_alive(ctx.clone()));
    tasks.spawn(scenario::silent(ctx.clone()));
    tasks.spawn(scenario::half_sent_head(ctx.clone()));
    tasks.spawn(scenario::slow_upload(ctx.clone()));
    for racer in 0..scenario::RACERS {
        tasks.spawn(scenario::racer(ctx.clone(), racer));
    }
    tasks.spawn(scenario::sse(ctx.clone()));
    tasks.spawn(scenario::websocket(ctx.clone()));
    if http2 {
        for _ in 0..opts.http2_connections {
            tasks.spawn(scenario::http2_load(ctx.clone()));
        }
        tasks.spawn(scenario::http2_in_flight(ctx.clone()));
        tasks.spawn(scenario::http2_idle(ctx.clone(), true));
        tasks.spawn(scenario::http2_idle(ctx.clone(), false));
    }
    let progress = opts.progress.then(|| {
        tokio::spawn(progress_line(
            rec.clone(),
            ctx.signal_at,
            target.exit_watch(),
        ))
    });

    if let Some(exit) = target.wait_exit(ctx.signal_at).await {
        let _ = over_tx.send(true);
        while tasks.join_next().await.is_some() {}
        if let Some(progress) = progress {
            progress.abort();
        }
        return Err(StartError::DiedBeforeSignal {
            exit: crate::target::describe_exit(&exit),
            after: exit.at.duration_since(ready_at),
        });
    }
    let signal_at = Instant::now();
    target.signal(opts.signal);
    let mut exit = target.wait_exit(signal_at + opts.budget).await;
    let killed = exit.is_none();
    let killed_at = killed.then(Instant::now);
    if killed {
        target.kill();
        exit = target.wait_exit(Instant::now() + AFTER_KILL).await;
    }
    // Let every client see its connection end, then end the stragglers.
    let linger = tokio::time::sleep(LINGER);
    tokio::pin!(linger);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { break },
            _ = &mut linger => {
                let _ = over_tx.send(true);
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
    let _ = over_tx.send(true);
    if let Some(progress) = progress {
        progress.abort();
        clear_progress();
    }
    target.clean_up();
    Ok(Stop {
        records: rec.snapshot(),
        ready_at,
        signal_at,
        exit,
        killed,
        killed_at,
        has_ready,
        http2,
        knows_code: target.knows_code,
    })
}

/// The escalation run on a fresh target: a request that holds the stop (`stuck_path`), the
/// signal, a second one a second later, a third if the second has not ended it within
/// [`SECOND_WITHIN`].
pub async fn escalate(opts: &Options, target: &Target) -> Escalation {
    let mut result = Escalation {
        first_at: Instant::now(),
        second_at: None,
        third_at: None,
        exit: None,
        killed: false,
        error: None,
    };
    let stuck = async {
        let mut conn = Conn::connect(target.addr).await.ok()?;
        let (outcome, _) = conn
            .exchange(&http1::get(target.addr, &opts.load_path))
            .await;
        if outcome != crate::outcome::Outcome::Ok {
            return None;
        }
        conn.send(&http1::get(target.addr, &opts.stuck_path))
            .await
            .ok()?;
        Some(conn)
    };
    let Ok(Some(mut conn)) = tokio::time::timeout(Duration::from_secs(10), stuck).await else {
        result.error = Some(format!(
            "could not send GET {} to hold the stop",
            opts.stuck_path
        ));
        target.kill();
        target.clean_up();
        return result;
    };
    // Let the server read the request.
    tokio::time::sleep(opts.lead).await;
    // Keep reading the stuck request's answer, so the socket does not fill.
    let reader = tokio::spawn(async move {
        let _ = conn.read_head(false).await;
    });
    result.first_at = Instant::now();
    target.signal(opts.signal);
    result.exit = target
        .wait_exit(result.first_at + Duration::from_secs(1))
        .await;
    if result.exit.is_none() {
        let second = Instant::now();
        result.second_at = Some(second);
        target.signal(opts.signal);
        result.exit = target.wait_exit(second + SECOND_WITHIN).await;
        if result.exit.is_none() {
            let third = Instant::now();
            result.third_at = Some(third);
            target.signal(opts.signal);
            result.exit = target.wait_exit(third + THIRD_WITHIN).await;
            if result.exit.is_none() {
                result.killed = true;
                target.kill();
                let _ = target.wait_exit(Instant::now() + AFTER_KILL).await;
            }
        }
    }
    reader.abort();
    target.clean_up();
    result
}

/// One line on stderr, redrawn every 100 ms: time from the signal, requests so far, and
/// whether the target is still running.
async fn progress_line(rec: Recorder, signal_at: Instant, exit: watch::Receiver<Option<Exit>>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let clock = if now < signal_at {
            format!("-{:.1} s", (signal_at - now).as_secs_f64())
        } else {
            format!("+{:.1} s", (now - signal_at).as_secs_f64())
        };
        let state = if exit.borrow().is_some() {
            "exited"
        } else if now < signal_at {
            "warming up"
        } else {
            "stopping"
        };
        let line = format!(
            "\r\x1b[Kwinddown-check: {clock}  {state}  {} requests and connections",
            rec.len()
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

fn clear_progress() {
    let _ = std::io::stderr().lock().write_all(b"\r\x1b[K");
}

/// Whether stderr is a terminal (the progress line's condition).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}
