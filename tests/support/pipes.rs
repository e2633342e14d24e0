//! A child process's output pipes, read or left unread: the helpers the real-process tests share
//! (the HTTP examples' in `tests/http_full_pipes.rs`, the demo daemons' in
//! `examples/demo/tests/daemon_suite`, which includes this file with `#[path]`).
//!
//! A pipe nobody reads is how a stalled log collector looks to a service: once its buffer is
//! full, every write to it blocks. [`fill`] gets a pipe there at once.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

/// Keeps a pipe's read end open, unread, until it is dropped: writes to the pipe then fill it
/// instead of failing.
pub(crate) struct Hold(#[allow(dead_code)] Sender<()>);

/// Reads `pipe` line by line into the returned channel. After a line that starts with
/// `last` (if given), reads no more: the pipe stays open, unread, until the [`Hold`] is
/// dropped.
pub(crate) fn lines(
    pipe: impl Read + Send + 'static,
    last: Option<&'static str>,
) -> (Receiver<String>, Hold) {
    let (send, receive) = mpsc::channel();
    let (hold, release) = mpsc::channel::<()>();
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let text = line.trim_end_matches('\n').to_string();
            let done = last.is_some_and(|last| text.starts_with(last));
            if send.send(text).is_err() {
                return;
            }
            if done {
                // Holds `reader`, and so the pipe, until the hold is dropped.
                let _ = release.recv();
                return;
            }
        }
    });
    (receive, Hold(hold))
}

/// Holds `pipe` open, unread, until the [`Hold`] is dropped.
pub(crate) fn unread(pipe: impl Read + Send + 'static) -> Hold {
    let (hold, release) = mpsc::channel::<()>();
    thread::spawn(move || {
        let _pipe = pipe;
        let _ = release.recv();
    });
    Hold(hold)
}

/// Fills the pipe behind file descriptor `fd` of process `pid` (held unread): from here on
/// every write the process makes to it blocks, as when a log collector stops reading. Linux
/// only (`/proc/PID/fd`).
pub(crate) fn fill(pid: u32, fd: u32) {
    use std::fs::OpenOptions;
    use std::os::unix::fs::OpenOptionsExt;

    // A second, non-blocking open of the same pipe: the process's own stays blocking.
    let mut pipe = OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(format!("/proc/{pid}/fd/{fd}"))
        .unwrap_or_else(|err| panic!("open fd {fd} of {pid}: {err}"));
    let chunk = [b'.'; 4096];
    for size in [chunk.len(), 1] {
        loop {
            match pipe.write(&chunk[..size]) {
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) => panic!("filling fd {fd} of {pid}: {err}"),
            }
        }
    }
}

/// Waits until signal `signal` is no longer pending for process `pid`: a thread of it has
/// taken the delivery. A signal sent after this is a delivery of its own: the kernel merges a
/// signal only with one that is still pending. Linux only (`/proc/PID/status`).
pub(crate) fn wait_delivered(pid: u32, signal: i32, patience: Duration) {
    let bit = 1_u64 << (signal - 1);
    let status = format!("/proc/{pid}/status");
    let deadline = Instant::now() + patience;
    loop {
        let Ok(text) = std::fs::read_to_string(&status) else {
            return; // gone: nothing is pending any more
        };
        // Exited, not yet reaped: it keeps what was still pending at its exit.
        if text
            .lines()
            .find_map(|line| line.strip_prefix("State:"))
            .is_some_and(|state| state.trim().starts_with('Z'))
        {
            return;
        }
        let pending = text
            .lines()
            .find_map(|line| line.strip_prefix("ShdPnd:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .expect("a ShdPnd line in /proc/PID/status");
        if pending & bit == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "signal {signal} still pending after {patience:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}
