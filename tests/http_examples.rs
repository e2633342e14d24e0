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

fn send(stream: &mut TcpStream, path: &str) {
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
        assert!(
            status.contains(r#"{"phase":"draining""#),
            "{name}: {status}"
        );
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
