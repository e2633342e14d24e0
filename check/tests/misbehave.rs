//! Every check can fail: a small server in the test process, good by default, misbehaves in
//! one way per test (resets after the close, never answers, cuts a body, keeps idle
//! connections, sends no GOAWAY, resets a stream, ends SSE with a reset, never sends a
//! WebSocket Close, has no pre-stop window, exits non-zero, ignores the signal), and the
//! check that watches for that fails, with the outcome the client saw.
//!
//! The good server passes every check; each fault flips exactly what it should.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use winddown_check::{judge, run, Check, Exit, Options, Outcome, Status, Target};

/// What the test server gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// At the close, connections are reset (a request read after it, or sent just before
    /// it, gets no answer).
    ResetAfterClose,
    /// The slow request is never answered.
    NeverAnswer,
    /// The slow request's body is cut halfway.
    CutMidBody,
    /// Idle, silent, half-sent and uploading connections stay open.
    KeepIdle,
    /// HTTP/2 connections are dropped without GOAWAY.
    NoGoaway,
    /// The HTTP/2 stream in flight is reset at the signal.
    H2StreamReset,
    /// The SSE stream ends with a reset instead of the last chunk.
    SseReset,
    /// The WebSocket is dropped without a Close frame.
    WsNoClose,
    /// Readiness turns 503 only as admissions close.
    NoPreStop,
    /// The server exits 1.
    ExitNonZero,
    /// The signal is ignored.
    IgnoreSignal,
    /// A second signal does not end the stop (a third does).
    IgnoreSecond,
    /// The slow request is never answered, and its connection outlives the server's exit
    /// (as when a child process holds the socket).
    HeldAfterExit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Running,
    NotReady,
    Closing,
}

/// How long the good server says "not ready" before it closes admissions.
const PRE_STOP: Duration = Duration::from_millis(300);

/// A server in this process; the target that drives it.
fn serve(fault: Fault) -> Target {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = TcpListener::from_std(listener).unwrap();
    let (phase_tx, phase) = watch::channel(Phase::Running);
    let (exit_tx, exit) = watch::channel(None);
    let exit_tx = Arc::new(exit_tx);
    let main = {
        let exit_tx = exit_tx.clone();
        tokio::spawn(async move {
            let mut conns = JoinSet::new();
            let mut closing = phase.clone();
            loop {
                tokio::select! {
                    accepted = listener.accept() => if let Ok((stream, _)) = accepted {
                        conns.spawn(connection(stream, fault, phase.clone()));
                    },
                    _ = closing.wait_for(|phase| *phase == Phase::Closing) => break,
                }
            }
            drop(listener);
            while conns.join_next().await.is_some() {}
            let code = if fault == Fault::ExitNonZero { 1 } else { 0 };
            let _ = exit_tx.send(Some(Exit {
                at: Instant::now(),
                code: Some(code),
                signal: None,
            }));
        })
    };
    let phase_tx = Arc::new(phase_tx);
    let handle = tokio::runtime::Handle::current();
    let main = Arc::new(main);
    let signals = Arc::new(AtomicUsize::new(0));
    let end = {
        let main = main.clone();
        let exit_tx = exit_tx.clone();
        move |code: Option<i32>, signal: Option<i32>| {
            main.abort();
            let _ = exit_tx.send(Some(Exit {
                at: Instant::now(),
                code,
                signal,
            }));
        }
    };
    let forced = end.clone();
    let kill_exit_tx = exit_tx.clone();
    let signal = Box::new(move || {
        if fault == Fault::IgnoreSignal {
            return;
        }
        match signals.fetch_add(1, Ordering::SeqCst) {
            0 => {
                let phase_tx = phase_tx.clone();
                handle.spawn(async move {
                    if fault != Fault::NoPreStop {
                        let _ = phase_tx.send(Phase::NotReady);
                        tokio::time::sleep(PRE_STOP).await;
                    }
                    let _ = phase_tx.send(Phase::Closing);
                });
            }
            // The second forces the stop (exit 3, as winddown's examples), the third ends
            // the process (128 + SIGTERM).
            1 if fault != Fault::IgnoreSecond => forced(Some(3), None),
            1 => {}
            _ => forced(Some(143), None),
        }
    });
    // Aborting the server's task drops its connections' JoinSet, which aborts them.
    let kill = Box::new(move || {
        if fault == Fault::HeldAfterExit {
            // The process is gone, its sockets are not.
            let _ = kill_exit_tx.send(Some(Exit {
                at: Instant::now(),
                code: None,
                signal: Some(9),
            }));
            return;
        }
        end(None, Some(9));
    });
    Target::in_process(addr, signal, kill, exit)
}

async fn closing(phase: &mut watch::Receiver<Phase>) {
    let _ = phase.wait_for(|phase| *phase == Phase::Closing).await;
}

async fn connection(stream: TcpStream, fault: Fault, mut phase: watch::Receiver<Phase>) {
    let mut peek = [0u8; 16];
    let first = tokio::select! {
        n = stream.peek(&mut peek) => n.unwrap_or(0),
        _ = closing(&mut phase) => 0,
    };
    if first == 0 {
        // Silent at the close (or gone).
        idle_close(stream, fault).await;
        return;
    }
    if peek[..first].starts_with(b"PRI * HTTP/2.0") {
        http2(stream, fault, phase).await;
    } else if peek[..first].starts_with(b"GET /ws") {
        websocket(stream, fault, phase).await;
    } else {
        http1(stream, fault, phase).await;
    }
}

/// Closes a connection with nothing outstanding: FIN first, then whatever arrives is read
/// and dropped for a moment (a request racing the close sees the FIN, not a reset).
async fn idle_close(mut stream: TcpStream, fault: Fault) {
    if fault == Fault::KeepIdle {
        std::future::pending::<()>().await;
    }
    if fault == Fault::ResetAfterClose {
        reset(stream).await;
        return;
    }
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_millis(200), async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Drops `stream` with a reset (`SO_LINGER` zero: tokio deprecates it because a non-zero
/// linger blocks the thread on drop; zero does not).
#[allow(deprecated)]
async fn reset(stream: TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

fn response(status: &str, body: &str, close: bool) -> Vec<u8> {
    let connection = if close { "connection: close\r\n" } else { "" };
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{connection}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn http1(mut stream: TcpStream, fault: Fault, mut phase: watch::Receiver<Phase>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            tokio::select! {
                n = stream.read(&mut chunk) => match n {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                },
                _ = closing(&mut phase) => {
                    // Idle, or half a head, at the close; a request already in the socket
                    // is still served (it was sent before the close).
                    let mut more = [0u8; 4096];
                    match stream.try_read(&mut more) {
                        Ok(n) if n > 0 => buf.extend_from_slice(&more[..n]),
                        _ => {
                            idle_close(stream, fault).await;
                            return;
                        }
                    }
                }
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        buf.drain(..head_end);
        let mut words = head.split_whitespace();
        let method = words.next().unwrap_or("").to_owned();
        let target = words.next().unwrap_or("").to_owned();
        let path = target.split('?').next().unwrap_or("").to_owned();
        let length: usize = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let closed = *phase.borrow() == Phase::Closing;
        if closed && path != "/readyz" {
            if fault == Fault::ResetAfterClose {
                reset(stream).await;
            } else {
                let _ = stream
                    .write_all(&response("503 Service Unavailable", "closing\n", true))
                    .await;
            }
            return;
        }
        match (method.as_str(), path.as_str()) {
            ("GET", "/") => {
                let _ = stream
                    .write_all(&response("200 OK", "hello\n", false))
                    .await;
            }
            ("GET", "/readyz") => {
                let ready = *phase.borrow() == Phase::Running;
                let status = if ready {
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                };
                let _ = stream.write_all(&response(status, "", false)).await;
            }
            ("GET", "/slow") => {
                if matches!(fault, Fault::NeverAnswer | Fault::HeldAfterExit) {
                    std::future::pending::<()>().await;
                }
                let ms = target
                    .split("ms=")
                    .nth(1)
                    .and_then(|ms| ms.parse().ok())
                    .unwrap_or(1000);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                if fault == Fault::CutMidBody {
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhalf")
                        .await;
                    return;
                }
                let close = *phase.borrow() == Phase::Closing;
                let _ = stream.write_all(&response("200 OK", "ok\n", close)).await;
                if close {
                    return;
                }
            }
            ("GET", "/sse") => {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tokio::select! {
                        _ = tick.tick() => {
                            let event = "data: tick\n\n";
                            let chunk = format!("{:x}\r\n{event}\r\n", event.len());
                            if stream.write_all(chunk.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        _ = closing(&mut phase) => {
                            if fault == Fault::SseReset {
                                reset(stream).await;
                            } else {
                                let _ = stream.write_all(b"0\r\n\r\n").await;
                            }
                            return;
                        }
                    }
                }
            }
            ("POST", "/upload") => {
                let mut left = length.saturating_sub(buf.len());
                buf.clear();
                while left > 0 {
                    tokio::select! {
                        n = stream.read(&mut chunk) => match n {
                            Ok(0) | Err(_) => return,
                            Ok(n) => left = left.saturating_sub(n),
                        },
                        _ = closing(&mut phase), if fault != Fault::KeepIdle => {
                            let _ = stream.write_all(&response("503 Service Unavailable", "closing\n", true)).await;
                            return;
                        }
                    }
                }
                let _ = stream
                    .write_all(&response("200 OK", "stored\n", false))
                    .await;
            }
            _ => {
                let _ = stream
                    .write_all(&response("404 Not Found", "", false))
                    .await;
            }
        }
    }
}

async fn http2(stream: TcpStream, fault: Fault, mut phase: watch::Receiver<Phase>) {
    let Ok(mut conn) = h2::server::handshake(stream).await else {
        return;
    };
    let mut shutting = false;
    loop {
        tokio::select! {
            request = conn.accept() => match request {
                Some(Ok((request, respond))) => {
                    tokio::spawn(http2_stream(request, respond, fault, phase.clone()));
                }
                _ => return,
            },
            _ = closing(&mut phase), if !shutting => {
                shutting = true;
                if fault == Fault::NoGoaway {
                    return;
                }
                conn.graceful_shutdown();
            }
        }
    }
}

async fn http2_stream(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<bytes::Bytes>,
    fault: Fault,
    mut phase: watch::Receiver<Phase>,
) {
    let status = match request.uri().path() {
        "/" => 200,
        "/slow" => {
            let reset_at_signal = fault == Fault::H2StreamReset;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(1000)) => 200,
                _ = phase.wait_for(|phase| *phase != Phase::Running), if reset_at_signal => {
                    respond.send_reset(h2::Reason::INTERNAL_ERROR);
                    return;
                }
            }
        }
        "/readyz" if *phase.borrow() == Phase::Running => 200,
        "/readyz" => 503,
        _ => 404,
    };
    let response = http::Response::builder().status(status).body(()).unwrap();
    if let Ok(mut body) = respond.send_response(response, false) {
        let _ = body.send_data(bytes::Bytes::from_static(b"ok\n"), true);
    }
}

async fn websocket(stream: TcpStream, fault: Fault, mut phase: watch::Receiver<Phase>) {
    use futures_util::StreamExt;
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    loop {
        tokio::select! {
            message = ws.next() => if message.is_none() { return },
            _ = closing(&mut phase) => break,
        }
    }
    if fault == Fault::WsNoClose {
        return;
    }
    let frame = CloseFrame {
        code: CloseCode::Away,
        reason: "".into(),
    };
    let _ = ws.close(Some(frame)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

fn options() -> Options {
    Options {
        upload_path: "/upload".into(),
        budget: Duration::from_secs(4),
        ..Options::default()
    }
}

/// Runs the checker against a server with `fault`: the checks and the outcomes seen.
async fn check(fault: Fault) -> (Vec<Check>, Vec<Outcome>) {
    let opts = options();
    let target = serve(fault);
    let has_ready = target
        .wait_ready(opts.ready_path.as_deref(), Duration::from_secs(10))
        .await
        .expect("the test server starts");
    let stop = run::stop(&opts, &target, has_ready).await.expect("a run");
    let outcomes = stop.records.iter().map(|record| record.outcome).collect();
    (judge(&stop, &opts, None), outcomes)
}

fn status<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|check| check.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

/// Asserts that exactly `failing` failed, and that every other check but the escalation
/// ones passed.
fn only_failed(checks: &[Check], failing: &[&str]) {
    for check in checks {
        let expected = if failing.contains(&check.name) {
            Status::Failed
        } else if check.name.starts_with("escalation") {
            Status::Skipped
        } else {
            Status::Passed
        };
        assert_eq!(
            check.status, expected,
            "{}: {}\nall: {checks:#?}",
            check.name, check.detail
        );
    }
}

#[tokio::test]
async fn a_good_stop_passes_every_check() {
    let (checks, outcomes) = check(Fault::None).await;
    only_failed(&checks, &[]);
    assert!(outcomes.contains(&Outcome::Ok));
    assert!(outcomes.contains(&Outcome::Closed));
    assert!(outcomes.contains(&Outcome::WsClose(1001)));
    assert!(
        !outcomes.iter().any(|outcome| outcome.is_loss()),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn a_reset_after_the_close_fails_the_load() {
    let (checks, outcomes) = check(Fault::ResetAfterClose).await;
    let load = status(&checks, "http1-load");
    assert_eq!(load.status, Status::Failed, "{}", load.detail);
    assert!(
        load.detail.contains("reset before response"),
        "{}",
        load.detail
    );
    assert!(outcomes.contains(&Outcome::ResetBeforeResponse));
}

#[tokio::test]
async fn a_request_never_answered_fails_in_flight_and_the_exit() {
    let (checks, _) = check(Fault::NeverAnswer).await;
    assert_eq!(status(&checks, "in-flight").status, Status::Failed);
    let exit = status(&checks, "exit");
    assert_eq!(exit.status, Status::Failed);
    assert!(exit.detail.contains("killed"), "{}", exit.detail);
}

#[tokio::test]
async fn a_body_cut_halfway_fails_in_flight() {
    let (checks, outcomes) = check(Fault::CutMidBody).await;
    let in_flight = status(&checks, "in-flight");
    assert_eq!(in_flight.status, Status::Failed);
    assert!(
        in_flight.detail.contains("EOF mid-body"),
        "{}",
        in_flight.detail
    );
    assert!(outcomes.contains(&Outcome::EofMidBody));
}

#[tokio::test]
async fn connections_kept_open_fail_their_checks() {
    let (checks, _) = check(Fault::KeepIdle).await;
    for name in [
        "idle-keep-alive",
        "silent-connection",
        "half-sent-head",
        "slow-upload",
    ] {
        let check = status(&checks, name);
        assert_eq!(check.status, Status::Failed, "{name}: {}", check.detail);
    }
}

#[tokio::test]
async fn no_goaway_fails_the_http2_check() {
    let (checks, _) = check(Fault::NoGoaway).await;
    let goaway = status(&checks, "http2-goaway");
    assert_eq!(goaway.status, Status::Failed);
    assert!(
        goaway.detail.contains("without GOAWAY"),
        "{}",
        goaway.detail
    );
}

#[tokio::test]
async fn a_reset_stream_in_flight_fails_the_http2_check() {
    let (checks, _) = check(Fault::H2StreamReset).await;
    let goaway = status(&checks, "http2-goaway");
    assert_eq!(goaway.status, Status::Failed);
    assert!(
        goaway.detail.contains("stream in flight: reset"),
        "{}",
        goaway.detail
    );
}

#[tokio::test]
async fn an_sse_stream_ended_by_a_reset_fails() {
    let (checks, outcomes) = check(Fault::SseReset).await;
    let sse = status(&checks, "sse");
    assert_eq!(sse.status, Status::Failed);
    assert!(sse.detail.contains("reset mid-body"), "{}", sse.detail);
    assert!(outcomes.contains(&Outcome::ResetMidBody));
}

#[tokio::test]
async fn a_websocket_without_close_fails() {
    let (checks, outcomes) = check(Fault::WsNoClose).await;
    assert_eq!(status(&checks, "websocket").status, Status::Failed);
    assert!(outcomes.contains(&Outcome::WsNoClose), "{outcomes:?}");
}

#[tokio::test]
async fn readiness_without_a_pre_stop_window_fails() {
    let (checks, _) = check(Fault::NoPreStop).await;
    assert_eq!(status(&checks, "readiness").status, Status::Failed);
}

#[tokio::test]
async fn a_non_zero_exit_fails() {
    let (checks, _) = check(Fault::ExitNonZero).await;
    let exit = status(&checks, "exit");
    assert_eq!(exit.status, Status::Failed);
    assert!(exit.detail.contains("status 1"), "{}", exit.detail);
}

#[tokio::test]
async fn an_ignored_signal_is_killed_at_the_budget() {
    let (checks, _) = check(Fault::IgnoreSignal).await;
    let exit = status(&checks, "exit");
    assert_eq!(exit.status, Status::Failed);
    assert!(exit.detail.contains("still running 4 s"), "{}", exit.detail);
}

/// The escalation run against a fresh server with `fault`.
async fn escalation(fault: Fault) -> Vec<Check> {
    let opts = Options {
        escalate: true,
        ..options()
    };
    let target = serve(fault);
    target
        .wait_ready(opts.ready_path.as_deref(), Duration::from_secs(10))
        .await
        .expect("the test server starts");
    let run = run::escalate(&opts, &target).await;
    winddown_check::verdict::escalation_checks(Some(&run), &opts)
}

#[tokio::test]
async fn a_second_signal_ends_a_stuck_stop() {
    let checks = escalation(Fault::None).await;
    let second = status(&checks, "escalation-second");
    assert_eq!(second.status, Status::Passed, "{}", second.detail);
    assert!(second.detail.contains("status 3"), "{}", second.detail);
    assert_eq!(status(&checks, "escalation-third").status, Status::Skipped);
}

#[tokio::test]
async fn a_second_signal_ignored_fails_and_the_third_is_checked() {
    let checks = escalation(Fault::IgnoreSecond).await;
    assert_eq!(status(&checks, "escalation-second").status, Status::Failed);
    let third = status(&checks, "escalation-third");
    assert_eq!(third.status, Status::Passed, "{}", third.detail);
    assert!(third.detail.contains("status 143"), "{}", third.detail);
}

#[tokio::test]
async fn a_stop_that_ignores_every_signal_fails_both() {
    let checks = escalation(Fault::IgnoreSignal).await;
    assert_eq!(status(&checks, "escalation-second").status, Status::Failed);
    let third = status(&checks, "escalation-third");
    assert_eq!(third.status, Status::Failed, "{}", third.detail);
    assert!(third.detail.contains("killed"), "{}", third.detail);
}

#[tokio::test]
async fn a_request_the_exit_does_not_end_times_out() {
    let (checks, outcomes) = check(Fault::HeldAfterExit).await;
    let in_flight = status(&checks, "in-flight");
    assert_eq!(in_flight.status, Status::Failed);
    assert!(
        in_flight.detail.contains("timed out"),
        "{}",
        in_flight.detail
    );
    assert!(outcomes.contains(&Outcome::TimedOut));
}
