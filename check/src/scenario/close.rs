//! The connections that must not hold the stop: an idle keep-alive connection, one that never
//! sends a byte, a half-sent request head, a slowly uploaded body, and requests racing the
//! close of idle keep-alive connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::time::sleep_until;

use super::{Ctx, RACE_DELAYS_MS, UPLOAD_BYTES, UPLOAD_EVERY};
use crate::http1::{self, Conn};
use crate::outcome::{Class, Outcome, Record};

/// A keep-alive connection, idle after one request.
pub(crate) async fn idle_keep_alive(ctx: Arc<Ctx>) {
    let start = Instant::now();
    let Some(conn) = ctx.warm_conn(Class::IdleKeepAlive, false).await else {
        return;
    };
    watch_close(&ctx, Class::IdleKeepAlive, start, conn, None).await;
}

/// A connection that never sends a byte.
pub(crate) async fn silent(ctx: Arc<Ctx>) {
    let start = Instant::now();
    match ctx.until_over(Conn::connect(ctx.addr)).await {
        Some(Ok(conn)) => watch_close(&ctx, Class::Silent, start, conn, None).await,
        Some(Err(err)) => ctx.push(Record::new(
            Class::Silent,
            start,
            Instant::now(),
            http1::connect_outcome(&err),
        )),
        None => {}
    }
}

/// A connection that sent half a request head.
pub(crate) async fn half_sent_head(ctx: Arc<Ctx>) {
    let start = Instant::now();
    let mut conn = match ctx.until_over(Conn::connect(ctx.addr)).await {
        Some(Ok(conn)) => conn,
        Some(Err(err)) => {
            ctx.push(Record::new(
                Class::HalfSentHead,
                start,
                Instant::now(),
                http1::connect_outcome(&err),
            ));
            return;
        }
        None => return,
    };
    let half = format!(
        "GET {} HTTP/1.1\r\nhost: {}\r\n",
        ctx.opts.load_path, ctx.addr
    );
    if conn.send(half.as_bytes()).await.is_err() {
        ctx.push(
            Record::new(Class::HalfSentHead, start, Instant::now(), Outcome::Closed)
                .with_note("closed before the half head was sent"),
        );
        return;
    }
    watch_close(&ctx, Class::HalfSentHead, start, conn, None).await;
}

/// A `POST` whose body trickles in (64 bytes every 100 ms of a declared 1 MiB).
pub(crate) async fn slow_upload(ctx: Arc<Ctx>) {
    let start = Instant::now();
    let conn = match ctx.until_over(Conn::connect(ctx.addr)).await {
        Some(Ok(conn)) => conn,
        Some(Err(err)) => {
            ctx.push(Record::new(
                Class::SlowUpload,
                start,
                Instant::now(),
                http1::connect_outcome(&err),
            ));
            return;
        }
        None => return,
    };
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: {}\r\nuser-agent: winddown-check\r\ncontent-type: application/octet-stream\r\ncontent-length: 1048576\r\n\r\n",
        ctx.opts.upload_path, ctx.addr
    );
    let Some((read, mut write)) = conn.into_split() else {
        return;
    };
    let trickle = {
        let ctx = ctx.clone();
        async move {
            if write.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = [b'x'; UPLOAD_BYTES];
            let mut sent = 0;
            while sent < 1_048_576 && !*ctx.over.borrow() {
                if write.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += UPLOAD_BYTES;
                tokio::time::sleep(UPLOAD_EVERY).await;
            }
        }
    };
    let trickle = tokio::spawn(trickle);
    watch_close(
        &ctx,
        Class::SlowUpload,
        start,
        read,
        Some(&ctx.opts.upload_path),
    )
    .await;
    trickle.abort();
}

/// Waits until the server ends `conn` (or the run ends) and records when; a response that
/// came first is noted.
async fn watch_close(
    ctx: &Ctx,
    class: Class,
    start: Instant,
    mut conn: Conn,
    answered_path: Option<&str>,
) {
    let ended = ctx.until_over(conn.wait_closed()).await;
    let end = Instant::now();
    let mut record = match ended {
        Some(Ok(())) => Record::new(class, start, end, Outcome::Closed),
        Some(Err(_)) => Record::new(class, start, end, Outcome::Closed).with_note("reset"),
        None => Record::new(class, start, end, Outcome::TimedOut),
    };
    if conn.started() && answered_path.is_some() {
        record.note = Some(match record.note {
            Some(note) => format!("answered, then {note}"),
            None => "answered, then closed".into(),
        });
    }
    ctx.push(record);
}

/// Requests sent on idle keep-alive connections at fixed delays after the signal: each gets
/// an answer, or a clean close, never a reset.
pub(crate) async fn racer(ctx: Arc<Ctx>, delay: usize) {
    let Some(mut conn) = ctx.warm_conn(Class::Race, false).await else {
        return;
    };
    let send_at =
        ctx.signal_at + Duration::from_millis(RACE_DELAYS_MS[delay % RACE_DELAYS_MS.len()]);
    let start = Instant::now();
    let closed = tokio::select! {
        _ = sleep_until(send_at.into()) => None,
        ended = conn.wait_closed() => Some(ended),
        _ = wait_over(ctx.over.clone()) => return,
    };
    if let Some(ended) = closed {
        // Closed while idle, before its request was due: nothing to race.
        let note = if ended.is_err() {
            "reset while idle"
        } else {
            "closed while idle"
        };
        ctx.push(Record::new(Class::Race, start, Instant::now(), Outcome::Closed).with_note(note));
        return;
    }
    let start = Instant::now();
    let outcome = match ctx
        .until_over(conn.exchange(&ctx.get(&ctx.opts.load_path)))
        .await
    {
        Some((outcome, _)) => outcome,
        None => Outcome::TimedOut,
    };
    ctx.push(Record::new(Class::Race, start, Instant::now(), outcome));
}

/// How many racing connections there are.
pub(crate) const RACERS: usize = RACE_DELAYS_MS.len();

async fn wait_over(mut over: watch::Receiver<bool>) {
    let _ = over.wait_for(|over| *over).await;
}

// ===== streams =====
