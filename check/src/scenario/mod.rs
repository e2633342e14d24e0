//! The clients: each scenario is a task that opens its connections before the signal, does
//! what its client does through the stop, and writes one record per request or connection.
//!
//! Every wait races the end of the run (`Ctx::over`), so no task outlives it; every loop
//! stops once the target has exited; the load loops reconnect at most every 20 ms when
//! refused. All connections go to the target's address on 127.0.0.1 or ::1.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::time::sleep_until;

use crate::http1::{self, Conn};
use crate::http2;
use crate::options::Options;
use crate::outcome::{Class, Outcome, Record, Recorder};
use crate::target::Exit;

mod close;
mod streams;

pub(crate) use close::{half_sent_head, idle_keep_alive, racer, silent, slow_upload, RACERS};
pub(crate) use streams::{readiness, sse, websocket};

/// When the racing requests go out, after the signal: dense at the start and around one
/// second (a common pre-stop), then sparse.
const RACE_DELAYS_MS: [u64; 16] = [
    0, 10, 25, 50, 100, 200, 350, 500, 750, 900, 1000, 1050, 1100, 1250, 1500, 2000,
];

/// How long a refused load loop waits before it connects again: the first pause, doubled
/// after each refusal up to the last.
const RECONNECT_PAUSE: Duration = Duration::from_millis(20);
const RECONNECT_PAUSE_MAX: Duration = Duration::from_millis(320);

/// How often the readiness probe asks.
const READY_EVERY: Duration = Duration::from_millis(20);

/// How the slow upload trickles: this many bytes every this often.
const UPLOAD_BYTES: usize = 64;
const UPLOAD_EVERY: Duration = Duration::from_millis(100);

/// What every scenario task shares.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) addr: SocketAddr,
    pub(crate) opts: Options,
    pub(crate) rec: Recorder,
    /// When the signal is due.
    pub(crate) signal_at: Instant,
    pub(crate) exit: watch::Receiver<Option<Exit>>,
    /// Set when the run is over: every task ends.
    pub(crate) over: watch::Receiver<bool>,
}

impl Ctx {
    /// Whether the target has exited (load loops stop) or the run is over.
    fn stopping(&self) -> bool {
        self.exit.borrow().is_some() || *self.over.borrow()
    }

    /// Runs `future` unless the run ends first.
    async fn until_over<F: Future>(&self, future: F) -> Option<F::Output> {
        let mut over = self.over.clone();
        tokio::select! {
            output = future => Some(output),
            _ = over.wait_for(|over| *over) => None,
        }
    }

    /// Sleeps until `at`, or until the target exits or the run ends; whether `at` came.
    async fn sleep_until(&self, at: Instant) -> bool {
        let mut exit = self.exit.clone();
        let mut over = self.over.clone();
        tokio::select! {
            _ = sleep_until(at.into()) => true,
            _ = exit.wait_for(|exit| exit.is_some()) => false,
            _ = over.wait_for(|over| *over) => false,
        }
    }

    /// Records a load loop's failed connection attempt, then waits `pause` (doubled for the
    /// next attempt, up to `RECONNECT_PAUSE_MAX`) before the loop tries again.
    async fn refused(&self, class: Class, start: Instant, outcome: Outcome, pause: &mut Duration) {
        self.push(Record::new(class, start, Instant::now(), outcome));
        self.sleep_until(Instant::now() + *pause).await;
        *pause = (*pause * 2).min(RECONNECT_PAUSE_MAX);
    }

    fn push(&self, record: Record) {
        self.rec.push(record);
    }

    fn get(&self, path: &str) -> Vec<u8> {
        http1::get(self.addr, path)
    }

    /// Connects and sends one warm-up request on the load path, so that the connection is
    /// known to be accepted and served. A server that closes the connection after its answer
    /// (no keep-alive) gets a fresh connection when `fresh_if_closed`, and a record with the
    /// note [`NO_KEEP_ALIVE`] otherwise. Any other failure is recorded under `class`.
    async fn warm_conn(&self, class: Class, fresh_if_closed: bool) -> Option<Conn> {
        let start = Instant::now();
        let fail = |outcome: Outcome, why: String| {
            self.push(Record::new(class, start, Instant::now(), outcome).with_note(why));
        };
        let connect = || async {
            match self.until_over(Conn::connect(self.addr)).await? {
                Ok(conn) => Some(conn),
                Err(err) => {
                    fail(
                        http1::connect_outcome(&err),
                        format!("the warm-up connect failed: {err}"),
                    );
                    None
                }
            }
        };
        let mut conn = connect().await?;
        let request = self.get(&self.opts.load_path);
        let (outcome, head) = self.until_over(conn.exchange(&request)).await?;
        match head {
            Some(head) if outcome == Outcome::Ok && !head.close => Some(conn),
            Some(_) if outcome == Outcome::Ok && fresh_if_closed => connect().await,
            Some(_) if outcome == Outcome::Ok => {
                fail(Outcome::Closed, NO_KEEP_ALIVE.to_owned());
                None
            }
            _ => {
                let path = &self.opts.load_path;
                fail(outcome, format!("the warm-up GET {path} failed: {outcome}"));
                None
            }
        }
    }
}

/// The note of a record whose connection the server closed after its first answer.
pub(crate) const NO_KEEP_ALIVE: &str =
    "no keep-alive: the server closed the connection after its first answer";

// ===== the load =====

/// HTTP/1.1 keep-alive load: one request at a time on one connection, a new connection when
/// the server closes it, until the target exits.
pub(crate) async fn http1_load(ctx: Arc<Ctx>) {
    let request = ctx.get(&ctx.opts.load_path);
    let mut conn = None;
    let mut pause = RECONNECT_PAUSE;
    while !ctx.stopping() {
        if conn.is_none() {
            let start = Instant::now();
            match ctx.until_over(Conn::connect(ctx.addr)).await {
                None => return,
                Some(Ok(fresh)) => {
                    conn = Some(fresh);
                    pause = RECONNECT_PAUSE;
                }
                Some(Err(err)) => {
                    if ctx.stopping() {
                        return;
                    }
                    let outcome = http1::connect_outcome(&err);
                    ctx.refused(Class::Http1Load, start, outcome, &mut pause)
                        .await;
                    continue;
                }
            }
        }
        let Some(open) = conn.as_mut() else { continue };
        let start = Instant::now();
        let Some((outcome, head)) = ctx.until_over(open.exchange(&request)).await else {
            ctx.push(Record::new(
                Class::Http1Load,
                start,
                Instant::now(),
                Outcome::TimedOut,
            ));
            return;
        };
        let mut record = Record::new(Class::Http1Load, start, Instant::now(), outcome);
        record.close = head.as_ref().is_some_and(|head| head.close);
        let keep = head.is_some() && !record.close && !outcome.is_loss();
        ctx.push(record);
        if !keep {
            conn = None;
        }
    }
}

/// Whether the target speaks HTTP/2 over cleartext: one GET on a fresh connection.
pub(crate) async fn http2_supported(addr: SocketAddr, path: &str) -> bool {
    let attempt = async {
        let conn = http2::open(addr).await.ok()?;
        let outcome = http2::get(&conn.send, addr, path, &conn.view).await;
        Some(matches!(
            outcome,
            Outcome::Ok | Outcome::OtherStatus(_) | Outcome::Refused503
        ))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(10), attempt).await,
        Ok(Some(true))
    )
}

/// HTTP/2 load: two streams at a time on one connection; a new connection once the server
/// sent GOAWAY or a stream failed, until the target exits.
pub(crate) async fn http2_load(ctx: Arc<Ctx>) {
    let path = ctx.opts.load_path.clone();
    let mut pause = RECONNECT_PAUSE;
    while !ctx.stopping() {
        let start = Instant::now();
        let conn = match ctx.until_over(http2::open(ctx.addr)).await {
            None => return,
            Some(Ok(conn)) => {
                pause = RECONNECT_PAUSE;
                conn
            }
            Some(Err(err)) => {
                if ctx.stopping() {
                    return;
                }
                let outcome = match err {
                    http2::OpenError::Connect(err) => http1::connect_outcome(&err),
                    http2::OpenError::Handshake(_) => Outcome::ResetBeforeResponse,
                };
                ctx.refused(Class::Http2Load, start, outcome, &mut pause)
                    .await;
                continue;
            }
        };
        while !ctx.stopping() && conn.view.seen().goaway.is_none() {
            let one = timed(http2::get(&conn.send, ctx.addr, &path, &conn.view));
            let two = timed(http2::get(&conn.send, ctx.addr, &path, &conn.view));
            let Some(((start_a, end_a, a), (start_b, end_b, b))) =
                ctx.until_over(async { tokio::join!(one, two) }).await
            else {
                return;
            };
            let goaway = conn.view.seen().goaway.map(|(at, _, _)| at);
            for (start, end, outcome) in [(start_a, end_a, a), (start_b, end_b, b)] {
                let mut record = Record::new(Class::Http2Load, start, end, outcome);
                record.goaway = goaway.filter(|at| *at <= end);
                ctx.push(record);
            }
            if !matches!(a, Outcome::Ok | Outcome::Refused503)
                || !matches!(b, Outcome::Ok | Outcome::Refused503)
            {
                break;
            }
        }
    }
}

async fn timed<F: Future<Output = Outcome>>(future: F) -> (Instant, Instant, Outcome) {
    let start = Instant::now();
    let outcome = future.await;
    (start, Instant::now(), outcome)
}

// ===== requests in flight =====

/// A slow request sent `lead` before the signal on a warmed-up keep-alive connection.
pub(crate) async fn in_flight(ctx: Arc<Ctx>) {
    let Some(path) = ctx.opts.slow_path.clone() else {
        return;
    };
    let Some(mut conn) = ctx.warm_conn(Class::InFlight, true).await else {
        return;
    };
    if !ctx.sleep_until(ctx.signal_at - ctx.opts.lead).await {
        return;
    }
    let start = Instant::now();
    let outcome = match ctx.until_over(conn.exchange(&ctx.get(&path))).await {
        Some((outcome, _)) => outcome,
        None => Outcome::TimedOut,
    };
    ctx.push(
        Record::new(Class::InFlight, start, Instant::now(), outcome)
            .with_note(format!("GET {path}")),
    );
}

/// Opens an HTTP/2 connection for a scenario of `class` and, with `warm`, sends one stream of
/// the load path on it; `None`, with the failure recorded, when either fails.
async fn http2_open(ctx: &Ctx, class: Class, warm: bool) -> Option<http2::Conn> {
    let start = Instant::now();
    let Some(Ok(conn)) = ctx.until_over(http2::open(ctx.addr)).await else {
        ctx.push(Record::new(
            class,
            start,
            Instant::now(),
            Outcome::RefusedAtConnect,
        ));
        return None;
    };
    if warm {
        let warm = ctx
            .until_over(http2::get(
                &conn.send,
                ctx.addr,
                &ctx.opts.load_path,
                &conn.view,
            ))
            .await;
        if warm != Some(Outcome::Ok) {
            let outcome = warm.unwrap_or(Outcome::TimedOut);
            ctx.push(
                Record::new(class, start, Instant::now(), outcome)
                    .with_note("the warm-up stream failed"),
            );
            return None;
        }
    }
    Some(conn)
}

/// The slow request as an HTTP/2 stream, and the same connection's GOAWAY.
pub(crate) async fn http2_in_flight(ctx: Arc<Ctx>) {
    let Some(path) = ctx.opts.slow_path.clone() else {
        return;
    };
    let Some(mut conn) = http2_open(&ctx, Class::Http2InFlight, true).await else {
        return;
    };
    if !ctx.sleep_until(ctx.signal_at - ctx.opts.lead).await {
        return;
    }
    let start = Instant::now();
    let outcome = ctx
        .until_over(http2::get(&conn.send, ctx.addr, &path, &conn.view))
        .await
        .unwrap_or(Outcome::TimedOut);
    let end = Instant::now();
    // The GOAWAY may come after the stream ended: wait for the connection's end.
    let _ended = ctx.until_over(&mut conn.ended).await;
    let mut record =
        Record::new(Class::Http2InFlight, start, end, outcome).with_note(format!("GET {path}"));
    record.goaway = conn.view.seen().goaway.map(|(at, _, _)| at);
    ctx.push(record);
}

/// An HTTP/2 connection idle at the signal, after one stream (`warm`) or before any: when
/// it ends, and whether GOAWAY came first.
pub(crate) async fn http2_idle(ctx: Arc<Ctx>, warm: bool) {
    let start = Instant::now();
    let Some(mut conn) = http2_open(&ctx, Class::Http2Idle, warm).await else {
        return;
    };
    let which = if warm {
        "after a stream"
    } else {
        "no stream yet"
    };
    let (end, outcome) = match ctx.until_over(&mut conn.ended).await {
        Some(Ok(at)) => (at, Outcome::Closed),
        Some(Err(_)) => (Instant::now(), Outcome::Closed),
        None => (Instant::now(), Outcome::TimedOut),
    };
    let seen = conn.view.seen();
    let which = if seen.frames == 0 {
        "no stream, preface never answered"
    } else {
        which
    };
    let mut record = Record::new(Class::Http2Idle, start, end, outcome).with_note(which);
    if let Some((at, last, code)) = seen.goaway {
        record.goaway = Some(at);
        record.note = Some(format!("{which}: GOAWAY last stream {last}, code {code}"));
    }
    ctx.push(record);
}

// ===== connections that should not hold the stop =====
