//! The HTTP examples (`examples/axum.rs` on tokio, `examples/http_smol.rs` on smol) as real
//! child processes, driven with real HTTP requests and real signals.
//!
//! Each test runs on both examples: it starts one (built by `cargo test` with the `full`
//! feature), waits for `listening on ADDR` and `ready`, talks HTTP/1.1 to it over plain
//! sockets, sends signals with `kill(2)`, and checks what the clients saw, the exit status and
//! the report. Every wait has its own deadline: a hang fails the test, it never hangs CI.
#![cfg(all(unix, feature = "full"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long any single wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

const EXAMPLES: [&str; 2] = ["axum", "http_smol"];

/// An example's binary, next to this test's own: `target/<profile>/examples/NAME`.
fn example_path(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

struct Service {
    child: Child,
    stdout: Receiver<String>,
    /// Everything read from stdout so far.
    out: Vec<String>,
    addr: String,
}

impl Service {
    /// Starts example `name` with `args` and waits for `ready`.
    fn start(name: &str, args: &[&str]) -> Service {
        let path = example_path(name);
        let mut child = Command::new(&path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", path.display()));
        let (tx, stdout) = mpsc::channel();
        let pipe = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut service = Service {
            child,
            stdout,
            out: Vec::new(),
            addr: String::new(),
        };
        let listening = service.line_starting("listening on ");
        service.addr = listening.trim_start_matches("listening on ").to_owned();
        service.line_starting("ready");
        service
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("kill(2)");
    }

    /// Reads stdout until a line starts with `prefix`.
    fn line_starting(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    self.out.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line starting with {prefix:?}; stdout so far: {:?}",
                    self.out
                ),
            }
        }
    }

    /// Waits for the exit; returns the exit code and all of stdout.
    fn wait(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                while let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(200)) {
                    self.out.push(line);
                }
                return (status.code(), self.out.join("\n"));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the service did not exit; stdout: {:?}", self.out);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// `GET path` on a new connection; the whole response.
    fn get(&self, path: &str) -> String {
        let mut stream = self.connect();
        send(&mut stream, path);
        read_all(&mut stream)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
    }

    /// Waits until `/status` says `key` is at least `n`.
    fn status_at_least(&self, key: &str, n: u64) {
        let deadline = Instant::now() + PATIENCE;
        let needle = format!("\"{key}\":");
        loop {
            let status = self.get("/status");
            let value = status
                .split(&needle)
                .nth(1)
                .and_then(|rest| rest.split([',', '}']).next())
                .and_then(|v| v.parse::<u64>().ok());
            if value.is_some_and(|v| v >= n) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{key} never reached {n}: {status}"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send(stream: &mut impl Write, path: &str) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write");
}

fn read_all(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read the response");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A request in flight at SIGTERM finishes with a 200, the service stops accepting, and it
/// exits 0 with a completed report and its connection counts.
#[test]
fn sigterm_drains_a_request_in_flight_and_exits_0() {
    for name in EXAMPLES {
        let service = Service::start(name, &["--drain-timeout", "10"]);
        let mut slow = service.connect();
        send(&mut slow, "/slow?ms=300");
        service.status_at_least("requests_in_flight", 1);
        service.signal(Signal::SIGTERM);
        let response = read_all(&mut slow);
        assert!(
            response.starts_with("HTTP/1.1 200 OK"),
            "{name}: {response}"
        );
        assert!(response.ends_with("ok\n"), "{name}: {response}");
        let addr = service.addr.clone();
        let (code, out) = service.wait();
        assert_eq!(code, Some(0), "{name}: {out}");
        assert!(out.contains("shutdown completed"), "{name}: {out}");
        assert!(out.contains(&format!("http {addr}")), "{name}: {out}");
        assert!(out.contains("connections: "), "{name}: {out}");
        assert!(
            TcpStream::connect(&addr).is_err(),
            "{name}: still accepting"
        );
    }
}

/// With `--pre-stop 1.5`, `/readyz` answers 503 at once while `/` is still served 200 on new
/// connections; the report's pre-stop phase lasts the 1.5 s.
#[test]
fn pre_stop_fails_readiness_and_still_serves() {
    for name in EXAMPLES {
        let service = Service::start(name, &["--pre-stop", "1.5"]);
        assert!(service.get("/readyz").starts_with("HTTP/1.1 200"), "{name}");
        service.signal(Signal::SIGTERM);
        let deadline = Instant::now() + PATIENCE;
        while !service.get("/readyz").starts_with("HTTP/1.1 503") {
            assert!(Instant::now() < deadline, "{name}: /readyz never said 503");
        }
        let served = service.get("/");
        assert!(served.starts_with("HTTP/1.1 200"), "{name}: {served}");
        assert!(service.get("/livez").starts_with("HTTP/1.1 200"), "{name}");
        let (code, out) = service.wait();
        assert_eq!(code, Some(0), "{name}: {out}");
        let initiated = out
            .lines()
            .find(|l| l.trim_start().starts_with("initiated"))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!(initiated.contains("1.5"), "{name}: {initiated}");
    }
}

/// With `--agent-port`, haproxy's agent check reads `ready`, then `drain` from the SIGTERM
/// through the pre-stop, then `maint` while a request in flight holds the drain; the request
/// still gets its 200, the service exits 0, and then the agent's port is closed.
#[test]
fn the_agent_check_reads_ready_then_drain_then_maint() {
    for name in EXAMPLES {
        let args = [
            "--agent-port",
            "0",
            "--pre-stop",
            "1",
            "--drain-timeout",
            "10",
        ];
        let service = Service::start(name, &args);
        let agent = service
            .out
            .iter()
            .find_map(|line| line.strip_prefix("agent listening on "))
            .unwrap_or_else(|| panic!("{name}: no agent line before `ready`: {:?}", service.out))
            .to_owned();
        let ask = || {
            let mut stream = TcpStream::connect(&agent).expect("connect to the agent");
            stream.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut line = String::new();
            stream.read_to_string(&mut line).expect("the agent's line");
            line
        };
        assert_eq!(ask(), "ready\n", "{name}");
        let mut slow = service.connect();
        send(&mut slow, "/slow?ms=2500");
        service.status_at_least("requests_in_flight", 1);
        service.signal(Signal::SIGTERM);
        // Each distinct answer, in order, until `maint`.
        let mut answers = vec!["ready\n".to_owned()];
        let deadline = Instant::now() + PATIENCE;
        while answers.last().map(String::as_str) != Some("maint\n") {
            let answer = ask();
            if answers.last() != Some(&answer) {
                answers.push(answer);
            }
            assert!(Instant::now() < deadline, "{name}: answers {answers:?}");
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(answers, ["ready\n", "drain\n", "maint\n"], "{name}");
        let response = read_all(&mut slow);
        assert!(
            response.starts_with("HTTP/1.1 200 OK"),
            "{name}: {response}"
        );
        let (code, out) = service.wait();
        assert_eq!(code, Some(0), "{name}: {out}");
        assert!(
            TcpStream::connect(&agent).is_err(),
            "{name}: agent still open"
        );
    }
}

/// A request that outlives `--drain-timeout` is cut and named; the exit code says timed out.
#[test]
fn a_stuck_request_is_named_and_the_exit_code_is_2() {
    for name in EXAMPLES {
        let service = Service::start(name, &["--drain-timeout", "0.3"]);
        let mut stuck = service.connect();
        send(&mut stuck, "/slow?ms=20000");
        service.status_at_least("requests_in_flight", 1);
        service.signal(Signal::SIGTERM);
        let (code, out) = service.wait();
        assert_eq!(code, Some(2), "{name}: {out}");
        assert!(out.contains("GET /slow  "), "{name}: {out}");
        assert!(
            out.contains("cut 1 connection at the drain deadline"),
            "{name}: {out}"
        );
    }
}

/// A second signal forces the shutdown (exit code 3); the stuck request does not hold it.
#[test]
fn a_second_signal_forces_with_exit_code_3() {
    for name in EXAMPLES {
        let service = Service::start(name, &["--drain-timeout", "30"]);
        let mut stuck = service.connect();
        send(&mut stuck, "/slow?ms=20000");
        service.status_at_least("requests_in_flight", 1);
        service.signal(Signal::SIGTERM);
        // The first signal has been seen once the listener is closed.
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(&service.addr).is_ok() {
            assert!(Instant::now() < deadline, "{name}: still accepting");
            thread::sleep(Duration::from_millis(5));
        }
        service.signal(Signal::SIGTERM);
        let (code, out) = service.wait();
        assert_eq!(code, Some(3), "{name}: {out}");
        assert!(out.contains("shutdown forced"), "{name}: {out}");
        // What the force cut is left and named, and the cause is the second signal's force.
        assert!(
            out.contains("forced: asked to stop at once"),
            "{name}: {out}"
        );
        let draining = out
            .lines()
            .find(|l| l.trim_start().starts_with("draining"))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!(draining.contains(", 2 left"), "{name}: {draining}");
        assert!(draining.contains("GET /slow  "), "{name}: {draining}");
        assert!(
            draining.contains("http connection from 127.0.0.1:")
                && draining.contains(": 1 request in flight"),
            "{name}: {draining}"
        );
        assert!(out.contains(" 1 cut, "), "{name}: {out}");
    }
}

/// With `--admin-port`, `/status` answers on its own port while the main listener is closed
/// and a request drains; the admin port closes once the sequence has ended.
#[test]
fn the_admin_port_answers_through_the_stop() {
    for name in EXAMPLES {
        let service = Service::start(name, &["--drain-timeout", "10", "--admin-port", "0"]);
        let admin = service
            .out
            .iter()
            .find_map(|line| line.strip_prefix("admin listening on "))
            .unwrap_or_else(|| panic!("{name}: {:?}", service.out))
            .to_owned();
        let mut slow = service.connect();
        send(&mut slow, "/slow?ms=1500");
        service.status_at_least("requests_in_flight", 1);
        service.signal(Signal::SIGTERM);
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(&service.addr).is_ok() {
            assert!(Instant::now() < deadline, "{name}: still accepting");
            thread::sleep(Duration::from_millis(5));
        }
        let mut status = TcpStream::connect(&admin).expect("the admin port");
        send(&mut status, "/status");
        let status = read_all(&mut status);
        assert!(status.starts_with("HTTP/1.1 200 "), "{name}: {status}");
        assert!(status.contains(r#""phase":"draining""#), "{name}: {status}");
        let mut ready = TcpStream::connect(&admin).expect("the admin port");
        send(&mut ready, "/readyz");
        assert!(read_all(&mut ready).starts_with("HTTP/1.1 503 "), "{name}");
        assert!(read_all(&mut slow).starts_with("HTTP/1.1 200 OK"), "{name}");
        let (code, out) = service.wait();
        assert_eq!(code, Some(0), "{name}: {out}");
        assert!(
            TcpStream::connect(&admin).is_err(),
            "{name}: admin still open"
        );
    }
}

// ===== WebSockets and TLS =====

/// A blocking WebSocket client (tungstenite) on `/ws` of `service`.
fn websocket(service: &Service, path: &str) -> tungstenite::WebSocket<TcpStream> {
    let stream = service.connect();
    let url = format!("ws://{}{path}", service.addr);
    let (socket, response) = tungstenite::client::client(url, stream).expect("a WebSocket");
    assert_eq!(response.status(), 101);
    socket
}

/// SIGTERM with an echo WebSocket open: the client gets Close 1001 (going away) from the
/// server, answers it, and the process exits 0 within 2 s, its connection line counting the
/// WebSocket as closed with 1001.
#[test]
fn sigterm_sends_close_1001_to_a_websocket_and_exits_0() {
    use tungstenite::protocol::frame::coding::CloseCode;
    use tungstenite::Message;
    for name in EXAMPLES {
        let service = Service::start(name, &["--drain-timeout", "10"]);
        let mut socket = websocket(&service, "/ws");
        socket.send(Message::text("hello")).expect("send");
        assert_eq!(socket.read().expect("the echo"), Message::text("hello"));
        service.signal(Signal::SIGTERM);
        let signalled = Instant::now();
        let close = socket.read().expect("a Close");
        let Message::Close(Some(frame)) = close else {
            panic!("{name}: expected a Close, got {close:?}");
        };
        assert_eq!(frame.code, CloseCode::Away, "{name}");
        // tungstenite queued the answer as it read the Close; this sends it and waits for the
        // server to end the connection.
        loop {
            match socket.read() {
                Ok(_) => continue,
                Err(tungstenite::Error::ConnectionClosed) => break,
                Err(err) => panic!("{name}: {err}"),
            }
        }
        let (code, out) = service.wait();
        let took = signalled.elapsed();
        assert_eq!(code, Some(0), "{name}: {out}");
        assert!(
            took < Duration::from_secs(2),
            "{name}: exit {took:?} after the SIGTERM"
        );
        assert!(
            out.contains("1 WebSockets (1 closed with 1001, 0 cut)"),
            "{name}: {out}"
        );
    }
}

/// SIGTERM with a firehose WebSocket whose client never reads, `--drain-timeout 1`: the
/// process exits within 2.5 s, and the report says the WebSocket was cut, and names it.
#[test]
fn a_firehose_websocket_whose_client_never_reads_is_cut() {
    for name in EXAMPLES {
        let service = Service::start(name, &["--drain-timeout", "1"]);
        let mut raw = service.connect();
        let request = "GET /ws?firehose=1 HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\n\
                       upgrade: websocket\r\nsec-websocket-version: 13\r\n\
                       sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        raw.write_all(request.as_bytes()).expect("write");
        // The head, and not a byte more is read from here on.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            raw.read_exact(&mut byte).expect("the 101");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101 "), "{name}");
        service.signal(Signal::SIGTERM);
        let signalled = Instant::now();
        let (code, out) = service.wait();
        let took = signalled.elapsed();
        assert!(
            took < Duration::from_millis(2500),
            "{name}: exit {took:?} after the SIGTERM"
        );
        assert_eq!(code, Some(2), "{name}: {out}");
        assert!(
            out.contains("1 WebSockets (0 closed with 1001, 1 cut)"),
            "{name}: {out}"
        );
        assert!(
            out.contains(": WebSocket (GET /ws), Close "),
            "{name}: {out}"
        );
        drop(raw);
    }
}

/// A certificate for `localhost`, made for the test (never a key in the tree), written to a
/// directory of its own; the client configuration that trusts it.
fn test_certificate() -> (std::path::PathBuf, std::sync::Arc<rustls::ClientConfig>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a test certificate");
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("winddown-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).expect("cert.pem");
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).expect("key.pem");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(made.cert.der().clone()).expect("a root");
    #[allow(deprecated)] // ring, as the server's
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (dir, std::sync::Arc::new(config))
}

/// `GET path` over TLS on a new connection; the whole response.
fn https_get(addr: &str, config: &std::sync::Arc<rustls::ClientConfig>, path: &str) -> String {
    let mut stream = https_send(addr, config, path);
    let mut bytes = Vec::new();
    // A close without close_notify ends the response too (the request said
    // `connection: close`).
    match stream.read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(err) => panic!("reading the HTTPS response: {err}"),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

type Https = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn https_send(addr: &str, config: &std::sync::Arc<rustls::ClientConfig>, path: &str) -> Https {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(config.clone(), name).expect("a client");
    let socket = TcpStream::connect(addr).expect("connect");
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, socket);
    send(&mut stream, path);
    stream
}

/// With `--tls-cert` and `--tls-key`: two clients stall their handshakes (one silent, one
/// half a ClientHello); an HTTPS request made after them is answered within 1 s, one in
/// flight at the SIGTERM gets its 200, and the process exits 0 within 2 s.
#[test]
fn https_with_stalled_handshakes_answers_and_exits_0() {
    for name in EXAMPLES {
        let (dir, client) = test_certificate();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let args = [
            "--drain-timeout",
            "10",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ];
        let service = Service::start(name, &args);
        let silent = service.connect();
        let mut half = service.connect();
        // A handshake record announcing 512 bytes, and 16 of them.
        let mut hello = vec![
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03,
        ];
        hello.extend_from_slice(&[0u8; 10]);
        half.write_all(&hello).expect("half a ClientHello");

        let asked = Instant::now();
        let answer = https_get(&service.addr, &client, "/");
        let took = asked.elapsed();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{name}: {answer}");
        assert!(
            took < Duration::from_secs(1),
            "{name}: answered after {took:?}"
        );

        let mut slow = https_send(&service.addr, &client, "/slow?ms=500");
        // In flight once its handshake is done and the server has read it: the status page
        // (over TLS too) counts it.
        let deadline = Instant::now() + PATIENCE;
        while !https_get(&service.addr, &client, "/status").contains("\"requests_in_flight\":1") {
            assert!(
                Instant::now() < deadline,
                "{name}: the request never started"
            );
            thread::sleep(Duration::from_millis(5));
        }
        service.signal(Signal::SIGTERM);
        let signalled = Instant::now();
        let mut response = Vec::new();
        let _ = slow.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response);
        assert!(
            response.starts_with("HTTP/1.1 200 OK"),
            "{name}: {response}"
        );
        assert!(response.ends_with("ok\n"), "{name}: {response}");
        let (code, out) = service.wait();
        let took = signalled.elapsed();
        assert_eq!(code, Some(0), "{name}: {out}");
        assert!(
            took < Duration::from_secs(2),
            "{name}: exit {took:?} after the SIGTERM"
        );
        assert!(
            out.contains(" TLS (2 closed mid-handshake)"),
            "{name}: {out}"
        );
        drop((silent, half));
        let _ = std::fs::remove_dir_all(dir);
    }
}
