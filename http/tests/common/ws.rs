//! The WebSocket scenarios: the server's Close 1001 at the close, answered or not, and a
//! firehose whose writes block or go on.
//!
//! The server's handler is async-tungstenite over the upgraded socket (runtime-neutral); the
//! clients are async-tungstenite (one that answers the Close, as every library does) or raw
//! frames over the socket (one that reads and never answers, one that never reads).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::Role;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use axum::body::Body as AxumBody;
use futures_lite::StreamExt;
use http::StatusCode;
use winddown_core::runtime::BoxFuture;
use winddown_core::{Config, Outcome, Phase, Reason, Status};
use winddown_http::server::FuturesIo;

use super::{read_some, read_until, rig, rig_set_up, text, write_all, Net, Setup, LONG};

/// What a `/ws` handler saw, when it ended.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Messages it sent.
    pub(crate) sent: usize,
    /// It received the peer's Close.
    pub(crate) peer_closed: bool,
    /// The error that ended it, if one did.
    pub(crate) error: Option<String>,
}

/// The handlers of `/ws`, spawned, each ending with what it saw.
pub(crate) type Handlers = Arc<Mutex<Vec<BoxFuture<Seen>>>>;

/// `/ws`: answers `101` and spawns the handler on the upgraded socket: an echo, or with
/// `?firehose=1` a sender that never reads.
pub(crate) fn accept<N: Net>(
    mut request: axum::extract::Request,
    handlers: &Handlers,
) -> http::Response<AxumBody> {
    let Some(key) = request.headers().get("sec-websocket-key").cloned() else {
        return http::Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(AxumBody::empty())
            .unwrap();
    };
    let firehose = request.uri().query() == Some("firehose=1");
    let on_upgrade = hyper::upgrade::on(&mut request);
    let handler = N::spawn(async move {
        let mut seen = Seen::default();
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => {
                seen.error = Some(err.to_string());
                return seen;
            }
        };
        let mut ws =
            WebSocketStream::from_raw_socket(FuturesIo::new(upgraded), Role::Server, None).await;
        if firehose {
            loop {
                if let Err(err) = ws.send(Message::text("x".repeat(1000))).await {
                    seen.error = Some(err.to_string());
                    return seen;
                }
                seen.sent += 1;
                // Fair to the other tasks of a one-thread executor.
                futures_lite::future::yield_now().await;
            }
        }
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Close(_)) => seen.peer_closed = true,
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                    if let Err(err) = ws.send(message).await {
                        seen.error = Some(err.to_string());
                        break;
                    }
                    seen.sent += 1;
                }
                Ok(_) => {}
                Err(err) => {
                    seen.error = Some(err.to_string());
                    break;
                }
            }
        }
        seen
    });
    handlers.lock().unwrap().push(handler);
    http::Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::CONNECTION, "upgrade")
        .header(http::header::UPGRADE, "websocket")
        .header("sec-websocket-accept", derive_accept_key(key.as_bytes()))
        .body(AxumBody::empty())
        .unwrap()
}

/// The handler of the `n`th WebSocket (from 0), once it ends.
async fn handler_end<N: Net>(handlers: &Handlers, n: usize) -> Seen {
    loop {
        let handler = {
            let mut list = handlers.lock().unwrap();
            (list.len() > n).then(|| list.remove(n))
        };
        match handler {
            Some(handler) => return handler.await,
            None => N::sleep(Duration::from_millis(1)).await,
        }
    }
}

/// A raw client's opening handshake on `io`; the `101` head.
async fn open_raw<I: hyper::rt::Read + hyper::rt::Write + Unpin>(io: &mut I, path: &str) -> String {
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    write_all(io, request.as_bytes()).await.unwrap();
    let head = text(&read_until(io, b"\r\n\r\n").await);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    head
}

/// Reads the server's frames (unmasked) until a Close; its payload.
async fn read_close<I: hyper::rt::Read + Unpin>(io: &mut I) -> Vec<u8> {
    let mut buf = Vec::new();
    loop {
        while buf.len() >= 2 {
            let len = usize::from(buf[1] & 0x7F);
            let (start, len) = match len {
                126 if buf.len() >= 4 => (4, usize::from(u16::from_be_bytes([buf[2], buf[3]]))),
                127 if buf.len() >= 10 => (
                    10,
                    u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                ),
                126 | 127 => break,
                n => (2, n),
            };
            if buf.len() < start + len {
                break;
            }
            let opcode = buf[0] & 0x0F;
            let payload = buf[start..start + len].to_vec();
            buf.drain(..start + len);
            if opcode == 0x8 {
                return payload;
            }
        }
        let chunk = read_some(io).await.expect("read");
        assert!(!chunk.is_empty(), "the stream ended before a Close frame");
        buf.extend_from_slice(&chunk);
    }
}

fn config(drain: Duration) -> Config {
    Config::builder()
        .drain(drain)
        .graceful(LONG + LONG)
        .build()
        .unwrap()
}

/// 18. A WebSocket open at the close gets a Close frame with code 1001 (going away) from the
///     server, without its handler doing anything; its client (tungstenite) answers, and the
///     connection ends: drained, and counted as a WebSocket closed with 1001, long before
///     the drain deadline.
pub(crate) async fn a_websocket_hears_going_away_answers_and_counts_as_drained<N: Net>() {
    let rig = rig::<N>(config(LONG)).await;
    let io = N::connect(rig.addr).await.expect("connect");
    let (mut client, _) = async_tungstenite::client_async("ws://127.0.0.1/ws", FuturesIo::new(io))
        .await
        .expect("a WebSocket");
    client.send(Message::text("hello")).await.unwrap();
    let echo = client.next().await.expect("an echo").unwrap();
    assert_eq!(echo, Message::text("hello"));

    rig.shutdown.trigger(Reason::requested());
    let close = client.next().await.expect("a Close").unwrap();
    let Message::Close(Some(frame)) = close else {
        panic!("expected a Close with a code, got {close:?}");
    };
    assert_eq!(frame.code, CloseCode::Away, "{frame:?}");
    // tungstenite answers the Close as it reads it; then the server ends the connection.
    let end = client.next().await;
    assert!(matches!(end, None | Some(Ok(Message::Close(_)))), "{end:?}");
    let seen = handler_end::<N>(&rig.ws_handlers, 0).await;
    assert!(seen.peer_closed, "{seen:?}");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert!(!report.drain.timed_out, "{report}");
    assert_eq!(
        (
            counts.websockets,
            counts.websockets_closed,
            counts.drained,
            counts.cut
        ),
        (1, 1, 1, 0),
        "{counts}"
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("1 WebSockets (1 closed with 1001, 0 cut)")),
        "{report}"
    );
}

/// 19. A WebSocket client that reads the server's Close and never answers is cut at the
///     drain deadline, and the report names it as a WebSocket that sent its Close.
pub(crate) async fn a_websocket_that_ignores_the_close_is_cut_and_named<N: Net>() {
    let rig = rig::<N>(config(Duration::from_millis(300))).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    open_raw(&mut client, "/ws").await;
    rig.accepted::<N>(1).await;

    rig.shutdown.trigger(Reason::requested());
    let close = read_close(&mut client).await;
    assert_eq!(close, [0x03, 0xE9], "Close 1001, no reason");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::TimedOut, "{report}");
    super::assert_connection_named(&report, ": WebSocket (GET /ws), Close sent, no answer");
    assert_eq!(
        (
            counts.websockets,
            counts.websockets_closed,
            counts.websockets_cut
        ),
        (1, 0, 1),
        "{counts}"
    );
    drop(client);
}

/// 20. A WebSocket whose handler sends without pause to a client that never reads: its
///     writes block (the Close goes no further than the socket's buffer, if it fits there at
///     all); it is cut at the drain deadline, named as a WebSocket, and its handler's write
///     fails.
pub(crate) async fn a_firehose_whose_client_never_reads_is_cut_and_named<N: Net>() {
    let rig = rig::<N>(config(Duration::from_millis(300))).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    open_raw(&mut client, "/ws?firehose=1").await;
    rig.accepted::<N>(1).await;

    rig.shutdown.trigger(Reason::requested());
    let seen = handler_end::<N>(&rig.ws_handlers, 0).await;
    assert!(seen.sent > 0, "{seen:?}");
    assert!(
        seen.error
            .as_deref()
            .is_some_and(|e| e.contains("cut at the drain deadline")),
        "{seen:?}"
    );
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::TimedOut, "{report}");
    let names = &report.drain.still_in_flight;
    assert!(
        names
            .iter()
            .any(|n| n.contains(": WebSocket (GET /ws), Close ")),
        "{names:?}"
    );
    assert_eq!(
        (counts.websockets, counts.websockets_cut),
        (1, 1),
        "{counts}"
    );
    drop(client);
}

/// 21. A firehose whose client reads: the server's Close goes out between two of the
///     handler's frames; the handler's next frame waits for the client's answer, then fails;
///     the connection counts as closed with 1001.
pub(crate) async fn a_firehose_whose_client_reads_hears_going_away<N: Net>() {
    let rig = rig::<N>(config(LONG)).await;
    let io = N::connect(rig.addr).await.expect("connect");
    let (mut client, _) =
        async_tungstenite::client_async("ws://127.0.0.1/ws?firehose=1", FuturesIo::new(io))
            .await
            .expect("a WebSocket");
    let first = client.next().await.expect("a message").unwrap();
    assert_eq!(first, Message::text("x".repeat(1000)));

    rig.shutdown.trigger(Reason::requested());
    let mut before = 0;
    let frame = loop {
        match client.next().await.expect("a message or a Close").unwrap() {
            Message::Close(frame) => break frame,
            message => {
                assert_eq!(
                    message,
                    Message::text("x".repeat(1000)),
                    "whole messages only"
                );
                before += 1;
            }
        }
    };
    assert_eq!(frame.map(|f| f.code), Some(CloseCode::Away));
    let end = client.next().await;
    assert!(matches!(end, None | Some(Ok(Message::Close(_)))), "{end:?}");
    let seen = handler_end::<N>(&rig.ws_handlers, 0).await;
    let error = seen.error.clone().unwrap_or_default();
    assert!(error.contains("the WebSocket is closed"), "{seen:?}");
    let (report, counts) = rig.finish().await;
    assert_eq!(
        report.status,
        Status::Completed,
        "{report} ({before} messages after the trigger)"
    );
    assert_eq!(
        (counts.websockets, counts.websockets_closed, counts.cut),
        (1, 1, 0),
        "{counts}"
    );
}

/// 22. With a close timeout shorter than the drain, a WebSocket that never answers is cut
///     when it runs out, well before the drain deadline; the drain then completes, and the
///     server's resource record names it.
pub(crate) async fn a_websocket_close_timeout_cuts_before_the_drain_deadline<N: Net>() {
    let setup = Setup {
        websocket_close_timeout: Some(Duration::from_millis(200)),
        ..Setup::default()
    };
    let rig = rig_set_up::<N>(config(LONG), false, setup).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    open_raw(&mut client, "/ws").await;
    rig.accepted::<N>(1).await;

    rig.shutdown.trigger(Reason::requested());
    let close = read_close(&mut client).await;
    assert_eq!(close, [0x03, 0xE9]);
    let addr = rig.addr;
    let (report, counts) = rig.finish().await;
    assert!(!report.drain.timed_out, "{report}");
    let draining = report.phase(Phase::Draining).expect("a drain");
    assert!(draining.duration < LONG / 2, "{report}");
    let server = report
        .resources
        .iter()
        .find(|r| r.name == format!("http {addr}"))
        .expect("the server's resource");
    let Outcome::Error(message) = &server.outcome else {
        panic!("{report}");
    };
    assert!(
        message.contains("WebSocket (GET /ws), Close sent, no answer after 200ms"),
        "{message}"
    );
    assert_eq!((counts.websockets_cut, counts.cut), (1, 1), "{counts}");
    drop(client);
}
