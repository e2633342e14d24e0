//! The streams (an SSE response, a WebSocket) and the readiness probe through the stop.

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::{self, Message};

use super::{Ctx, READY_EVERY};
use crate::http1::{self, Conn, Framing};
use crate::outcome::{Class, Outcome, Record};

/// A server-sent events stream opened before the signal: it must end with the chunked
/// body's last chunk.
pub(crate) async fn sse(ctx: Arc<Ctx>) {
    let Some(path) = ctx.opts.sse_path.clone() else {
        return;
    };
    let start = Instant::now();
    let mut conn = match ctx.until_over(Conn::connect(ctx.addr)).await {
        Some(Ok(conn)) => conn,
        Some(Err(err)) => {
            ctx.push(Record::new(
                Class::Sse,
                start,
                Instant::now(),
                http1::connect_outcome(&err),
            ));
            return;
        }
        None => return,
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: {}\r\naccept: text/event-stream\r\nuser-agent: winddown-check\r\n\r\n",
        ctx.addr
    );
    let record = |outcome: Outcome| Record::new(Class::Sse, start, Instant::now(), outcome);
    if let Err(cut) = conn.send(request.as_bytes()).await {
        ctx.push(record(cut.outcome(false)));
        return;
    }
    let head = match ctx.until_over(conn.read_head(false)).await {
        Some(Ok(head)) => head,
        Some(Err(cut)) => {
            ctx.push(record(cut.outcome(conn.started())));
            return;
        }
        None => {
            ctx.push(record(Outcome::TimedOut));
            return;
        }
    };
    if !(200..300).contains(&head.status) {
        ctx.push(record(Outcome::OtherStatus(head.status)).with_note(format!("GET {path}")));
        return;
    }
    let framing = head.framing;
    let outcome = match ctx.until_over(conn.read_body(framing)).await {
        Some(Ok(_)) => Outcome::Ok,
        Some(Err(cut)) => cut.outcome(true),
        None => Outcome::TimedOut,
    };
    let note = match framing {
        Framing::Chunked => "chunked",
        Framing::Length(_) => "Content-Length",
        Framing::UntilClose => "close-delimited",
        Framing::Empty => "no body",
    };
    ctx.push(record(outcome).with_note(note));
}

/// A WebSocket opened before the signal: it must get a Close frame.
pub(crate) async fn websocket(ctx: Arc<Ctx>) {
    let Some(path) = ctx.opts.ws_path.clone() else {
        return;
    };
    let start = Instant::now();
    let record = |outcome: Outcome| Record::new(Class::WebSocket, start, Instant::now(), outcome);
    let stream = match ctx
        .until_over(tokio::net::TcpStream::connect(ctx.addr))
        .await
    {
        Some(Ok(stream)) => stream,
        Some(Err(err)) => {
            ctx.push(record(http1::connect_outcome(&err)));
            return;
        }
        None => return,
    };
    let url = format!("ws://{}{path}", ctx.addr);
    let mut ws = match ctx
        .until_over(tokio_tungstenite::client_async(url, stream))
        .await
    {
        Some(Ok((ws, _))) => ws,
        Some(Err(tungstenite::Error::Http(response))) => {
            ctx.push(
                record(Outcome::OtherStatus(response.status().as_u16()))
                    .with_note(format!("GET {path}")),
            );
            return;
        }
        Some(Err(err)) => {
            ctx.push(record(ws_error(&err)).with_note(format!("the handshake failed: {err}")));
            return;
        }
        None => {
            ctx.push(record(Outcome::TimedOut));
            return;
        }
    };
    loop {
        match ctx.until_over(ws.next()).await {
            None => {
                ctx.push(record(Outcome::TimedOut));
                return;
            }
            Some(Some(Ok(Message::Close(frame)))) => {
                let code = frame.map(|frame| u16::from(frame.code));
                let end = Instant::now();
                // Finish the closing handshake (the reply goes out as the stream is polled).
                let _ = ctx
                    .until_over(async {
                        let _ = ws.close(None).await;
                        while let Some(Ok(_)) = ws.next().await {}
                    })
                    .await;
                let outcome = code.map_or(Outcome::WsCloseNoCode, Outcome::WsClose);
                ctx.push(Record::new(Class::WebSocket, start, end, outcome));
                return;
            }
            Some(Some(Ok(_))) => {}
            Some(Some(Err(err))) => {
                ctx.push(record(ws_error(&err)));
                return;
            }
            Some(None) => {
                ctx.push(record(Outcome::WsNoClose));
                return;
            }
        }
    }
}

fn ws_error(err: &tungstenite::Error) -> Outcome {
    match err {
        tungstenite::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Outcome::WsNoClose
        }
        tungstenite::Error::Io(_) => Outcome::ResetMidBody,
        tungstenite::Error::Protocol(_) | tungstenite::Error::ConnectionClosed => {
            Outcome::WsNoClose
        }
        _ => Outcome::Malformed,
    }
}

// ===== readiness =====

/// Asks the ready path every 20 ms until the target exits.
pub(crate) async fn readiness(ctx: Arc<Ctx>) {
    let Some(path) = ctx.opts.ready_path.clone() else {
        return;
    };
    let request = ctx.get(&path);
    let mut conn: Option<Conn> = None;
    while !ctx.stopping() {
        let start = Instant::now();
        if conn.is_none() {
            match ctx.until_over(Conn::connect(ctx.addr)).await {
                None => return,
                Some(Ok(fresh)) => conn = Some(fresh),
                Some(Err(err)) => {
                    if ctx.stopping() {
                        return;
                    }
                    ctx.push(Record::new(
                        Class::Readiness,
                        start,
                        Instant::now(),
                        http1::connect_outcome(&err),
                    ));
                    ctx.sleep_until(Instant::now() + READY_EVERY).await;
                    continue;
                }
            }
        }
        let Some(open) = conn.as_mut() else { continue };
        let Some((outcome, head)) = ctx.until_over(open.exchange(&request)).await else {
            return;
        };
        if ctx.stopping() && outcome.is_loss() {
            // The exit cut it: not a probe result.
            return;
        }
        ctx.push(Record::new(
            Class::Readiness,
            start,
            Instant::now(),
            outcome,
        ));
        if head.is_none_or(|head| head.close) || outcome.is_loss() {
            conn = None;
        }
        ctx.sleep_until(Instant::now() + READY_EVERY).await;
    }
}
