//! A target that cannot be started or reached: the binary exits 2 with one line on stderr
//! saying why, and leaves nothing running.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn checker(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_winddown-check"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the checker runs")
}

/// Exit status 2, and exactly one line on stderr containing `needle`.
fn fails_with(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("winddown-check: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} in {stderr:?}");
    assert!(
        output.stdout.is_empty(),
        "no scorecard: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn a_command_that_does_not_start() {
    let output = checker(&["--", "/nonexistent/server", "--port", "{port}"]);
    fails_with(&output, "cannot start `/nonexistent/server`");
}

#[test]
fn a_server_that_dies_on_start() {
    let output = checker(&[
        "--",
        "sh",
        "-c",
        "echo 'bind: address in use' >&2; exit 3",
        "{port}",
    ]);
    fails_with(
        &output,
        "exited with status 3 before it was ready; its last line: bind: address in use",
    );
}

#[test]
fn a_port_that_never_opens() {
    let output = checker(&["--start-timeout", "1", "--", "sleep", "30"]);
    fails_with(&output, "nothing accepted connections on 127.0.0.1:");
    fails_with(&output, "no {port} in the command's arguments");
}

#[test]
fn a_port_that_does_not_speak_http() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        // Answer every connection like an SSH server would, until the checker gives up.
        listener.set_nonblocking(false).unwrap();
        for stream in listener.incoming().take(1) {
            let mut stream = stream.unwrap();
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\r\n\r\n");
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = stream.read(&mut [0u8; 1024]);
        }
    });
    let mut sleeper: Child = Command::new("sleep").arg("30").spawn().unwrap();
    let url = format!("http://{addr}");
    let pid = sleeper.id().to_string();
    let output = checker(&["--url", &url, "--pid", &pid]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    server.join().unwrap();
    fails_with(&output, "does not speak HTTP/1.1");
}

#[test]
fn a_url_that_is_not_loopback() {
    let output = checker(&["--url", "http://192.0.2.1:80", "--pid", "1"]);
    fails_with(&output, "127.0.0.1 and ::1 only");
}
